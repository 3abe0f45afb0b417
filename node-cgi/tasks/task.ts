/**
 * Tasks: long work (backup, restore, migration, copies, checks) runs as a
 * detached `ramvm task run <id>` process. The CGI that starts it answers
 * 202 {"data": {"task": id}} at once.
 *
 * Each task is two files under var/log/ramvm/tasks:
 *   <id>.json  the state, rewritten atomically:
 *              { id, kind, object, user, node, params, pid, start, end, status, progress, message }
 *   <id>.log   the log, one line per event: "2026-11-25T10:15:00.123Z message"
 *
 * A task whose state says "running" but whose process is gone (or whose pid
 * now belongs to another program) is read as failed, "interrupted".
 *
 * In a cluster a task's id names its node, so any node can send requests
 * about it there: "n2:20261125T101500Z-backup-vms-105-a3f90c". The files
 * keep the node's own id; a node in no cluster shows ids without a node.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { internal, HttpError, notFound } from '../lib/errors';
import { inCluster, nodeName, paths, taskFile } from '../lib/paths';
import { processAlive } from '../lib/proc';
import { readJson, updateJson, writeJsonAtomic } from '../lib/store';

export type TaskStatus = 'running' | 'ok' | 'failed';

export interface TaskRecord {
  id: string;
  kind: string;
  /** What the task works on, as an ACL-style path: "/vms/101", "/iso/x.iso". */
  object: string;
  user: string;
  node: string;
  params: Record<string, unknown>;
  pid: number | null;
  /** Unix milliseconds. */
  start: number;
  end: number | null;
  status: TaskStatus;
  progress: number;
  message: string;
  /** Per-part progress of a task that works on several things at once (an ISO copied to each node). */
  parts?: TaskPart[];
}

/**
 * One part of a task, in the record's `parts`:
 *   { "name": "n2", "status": "running", "progress": 40, "message": "debian-12.iso: 240 MiB of 600 MiB" }
 */
export interface TaskPart {
  name: string;
  status: 'waiting' | TaskStatus;
  /** 0..100 */
  progress: number;
  message: string;
}

const TASK_ID_RE = /^(?:([A-Za-z0-9][A-Za-z0-9.-]{0,62}):)?([0-9]{8}T[0-9]{6}Z-[a-z0-9-]{1,80}-[0-9a-f]{6})$/;

/** The node a task id names ("n2:2026…" → "n2"), or null for an id without one (this node's). */
export function taskNodeOf(id: string): string | null {
  return TASK_ID_RE.exec(id)?.[1] ?? null;
}

/** This node's own id of a task ("n1:2026…" → "2026…" on n1); 404 for a malformed id or another node's. */
export function checkedTaskId(id: string): string {
  const m = TASK_ID_RE.exec(id);
  if (!m || (m[1] !== undefined && m[1] !== nodeName())) throw notFound(`no such task: ${id.slice(0, 100)}`);
  return m[2]!;
}

/** The id a task is shown with: with this node's name in a cluster. */
export function publicTaskId(localId: string): string {
  return inCluster() ? `${nodeName()}:${localId}` : localId;
}

