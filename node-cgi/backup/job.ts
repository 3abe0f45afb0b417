/**
 * The task kinds of backups (backupTaskKinds) and the cron tick.
 *
 *   backup         params { job } (a scheduled or run-now job)
 *                  or { vmids, storage, mode, compress, mailto?, speed? } (a manual run; speed in bytes/s)
 *                  → open the storage, back up each guest of backupPlan, apply
 *                    retention after each verified backup, close the storage,
 *                    mail, fail the task when any guest failed
 *   backup-verify  params { job } or { storage, vmid?, olderThanDays? }
 *                  → read backups back and report bit rot
 *
 * A failed task of either kind is an alert until someone acknowledges it
 * (alerts.ts). Mail goes out on failure whenever there is a recipient, on
 * success when asked.
 *
 * What more a job does while its storage is open (boot checks, the rescue
 * medium: restore/) comes in as hooks, given where the kinds are put
 * together (cli/task-kinds.ts), so backups never import the restore side.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { internal, HttpError, explain } from '../lib/errors';
import { backupStoppedFile, nodeName, paths } from '../lib/paths';
import { readTask, readTaskLog, startTask, taskRunning, type TaskKind, type TaskRun } from '../tasks/task';
import { getJob, getStorage, listJobs, readJobStates, readMailSettings, updateJobState } from './config';
import { schedulerMailTask } from './scheduler';
import { guestRunning, guestStatus, lifecycle, listGuests, readGuest } from './guest';
import { processAlive } from '../lib/proc';
import { closeStorage, removeBackup, scanBackups, writeCatalog, type StoredBackup } from './list';
import { mailDue, mailMessage, type GuestResult, type MailInput } from './mail';
import { nodeReplicas } from '../drbd/guest';
import { sendMail } from './mailer';
import { MANIFEST_FILE } from './manifest';
import { retentionToDelete } from './retention';
import { backupGuest } from './run';
import { backupPlan, dueJobs, nextOccurrence, type GuestInfo, type PlanStep } from './schedule';
import { clusterBackupGuest, replicaBackupTask } from './cluster';
import { openStorage, type OpenStorage } from './target';
import { verifyBackup } from './verify';
import { readJson, writeJsonAtomic, withLock } from '../lib/store';
import { checkedVmid } from '../lib/validate';
import { checkedCompress, checkedMail, checkedMode, checkedStorageName } from './validate';
import type { BackupJob, JobView, StorageEntry } from './types';

/**
 * Work after a job's backups while its storage is open; it throws to fail
 * the job (so its alert and mail go out). Gets the job, the open storage,
 * the task id and the task's log.
 */
export type AfterBackupJob = (job: Pick<BackupJob, 'id'>, storage: OpenStorage, task: string, log: (l: string) => void) => Promise<void>;

export interface BackupHooks {
  afterJob?: readonly AfterBackupJob[];
}

/** The task kinds "backup" and "backup-verify", with the hooks a backup job runs. */
export function backupTaskKinds(hooks: BackupHooks = {}): Record<string, TaskKind> {
  return {
    backup: (t) => backupTask(t, hooks),
    'backup-verify': verifyTask,
    'scheduler-mail': (t) => schedulerMailTask(t, sendMail),
    'backup-replica': (t) => replicaBackupTask(t, (dir, storage, vmid, id, log) => applyRetention(dir, storage, vmid, getJob(id), log)),
  };
}

/** Stop mode: time a guest gets to shut down before it is stopped. */
export const SHUTDOWN_TIMEOUT_MS = 3 * 60_000; // 3 min
/** Lines of the log's tail in a mail. */
const MAIL_LOG_LINES = 40;

