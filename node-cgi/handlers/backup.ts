/**
 * /api/backup: backups, backup jobs, alerts and mail settings.
 *
 *   GET    /api/backup?vmid=101&storage=local     list (VM.Backup on the guest or Datastore.Audit on the storage)
 *   POST   /api/backup/run                        {vmid, storage?, mode?, compress?, mailto?, bwlimit?} → 202 task
 *   POST   /api/backup/verify                     {storage, vmid?, olderThanDays?, mailto?} → 202 task
 *   POST   /api/backup/replica                    cluster mode, node to node: the peer backs up its replicas → 202 task
 *   GET    /api/backup/replica/<task>             node to node: that task's state, its log once it ended
 *   GET    /api/backup/<id>                       one backup with its manifest
 *   GET    /api/backup/<id>/log                   its backup.log
 *   DELETE /api/backup/<id>                       remove it (directory storages)
 *   GET|POST /api/backup/jobs, GET|PUT|DELETE /api/backup/jobs/<id>, POST /api/backup/jobs/<id>/run
 *   GET    /api/backup/alerts, POST /api/backup/alerts/ack {tasks?}
 *   GET    /api/backup/scheduler                 when the job scheduler last ran, and whether it is stale (Datastore.Audit)
 *   GET|PUT /api/backup/mail                      {from, transport: "sendmail"|"smtp", smtp?: {host, port, security, username?, fingerprint?}, password?}
 *
 * Restore and run-from-backup (POST /api/backup/<id>/restore|boot, boot
 * checks and their screenshots) belong to the restore side: its block of
 * routes comes last (BACKUP_RESTORE_ROUTES of restore/routes.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { log, Reply, runCgi } from '../lib/cgi';
import { askOtherNodes, checkNodeHere, clusterDispatch } from '../cluster/dispatch';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { conflict, forbidden, notFound } from '../lib/errors';
import { nodeName } from '../lib/paths';
import { checkedName } from '../lib/validate';
import { startTask, taskRunning } from '../tasks/task';
import { acknowledgeable, listAlerts } from '../backup/alerts';
import { mailSchedulerOnce, readSchedulerHealth, type SchedulerHealth } from '../backup/scheduler';
import { jobView, startJob } from '../backup/job';
import {
  addAcks, deleteJob, getJob, getStorage, knownStorage, listJobs, listStorages, readJobStates, readMailSettings, readMailView, saveJob, writeMailSettings,
} from '../backup/config';
import { readGuest } from '../backup/guest';
import { checkClusterBackup, replicaTaskView, startReplicaBackup } from '../backup/cluster';
import { verifiedPeer } from '../cluster/receive';
import { refuseIfMigrating } from '../vm';
import { deleteBackup, findBackup, listBackups } from '../backup/list';
import { LOG_FILE, parseBackupId } from '../backup/manifest';
import { parseAlertAck, parseBackupQuery, parseBackupRun, parseMailSettings, parseVerifyRun } from '../backup/requests';
import { parseJob } from '../backup/validate';
import type { BackupDetail, ListedBackup } from '../backup/types';
import { BACKUP_HOME } from '../backup/home';
import { BACKUP_RESTORE_ROUTES } from '../restore/routes';

function canSeeBackup(ctx: ApiContext, vmid: number, storage: string): boolean {
  return ctx.can(`/vms/${vmid}`, 'VM.Backup') || ctx.can(`/storage/${storage}`, 'Datastore.Audit');
}

/**
 * This node's backups the caller may see, each with the node; in a cluster,
 * asked of the node the user talks to, every node's (each lists its own
 * storages, for the caller; a node that does not answer adds none).
 */
