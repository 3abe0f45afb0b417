/**
 * /api/cluster: forming a cluster and seeing it, and the node-to-node
 * endpoints that keep it together.
 *
 *   GET    /api/cluster                  the cluster as this node sees it, every node asked now (any user)
 *   POST   /api/cluster {"name"}         this node becomes the master of a new cluster     Sys.Modify on /
 *   POST   /api/cluster/token {"lifetime"?}  → {token, expires, fingerprint, url, master}   Sys.Modify on / (the master)
 *   POST   /api/cluster/join {"master", "token", "fingerprint"}  → 202 task "cluster-join"  Sys.Modify on /
 *   POST   /api/cluster/promote          this member becomes master (the master is down)   Sys.Modify on /
 *   DELETE /api/cluster/nodes/<name>     remove a node without guests → 204               Sys.Modify on / (the master)
 *
 * Between nodes (HTTPS on the cluster socket only):
 *   POST   /api/cluster/members          a joining node, authenticated by its join token (?check=1: ask only)
 *   GET    /api/cluster/status           how the node stands: epoch, generation, its guests, its figures   signed
 *   GET    /api/cluster/state            the whole cluster-wide config                      signed
 *   PUT    /api/cluster/state            the master's new state                             signed
 *   POST   /api/cluster/vmids {"vmid"?, "name", "used"}  the master reserves a VMID for the sender   signed
 *   PUT    /api/cluster/vmids/<vmid> {"node"}  the sender's guest lives on "node" now (a migration)   signed
 *   DELETE /api/cluster/vmids/<vmid>     the master releases it (and its ACL entries)       signed
 *   POST   /api/cluster/leave            the master tells a removed node to leave           signed
 */
import { conflict, forbidden, invalid } from '../lib/errors';
import { Reply, runCgi } from '../lib/cgi';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { nodeName } from '../lib/paths';
import { startTask } from '../tasks/task';
import { nodeFingerprint } from '../cluster/identity';
import { catchUp, forEachNode, nodeJson, otherNodes, requireCluster, STATUS_TIMEOUT_MS, VERSION } from '../cluster/members';
import {
  admit, checkedAdmitRequest, checkedJoinRequest, createCluster, joinCheck, joinTaskParams, leaveCluster, makeJoinToken, promote,
  localGuests, removeNode, serverEnv,
} from '../cluster/membership';
import { checkedClusterName, checkedNodeName, checkedTokenLifetime, clusterUrlFor, urlAddress } from '../cluster/model';
import { verifiedPeer } from '../cluster/receive';
import { receiveState } from '../cluster/replicate';
import { clusterDispatch } from '../cluster/dispatch';
import { checkedReservation, moveOnMaster, releaseOnMaster, reserveOnMaster } from '../cluster/placement';
import { checkedVmid } from '../lib/validate';
import { readCluster, readState } from '../cluster/state';
import { noteSeen } from '../cluster/seen';
import { nodeResources, type NodeResources } from '../vm';
import { withReplicas } from '../drbd/guest';
import { drbdLoaded } from '../drbd/edge';

const ADMIN = { path: '/', priv: 'Sys.Modify' } as const;

/*
 * The answers, for the web app (api-types.ts):
 *
 *   GET /api/cluster →
 *   { "name": "office", "self": "n2", "master": "n1", "epoch": 1, "generation": 17, "masterOnline": true,
 *     "nodes": [ { "name": "n1", "address": "10.0.0.1", "url": "https://10.0.0.1:8007", "fingerprint": "90:FB:…",
 *                  "online": true, "master": true, "version": "0.1.0", "drbd": true, "joined": 1767225600, "generation": 17,
 *                  "resources": { cpu, memory, disk, guests, … } },
 *                { "name": "n3", …, "online": false, "error": "node n3 does not answer at … (connection refused)", "lastSeen": 1767229200 } ] }
 *
 * On a node in no cluster: name and master null, epoch and generation 0, and
 * the node itself as the only entry.
 */

export interface ClusterNodeView {
  name: string;
  /** The host of its cluster URL. */
  address: string;
  url: string;
  fingerprint: string;
  /** It answered just now (this node itself: always). */
  online: boolean;
  master: boolean;
  version: string;
  /** Its kernel has the DRBD module loaded (/proc/drbd): it can hold replicated disks. Absent when it did not answer (or runs a version that does not say). */
  drbd?: boolean;
  /** Unix seconds; absent outside a cluster. */
  joined?: number;
  /** The generation of the cluster-wide config it holds (when it answered). */
  generation?: number;
  /** CPU, memory, disk, guest counts: when it answered (with its figures in time) and the caller holds Sys.Audit on /nodes/<name>. */
  resources?: NodeResources;
  /** Why it did not answer. */
  error?: string;
  /** When it last answered this node (Unix seconds), for a node that does not answer now; absent when it never did since this node's boot. */
  lastSeen?: number;
}

