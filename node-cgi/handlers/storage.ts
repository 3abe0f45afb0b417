/**
 * /api/storage: backup targets. `local` (var/lib/vz/dump) always exists.
 *
 *   GET    /api/storage            [{ name, type, …config, builtin, online, problem?, total?, avail? }]
 *   POST   /api/storage            { name, type: "dir", path, mountpoint? } | { name, type: "device", uuid | label, fstype?, options? }
 *   GET|PUT|DELETE /api/storage/<name>
 *
 * `online`: a directory storage that exists (and is mounted where it must
 * be: else `problem` says why not); a device that a job has mounted now.
 */
import { Reply, runCgi } from '../lib/cgi';
import { changesOnMaster, clusterDispatch } from '../cluster/dispatch';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { deleteStorage, getStorage, listStorages, putStorage } from '../backup/config';
import { storageView } from '../backup/list';
import { checkedStorageName, parseStorage } from '../backup/validate';

const name = (ctx: ApiContext) => checkedStorageName(ctx.params.name, 'name');

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
      putStorage(n, parseStorage(n, rest), true);
      return new Reply(201, storageView(getStorage(n)));
    },
  },
  { method: 'GET', path: '/:name', perm: { path: '/storage/:name', priv: 'Datastore.Audit' }, handle: (ctx) => storageView(getStorage(name(ctx))) },
  {
    method: 'PUT', path: '/:name', perm: { path: '/storage/:name', priv: 'Datastore.Allocate' },
    handle: async (ctx) => {
      const n = name(ctx);
      const body = await ctx.req.json();
      putStorage(n, parseStorage(n, body), false);
      return storageView(getStorage(n));
    },
  },
  {
    method: 'DELETE', path: '/:name', perm: { path: '/storage/:name', priv: 'Datastore.Allocate' },
    handle: (ctx) => {
      deleteStorage(name(ctx));
      return new Reply(204, null);
    },
  },
]);

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
