/**
 * The API of restores, in two blocks of routes (parse with requests.ts,
 * then act), served by two CGIs:
 *
 * BACKUP_RESTORE_ROUTES, by backup.cgi under /api/backup:
 *   POST /<id>/restore          {vmid?, storage?, force?}  → 202 {task, vmid}     (task "restore")
 *   POST /<id>/boot             {vmid?, live?, bwlimit?, force?} → {vmid, warnings, task, liveTask?}
 *   GET  /<id>/bootcheck        the last boot check's result
 *   POST /<id>/bootcheck        {seconds?} → 202 {task}                          (task "boot-check")
 *   GET  /<id>/screenshot       its screenshot (image/png)
 *   GET|PUT /jobs/<job>/bootcheck  {enabled, seconds}: boot check after each verified backup of the job
 *
 * RESTORE_ROUTES, by restore.cgi under /api/restore:
 *   GET  /                      guests running from a backup
 *   POST /<vmid>/link           {up}: connect or unplug the NICs of a running guest
 *   POST /<vmid>/keep           {bwlimit?} → 202 {task}: live restore (task "live-restore")
 *   POST /clean                 delete stopped temporary guests nobody watches
 *   GET|PUT /medium             {image}: the rescue image each backup job copies to its storage
 *   GET  /backup-mode           booted from a backup disk: its guests and their backups (backup-mode.ts)
 *
 * They live here and not in handlers/: a handler file is a CGI's entry, and
 * one bundled into another would answer too.
 *
 * Backup ids are "<storage>:<vmid>:<stamp>". Reading a backup needs
 * VM.Backup on its guest; a restore or run that makes a guest also
 * VM.Allocate (on /vms, or on the guest restored over).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reply } from '../lib/cgi';
import type { ApiContext, ApiRoute } from '../auth/authorize';
import { conflict, forbidden, notFound } from '../lib/errors';
import { guestImagesDir } from '../lib/paths';
import { checkedName, checkedVmid } from '../lib/validate';
import { startTask } from '../tasks/task';
import { getJob, getStorage } from '../backup/config';
import { parseBackupId, type BackupId } from '../backup/manifest';
import { BACKUP_HOME } from '../backup/home';
import { checkNodeHere } from '../cluster/dispatch';
import { findGuest, openGuest, usedVmids } from '../vm';
import { reserveVmid } from '../cluster/placement';
import { bootBackup, cleanTemporaries, setLinks, temporaryGuests } from './boot';
import { readBootCheck, SCREENSHOT_FILE } from './bootcheck';
import { startLiveRestore } from './live';
import { checkRestoreTarget } from './plan';
import { parseBoot, parseBootCheckRun, parseKeep, parseLinks, parseMedium, parseRestore } from './requests';
import { checkedRescueImage, jobBootCheck, parseBootCheck, readRestoreSettings, setJobBootCheck, setRescueImage } from './settings';
import { findBackupNow } from './source';
import { BACKUP_MODE_STORAGE, backupModeView } from './backup-mode';

/** The backup id of the path ("local:101:20261125T220000Z"); 404 when it is none, or when ?node= names no node of the cluster. */
function backupIdOfPath(ctx: ApiContext) {
  checkNodeHere(ctx);
  return { idText: ctx.params.id!, id: parseBackupId(ctx.params.id!) };
}

/** VM.Backup on the backup's guest (or Datastore.Audit on its storage, for reading); its storage. */
function backupAccess(ctx: ApiContext, id: BackupId, read = false) {
  const ok = ctx.can(`/vms/${id.vmid}`, 'VM.Backup') || (read && ctx.can(`/storage/${id.storage}`, 'Datastore.Audit'));
  if (!ok) throw forbidden(`permission denied: VM.Backup on /vms/${id.vmid}`);
  return getStorage(id.storage);
}

async function restore(ctx: ApiContext) {
  const body = await ctx.req.json();
  const { idText, id } = backupIdOfPath(ctx);
  const r = parseRestore(body, id.vmid);
  const storage = backupAccess(ctx, id);
  const existing = findGuest(r.vmid);
  ctx.check(existing ? `/vms/${r.vmid}` : '/vms', 'VM.Allocate');
  checkRestoreTarget(r, id.vmid, existing && { running: existing.pid !== null, temporary: !!existing.config.temporary });
  if (!existing && existsSync(guestImagesDir(r.vmid))) throw conflict(`VMID ${r.vmid} is in use: its disk folder exists`);
  if (storage.config.type === 'dir') findBackupNow(idText);
  // In a cluster a new guest's VMID must be free everywhere: the master reserves it (the task gives it back if it fails).
  if (!existing) await reserveVmid(r.vmid, '', usedVmids());
  const task = startTask({
    kind: 'restore', object: `/vms/${r.vmid}`, user: ctx.me.username,
    params: { backup: idText, vmid: r.vmid, force: r.force }, message: `restore of ${idText} as guest ${r.vmid}`,
  });
  return new Reply(202, { task, vmid: r.vmid });
}

async function boot(ctx: ApiContext) {
  const r = parseBoot(await ctx.req.json());
  const { idText, id } = backupIdOfPath(ctx);
  backupAccess(ctx, id);
  ctx.check('/vms', 'VM.Allocate');
  const b = findBackupNow(idText);
  const v = b.manifest.verification;
  if (v && !v.ok && !r.force) throw conflict(`backup ${b.id} failed its last verification (${v.problems.join('; ')}); send "force": true to run it anyway`);
  const booted = await bootBackup(b, { ...(r.vmid !== undefined ? { vmid: r.vmid } : {}), user: ctx.me.username });
  const liveTask = r.live ? startLiveRestore(booted.vmid, r.speed, ctx.me.username) : undefined;
  return { ...booted, ...(liveTask ? { liveTask } : {}) };
}

