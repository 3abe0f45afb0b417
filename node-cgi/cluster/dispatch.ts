/**
 * The kernel's cluster hook (lib/cgi.ts Dispatch), given to runCgi by every
 * handler. On a node in no cluster it does nothing. In a cluster:
 *
 *   prepare  a signed node request is checked (receive.ts) before anything
 *            else; when it shows a newer state than this node's (a higher
 *            epoch, or the master's higher generation), that state is pulled
 *            first, so a forwarded request meets the users and ACL it was
 *            checked against.
 *   route    after authentication and the route's privilege check: a route
 *            whose object lives elsewhere (Route.home) is forwarded there
 *            (forward.ts), websockets included, and its answer returned.
 *            A request forwarded to this node is never forwarded again.
 *   finish   after the route ran here: cluster-wide files it changed are
 *            committed (membership.ts: generation + 1, pushed, acknowledged).
 *
 *   home 'master'      → the master (a member forwards; 503 when the master does not answer)
 *   home { guest }     → the node of the guest: here when its config is here, else the placement index
 *   home { node }      → the node named
 */
import { existsSync } from 'node:fs';
import type { Context, Dispatch, Home, Route } from '../lib/cgi';
import { HANDLED, log, Reply } from '../lib/cgi';
import { HttpError, invalid, notFound } from '../lib/errors';
import { guestConfigFile, nodeName } from '../lib/paths';
import type { Request } from '../lib/request';
import { commitChanges } from './replicate';
import { forEachNode, markHeaders, nodeJson, otherNodes, pullState, type EachResult } from './members';
import { newer, type ClusterConfig } from './model';
import { forwardRequest, forwardUpgrade } from './forward';
import { isSigned, verifiedPeer } from './receive';
import type { ForwardedIdentity } from './sign';
import { guardClusterWrites, readCluster, readPlacement } from './state';

/** Where a route's object lives: a node name, or null for "here". */
export async function homeNode(home: Home | undefined, ctx: Context, c: ClusterConfig): Promise<string | null> {
  if (!home) return null;
  if (home === 'master') return c.master;
  if ('node' in home) {
    const n = await home.node(ctx);
    return n && c.nodes.some((x) => x.name === n) ? n : null;
  }
  const vmid = await home.guest(ctx);
  if (vmid === null) return null;
  if (existsSync(guestConfigFile(vmid))) return nodeName();
  return readPlacement()[String(vmid)]?.node ?? null;
}

/** What waits while `node` does not answer, for the 503. */
function waiting(home: Home | undefined, node: string, c: ClusterConfig): string {
  if (home === 'master' || node === c.master) {
    return `cluster-wide changes wait for the master ${c.master} to be back, or for a promotion (POST /api/cluster/promote on a member); this node serves its own guests meanwhile`;
  }
  return `what lives on node ${node} waits until it is back; the rest of the cluster works on`;
}

const identityOf = (ctx: Context): ForwardedIdentity => ({
  username: ctx.me.username,
  ...(ctx.me.tokenid ? { tokenid: ctx.me.tokenid, privsep: !!ctx.me.privsep } : {}),
});

const isUpgrade = (req: Request) => (req.headers['upgrade'] ?? '').toLowerCase() === 'websocket';

/** Pull the sender's state when its request shows it is newer than ours. */
async function catchUpWith(req: Request): Promise<void> {
  const f = verifiedPeer(req);
  const mine = readCluster();
  if (!mine || !newer(f, mine)) return;
  // Within an epoch, only the master's generations count.
  if (f.epoch === mine.epoch && f.node !== mine.master) return;
  try {
    await pullState(f.node);
  } catch (e) {
    log(`could not catch up with ${f.node}: ${(e as Error).message}`);
  }
}

