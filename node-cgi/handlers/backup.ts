/**
 * /api/backup: backups, backup jobs, alerts and mail settings.
 *
 *   GET    /api/backup?vmid=101&storage=local     list (VM.Backup on the guest or Datastore.Audit on the storage)
 *   POST   /api/backup/run                        {vmid, storage?, mode?, compress?, mailto?, bwlimit?} → 202 task
 *   POST   /api/backup/verify                     {storage, vmid?, olderThanDays?, mailto?} → 202 task
 *   GET    /api/backup/<id>                       one backup with its manifest
 *   GET    /api/backup/<id>/log                   its backup.log
 *   DELETE /api/backup/<id>                       remove it (directory storages)
 *   GET|POST /api/backup/jobs, GET|PUT|DELETE /api/backup/jobs/<id>, POST /api/backup/jobs/<id>/run
 *   GET    /api/backup/alerts, POST /api/backup/alerts/ack {tasks?}
 *   GET    /api/backup/scheduler                 when the job scheduler last ran, and whether it is stale (Datastore.Audit)
 *   GET|PUT /api/backup/mail                      {sendmail: argv, from}
 *
 * Restore and run-from-backup (POST /api/backup/<id>/restore|boot, boot
 * checks and their screenshots) belong to the restore module: its block of
 * routes comes last (restore/routes.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { log, Reply, runCgi, type Context, type Route } from '../lib/cgi';
import { conflict, forbidden, invalid, notFound } from '../lib/errors';
import { nodeName } from '../lib/paths';
import { checkedName, checkedVmid } from '../lib/validate';
import { readTask, startTask } from '../tasks/task';
import { acknowledgeable, listAlerts } from '../backup/alerts';
import { mailSchedulerOnce, readSchedulerHealth, type SchedulerHealth } from '../backup/scheduler';
import { startJob } from '../backup/job';
import {
  addAcks, deleteJob, getJob, getStorage, listJobs, listStorages, readJobStates, readMailSettings, saveJob, writeMailSettings,
} from '../backup/config';
import { readGuest } from '../backup/guest';
import { listBackups, readableDir, scanBackups } from '../backup/list';
import { LOG_FILE, parseBackupId } from '../backup/manifest';
import { guestBackupDir } from '../backup/run';
import { nextOccurrence } from '../backup/schedule';
import { checkedCompress, checkedMail, checkedMode, checkedStorageName, LOCAL_STORAGE, parseJob } from '../backup/validate';
import type { BackupJob } from '../backup/types';
import { BACKUP_RESTORE_ROUTES } from '../restore/routes';

const tz = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function canSeeBackup(ctx: Context, vmid: number, storage: string): boolean {
  return ctx.can(`/vms/${vmid}`, 'VM.Backup') || ctx.can(`/storage/${storage}`, 'Datastore.Audit');
}

function list(ctx: Context) {
  const q = ctx.req.query;
  const vmid = q.get('vmid') ? checkedVmid(q.get('vmid')) : undefined;
  const storages = q.get('storage') ? [getStorage(checkedStorageName(q.get('storage')))] : listStorages();
  return storages
    .flatMap((s) => listBackups(s, vmid))
    .filter((b) => canSeeBackup(ctx, b.vmid, b.storage))
    .sort((a, b) => b.time.localeCompare(a.time) || a.id.localeCompare(b.id));
}

function findBackup(ctx: Context) {
  const id = parseBackupId(ctx.params.id!);
  if (!canSeeBackup(ctx, id.vmid, id.storage)) throw forbidden(`permission denied: VM.Backup on /vms/${id.vmid}`);
  const storage = getStorage(id.storage);
  const dir = readableDir(storage);
  if (!dir) throw conflict(`storage ${id.storage} is an external device that is not connected`);
  const b = scanBackups(dir, storage.name, id.vmid).find((x) => x.manifest.stamp === id.stamp);
  if (!b) throw notFound(`no such backup: ${ctx.params.id}`);
  return { id, storage, dir, b };
}

function bwlimit(v: unknown): number | undefined {
  if (v === undefined || v === null || v === 0) return undefined;
  if (typeof v !== 'number' || !(v > 0) || v > 100_000) throw invalid('bwlimit', 'must be MiB/s between 0 and 100000');
  return v;
}

function runBackup(ctx: Context) {
  return ctx.req.json().then((body) => {
    const vmid = checkedVmid(body.vmid);
    ctx.check(`/vms/${vmid}`, 'VM.Backup');
    const storage = checkedStorageName(body.storage ?? LOCAL_STORAGE);
    getStorage(storage);
    readGuest(vmid);
    const params = {
      vmids: [vmid], storage, mode: checkedMode(body.mode), compress: checkedCompress(body.compress),
      mailto: checkedMail(body.mailto), mailOnSuccess: body.mailOnSuccess === true,
      ...(bwlimit(body.bwlimit) ? { bwlimit: bwlimit(body.bwlimit) } : {}),
    };
    const task = startTask({ kind: 'backup', object: `/vms/${vmid}`, user: ctx.me.username, params, message: `backup of guest ${vmid}` });
    return new Reply(202, { task });
  });
}

function runVerify(ctx: Context) {
  return ctx.req.json().then((body) => {
    const storage = checkedStorageName(body.storage ?? LOCAL_STORAGE);
    ctx.check(`/storage/${storage}`, 'Datastore.Allocate');
    getStorage(storage);
    const vmid = body.vmid === undefined || body.vmid === null ? undefined : checkedVmid(body.vmid);
    const days = body.olderThanDays ?? 0;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 0 || days > 3650) throw invalid('olderThanDays', 'must be an integer 0..3650');
    const task = startTask({
      kind: 'backup-verify', object: `/storage/${storage}`, user: ctx.me.username,
      params: { storage, ...(vmid ? { vmid } : {}), olderThanDays: days, mailto: checkedMail(body.mailto) },
      message: `verify backups on ${storage}`,
    });
    return new Reply(202, { task });
  });
}

function jobView(j: BackupJob, states = readJobStates()) {
  const s = states[j.id];
  let lastRun = null;
  if (s?.task) {
    try {
      const t = readTask(s.task);
      lastRun = { task: t.id, status: t.status, progress: t.progress, message: t.message, start: t.start, end: t.end };
    } catch {
      lastRun = null;
    }
  }
  const next = j.enabled ? nextOccurrence(j, Date.now(), tz()) : null;
  return { ...j, lastRun, next: next ? new Date(next).toISOString() : null };
}

/**
 * Who sees and acknowledges a failure: of a guest's backup ("/vms/101"), who
 * may back that guest up; of a job or verify run ("/storage/usb"), who may
 * audit (see) or configure (acknowledge) that storage.
 */