/** The node's time zone (TZ or /etc/localtime). */
export const nodeTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** A manual run as a job that is not stored. */
function manualJob(p: Record<string, unknown>): BackupJob {
  const vmids = p.vmids === 'all' ? 'all' : (p.vmids as unknown[]).map((v) => checkedVmid(v));
  return {
    id: '', kind: 'backup', enabled: true, node: nodeName(), mailto: checkedMail(p.mailto), mailOnSuccess: p.mailOnSuccess === true,
    storage: checkedStorageName(p.storage), vmids, weekdays: [], start: '00:00', mode: checkedMode(p.mode), compress: checkedCompress(p.compress),
    retention: { keepLast: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, verifyAfterDays: 0, comment: '', created: 0,
  };
}

/** This node's replicated disks in trouble, a line each, for the mail; none when they cannot be read. */
async function replicaWarnings(): Promise<string[]> {
  const list = await nodeReplicas().catch(() => []);
  return list.filter((r) => r.warning).map((r) => `${r.resource} (guest ${r.vmid}): ${r.warning}`);
}

async function mailResult(t: TaskRun, job: BackupJob, ok: boolean, error: string | null, results: GuestResult[]): Promise<void> {
  if (!job.mailto) return;
  const warnings = await replicaWarnings();
  if (!mailDue(ok, job.mailOnSuccess, warnings)) return;
  const input: MailInput = {
    to: job.mailto, from: readMailSettings().from, node: nodeName(), job: job.id || null, task: t.id, ok, error, results,
    logTail: readTaskLog(t.id, MAIL_LOG_LINES), date: new Date(), replicaWarnings: warnings,
  };
  try {
    await sendMail([job.mailto], mailMessage(input));
    t.log(`mail sent to ${job.mailto}`);
  } catch (e) {
    t.log(`MAIL TO ${job.mailto} FAILED: ${explain(e)}`);
  }
  if (job.id) updateJobState(job.id, (s) => ({ lastScheduled: s?.lastScheduled ?? 0, ...s, mailed: true }));
}

/**
 * The end of a job's task: mail the result, then fail the task when the job
 * as a whole failed (`error`) or any item did (`failure` says how).
 */
async function conclude(t: TaskRun, job: BackupJob, error: string | null, results: GuestResult[], failure: (failed: GuestResult[]) => string): Promise<void> {
  const failed = results.filter((r) => !r.ok);
  await mailResult(t, job, error === null && failed.length === 0, error, results);
  if (error !== null) throw internal(error);
  if (failed.length > 0) throw internal(failure(failed));
}

/** Remove what retention selects among the guest's verified backups on this storage. */
export function applyRetention(dir: string, storage: string, vmid: number, job: BackupJob, log: (l: string) => void): void {
  const all: StoredBackup[] = scanBackups(dir, storage, vmid);
  const del = retentionToDelete(all.map((b) => ({ id: b.entry.id, time: b.manifest.start, verified: b.entry.verified })), job.retention, nodeTimeZone());
  for (const id of del) {
    removeBackup(all.find((x) => x.entry.id === id)!);
    log(`retention: removed ${id}`);
  }
}

export async function backupTask(t: TaskRun, hooks: BackupHooks = {}): Promise<string> {
  const job = typeof t.params.job === 'string' ? getJob(t.params.job) : manualJob(t.params);
  const speed = typeof t.params.speed === 'number' && t.params.speed > 0 ? Math.round(t.params.speed) : 0;
  const node = nodeName();
  const results: GuestResult[] = [];
  let error: string | null = null;
  try {
    const storage = getStorage(job.storage);
    const guests: GuestInfo[] = job.vmids === 'all'
      ? await listGuests(node)
      : await Promise.all(job.vmids.map(async (vmid) => {
        try {
          const g = readGuest(vmid);
          return { vmid, name: g.name, node: g.node, status: await guestStatus(g.handle) };
        } catch {
          return { vmid, name: null, node: '', status: 'stopped' as const };
        }
      }));
    const plan = backupPlan(job, guests, node);
    if (plan.length === 0) throw new HttpError('not_found', `no guests to back up on node ${node}`);
    t.log(`plan: ${plan.map((s) => (s.action === 'backup' ? `${s.vmid} ${s.mode === 'cluster' ? 'cluster' : s.method}${s.restart ? ' (stop, restart)' : ''}` : `${s.vmid} MISSING`)).join(', ')}`);
    if (job.mode === 'cluster') await clusterBackups(t, job, plan, results);
    else await storageBackups(t, job, plan, results, speed, node, storage, hooks);
  } catch (e) {
    error = explain(e);
    t.log(`backup job failed: ${error}`);
  }
  await conclude(t, job, error, results, (failed) => `${failed.length} of ${results.length} guest backup(s) failed: ${failed.map((r) => `${r.vmid}: ${r.message}`).join('; ')}`);
  return `${results.length} guest(s) backed up and verified`;
}

/**
 * Each guest of the plan in turn: a missing one is a failure, the others
 * go through `backup`, which returns the result's mode, size and message
 * (its throw is the guest's failure; the job goes on).
 */
async function eachGuest(
  t: TaskRun, job: BackupJob, plan: PlanStep[], results: GuestResult[],
  backup: (vmid: number, progress: (pct: number, msg: string) => void) => Promise<Pick<GuestResult, 'mode' | 'size' | 'message'>>,
): Promise<void> {
  for (const [n, step] of plan.entries()) {
    const began = Date.now();
    if (step.action === 'missing') {
      results.push({ vmid: step.vmid, ok: false, mode: job.mode, size: null, durationMs: 0, message: step.reason });
      t.log(`guest ${step.vmid}: ${step.reason}`);
      continue;
    }
    try {
      const r = await backup(step.vmid, (pct, msg) => t.progress(((n + pct / 100) / plan.length) * 100, msg));
      results.push({ vmid: step.vmid, ok: true, durationMs: Date.now() - began, ...r });
    } catch (e) {
      t.log(`guest ${step.vmid}: ${job.mode} backup failed: ${explain(e)}`);
      results.push({ vmid: step.vmid, ok: false, mode: job.mode, size: null, durationMs: Date.now() - began, message: explain(e) });
    }
  }
}

/** Snapshot and stop mode: the job's storage opened here, each guest backed up onto it, retention, the hooks. */
async function storageBackups(
  t: TaskRun, job: BackupJob, plan: PlanStep[], results: GuestResult[], speed: number, node: string, storage: StorageEntry, hooks: BackupHooks,
): Promise<void> {
  const open = await openStorage(storage, t.id, t.log);
  try {
    await eachGuest(t, job, plan, results, async (vmid, progress) => {
      const r = await backupGuest({
        vmid, storage: open, mode: job.mode, compress: job.compress, job: job.id || null, task: t.id, node,
        speed, copyRange: true, shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS, lifecycle, log: t.log, progress,
      });
      if (job.id) {
        try {
          applyRetention(open.dir, open.name, vmid, job, t.log);
        } catch (e) {
          t.log(`retention for guest ${vmid} failed: ${explain(e)}`);
        }
      }
      return { mode: `${job.mode}/${r.manifest.method}`, size: r.entry.size, message: `verified ${r.entry.id}` };
    });
    for (const after of hooks.afterJob ?? []) await after(job, open, t.id, t.log);
  } finally {
    await closeStorage(storage, open, t.log);
  }
}

/**
 * Cluster mode: each guest backed up from its replicas on its peer, which
 * writes to the job's storage there (cluster.ts); nothing is written here.
 */
async function clusterBackups(t: TaskRun, job: BackupJob, plan: PlanStep[], results: GuestResult[]): Promise<void> {
  await eachGuest(t, job, plan, results, async (vmid, progress) => {
    const r = await clusterBackupGuest({ vmid, storage: job.storage, compress: job.compress, job: job.id || null, task: t.id, user: t.user, log: t.log, progress });
    const held = r.holdMs === null ? 'not held' : `held ${r.holdMs.toFixed(1)} ms`;
    return { mode: 'cluster', size: null, message: `verified ${r.id} on node ${r.peer} (guest ${held})` };
  });
}

export async function verifyTask(t: TaskRun): Promise<string> {
  const job = typeof t.params.job === 'string' ? getJob(t.params.job) : null;
  const storageName = job ? job.storage : checkedStorageName(t.params.storage);
  const vmid = t.params.vmid === undefined || t.params.vmid === null ? undefined : checkedVmid(t.params.vmid);
  const days = job ? job.verifyAfterDays : Number(t.params.olderThanDays ?? 0) || 0;
  const mailJob: BackupJob = job ?? { ...manualJob({ vmids: 'all', storage: storageName, mailto: t.params.mailto }), id: '' };
  const results: GuestResult[] = [];
  let error: string | null = null;
  try {
    const storage = getStorage(storageName);
    const open = await openStorage(storage, t.id, t.log);
    try {
      const now = Date.now();
      const todo = scanBackups(open.dir, storage.name, vmid).filter((b) =>
        job?.vmids && job.vmids !== 'all' ? job.vmids.includes(b.manifest.vmid) : true).filter((b) =>
        days === 0 || !b.manifest.verification || now - b.manifest.verification.time >= days * 86_400_000);
      t.log(`verifying ${todo.length} backup(s) on ${storage.name}${days ? ` not verified for ${days} day(s)` : ''}`);
      for (const [n, b] of todo.entries()) {
        t.progress((n / Math.max(1, todo.length)) * 100, `verifying ${b.entry.id}`);
        const began = Date.now();
        const v = await verifyBackup(b.dir, b.manifest, (l) => t.log(`${b.entry.id}: ${l}`));
        const m = { ...b.manifest, history: [...(b.manifest.history ?? []), ...(b.manifest.verification ? [b.manifest.verification] : [])].slice(-20), verification: v };
        writeJsonAtomic(join(b.dir, MANIFEST_FILE), m);
        results.push({ vmid: b.manifest.vmid, ok: v.ok, mode: 'verify', size: b.entry.size, durationMs: Date.now() - began, message: v.ok ? `${b.entry.id} intact` : `${b.entry.id}: ${v.problems.join('; ')}` });
      }
      writeCatalog(storage, open.dir);
    } finally {
      await open.release();
    }
  } catch (e) {
    error = explain(e);
    t.log(`verify job failed: ${error}`);
  }
  await conclude(t, mailJob, error, results, (bad) => `BIT ROT: ${bad.length} of ${results.length} backup(s) damaged: ${bad.map((r) => r.message).join('; ')}`);
  return `${results.length} backup(s) read back: all intact`;
}

/** A job with its last run and its next start, for the API. */
export function jobView(j: BackupJob, states = readJobStates()): JobView {
  const s = states[j.id];
  let lastRun: JobView['lastRun'] = null;
  if (s?.task) {
    try {
      const t = readTask(s.task);
      lastRun = { task: t.id, status: t.status, progress: t.progress, message: t.message, start: t.start, end: t.end };
    } catch {
      lastRun = null;
    }
  }
  const next = j.enabled ? nextOccurrence(j, Date.now(), nodeTimeZone()) : null;
  return { ...j, lastRun, next: next ? new Date(next).toISOString() : null };
}

/** Start a job now (run-now button or the tick); returns the task id. */
export function startJob(job: BackupJob, user: string, scheduled: number | null): string {
  const id = startTask({
    kind: job.kind === 'verify' ? 'backup-verify' : 'backup',
    object: `/storage/${job.storage}`,
    user,
    params: { job: job.id, ...(scheduled !== null ? { scheduled } : {}) },
    message: `${job.kind === 'verify' ? 'verify' : 'backup'} job ${job.id}`,
  });
  updateJobState(job.id, (s) => ({ lastScheduled: scheduled ?? s?.lastScheduled ?? 0, task: id, mailed: false }));
  return id;
}

/**
 * Start guests that stop mode shut down and whose task died before starting
 * them again (see stopModeCopy in run.ts). Returns lines for the output.
 */
export async function restartOrphans(): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(paths().backupStopped).filter((n) => /^[0-9]+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const vmid = Number(n.slice(0, -5));
    const m = readJson<{ task: string; pid: number }>(backupStoppedFile(vmid));
    if (!m || processAlive(m.pid, m.task)) continue;
    if (!guestRunning(vmid)) {
      try {
        await lifecycle.start(vmid);
        out.push(`restarted guest ${vmid}, left stopped by task ${m.task}`);
      } catch (e) {
        out.push(`guest ${vmid}, left stopped by task ${m.task}, does not start: ${explain(e)}`);
        continue;
      }
    }
    rmSync(backupStoppedFile(vmid), { force: true });
  }
  return out;
}