export interface ClusterView {
  name: string | null;
  /** The node that answered. */
  self: string;
  master: string | null;
  epoch: number;
  generation: number;
  /** Whether the master answered (on the master: true). */
  masterOnline: boolean;
  nodes: ClusterNodeView[];
}

/** GET /api/cluster/status (node to node): how a node stands. */
export interface NodeStatus {
  name: string;
  cluster: string | null;
  epoch: number;
  generation: number;
  master: string | null;
  version: string;
  url: string | null;
  /** Its kernel has the DRBD module loaded (absent from a node of an older version). */
  drbd?: boolean;
  /** The guests whose configs are on the node: VMID and name. */
  guests: { vmid: number; name: string }[];
  /** Null when the node's figures took too long (its first KVM probe after boot runs). */
  resources: NodeResources | null;
}


/** This node's status, as GET /api/cluster/status answers it. */
async function ownStatus(seenAs?: string): Promise<NodeStatus> {
  const c = readCluster();
  return {
    name: nodeName(),
    cluster: c?.name ?? null,
    epoch: c?.epoch ?? 0,
    generation: c?.generation ?? 0,
    master: c?.master ?? null,
    version: VERSION,
    url: c?.nodes.find((n) => n.name === nodeName())?.url ?? clusterUrlFor(serverEnv(), seenAs),
    drbd: drbdLoaded(),
    guests: localGuests(),
    resources: await resourcesWithin(RESOURCES_WAIT_MS),
  };
}

/** How long a node's status waits for its figures (the first read after a boot may run the KVM probe). */
const RESOURCES_WAIT_MS = 2_500;

