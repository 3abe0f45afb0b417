/**
 * Replication of the cluster-wide files: the master's commit of a change
 * (generation + 1, the whole state pushed to every member in parallel, the
 * answer once every reachable member has it on disk) and a member's
 * receiving end. A member that did not answer is behind; it catches up with
 * its next request from the master or its minute tick (membership.ts).
 *
 *   master: a handler changed users.json → commitChanges() → generation 17 → PUT /api/cluster/state to n2, n3
 *   n2: receiveState() → newer than its 16: written (fsync), cluster.json last → {applied: true, generation: 17}
 */
import { conflict } from '../lib/errors';
import { nodeName } from '../lib/paths';
import { log } from '../lib/cgi';
import { forEachNode, nodeJson, otherNodes, pullState, STATUS_TIMEOUT_MS, type EachResult } from './members';
import { applyState, bumpGeneration, checkedState, readCluster, takeChanged, type ClusterState } from './state';

export interface PushAnswer {
  applied: boolean;
  epoch: number;
  generation: number;
  master: string;
}

/** Send `state` to `nodes` in parallel; each answers once the state is on its disk. */
export function pushState(state: ClusterState, nodes: readonly string[]): Promise<EachResult<PushAnswer>[]> {
  return forEachNode(nodes, (n) => nodeJson<PushAnswer>(n, 'PUT', '/api/cluster/state', state, { timeoutMs: STATUS_TIMEOUT_MS }), STATUS_TIMEOUT_MS);
}

export interface CommitResult {
  generation: number;
  acked: string[];
  behind: { node: string; error: string }[];
}

/**
 * After cluster-wide files changed on the master: generation + 1, pushed to
 * every member. Resolves when every reachable member has it on disk; the
 * unreachable ones are "behind" and catch up later. When a member shows a
 * higher epoch, this node is no longer the master: it takes that state
 * (dropping the change) and throws 409 saying so.
 */
export async function commitChanges(): Promise<CommitResult | null> {
  if (!takeChanged()) return null;
  const c = readCluster();
  if (!c || c.master !== nodeName()) return null;
  const state = bumpGeneration();
  const results = await pushState(state, otherNodes(c));
  const acked: string[] = [];
  const behind: { node: string; error: string }[] = [];
  let higher: { node: string; epoch: number; master: string } | null = null;
  for (const r of results) {
    if (!r.ok) behind.push({ node: r.node, error: r.error.message });
    else if (r.value.epoch > state.epoch) higher = { node: r.node, epoch: r.value.epoch, master: r.value.master };
    else acked.push(r.node);
  }
  if (behind.length) log(`cluster generation ${state.generation}: not on ${behind.map((b) => `${b.node} (${b.error})`).join(', ')} yet`);
  if (higher) {
    await pullState(higher.node);
    throw conflict(
      `this node is no longer the master: ${higher.master} is, since epoch ${higher.epoch}; the change made here was not kept (make it again on ${higher.master})`,
    );
  }
  return { generation: state.generation, acked, behind };
}

/** PUT /api/cluster/state (from the master): apply when newer; say where this node stands. */
export function receiveState(from: string, body: unknown): PushAnswer {
  const s = checkedState(body);
  if (s.cluster.master !== from) throw conflict(`a state is sent by its master; ${from} is not the master of this state (${s.cluster.master} is)`);
  const mine = readCluster();
  if (!s.cluster.nodes.some((n) => n.name === nodeName())) {
    throw conflict(`the state of ${from} does not list this node (${nodeName()}); it was removed from cluster ${s.cluster.name}`);
  }
  if (mine && mine.name !== s.cluster.name) throw conflict(`this node is in cluster ${mine.name}, not ${s.cluster.name}`);
  const applied = applyState(s);
  const now = readCluster()!;
  if (applied && mine && mine.master === nodeName() && now.master !== nodeName()) {
    log(`this node is no longer the master: ${now.master} is, in epoch ${now.epoch}; its state replaced this node's (epoch ${mine.epoch}, generation ${mine.generation})`);
  }
  return { applied, epoch: now.epoch, generation: now.generation, master: now.master };
}
