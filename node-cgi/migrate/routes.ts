/**
 * The routes of migration, part of /api/vm (handlers/vm.ts):
 *
 *   POST   /api/vm/<vmid>/migrate {"target": "n2", "online": false}  → 202 task "vm-migrate"   VM.Migrate on /vms/<vmid>
 *   POST   /api/vm/<vmid>/failover   on the surviving node            → 202 task "vm-failover"  VM.Migrate on /vms/<vmid>
 *          (runs on the node asked: the guest's own node is down; failover.ts)
 *
 * and the target's, for the source node only (signed with the cluster key;
 * incoming.ts says what each does):
 *
 *   POST   /api/vm/<vmid>/migrate/incoming[?check=1]
 *   POST   /api/vm/<vmid>/migrate/incoming/verify | commit | done
 *   DELETE /api/vm/<vmid>/migrate/incoming
 */
import { Reply } from '../lib/cgi';
import { checkedVmid } from '../lib/validate';
import { verifiedPeer } from '../cluster/receive';
import type { ApiContext, ApiRoute } from '../auth/authorize';
import { abortIncoming, checkedIncoming, checkIncoming, commitIncoming, finishIncoming, prepareIncoming, verifyIncoming } from './incoming';
import { startMigration } from './outgoing';
import { parseMigrateRequest } from './plan';
import { startFailover } from './failover';

const vmidOf = (ctx: ApiContext) => checkedVmid(ctx.params.vmid);

/** A node-to-node route: the signature is checked first; `from` is the sending node. */
function signed(handle: (ctx: ApiContext, from: string) => unknown): ApiRoute['handle'] {
  return async (ctx) => handle(ctx, verifiedPeer(ctx.req).node);
}

export const MIGRATE_ROUTES: ApiRoute[] = [
  {
    method: 'POST',
    path: '/:vmid/migrate',
    perm: { path: '/vms/:vmid', priv: 'VM.Migrate' },
    home: { guest: vmidOf },
    handle: async (ctx) => {
      const r = parseMigrateRequest(await ctx.req.json());
      const identity = { username: ctx.me.username, ...(ctx.me.tokenid ? { tokenid: ctx.me.tokenid, privsep: !!ctx.me.privsep } : {}) };
      const task = await startMigration(vmidOf(ctx), r, ctx.me.username, identity);
      return new Reply(202, { task });
    },
  },
  {
    method: 'POST',
    path: '/:vmid/failover',
    perm: { path: '/vms/:vmid', priv: 'VM.Migrate' },
    body: 'none',
    handle: async (ctx) => new Reply(202, { task: await startFailover(vmidOf(ctx), ctx.me.username, ctx.can('/', 'Sys.Modify')) }),
  },
  {
    method: 'POST',
    path: '/:vmid/migrate/incoming',
    perm: 'public',
    handle: signed(async (ctx, from) => {
      const vmid = vmidOf(ctx);
      const r = checkedIncoming(vmid, await ctx.req.json());
      if (ctx.req.query.get('check') === '1') {
        await checkIncoming(vmid, r, from);
        return { ok: true };
      }
      return prepareIncoming(vmid, from, r);
    }),
  },
  { method: 'POST', path: '/:vmid/migrate/incoming/verify', perm: 'public', handle: signed((ctx, from) => verifyIncoming(vmidOf(ctx), from)) },
  { method: 'POST', path: '/:vmid/migrate/incoming/commit', perm: 'public', handle: signed((ctx, from) => commitIncoming(vmidOf(ctx), from)) },
  {
    method: 'POST',
    path: '/:vmid/migrate/incoming/done',
    perm: 'public',
    handle: signed(async (ctx) => {
      await finishIncoming(vmidOf(ctx));
      return null;
    }),
  },
  { method: 'DELETE', path: '/:vmid/migrate/incoming', perm: 'public', handle: signed((ctx, from) => abortIncoming(vmidOf(ctx), from)) },
];