/** The node's figures, or null when they take longer than `ms` (the status must answer within the callers' timeout). */
async function resourcesWithin(ms: number): Promise<NodeResources | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((res) => (timer = setTimeout(() => res(null), ms)));
  try {
    return await Promise.race([nodeResources().then(withReplicas), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function clusterView(ctx: ApiContext): Promise<ClusterView> {
  const seenAs = process.env.SERVER_ADDR;
  const self = await ownStatus(seenAs);
  const audit = (n: string) => ctx.can(`/nodes/${n}`, 'Sys.Audit');
  let c = readCluster();
  if (!c) {
    const url = self.url ?? '';
    return {
      name: null,
      self: self.name,
      master: null,
      epoch: 0,
      generation: 0,
      masterOnline: false,
      nodes: [{ name: self.name, address: url ? urlAddress(url) : '', url, fingerprint: nodeFingerprint(), online: true, master: false, version: VERSION, drbd: self.drbd, ...(audit(self.name) && self.resources ? { resources: self.resources } : {}) }],
    };
  }
  const answers = await forEachNode(otherNodes(c), (n) => nodeJson<NodeStatus>(n, 'GET', '/api/cluster/status', undefined, { timeoutMs: STATUS_TIMEOUT_MS }));
  // An answer may have shown a newer state (a promotion while this node was away): take it first.
  if (await catchUp()) c = readCluster()!;
  const byName = new Map(answers.map((a) => [a.node, a]));
  const seen = noteSeen(answers);
  const nodes: ClusterNodeView[] = c.nodes.map((n) => {
    const base = { name: n.name, address: urlAddress(n.url), url: n.url, fingerprint: n.fingerprint, master: n.name === c!.master, version: n.version, joined: n.joined };
    if (n.name === self.name) return { ...base, online: true, generation: self.generation, version: VERSION, drbd: self.drbd, ...(audit(n.name) && self.resources ? { resources: self.resources } : {}) };
    const a = byName.get(n.name);
    if (!a || !a.ok) return { ...base, online: false, ...(a && !a.ok ? { error: a.error.message } : {}), ...(seen[n.name] ? { lastSeen: seen[n.name] } : {}) };
    return { ...base, online: true, version: a.value.version, generation: a.value.generation, ...(a.value.drbd !== undefined ? { drbd: a.value.drbd } : {}), ...(audit(n.name) && a.value.resources ? { resources: a.value.resources } : {}) };
  });
  return {
    name: c.name,
    self: self.name,
    master: c.master,
    epoch: c.epoch,
    generation: c.generation,
    masterOnline: nodes.find((n) => n.master)?.online ?? false,
    nodes,
  };
}

/** A node-to-node route: the signature is checked first (the kernel's dispatch adds where this node stands to the answer). */
function signed(handle: (ctx: ApiContext, from: string) => unknown): ApiRoute['handle'] {
  return async (ctx) => handle(ctx, verifiedPeer(ctx.req).node);
}

/** 409 unless this node is the master (what only the master keeps: the placement index). */
function mustBeMaster(): void {
  const c = requireCluster();
  if (c.master !== nodeName()) throw conflict(`node ${nodeName()} is not the master of cluster ${c.name}; ${c.master} is`);
}

export const routes: ApiRoute[] = [
  { method: 'GET', path: '/', perm: 'authenticated', handle: clusterView },
  {
    method: 'POST',
    path: '/',
    perm: ADMIN,
    handle: async (ctx) => {
      const body = await ctx.req.json();
      for (const k of Object.keys(body)) if (k !== 'name') throw invalid(k, 'unknown field');
      createCluster(checkedClusterName(body.name), process.env.SERVER_ADDR);
      return clusterView(ctx);
    },
  },
  {
    method: 'POST',
    path: '/token',
    perm: ADMIN,
    home: 'master',
    handle: async (ctx) => {
      const body = await ctx.req.json();
      for (const k of Object.keys(body)) if (k !== 'lifetime') throw invalid(k, 'unknown field');
      return makeJoinToken(checkedTokenLifetime(body.lifetime));
    },
  },
  {
    method: 'POST',
    path: '/join',
    perm: ADMIN,
    handle: async (ctx) => {
      const j = checkedJoinRequest(await ctx.req.json());
      // Every refusal (token, name, fingerprint, reachability) comes now, before anything changes.
      await joinCheck(j);
      const task = startTask({ kind: 'cluster-join', object: '/', user: ctx.me.username, params: joinTaskParams(j) });
      return new Reply(202, { task });
    },
  },
  {
    method: 'POST',
    path: '/promote',
    perm: ADMIN,
    handle: async (ctx) => {
      const r = await promote();
      return { ...(await clusterView(ctx)), told: r.told, unreachable: r.unreachable };
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/:name',
    perm: ADMIN,
    home: 'master',
    handle: async (ctx) => {
      await removeNode(checkedNodeName(ctx.params.name, 'name'));
      return null;
    },
  },

  // ---- between nodes ----
  {
    method: 'POST',
    path: '/members',
    perm: 'public',
    handle: async (ctx) => {
      if (!ctx.req.https) throw forbidden('a node joins over HTTPS, on the cluster socket');
      const r = checkedAdmitRequest(await ctx.req.json());
      return admit(r, ctx.req.query.get('check') === '1');
    },
  },
  { method: 'GET', path: '/status', perm: 'public', handle: signed(() => ownStatus()) },
  { method: 'GET', path: '/state', perm: 'public', handle: signed(() => readState()) },
  {
    method: 'PUT',
    path: '/state',
    perm: 'public',
    handle: signed(async (ctx, from) => receiveState(from, await ctx.req.json())),
  },
  {
    method: 'POST',
    path: '/vmids',
    perm: 'public',
    handle: signed(async (ctx, from) => {
      mustBeMaster();
      const r = checkedReservation(await ctx.req.json());
      return { vmid: reserveOnMaster(from, r.vmid, r.name, r.used) };
    }),
  },
  {
    method: 'PUT',
    path: '/vmids/:vmid',
    perm: 'public',
    handle: signed(async (ctx, from) => {
      mustBeMaster();
      const body = await ctx.req.json();
      const to = checkedNodeName(body.node);
      if (!requireCluster().nodes.some((n) => n.name === to)) throw invalid('node', `no node ${to} in the cluster`);
      moveOnMaster(from, checkedVmid(ctx.params.vmid), to);
      return null;
    }),
  },
  {
    method: 'DELETE',
    path: '/vmids/:vmid',
    perm: 'public',
    handle: signed((ctx, from) => {
      mustBeMaster();
      releaseOnMaster(from, checkedVmid(ctx.params.vmid), verifiedPeer(ctx.req).identity?.username);
      return null;
    }),
  },
  {
    method: 'POST',
    path: '/leave',
    perm: 'public',
    handle: signed((_ctx, from) => {
      const c = requireCluster();
      if (from !== c.master) throw forbidden(`only the master (${c.master}) tells a node to leave, not ${from}`);
      leaveCluster();
      return { left: true };
    }),
  },
];

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
