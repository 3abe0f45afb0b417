/**
 * Tasks as the browser sees them: one poller of GET /api/task shared by the
 * task panel and any view (2 s while a task runs, 10 s otherwise, at once
 * when an answer starts a task), and the user's acknowledgements of failed
 * tasks, kept in localStorage so a failure stays on screen until someone
 * has read it, across reloads:
 *
 *   localStorage["ramvm.ack.admin"] = '["20261125T101500Z-disk-check-vms-101-a3f90c", …]'
 */
import { useEffect, useState } from 'preact/hooks';
import type { TaskRecord } from '../node-cgi/api-types';
import { api, type ApiError } from './api';
import { client } from './client';
import { createSharedPoller, REAL_TIMERS, useShared, type Timers } from './hooks';
import { hasMessage, t } from './i18n';
import type { Tone } from './components/status-badge';

export type Task = TaskRecord;

/** Poll interval while a task runs. */
export const POLL_RUNNING_MS = 2000;
/** Poll interval while none runs (another user or a cron job may start one). */
export const POLL_IDLE_MS = 10_000;
/** How many tasks the poller asks for. */
export const TASK_LIMIT = 100;
/** A task that ended well stays in the panel this long, so its end is seen. */
export const DONE_VISIBLE_MS = 15_000;

export const pollDelayMs = (tasks: readonly Task[] | null): number =>
  tasks?.some((x) => x.status === 'running') ? POLL_RUNNING_MS : POLL_IDLE_MS;

export const TASK_TONE: Record<Task['status'], Tone> = { running: 'running', ok: 'ok', failed: 'failed' };
export const TASK_STATUS_KEY = {
  running: 'task.status.running',
  ok: 'task.status.ok',
  failed: 'task.status.failed',
} as const;

/** "Disk check" for kind "disk-check"; the kind itself when the catalogue has no name. */
export function taskKindLabel(kind: string): string {
  const key = `task.kind.${kind}`;
  return hasMessage(key) ? t(key) : kind;
}

/** "Disk check · /vms/101" */
export const taskTitle = (x: Pick<Task, 'kind' | 'object'>): string => `${taskKindLabel(x.kind)} · ${x.object}`;

/** What the panel shows: running tasks, ones that just ended well, failures nobody acknowledged. */
export function panelTasks(tasks: readonly Task[], acked: ReadonlySet<string>, now: number): { running: Task[]; done: Task[]; failed: Task[] } {
  return {
    running: tasks.filter((x) => x.status === 'running'),
    done: tasks.filter((x) => x.status === 'ok' && x.end !== null && now - x.end < DONE_VISIBLE_MS),
    failed: tasks.filter((x) => x.status === 'failed' && !acked.has(x.id)),
  };
}

export interface TaskState {
  tasks: Task[] | null;
  error: ApiError | null;
}

/** The task list's poller (hooks.ts createSharedPoller): 2 s while a task runs, else 10 s. */
export const createTaskPoller = (load: () => Promise<Task[]>, timers: Timers) => createSharedPoller(load, pollDelayMs, timers);

export const taskPoller = createTaskPoller(() => client.tasks.list(TASK_LIMIT), REAL_TIMERS);
api.onTaskStarted(() => void taskPoller.refresh());

/** The shared task list; polls while mounted. */
export function useTasks(): TaskState {
  const { data, error } = useShared(taskPoller);
  return { tasks: data, error: error as ApiError | null };
}

const ackKey = (user: string) => `ramvm.ack.${user}`;
const ackListeners = new Set<() => void>();
/** Acknowledgements of this page, for browsers that refuse localStorage. */
const ackMemory = new Map<string, string[]>();

export function acknowledged(user: string): Set<string> {
  try {
    const v = JSON.parse(localStorage.getItem(ackKey(user)) ?? '[]');
    return new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  } catch {
    return new Set(ackMemory.get(user));
  }
}

/**
 * Mark failed tasks as read. `known` (the ids the node still lists) prunes
 * old entries so the stored list stays as short as the task list.
 */
export function acknowledge(user: string, ids: readonly string[], known?: readonly string[]): void {
  const all = acknowledged(user);
  for (const id of ids) all.add(id);
  const keep = known ? [...all].filter((id) => known.includes(id) || ids.includes(id)) : [...all];
  ackMemory.set(user, keep);
  try {
    localStorage.setItem(ackKey(user), JSON.stringify(keep));
  } catch {
    /* storage disabled: acknowledged for this page only */
  }
  for (const fn of ackListeners) fn();
}

/** The acknowledged ids of `user`; re-renders when they change (here or in another tab). */
export function useAcknowledged(user: string): Set<string> {
  const [acks, setAcks] = useState(() => acknowledged(user));
  useEffect(() => {
    const update = () => setAcks(acknowledged(user));
    const onStorage = (e: StorageEvent) => e.key === ackKey(user) && update();
    ackListeners.add(update);
    window.addEventListener('storage', onStorage);
    update();
    return () => {
      ackListeners.delete(update);
      window.removeEventListener('storage', onStorage);
    };
  }, [user]);
  return acks;
}