/**
 * `ramvm backup tick`, run by cron each minute: start guests a dead stop-mode
 * task left stopped, start the due jobs, and mail about jobs whose task died
 * without saying so (kill, reboot).
 */
export async function tick(now = Date.now()): Promise<string[]> {
  const node = nodeName();
  const restarted = await restartOrphans();
  const started = withLock('backup-tick', () => {
    const jobs = listJobs();
    const states = readJobStates();
    const running = new Set(jobs.filter((j) => taskRunning(states[j.id]?.task)).map((j) => j.id));
    return dueJobs(jobs, now, states, running, node, nodeTimeZone()).map((d) => {
      const job = jobs.find((j) => j.id === d.id)!;
      return `started ${job.id} ${startJob(job, 'cron', d.scheduled)}`;
    });
  });
  const states = readJobStates();
  for (const job of listJobs()) {
    const s = states[job.id];
    if (!s?.task || s.mailed || !job.mailto) continue;
    let rec;
    try {
      rec = readTask(s.task);
    } catch {
      continue;
    }
    if (rec.status !== 'failed') continue;
    const text = mailMessage({
      to: job.mailto, from: readMailSettings().from, node, job: job.id, task: rec.id, ok: false, error: rec.message, results: [],
      logTail: (() => {
        try {
          return readTaskLog(rec.id, MAIL_LOG_LINES);
        } catch {
          return [];
        }
      })(),
      date: new Date(now),
    });
    try {
      await sendMail([job.mailto], text);
      updateJobState(job.id, (x) => ({ ...x!, mailed: true }));
    } catch (e) {
      process.stderr.write(`ramvm backup tick: mail for job ${job.id} failed: ${explain(e)}\n`);
    }
  }
  return [...restarted, ...started];
}
