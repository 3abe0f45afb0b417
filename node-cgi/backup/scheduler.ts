/**
 * The backup scheduler's health. Something must run `ramvm backup tick`
 * each minute, or no job ever starts: cron on image nodes, the foreground
 * process of `npm start` (build/start.ts) elsewhere. Each tick records
 * itself in run/ramvm/backup-scheduler.json:
 *
 *   { "at": 1795643280000, "by": "cron", "ms": 84, "ok": true, "started": ["nightly 2026…-backup-…"] }
 *   { "at": 1795643340000, "by": "npm-start", "ms": 12, "ok": false, "error": "…", "failingSince": 1795643280000 }
 *
 * and schedulerHealth() judges it: a scheduler that has not run for
 * SCHEDULER_STALE_MS while enabled jobs of this node wait is "stale", one
 * whose ticks fail is "failing". Either is an alert like a failed backup
 * (GET /api/backup/alerts, the Backups view), and mailed once to the
 * recipients of the node's jobs (the task "scheduler-mail", started by
 * whoever notices first: the alert's reader). Such an alert cannot be
 * acknowledged: it ends when the scheduler runs again.
 *
 *   schedulerHealth({ last: { at: now - 10 * 60_000, … }, jobs: [nightly], node: 'pve1', bootMs: 0, now })
 *   → { state: 'stale', since: now - 600000, message: 'the backup scheduler of node pve1 has not run since …; 1 job cannot start', … }
 */
import { readFileSync } from 'node:fs';
import { nodeName, paths } from '../lib/paths';
import { readJson, withLock, writeJsonAtomic } from '../lib/store';
import { startTask, type TaskRun } from '../tasks/task';
import { listJobs, readMailSettings } from './config';
import type { BackupAlert, BackupJob } from './types';

/** No tick for this long while jobs wait: the scheduler is stale (five missed minutes). */
export const SCHEDULER_STALE_MS = 5 * 60_000;
/** How often cron and `npm start` run the tick. */
export const TICK_INTERVAL_MS = 60_000;
/** The shortest tick interval `npm start` takes from RAMVM_SCHEDULER_TICK_MS (tests). */
export const TICK_INTERVAL_MIN_MS = 1000;
/** Who runs the ticks: cron, or the foreground process of `npm start`. */
export const TICK_SOURCES = ['cron', 'npm-start'] as const;
export type TickSource = (typeof TICK_SOURCES)[number];

export interface TickRecord {
  /** When the tick began (Unix ms). */
  at: number;
  by: TickSource;
  ms: number;
  ok: boolean;
  error?: string;
  /** Since when ticks fail, while they do. */
  failingSince?: number;
  /** "<job> <task>" of each job it started. */
  started: string[];
}

export interface SchedulerHealth {
  node: string;
  /** The last tick; null when none has run. */
  last: TickRecord | null;
  /** Enabled jobs of this node: what a stopped scheduler leaves undone. */
  jobs: number;
  /** idle: no jobs to start (nothing is missed either way). */
  state: 'ok' | 'stale' | 'failing' | 'idle';
  /** Since when it is stale or failing (Unix ms), else null. */
  since: number | null;
  staleAfterMs: number;
  /** What is wrong, for people; null when nothing is. */
  message: string | null;
}

export interface HealthInput {
  last: TickRecord | null;
  jobs: readonly Pick<BackupJob, 'enabled' | 'node' | 'created' | 'id'>[];
  node: string;
  /** When the host booted (Unix ms): cron's first tick comes within a minute of it. */
  bootMs: number;
  now: number;
}

const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export function schedulerHealth(i: HealthInput): SchedulerHealth {
  const mine = i.jobs.filter((j) => j.enabled && j.node === i.node);
  const base = { node: i.node, last: i.last, jobs: mine.length, staleAfterMs: SCHEDULER_STALE_MS };
  if (mine.length === 0) return { ...base, state: 'idle', since: null, message: null };
  const waiting = `${mine.length} job${mine.length === 1 ? '' : 's'} (${mine.map((j) => j.id).join(', ')})`;
  // Since when a tick is owed: the last one, but not before the first job existed or the host booted.
  const owed = Math.max(i.last?.at ?? 0, Math.min(...mine.map((j) => j.created)), i.bootMs);
  if (i.now - owed > SCHEDULER_STALE_MS) {
    const last = i.last ? `has not run since ${when(i.last.at)}` : 'has never run';
    return {
      ...base, state: 'stale', since: owed,
      message: `the backup scheduler of node ${i.node} ${last}: ${waiting} cannot start. ` +
        'Run the node with npm start, or install the cron line (ramvm backup install-cron).',
    };
  }
  if (i.last && !i.last.ok) {
    return {
      ...base, state: 'failing', since: i.last.failingSince ?? i.last.at,
      message: `the backup scheduler of node ${i.node} fails since ${when(i.last.failingSince ?? i.last.at)}: ${i.last.error ?? 'unknown error'}; ${waiting} may not start`,
    };
  }
  return { ...base, state: 'ok', since: null, message: null };
}

/** The alert of an unhealthy scheduler (the Backups view shows it with the failures), or null. */
export function schedulerAlert(h: SchedulerHealth): BackupAlert | null {
  if ((h.state !== 'stale' && h.state !== 'failing') || h.since === null) return null;
  return { task: `scheduler:${h.node}`, kind: 'scheduler', object: '/storage', job: null, vmids: null, time: new Date(h.since).toISOString(), message: h.message ?? '' };
}

