/**
 * /api/storage: backup targets. `local` (var/lib/vz/dump) always exists.
 *
 *   GET    /api/storage            [{ name, type, …config, builtin, online, problem?, total?, avail? }]
 *   POST   /api/storage            { name, type: "dir", path, mountpoint? } | { name, type: "device", uuid | label, fstype?, options? }
 *   GET|PUT|DELETE /api/storage/<name>
 *   POST   /api/storage/<name>/disk?node=N {device: "sdb"}   a blank disk laid out as a backup disk that boots, for device storage <name>
 *
 * `online`: a directory storage that exists (and is mounted where it must
 * be: else `problem` says why not); a device that a job has mounted now.
 *
 * A directory's path and a device's mount options reach the host itself
 * (backups are written there; mount runs with them), so setting either
 * needs Sys.Modify on "/" besides Datastore.Allocate, and a path never lies
 * in the system's folders or the node's own (config, runtime, images).
 */
import { Reply, runCgi } from '../lib/cgi';
import { changesOnMaster, clusterDispatch } from '../cluster/dispatch';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { deleteStorage, forbiddenStorageDirs, getStorage, listStorages, putStorage } from '../backup/config';
import { storageView } from '../backup/list';
import { checkedStorageName, parseBackupDisk, parseStorage } from '../backup/validate';
import { conflict } from '../lib/errors';
import { rootCall, separation } from '../lib/separation';
import { prepareBackupDisk, type BackupDiskAnswer } from '../restore/backup-disk';
import type { StorageConfig } from '../backup/types';

const name = (ctx: ApiContext) => checkedStorageName(ctx.params.name, 'name');

/** What of a storage reaches the host: its path, its mount options. */
const hostFacing = (c: StorageConfig | undefined) => JSON.stringify(c ? [c.type === 'dir' ? c.path : null, c.type === 'device' ? c.options ?? null : null] : null);

/** Sys.Modify on "/" when the change sets a path or mount options that were not there. */
function checkHostFacing(ctx: ApiContext, next: StorageConfig, prev?: StorageConfig): void {
  const sets = next.type === 'dir' || next.options !== undefined;
  if (sets && hostFacing(next) !== hostFacing(prev)) ctx.check('/', 'Sys.Modify');
}

export const routes: ApiRoute[] = changesOnMaster([
  {
    method: 'GET', path: '/', perm: 'authenticated',
    handle: (ctx) => listStorages().filter((s) => ctx.can(`/storage/${s.name}`, 'Datastore.Audit') || ctx.canBelow('/vms', 'VM.Backup')).map(storageView),
  },
  {
    method: 'POST', path: '/', perm: { path: '/storage', priv: 'Datastore.Allocate' },
    handle: async (ctx) => {
      const body = await ctx.req.json();
      const n = checkedStorageName(body.name, 'name');
      const { name: _n, ...rest } = body;
      const config = parseStorage(n, rest, forbiddenStorageDirs());
      checkHostFacing(ctx, config);
      putStorage(n, config, true);
      return new Reply(201, storageView(getStorage(n)));
    },
  },
  { method: 'GET', path: '/:name', perm: { path: '/storage/:name', priv: 'Datastore.Audit' }, handle: (ctx) => storageView(getStorage(name(ctx))) },
  {
    method: 'PUT', path: '/:name', perm: { path: '/storage/:name', priv: 'Datastore.Allocate' },
    handle: async (ctx) => {
      const n = name(ctx);
      const body = await ctx.req.json();
      const config = parseStorage(n, body, forbiddenStorageDirs());
      checkHostFacing(ctx, config, getStorage(n).config);
      putStorage(n, config, false);
      return storageView(getStorage(n));
    },
  },
  {
    // Formats a disk of a node: root's work, Sys.Modify on "/" besides Datastore.Allocate; refused for anything but a blank whole disk.
    method: 'POST', path: '/:name/disk', perm: { path: '/storage/:name', priv: 'Datastore.Allocate' }, home: { node: (ctx) => ctx.req.query.get('node') },
    handle: async (ctx) => {
      ctx.check('/', 'Sys.Modify');
      const n = name(ctx);
      const disk = parseBackupDisk(await ctx.req.json());
      const s = getStorage(n);
      if (s.config.type !== 'device') throw conflict(`storage ${n} is a directory; only a device storage gets a disk of its own`);
      const sep = separation();
      const r = sep ? await rootCall<BackupDiskAnswer>(sep, 'prepare-backup-disk', [n, disk]) : prepareBackupDisk(n, s.config, disk);
      return new Reply(201, { storage: n, ...r });
    },
  },
  {
    method: 'DELETE', path: '/:name', perm: { path: '/storage/:name', priv: 'Datastore.Allocate' }, body: 'none',
    handle: (ctx) => {
      deleteStorage(name(ctx));
      return new Reply(204, null);
    },
  },
]);

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
