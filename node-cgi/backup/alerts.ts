/**
 * Alerts: every failed backup or verify task — including one that was
 * killed and never wrote its end — stays an alert until a user
 * acknowledges it. Derived from the task records, so a task that dies
 * without a word still turns the dashboard red. A backup scheduler that
 * stopped or fails is one too (kind "scheduler", first in the list); it
 * ends when the scheduler runs again and cannot be acknowledged.
 *
 *   GET  /api/backup/alerts      → [{ task, kind, object, job, time, message }]
 *   POST /api/backup/alerts/ack  { "tasks": ["2026…"] }  (or {} for all visible)
 */
import { listTasks, type TaskRecord } from '../tasks/task';
import { readAcks } from './config';
import type { BackupAlert } from './types';
import { schedulerAlert, type SchedulerHealth } from './scheduler';

export type { BackupAlert };

/** Task kinds whose failures are alerts. */
export const BACKUP_TASK_KINDS = ['backup', 'backup-verify'];

/** Tasks scanned for alerts, newest first. */
export const ALERT_SCAN_TASKS = 1000;

export function alertOf(t: TaskRecord): BackupAlert {
  const p = t.params;
  return {
    task: t.id,
    kind: t.kind,
    object: t.object,
    job: typeof p.job === 'string' ? p.job : null,
    vmids: Array.isArray(p.vmids) ? (p.vmids as number[]) : p.vmids === 'all' ? 'all' : null,
    time: new Date(t.end ?? t.start).toISOString(),
    message: t.message,
  };
}

/** The scheduler's alert of a health, if any, then the unacknowledged failures, newest first. */
export function listAlerts(scheduler: SchedulerHealth): BackupAlert[] {
  const acks = readAcks();
  const stopped = schedulerAlert(scheduler);
  return [
    ...(stopped ? [stopped] : []),
    ...listTasks(ALERT_SCAN_TASKS).filter((t) => BACKUP_TASK_KINDS.includes(t.kind) && t.status === 'failed' && !acks[t.id]).map(alertOf),
  ];
}

/** Alerts a user may acknowledge: the failures (the scheduler's ends by itself). */
export const acknowledgeable = (a: BackupAlert): boolean => a.kind !== 'scheduler';