/** The record a tick writes: `failingSince` carried on while ticks keep failing. */
export function tickRecord(prev: TickRecord | null, r: Omit<TickRecord, 'failingSince'>): TickRecord {
  if (r.ok) return r;
  return { ...r, failingSince: prev && !prev.ok ? (prev.failingSince ?? prev.at) : r.at };
}

/**
 * How often `npm start` ticks: each minute, or more often when
 * RAMVM_SCHEDULER_TICK_MS asks (tests); never less often, never below
 * TICK_INTERVAL_MIN_MS.
 */
export function tickIntervalMs(env: string | undefined): number {
  if (env === undefined || env === '') return TICK_INTERVAL_MS;
  const n = Number(env);
  if (!Number.isInteger(n) || n < TICK_INTERVAL_MIN_MS) {
    throw new Error(`RAMVM_SCHEDULER_TICK_MS must be a whole number of ms from ${TICK_INTERVAL_MIN_MS} up (at most a minute is taken), not ${env}`);
  }
  return Math.min(n, TICK_INTERVAL_MS);
}

/** Time until the next tick: the next whole multiple of the interval (each minute at :00, as cron). */
export function nextTickDelayMs(now: number, intervalMs: number): number {
  return intervalMs - (now % intervalMs);
}

// ---- the edge: files, the clock, mail ----

const tickFile = () => paths().backupSchedulerTick;
const mailedFile = () => paths().backupSchedulerMailed;

export const readLastTick = (): TickRecord | null => readJson<TickRecord | null>(tickFile(), null);

/** Run one tick as `by` and record it (also when it fails, which it then rethrows). */
export async function recordedTick(by: TickSource, tick: () => Promise<string[]>, now = Date.now): Promise<string[]> {
  const at = now();
  const prev = readLastTick();
  try {
    const started = await tick();
    writeJsonAtomic(tickFile(), tickRecord(prev, { at, by, ms: now() - at, ok: true, started }));
    return started;
  } catch (e) {
    writeJsonAtomic(tickFile(), tickRecord(prev, { at, by, ms: now() - at, ok: false, error: (e as Error).message.slice(0, 500), started: [] }));
    throw e;
  }
}

function bootMs(now: number): number {
  try {
    return now - Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  } catch {
    return 0;
  }
}

/** This node's scheduler, now. */
export function readSchedulerHealth(now = Date.now()): SchedulerHealth {
  return schedulerHealth({ last: readLastTick(), jobs: listJobs(), node: nodeName(), bootMs: bootMs(now), now });
}

/** The distinct recipients of this node's enabled jobs. */
export function jobRecipients(jobs: readonly Pick<BackupJob, 'enabled' | 'node' | 'mailto'>[], node: string): string[] {
  return [...new Set(jobs.filter((j) => j.enabled && j.node === node && j.mailto).map((j) => j.mailto))].sort();
}

/**
 * Mail an unhealthy scheduler once per episode (stale or failing since the
 * same time): the first reader of the alerts starts the task that mails.
 * Returns the task id, or null when there is nothing to mail.
 */
export function mailSchedulerOnce(h: SchedulerHealth): string | null {
  const alert = schedulerAlert(h);
  const to = jobRecipients(listJobs(), h.node);
  if (!alert || to.length === 0) return null;
  const episode = `${h.state}:${h.since}`;
  return withLock('backup-scheduler-mail', () => {
    if (readJson<{ episode?: string }>(mailedFile(), {}).episode === episode) return null;
    writeJsonAtomic(mailedFile(), { episode, at: Date.now() });
    return startTask({
      kind: 'scheduler-mail', object: '/storage', user: 'root', params: { to, episode },
      message: `mail: backup scheduler of ${h.node} ${h.state}`,
    });
  });
}

/** The mail about an unhealthy scheduler. */
export function schedulerMail(h: SchedulerHealth, m: { to: readonly string[]; from: string; date: Date }): string {
  const subject = `ramvm backup scheduler ${h.state === 'stale' ? 'STOPPED' : 'FAILING'} on ${h.node}`;
  return [
    `From: ${m.from}`,
    `To: ${m.to.join(', ')}`,
    `Subject: ${subject}`,
    `Date: ${m.date.toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'NO SCHEDULED BACKUP STARTS while this lasts: a job that cannot start is a backup that does not happen.',
    '',
    `${(h.message ?? '').replace(/[\r\n]+/g, ' ')}`,
    '',
    `Node: ${h.node}`,
    `Last run: ${h.last ? `${when(h.last.at)} by ${h.last.by}${h.last.ok ? '' : ` (failed: ${h.last.error ?? ''})`}` : 'never'}`,
    '',
  ].join('\n');
}

/** Task "scheduler-mail": send the mail of the scheduler's state now (it may have recovered meanwhile). */
export async function schedulerMailTask(t: TaskRun, send: (text: string) => Promise<void>): Promise<string> {
  const to = (t.params.to as string[]).filter((a) => typeof a === 'string');
  const h = readSchedulerHealth();
  if (h.state !== 'stale' && h.state !== 'failing') return `the scheduler runs again (${h.state}); no mail sent`;
  await send(schedulerMail(h, { to, from: readMailSettings().from, date: new Date() }));
  t.log(`mailed ${to.join(', ')}: ${h.message}`);
  return `mailed ${to.join(', ')}`;
}
