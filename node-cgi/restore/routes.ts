/**
 * The API of restores, in two blocks of routes:
 *
 * BACKUP_RESTORE_ROUTES, served by backup.cgi under /api/backup:
 *   POST /<id>/restore          {vmid?, storage?, force?}  → 202 {task, vmid}     (task "restore")
 *   POST /<id>/boot             {vmid?, live?, bwlimit?, force?} → {vmid, warnings, task, liveTask?}
 *   GET  /<id>/bootcheck        the last boot check's result
 *   POST /<id>/bootcheck        {seconds?} → 202 {task}                          (task "boot-check")
 *   GET  /<id>/screenshot       its screenshot (image/png)
 *   GET|PUT /jobs/<job>/bootcheck  {enabled, seconds}: boot check after each verified backup of the job
 *
 * RESTORE_ROUTES, served by restore.cgi under /api/restore:
 *   GET  /                      guests running from a backup
 *   POST /<vmid>/link           {up}: connect or unplug the NICs of a running guest
 *   POST /<vmid>/keep           {bwlimit?} → 202 {task}: live restore (task "live-restore")
 *   GET|PUT /medium             {image}: the rescue image each backup job copies to its storage
 *
 * Backup ids are "<storage>:<vmid>:<stamp>". Reading a backup needs
 * VM.Backup on its guest; a restore or run that makes a guest also
 * VM.Allocate (on /vms, or on the guest restored over).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reply } from '../lib/cgi';
import { type ApiContext, type ApiRoute } from '../auth/authorize';
import { conflict, forbidden, invalid, notFound } from '../lib/errors';
import { checkedBandwidth, checkedName, checkedVmid, only, optionalBool } from '../lib/validate';
import { startTask } from '../tasks/task';
import { getJob, getStorage } from '../backup/config';
import { parseBackupId } from '../backup/manifest';
import { guestImagesDir } from '../lib/paths';
import { findGuest, guestOf, listVmConfigs, openGuest, vmStatus } from '../vm';
import { bootBackup, cleanTemporaries, setLinks } from './boot';
import { readBootCheck, SCREENSHOT_FILE } from './bootcheck';
import { BOOT_CHECK_DEFAULT_S, checkedRescueImage, checkedSeconds, jobBootCheck, parseBootCheck, readRestoreSettings, setJobBootCheck, setRescueImage } from './settings';
import { findBackupNow } from './source';

/** The one storage of guests' disks on a node: var/lib/vz/images (as `local` holds them in the original). */
export const DISK_STORAGE = 'local';

/** The backup id of the path, with VM.Backup on its guest checked (or Datastore.Audit on its storage, for reading). */
function backupParam(ctx: ApiContext, read = false) {
  const idText = ctx.params.id!;
  const id = parseBackupId(idText);
  const ok = ctx.can(`/vms/${id.vmid}`, 'VM.Backup') || (read && ctx.can(`/storage/${id.storage}`, 'Datastore.Audit'));
  if (!ok) throw forbidden(`permission denied: VM.Backup on /vms/${id.vmid}`);
  getStorage(id.storage);
  return { idText, id };
}

async function restore(ctx: ApiContext) {
  const body = await ctx.req.json();
  only(body, ['vmid', 'storage', 'force']);
  const { idText, id } = backupParam(ctx);
  const storage = body.storage ?? DISK_STORAGE;
  if (storage !== DISK_STORAGE) {
    throw invalid('storage', `guests' disks on this node live in storage "${DISK_STORAGE}" (var/lib/vz/images); the other storages hold backups`);
  }
  const force = optionalBool(body.force, 'force');
  const vmid = body.vmid === undefined ? id.vmid : checkedVmid(body.vmid);
  const existing = findGuest(vmid);
  if (existing) {
    if (vmid !== id.vmid) throw conflict(`guest ${vmid} exists; a restore replaces only the guest a backup was taken of (${id.vmid}); choose a free VMID`);
    ctx.check(`/vms/${vmid}`, 'VM.Allocate');
    if (!force) throw conflict(`guest ${vmid} exists; send "force": true to replace its disks and config with the backup's`);
    if (existing.config.temporary) throw conflict(`guest ${vmid} runs from a backup; keep it or stop it first`);
    if (existing.pid !== null) throw conflict(`guest ${vmid} is running; stop it before restoring over it`);
  } else {
    ctx.check('/vms', 'VM.Allocate');
    if (existsSync(guestImagesDir(vmid))) throw conflict(`VMID ${vmid} is in use: its disk folder exists`);
  }
  const s = getStorage(id.storage);
  if (s.config.type === 'dir') findBackupNow(idText);
  const task = startTask({
    kind: 'restore', object: `/vms/${vmid}`, user: ctx.me.username,
    params: { backup: idText, vmid, force }, message: `restore of ${idText} as guest ${vmid}`,
  });
  return new Reply(202, { task, vmid });
}

