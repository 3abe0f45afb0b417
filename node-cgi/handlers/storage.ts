/**
 * /api/storage: backup targets. `local` (var/lib/vz/dump) always exists.
 *
 *   GET    /api/storage            [{ name, type, …config, builtin, total?, avail? }]
 *   POST   /api/storage            { name, type: "dir", path, mountpoint? } | { name, type: "device", uuid | label, fstype?, options? }
 *   GET|PUT|DELETE /api/storage/<name>
 */
import { statfsSync } from 'node:fs';
import { Reply, runCgi } from '../lib/cgi';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { deleteStorage, getStorage, listStorages, putStorage } from '../backup/config';
import { readableDir } from '../backup/list';
import { checkedStorageName, parseStorage } from '../backup/validate';
import type { StorageEntry } from '../backup/types';

function view(s: StorageEntry) {
  const dir = readableDir(s);
  let usage = {};
  if (dir) {
    try {
      const f = statfsSync(dir);
      usage = { total: f.blocks * f.bsize, avail: f.bavail * f.bsize };
    } catch {
      usage = {};
    }
  }
  return { name: s.name, ...s.config, builtin: s.builtin, online: dir !== null, ...usage };
}

const name = (ctx: ApiContext) => checkedStorageName(ctx.params.name, 'name');

export const routes: ApiRoute[] = [
  {
    method: 'GET', path: '/', perm: 'authenticated',
    handle: (ctx) => listStorages().filter((s) => ctx.can(`/storage/${s.name}`, 'Datastore.Audit') || ctx.canBelow('/vms', 'VM.Backup')).map(view),
  },
  {
    method: 'POST', path: '/', perm: { path: '/storage', priv: 'Datastore.Allocate' },
    handle: async (ctx) => {
      const body = await ctx.req.json();
      const n = checkedStorageName(body.name, 'name');
      const { name: _n, ...rest } = body;
      putStorage(n, parseStorage(n, rest), true);
      return new Reply(201, view(getStorage(n)));
    },
  },
  { method: 'GET', path: '/:name', perm: { path: '/storage/:name', priv: 'Datastore.Audit' }, handle: (ctx) => view(getStorage(name(ctx))) },
  {
    method: 'PUT', path: '/:name', perm: { path: '/storage/:name', priv: 'Datastore.Allocate' },
    handle: async (ctx) => {
      const n = name(ctx);
      const body = await ctx.req.json();
      putStorage(n, parseStorage(n, body), false);
      return view(getStorage(n));
    },
  },
  {
    method: 'DELETE', path: '/:name', perm: { path: '/storage/:name', priv: 'Datastore.Allocate' },
    handle: (ctx) => {
      deleteStorage(name(ctx));
      return new Reply(204, null);
    },
  },
];

if (require.main === module) runCgi(routes, authorizer);