/** "20261125T101500Z-disk-check-vms-101-a3f90c" */
export function newTaskId(kind: string, object: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const slug = `${kind}-${object}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  return `${stamp}-${slug}-${randomBytes(3).toString('hex')}`;
}

const stateFile = (id: string) => taskFile(id, 'json');
export const taskLogFile = (id: string) => taskFile(id, 'log');

export interface StartTaskOptions {
  kind: string;
  object: string;
  user: string;
  params?: Record<string, unknown>;
  message?: string;
}

/**
 * Record a task and start its process detached; returns the id at once.
 * The runner is the `ramvm` CLI beside the CGIs (RAMVM_DIST/bin/ramvm).
 */
export function startTask(opts: StartTaskOptions): string {
  const id = newTaskId(opts.kind, opts.object);
  const rec: TaskRecord = {
    id,
    kind: opts.kind,
    object: opts.object,
    user: opts.user,
    node: nodeName(),
    params: opts.params ?? {},
    pid: null,
    start: Date.now(),
    end: null,
    status: 'running',
    progress: 0,
    message: opts.message ?? 'starting',
  };
  mkdirSync(paths().tasks, { recursive: true });
  writeJsonAtomic(stateFile(id), rec);
  const logFd = openSync(taskLogFile(id), 'a');
  try {
    const child = spawn(process.execPath, [paths().ramvmBin, 'task', 'run', id], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, RAMVM_ROOT: paths().root, RAMVM_DIST: paths().dist },
    });
    child.unref();
    if (child.pid) updateTask(id, (t) => ({ ...t, pid: t.pid ?? child.pid! }));
  } finally {
    closeSync(logFd);
  }
  return publicTaskId(id);
}

export function updateTask(id: string, fn: (t: TaskRecord) => TaskRecord): TaskRecord {
  id = checkedTaskId(id);
  return updateJson<TaskRecord>(stateFile(id), null as unknown as TaskRecord, (t) => {
    if (!t) throw notFound(`no such task: ${id}`);
    return fn(t);
  });
}

/** Grace period before a running task without a pid counts as dead (spawn in flight). */
const START_GRACE_MS = 10_000;

/** A task's state; a running task whose process is gone is marked failed ("interrupted"). */
export function readTask(id: string): TaskRecord {
  id = checkedTaskId(id);
  const rec = readJson<TaskRecord>(stateFile(id));
  if (!rec) throw notFound(`no such task: ${id}`);
  const shown = (r: TaskRecord) => ({ ...r, id: publicTaskId(id) });
  if (rec.status !== 'running') return shown(rec);
  const alive = rec.pid !== null ? processAlive(rec.pid, id) : Date.now() - rec.start < START_GRACE_MS;
  if (alive) return shown(rec);
  return shown(
    updateTask(id, (t) =>
      t.status !== 'running'
        ? t
        : { ...t, status: 'failed', end: Date.now(), message: `interrupted: the task process is gone (${t.message})` },
    ),
  );
}

/** True while task `id` runs; false for none, a finished one, or one whose record is gone. */
export function taskRunning(id: string | undefined): boolean {
  if (!id) return false;
  try {
    return readTask(id).status === 'running';
  } catch {
    return false;
  }
}

export function listTasks(limit = 100): TaskRecord[] {
  let names: string[];
  try {
    names = readdirSync(paths().tasks).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  } catch {
    return [];
  }
  // Ids start with a sortable UTC stamp: newest first.
  names.sort().reverse();
  const out: TaskRecord[] = [];
  for (const n of names.slice(0, limit)) {
    try {
      out.push(readTask(n.slice(0, -5)));
    } catch {
      // A task removed between readdir and read: skip it.
    }
  }
  return out;
}

/** Lines of a task's log (the last `tail` lines when given). */
export function readTaskLog(id: string, tail?: number): string[] {
  id = checkedTaskId(id);
  let text: string;
  try {
    text = readFileSync(taskLogFile(id), 'utf8');
  } catch {
    throw notFound(`no log for task ${id}`);
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return tail ? lines.slice(-tail) : lines;
}

/** What a task kind's code gets to report with. */
export interface TaskRun {
  id: string;
  params: Record<string, unknown>;
  object: string;
  user: string;
  log(line: string): void;
  /** 0..100 and a short message; written at most every PROGRESS_MIN_MS unless 100. */
  progress(pct: number, message?: string): void;
  /** A line the log ends with when the task succeeds, after "TASK OK" (a result scripts read: migration's figures). */
  closing(line: string): void;
  /** A part's state (added on first mention); written at most every PROGRESS_MIN_MS unless its status changes. */
  part(name: string, update: Partial<Omit<TaskPart, 'name'>>): void;
}

export type TaskKind = (t: TaskRun) => Promise<string | void>;

/** State writes for progress are throttled to this interval. */
const PROGRESS_MIN_MS = 500;

/** Run a recorded task in this process (called by `ramvm task run <id>`). */
export async function runTask(id: string, kinds: Record<string, TaskKind>): Promise<TaskRecord> {
  id = checkedTaskId(id);
  const rec = readJson<TaskRecord>(stateFile(id));
  if (!rec) throw notFound(`no such task: ${id}`);
  updateTask(id, (t) => ({ ...t, pid: process.pid }));
  const logLine = (line: string) => appendFileSync(taskLogFile(id), `${new Date().toISOString()} ${line}\n`);
  let lastWrite = 0;
  let closingLine: string | null = null;
  let partsWritten = 0;
  const parts: TaskPart[] = [];
  const run: TaskRun = {
    id,
    params: rec.params,
    object: rec.object,
    user: rec.user,
    log: logLine,
    progress(pct, message) {
      const now = Date.now();
      if (pct < 100 && now - lastWrite < PROGRESS_MIN_MS) return;
      lastWrite = now;
      updateTask(id, (t) => ({ ...t, progress: Math.max(0, Math.min(100, Math.round(pct))), message: message ?? t.message }));
    },
    closing(line) {
      closingLine = line;
    },
    part(name, update) {
      let p = parts.find((x) => x.name === name);
      const added = !p;
      if (!p) parts.push((p = { name, status: 'waiting', progress: 0, message: '' }));
      const changed = added || (update.status !== undefined && update.status !== p.status);
      Object.assign(p, update, update.progress !== undefined ? { progress: Math.max(0, Math.min(100, Math.round(update.progress))) } : {});
      const now = Date.now();
      if (!changed && now - partsWritten < PROGRESS_MIN_MS) return;
      partsWritten = now;
      updateTask(id, (t) => ({ ...t, parts: parts.map((x) => ({ ...x })) }));
    },
  };
  const withParts = (t: TaskRecord): TaskRecord => (parts.length ? { ...t, parts: parts.map((x) => ({ ...x })) } : t);
  const kind = kinds[rec.kind];
  logLine(`task ${rec.kind} on ${rec.object} started by ${rec.user} on node ${rec.node}`);
  try {
    if (!kind) throw internal(`unknown task kind ${rec.kind}`);
    const summary = await kind(run);
    logLine(`TASK OK${summary ? `: ${summary}` : ''}`);
    if (closingLine !== null) logLine(closingLine);
    return updateTask(id, (t) => ({ ...withParts(t), status: 'ok', progress: 100, end: Date.now(), message: summary || 'done' }));
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    const detail = (e as HttpError).detail;
    if (detail) logLine(detail);
    logLine(`TASK FAILED: ${msg}`);
    return updateTask(id, (t) => ({ ...withParts(t), status: 'failed', end: Date.now(), message: msg }));
  }
}