async function list(ctx: ApiContext): Promise<ListedBackup[]> {
  checkNodeHere(ctx);
  const q = parseBackupQuery(ctx.req.query);
  const here = nodeName();
  const storages = q.storage ? [getStorage(q.storage)] : listStorages();
  const mine = storages
    .flatMap((s) => listBackups(s, q.vmid))
    .filter((b) => canSeeBackup(ctx, b.vmid, b.storage))
    .map((b) => ({ ...b, node: here }));
  const others = ctx.req.query.has('node') ? null : await askOtherNodes<ListedBackup[]>(ctx, `/api/backup${ctx.req.query.size ? `?${ctx.req.query}` : ''}`);
  const theirs = (others ?? []).flatMap((a) => {
    if (a.ok) return a.value.map((b) => ({ ...b, node: a.node }));
    // A storage only this node has is no failure of the others.
    if (a.error.code !== 'not_found') log(`backups of node ${a.node} not listed: ${a.error.message}`);
    return [];
  });
  return [...mine, ...theirs].sort((a, b) => b.time.localeCompare(a.time) || a.id.localeCompare(b.id) || a.node.localeCompare(b.node));
}

/** The backup of the path, when the caller may see it. */
function backupOfPath(ctx: ApiContext) {
  checkNodeHere(ctx);
  const id = parseBackupId(ctx.params.id!);
  if (!canSeeBackup(ctx, id.vmid, id.storage)) throw forbidden(`permission denied: VM.Backup on /vms/${id.vmid}`);
  return findBackup(id);
}

async function runBackup(ctx: ApiContext) {
  const r = parseBackupRun(await ctx.req.json());
  ctx.check(`/vms/${r.vmid}`, 'VM.Backup');
  getStorage(r.storage);
  readGuest(r.vmid);
  refuseIfMigrating(r.vmid, 'back it up');
  if (r.mode === 'cluster') await checkClusterBackup(r.vmid);
  const params = {
    vmids: [r.vmid], storage: r.storage, mode: r.mode, compress: r.compress, mailto: r.mailto, mailOnSuccess: r.mailOnSuccess,
    ...(r.speed > 0 ? { speed: r.speed } : {}),
  };
  const task = startTask({ kind: 'backup', object: `/vms/${r.vmid}`, user: ctx.me.username, params, message: `backup of guest ${r.vmid}` });
  return new Reply(202, { task });
}

async function runVerify(ctx: ApiContext) {
  const r = parseVerifyRun(await ctx.req.json());
  ctx.check(`/storage/${r.storage}`, 'Datastore.Allocate');
  getStorage(r.storage);
  const task = startTask({ kind: 'backup-verify', object: `/storage/${r.storage}`, user: ctx.me.username, params: { ...r }, message: `verify backups on ${r.storage}` });
  return new Reply(202, { task });
}

/**
 * Who sees and acknowledges a failure: of a guest's backup ("/vms/101"), who
 * may back that guest up; of a job or verify run ("/storage/usb"), who may
 * audit (see) or configure (acknowledge) that storage.
 */
