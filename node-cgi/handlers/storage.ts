/**
 * /api/storage: backup targets. `local` (var/lib/vz/dump) always exists.
 *
 *   GET    /api/storage            [{ name, type, …config, builtin, online, problem?, total?, avail? }]
 *
 * `online`: a directory storage that exists (and is mounted where it must
 * be: else `problem` says why not); a device that a job has mounted now.
 *   POST   /api/storage            { name, type: "dir", path, mountpoint? } | { name, type: "device", uuid | label, fstype?, options? }
 *   GET|PUT|DELETE /api/storage/<name>
 */
import { statfsSync } from 'node:fs';
import { Reply, runCgi, type Context, type Route } from '../lib/cgi';
import { deleteStorage, getStorage, listStorages, putStorage } from '../backup/config';
import { readableDir } from '../backup/list';
import { dirFacts, dirProblem } from '../backup/target';
import { checkedStorageName, parseStorage } from '../backup/validate';
import type { StorageEntry } from '../backup/types';

function view(s: StorageEntry) {
  const problem = s.config.type === 'dir' ? dirProblem(s.config, dirFacts(s.config.path)) : null;
  const dir = problem === null ? readableDir(s) : null;
  let usage = {};
  if (dir) {
    try {
      const f = statfsSync(dir);
      usage = { total: f.blocks * f.bsize, avail: f.bavail * f.bsize };
    } catch {
      usage = {};
    }
  }
  return { name: s.name, ...s.config, builtin: s.builtin, online: dir !== null, ...(problem ? { problem } : {}), ...usage };
}

const name = (ctx: Context) => checkedStorageName(ctx.params.name, 'name');

export const routes: Route[] = [
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

if (require.main === module) runCgi(routes);