async function boot(ctx: ApiContext) {
  const body = await ctx.req.json();
  only(body, ['vmid', 'live', 'bwlimit', 'force']);
  const { idText } = backupParam(ctx);
  ctx.check('/vms', 'VM.Allocate');
  const vmid = body.vmid === undefined ? undefined : checkedVmid(body.vmid);
  const live = optionalBool(body.live, 'live');
  const speed = checkedBandwidth(body.bwlimit);
  const force = optionalBool(body.force, 'force');
  const b = findBackupNow(idText);
  const v = b.manifest.verification;
  if (v && !v.ok && !force) throw conflict(`backup ${b.id} failed its last verification (${v.problems.join('; ')}); send "force": true to run it anyway`);
  const r = await bootBackup(b, { ...(vmid !== undefined ? { vmid } : {}), user: ctx.me.username });
  const liveTask = live
    ? startTask({ kind: 'live-restore', object: `/vms/${r.vmid}`, user: ctx.me.username, params: { vmid: r.vmid, speed }, message: `live restore of guest ${r.vmid}` })
    : undefined;
  return { ...r, ...(liveTask ? { liveTask } : {}) };
}

function readableBackup(ctx: ApiContext) {
  const { idText } = backupParam(ctx, true);
  return findBackupNow(idText);
}

function jobParam(ctx: ApiContext) {
  return getJob(checkedName(ctx.params.job, 'id', 64)).id;
}

export const BACKUP_RESTORE_ROUTES: ApiRoute[] = [
  { method: 'POST', path: '/:id/restore', perm: 'authenticated', handle: restore },
  { method: 'POST', path: '/:id/boot', perm: 'authenticated', handle: boot },
  {
    method: 'GET', path: '/:id/bootcheck', perm: 'authenticated',
    handle: (ctx) => {
      const b = readableBackup(ctx);
      const r = readBootCheck(b.dir);
      if (!r) throw notFound(`backup ${b.id} has had no boot check`);
      return r;
    },
  },
  {
    method: 'POST', path: '/:id/bootcheck', perm: 'authenticated',
    handle: async (ctx) => {
      const body = await ctx.req.json();
      only(body, ['seconds']);
      const { idText, id } = backupParam(ctx);
      ctx.check('/vms', 'VM.Allocate');
      const seconds = body.seconds === undefined ? BOOT_CHECK_DEFAULT_S : checkedSeconds(body.seconds);
      const task = startTask({ kind: 'boot-check', object: `/vms/${id.vmid}`, user: ctx.me.username, params: { backup: idText, seconds }, message: `boot check of ${idText}` });
      return new Reply(202, { task });
    },
  },
  {
    method: 'GET', path: '/:id/screenshot', perm: 'authenticated',
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
  { method: 'GET', path: '/jobs/:job/bootcheck', perm: { path: '/storage', priv: 'Datastore.Audit' }, handle: (ctx) => jobBootCheck(jobParam(ctx)) },
  {
    method: 'PUT', path: '/jobs/:job/bootcheck', perm: { path: '/storage', priv: 'Datastore.Allocate' },
    handle: async (ctx) => {
      const job = jobParam(ctx);
      return setJobBootCheck(job, parseBootCheck(await ctx.req.json(), jobBootCheck(job)));
    },
  },
];

const vmidOf = (ctx: ApiContext) => checkedVmid(ctx.params.vmid);

export const RESTORE_ROUTES: ApiRoute[] = [
  {
    method: 'GET', path: '/', perm: 'authenticated',
    handle: async (ctx) => {
      const out = [];
      for (const c of listVmConfigs()) {
        if (!c.temporary || !ctx.can(`/vms/${c.vmid}`, 'VM.Audit')) continue;
        const st = await vmStatus(guestOf(c));
        out.push({ vmid: c.vmid, name: c.name, node: c.node, status: st.status, linkDown: c.nics.some((n) => n.linkDown === true), temporary: c.temporary });
      }
      return out;
    },
  },
  {
    method: 'POST', path: '/:vmid/link', perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    handle: async (ctx) => {
      const body = await ctx.req.json();
      only(body, ['up']);
      if (typeof body.up !== 'boolean') throw invalid('up', 'is required: true connects the network cards, false unplugs them');
      const g = openGuest(vmidOf(ctx));
      const cfg = await setLinks(g, body.up);
      return { vmid: g.vmid, nics: cfg.nics };
    },
  },
  {
    method: 'POST', path: '/:vmid/keep', perm: { path: '/vms/:vmid', priv: 'VM.Allocate' },
    handle: async (ctx) => {
      const body = await ctx.req.json();
      only(body, ['bwlimit']);
      const speed = checkedBandwidth(body.bwlimit);
      const vmid = vmidOf(ctx);
      const g = openGuest(vmid);
      if (g.config.temporary?.purpose !== 'run') throw conflict(`guest ${vmid} does not run from a backup`);
      if (g.pid === null) throw conflict(`guest ${vmid} is not running`);
      const task = startTask({ kind: 'live-restore', object: `/vms/${vmid}`, user: ctx.me.username, params: { vmid, speed }, message: `live restore of guest ${vmid}` });
      return new Reply(202, { task });
    },
  },
  { method: 'GET', path: '/medium', perm: { path: '/storage', priv: 'Datastore.Audit' }, handle: () => ({ image: readRestoreSettings().rescueImage }) },
  {
    method: 'PUT', path: '/medium', perm: { path: '/storage', priv: 'Datastore.Allocate' },
    handle: async (ctx) => {
      const body = await ctx.req.json();
      only(body, ['image']);
      if (!('image' in body)) throw invalid('image', 'is required: an ISO image of the library, or null');
      return { image: setRescueImage(checkedRescueImage(body.image)).rescueImage };
    },
  },
  {
    method: 'POST', path: '/clean', perm: { path: '/vms', priv: 'VM.Allocate' },
    handle: async (ctx) => ({ done: await cleanTemporaries(ctx.me.username) }),
  },
];