function mayAlert(ctx: ApiContext, object: string, what: 'see' | 'ack'): boolean {
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

/** In a cluster: a guest's backups are made, listed and read on the node it lives on. */
/** ?node=<name>: that node's backups only (in a cluster, the request goes there). */
const NODE_OF_QUERY = { node: (ctx: ApiContext) => ctx.req.query.get('node') };
const GUEST_OF_BODY = { guest: async (ctx: ApiContext) => parseBackupRun(await ctx.req.json()).vmid };
const jobId = (ctx: ApiContext) => checkedName(ctx.params.id, 'id', 64);

export const routes: ApiRoute[] = [
  { method: 'GET', path: '/', perm: 'authenticated', home: NODE_OF_QUERY, handle: list },
  { method: 'POST', path: '/run', perm: 'authenticated', home: GUEST_OF_BODY, handle: runBackup },
  { method: 'POST', path: '/verify', perm: 'authenticated', handle: runVerify },
  // Cluster mode, from the guest's node to its peer (signed with the cluster key): back up the replicas there.
  {
    method: 'POST', path: '/replica', perm: 'public',
    handle: async (ctx) => {
      const from = verifiedPeer(ctx.req).node;
      return new Reply(202, await startReplicaBackup(await ctx.req.json(), from));
    },
  },
  {
    method: 'GET', path: '/replica/:task', perm: 'public',
    handle: (ctx) => {
      verifiedPeer(ctx.req);
      return replicaTaskView(ctx.params.task!);
    },
  },
  {
    method: 'GET', path: '/jobs', perm: { path: '/storage', priv: 'Datastore.Audit' },
    handle: () => {
      const states = readJobStates();
      return listJobs().map((j) => jobView(j, states));
    },
  },
  {
    method: 'POST', path: '/jobs', perm: { path: '/storage', priv: 'Datastore.Allocate' }, home: 'master',
    handle: async (ctx) => {
      const body = await ctx.req.json();
      const job = saveJob(null, () => knownStorage(parseJob(body, null, { node: nodeName(), now: Date.now(), newId: newJobId })));
      return new Reply(201, jobView(job));
    },
  },
  { method: 'GET', path: '/jobs/:id', perm: { path: '/storage', priv: 'Datastore.Audit' }, handle: (ctx) => jobView(getJob(jobId(ctx))) },
  {
    method: 'PUT', path: '/jobs/:id', perm: { path: '/storage', priv: 'Datastore.Allocate' }, home: 'master',
    handle: async (ctx) => {
      const body = await ctx.req.json();
      const job = saveJob(jobId(ctx), (prev) => knownStorage(parseJob(body, prev, { node: nodeName(), now: Date.now(), newId: newJobId })));
      return jobView(job);
    },
  },
  {
    method: 'DELETE', path: '/jobs/:id', perm: { path: '/storage', priv: 'Datastore.Allocate' }, body: 'none', home: 'master',
    handle: (ctx) => {
      deleteJob(jobId(ctx));
      return new Reply(204, null);
    },
  },
  {
    method: 'POST', path: '/jobs/:id/run', perm: { path: '/storage', priv: 'Datastore.Allocate' }, body: 'none',
    // A job runs on its node (its guests are there), in a cluster too.
    home: { node: (ctx) => getJob(jobId(ctx)).node },
    handle: (ctx) => {
      const job = getJob(jobId(ctx));
      const s = readJobStates()[job.id];
      if (taskRunning(s?.task)) throw conflict(`job ${job.id} is running (task ${s!.task})`);
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
      const { tasks } = parseAlertAck(await ctx.req.json());
      const all = listAlerts(readSchedulerHealth());
      const mine = all.filter((a) => acknowledgeable(a) && mayAlert(ctx, a.object, 'ack'));
      const ids = tasks ?? mine.map((a) => a.task);
      const lasting = all.find((a) => !acknowledgeable(a) && ids.includes(a.task));
      if (lasting) throw conflict(`${lasting.task} is no failure to acknowledge: it ends when the backup scheduler runs again`);
      const unknown = ids.filter((t) => !mine.some((a) => a.task === t));
      if (unknown.length > 0) throw notFound(`no alert you may acknowledge for task(s) ${unknown.join(', ').slice(0, 300)}`);
      addAcks(ids, ctx.me.username);
      return { acknowledged: ids };
    },
  },
  { method: 'GET', path: '/mail', perm: { path: '/', priv: 'Sys.Audit' }, handle: () => readMailView() },
  {
    method: 'PUT', path: '/mail', perm: { path: '/', priv: 'Sys.Modify' }, home: 'master',
    handle: async (ctx) => {
      const { settings, password } = parseMailSettings(await ctx.req.json(), readMailSettings());
      writeMailSettings(settings, password);
      return readMailView();
    },
  },
  {
    method: 'GET', path: '/:id', perm: 'authenticated', home: BACKUP_HOME,
    handle: (ctx) => {
      const { b } = backupOfPath(ctx);
      return { ...b.entry, node: nodeName(), manifest: b.manifest } satisfies BackupDetail;
    },
  },
  {
    method: 'GET', path: '/:id/log', perm: 'authenticated', home: BACKUP_HOME,
    handle: (ctx) => {
      const { b } = backupOfPath(ctx);
      return { lines: readFileSync(join(b.dir, LOG_FILE), 'utf8').split('\n').filter(Boolean) };
    },
  },
  {
    method: 'DELETE', path: '/:id', perm: 'authenticated', body: 'none', home: BACKUP_HOME,
    handle: (ctx) => {
      const { storage, b } = backupOfPath(ctx);
      ctx.check(`/storage/${storage.name}`, 'Datastore.Allocate');
      deleteBackup(storage, b);
      return new Reply(204, null);
    },
  },
];

routes.push(...BACKUP_RESTORE_ROUTES);

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