function readableBackup(ctx: ApiContext) {
  const { idText, id } = backupIdOfPath(ctx);
  backupAccess(ctx, id, true);
  return findBackupNow(idText);
}

function jobOfPath(ctx: ApiContext) {
  return getJob(checkedName(ctx.params.job, 'id', 64)).id;
}

/** In a cluster: the guest of the path runs the request on its node. */
const GUEST_OF_PATH = { guest: (ctx: ApiContext) => checkedVmid(ctx.params.vmid) };

export const BACKUP_RESTORE_ROUTES: ApiRoute[] = [
  { method: 'POST', path: '/:id/restore', perm: 'authenticated', home: BACKUP_HOME, handle: restore },
  { method: 'POST', path: '/:id/boot', perm: 'authenticated', home: BACKUP_HOME, handle: boot },
  {
    method: 'GET', path: '/:id/bootcheck', perm: 'authenticated', home: BACKUP_HOME,
    handle: (ctx) => {
      const b = readableBackup(ctx);
      const r = readBootCheck(b.dir);
      if (!r) throw notFound(`backup ${b.id} has had no boot check`);
      return r;
    },
  },
  {
    method: 'POST', path: '/:id/bootcheck', perm: 'authenticated', home: BACKUP_HOME,
    handle: async (ctx) => {
      const { seconds } = parseBootCheckRun(await ctx.req.json());
      const { idText, id } = backupIdOfPath(ctx);
      backupAccess(ctx, id);
      ctx.check('/vms', 'VM.Allocate');
      const task = startTask({ kind: 'boot-check', object: `/vms/${id.vmid}`, user: ctx.me.username, params: { backup: idText, seconds }, message: `boot check of ${idText}` });
      return new Reply(202, { task });
    },
  },
  {
    method: 'GET', path: '/:id/screenshot', perm: 'authenticated', home: BACKUP_HOME,
    handle: (ctx) => {
      const b = readableBackup(ctx);
      let png: Buffer;
      try {
        png = readFileSync(join(b.dir, SCREENSHOT_FILE));
      } catch {
        throw notFound(`backup ${b.id} has no boot check screenshot`);
      }
      return new Reply(200, null, { contentType: 'image/png', body: png });
    },
  },
  { method: 'GET', path: '/jobs/:job/bootcheck', perm: { path: '/storage', priv: 'Datastore.Audit' }, handle: (ctx) => jobBootCheck(jobOfPath(ctx)) },
  {
    method: 'PUT', path: '/jobs/:job/bootcheck', perm: { path: '/storage', priv: 'Datastore.Allocate' }, home: 'master',
    handle: async (ctx) => {
      const job = jobOfPath(ctx);
      return setJobBootCheck(job, parseBootCheck(await ctx.req.json(), jobBootCheck(job)));
    },
  },
];

const guestOfPath = (ctx: ApiContext) => openGuest(checkedVmid(ctx.params.vmid));

export const RESTORE_ROUTES: ApiRoute[] = [
  {
    method: 'GET', path: '/', perm: 'authenticated',
    handle: (ctx) => temporaryGuests((vmid) => ctx.can(`/vms/${vmid}`, 'VM.Audit')),
  },
  {
    method: 'POST', path: '/:vmid/link', perm: { path: '/vms/:vmid', priv: 'VM.Config' }, home: GUEST_OF_PATH,
    handle: async (ctx) => {
      const { up } = parseLinks(await ctx.req.json());
      const g = guestOfPath(ctx);
      const cfg = await setLinks(g, up);
      return { vmid: g.vmid, nics: cfg.nics };
    },
  },
  {
    method: 'POST', path: '/:vmid/keep', perm: { path: '/vms/:vmid', priv: 'VM.Allocate' }, home: GUEST_OF_PATH,
    handle: async (ctx) => {
      const { speed } = parseKeep(await ctx.req.json());
      const g = guestOfPath(ctx);
      if (g.config.temporary?.purpose !== 'run') throw conflict(`guest ${g.vmid} does not run from a backup`);
      if (g.pid === null) throw conflict(`guest ${g.vmid} is not running`);
      return new Reply(202, { task: startLiveRestore(g.vmid, speed, ctx.me.username) });
    },
  },
  {
    method: 'GET', path: '/backup-mode', perm: 'authenticated',
    handle: (ctx) => backupModeView((vmid) => ctx.can(`/vms/${vmid}`, 'VM.Backup') || ctx.can(`/storage/${BACKUP_MODE_STORAGE}`, 'Datastore.Audit')),
  },
  { method: 'GET', path: '/medium', perm: { path: '/storage', priv: 'Datastore.Audit' }, handle: () => ({ image: readRestoreSettings().rescueImage }) },
  {
    method: 'PUT', path: '/medium', perm: { path: '/storage', priv: 'Datastore.Allocate' }, home: 'master',
    handle: async (ctx) => {
      const { image } = parseMedium(await ctx.req.json());
      return { image: setRescueImage(checkedRescueImage(image)).rescueImage };
    },
  },
  {
    method: 'POST', path: '/clean', perm: { path: '/vms', priv: 'VM.Allocate' }, body: 'none',
    handle: async (ctx) => ({ done: await cleanTemporaries(ctx.me.username) }),
  },
];