function mayAlert(ctx: Context, object: string, what: 'see' | 'ack'): boolean {
  if (object.startsWith('/vms/')) return ctx.can(object, 'VM.Backup');
  return ctx.can(object, what === 'see' ? 'Datastore.Audit' : 'Datastore.Allocate');
}

/** The scheduler's health now; an unhealthy one is mailed about once (best effort: the answer does not wait for it). */
function schedulerNow(): SchedulerHealth {
  const h = readSchedulerHealth();
  try {
    mailSchedulerOnce(h);
  } catch (e) {
    log(`mail about the backup scheduler not started: ${(e as Error).message}`);
  }
  return h;
}

const newJobId = () => `job-${randomBytes(3).toString('hex')}`;
const jobId = (ctx: Context) => checkedName(ctx.params.id, 'id', 64);

export const routes: Route[] = [
  { method: 'GET', path: '/', perm: 'authenticated', handle: list },
  { method: 'POST', path: '/run', perm: 'authenticated', handle: runBackup },
  { method: 'POST', path: '/verify', perm: 'authenticated', handle: runVerify },
  {
    method: 'GET', path: '/jobs', perm: { path: '/storage', priv: 'Datastore.Audit' },
    handle: () => {
      const states = readJobStates();
      return listJobs().map((j) => jobView(j, states));
    },
  },
  {
    method: 'POST', path: '/jobs', perm: { path: '/storage', priv: 'Datastore.Allocate' },
    handle: async (ctx) => {
      const body = await ctx.req.json();
      const job = saveJob(null, () => parseJob(body, null, { node: nodeName(), now: Date.now(), newId: newJobId }));
      return new Reply(201, jobView(job));
    },
  },
  { method: 'GET', path: '/jobs/:id', perm: { path: '/storage', priv: 'Datastore.Audit' }, handle: (ctx) => jobView(getJob(jobId(ctx))) },
  {
    method: 'PUT', path: '/jobs/:id', perm: { path: '/storage', priv: 'Datastore.Allocate' },
    handle: async (ctx) => {
      const body = await ctx.req.json();
      const job = saveJob(jobId(ctx), (prev) => parseJob(body, prev, { node: nodeName(), now: Date.now(), newId: newJobId }));
      return jobView(job);
    },
  },
  {
    method: 'DELETE', path: '/jobs/:id', perm: { path: '/storage', priv: 'Datastore.Allocate' },
    handle: (ctx) => {
      deleteJob(jobId(ctx));
      return new Reply(204, null);
    },
  },
  {
    method: 'POST', path: '/jobs/:id/run', perm: { path: '/storage', priv: 'Datastore.Allocate' },
    handle: (ctx) => {
      const job = getJob(jobId(ctx));
      const s = readJobStates()[job.id];
      if (s?.task && readTask(s.task).status === 'running') throw conflict(`job ${job.id} is running (task ${s.task})`);
      return new Reply(202, { task: startJob(job, ctx.me.username, null) });
    },
  },
  {
    method: 'GET', path: '/alerts', perm: 'authenticated',
    handle: (ctx) => listAlerts(schedulerNow()).filter((a) => mayAlert(ctx, a.object, 'see')),
  },
  { method: 'GET', path: '/scheduler', perm: { path: '/storage', priv: 'Datastore.Audit' }, handle: () => schedulerNow() },
  {
    method: 'POST', path: '/alerts/ack', perm: 'authenticated',
    handle: async (ctx) => {
      const body = await ctx.req.json();
      const all = listAlerts(readSchedulerHealth());
      const mine = all.filter((a) => acknowledgeable(a) && mayAlert(ctx, a.object, 'ack'));
      let ids: string[];
      if (body.tasks === undefined) ids = mine.map((a) => a.task);
      else {
        if (!Array.isArray(body.tasks) || body.tasks.some((t) => typeof t !== 'string')) throw invalid('tasks', 'must be a list of task ids');
        ids = body.tasks as string[];
        const lasting = all.find((a) => !acknowledgeable(a) && ids.includes(a.task));
        if (lasting) throw conflict(`${lasting.task} is no failure to acknowledge: it ends when the backup scheduler runs again`);
        const unknown = ids.filter((t) => !mine.some((a) => a.task === t));
        if (unknown.length > 0) throw notFound(`no alert you may acknowledge for task(s) ${unknown.join(', ').slice(0, 300)}`);
      }
      addAcks(ids, ctx.me.username);
      return { acknowledged: ids };
    },
  },
  { method: 'GET', path: '/mail', perm: { path: '/', priv: 'Sys.Audit' }, handle: () => readMailSettings() },
  {
    method: 'PUT', path: '/mail', perm: { path: '/', priv: 'Sys.Modify' },
    handle: async (ctx) => {
      const body = await ctx.req.json();
      const cur = readMailSettings();
      const argv = body.sendmail ?? cur.sendmail;
      if (!Array.isArray(argv) || argv.length === 0 || argv.length > 20 || argv.some((a) => typeof a !== 'string' || a.length === 0 || a.length > 512 || /[\0\n]/.test(a))) {
        throw invalid('sendmail', 'must be a non-empty argv list, e.g. ["/usr/sbin/sendmail", "-t", "-oi"]');
      }
      if ((argv[0] as string).startsWith('-')) throw invalid('sendmail', 'the first item is the program');
      const from = body.from === undefined ? cur.from : checkedMail(body.from, 'from');
      if (!from) throw invalid('from', 'must be a mail address');
      writeMailSettings({ sendmail: argv as string[], from });
      return readMailSettings();
    },
  },
  {
    method: 'GET', path: '/:id', perm: 'authenticated',
    handle: (ctx) => {
      const { b } = findBackup(ctx);
      return { ...b.entry, manifest: b.manifest };
    },
  },
  {
    method: 'GET', path: '/:id/log', perm: 'authenticated',
    handle: (ctx) => {
      const { b } = findBackup(ctx);
      const lines = readFileSync(join(b.dir, LOG_FILE), 'utf8').split('\n').filter(Boolean);
      return { lines };
    },
  },
  {
    method: 'DELETE', path: '/:id', perm: 'authenticated',
    handle: (ctx) => {
      const { id, storage, b } = findBackup(ctx);
      ctx.check(`/storage/${storage.name}`, 'Datastore.Allocate');
      if (storage.config.type !== 'dir') throw conflict('backups on external devices are removed by their job\'s retention');
      const grave = join(guestBackupDir(storage.config.path, id.vmid), `.deleting-${id.stamp}`);
      renameSync(b.dir, grave);
      rmSync(grave, { recursive: true, force: true });
      return new Reply(204, null);
    },
  },
];

routes.push(...BACKUP_RESTORE_ROUTES);

if (require.main === module) runCgi(routes);