export const clusterDispatch: Dispatch = {
  async prepare(req) {
    guardClusterWrites();
    // A pushed state brings itself: no pull for it.
    if (isSigned(req.headers) && !(req.method === 'PUT' && req.uri === '/api/cluster/state')) await catchUpWith(req);
  },

  async route(route: Route, ctx: Context) {
    const c = readCluster();
    if (!c) return null;
    const me = nodeName();
    if (isSigned(ctx.req.headers)) {
      // Forwarded here already: run here, or refuse a cluster-wide change when this node is no master.
      if (route.home === 'master' && c.master !== me) {
        throw new HttpError('unavailable', `node ${me} is not the master of cluster ${c.name} (${c.master} is); send cluster-wide changes there`);
      }
      return null;
    }
    const target = await homeNode(route.home, ctx, c);
    if (!target || target === me) return null;
    const what = waiting(route.home, target, c);
    if (isUpgrade(ctx.req)) return (await forwardUpgrade(target, ctx.req, identityOf(ctx), what)) ?? HANDLED;
    return forwardRequest(target, ctx.req, identityOf(ctx), what);
  },

  async finish(ctx: Context) {
    if (isSigned(ctx.req.headers)) ctx.headers.push(...markHeaders());
    await commitChanges();
  },
};

/** How long a list waits for the other nodes (a node that does not answer shows as offline after this). */
export const LIST_TIMEOUT_MS = 3_000;

/**
 * GET `target` on every other node of the cluster, for the caller (each
 * node filters by the caller's permissions); per node its data or why not.
 * Null outside a cluster and for a request another node sent here (lists
 * are gathered by the node the user talks to, once).
 */
export async function askOtherNodes<T>(ctx: Context, target: string, timeoutMs = LIST_TIMEOUT_MS): Promise<EachResult<T>[] | null> {
  const c = readCluster();
  if (!c || isSigned(ctx.req.headers)) return null;
  const identity = identityOf(ctx);
  return forEachNode(otherNodes(c), (n) => nodeJson<T>(n, 'GET', target, undefined, { identity, timeoutMs }), timeoutMs);
}

/**
 * Send the request to `node` (a handler that finds the node only in the
 * body: POST /api/vm {"node": "n2"}); 400 when the cluster has no such node.
 */
export async function forwardTo(ctx: Context, node: string, field = 'node'): Promise<Reply> {
  const c = readCluster();
  if (!c || !c.nodes.some((n) => n.name === node)) {
    throw invalid(field, `no node ${JSON.stringify(String(node).slice(0, 64))} in ${c ? `cluster ${c.name} (nodes: ${c.nodes.map((n) => n.name).join(', ')})` : 'this node\'s cluster: it is in none'}`);
  }
  const a = await forwardRequest(node, ctx.req, identityOf(ctx), waiting(undefined, node, c));
  const type = a.headers.find(([k]) => k === 'content-type')?.[1] ?? 'application/json; charset=utf-8';
  return new Reply(a.status, null, { contentType: type, body: a.body ?? Buffer.alloc(0), headers: a.headers.filter(([k]) => k !== 'content-type') });
}

/**
 * 404 for ?node= naming another node when the request was not sent there
 * (no such node in the cluster, or no cluster): a route whose home is the
 * node of its query (nodeOfQuery) runs here only for this node or none.
 */
export function checkNodeHere(ctx: Context): void {
  const node = ctx.req.query.get('node');
  if (node === null || node === nodeName()) return;
  const c = readCluster();
  throw notFound(`no node ${JSON.stringify(node.slice(0, 64))} ${c ? `in cluster ${c.name} (nodes: ${c.nodes.map((n) => n.name).join(', ')})` : `here: node ${nodeName()} is in no cluster`}`);
}

/** True when another node sent this request (it runs here, whatever its home). */
export const forwardedHere = (ctx: Context) => isSigned(ctx.req.headers);

/**
 * Routes with every change of cluster-wide settings marked to run on the
 * master: each route that is no GET and not public (login, logout) gets
 * home 'master' unless it has a home already.
 */
export function changesOnMaster<R extends Pick<Route, 'method' | 'perm' | 'home'>>(routes: R[]): R[] {
  return routes.map((r) => (r.method === 'GET' || r.perm === 'public' || r.home ? r : { ...r, home: 'master' as const }));
}
