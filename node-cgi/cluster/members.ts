/**
 * Talking to the other nodes of this node's cluster: each call is signed
 * with the cluster key and carries this node's epoch and generation; each
 * answer carries the other node's. What any feature needs to reach another
 * node (forwarding, ISO distribution, migration) goes through here:
 *
 *   const res = await callNode('n2', { method: 'GET', target: '/api/vm/101' }, identity);   // a stream
 *   const st = await nodeJson<NodeStatus>('n2', 'GET', '/api/cluster/status');              // data, or throws
 *   const all = await forEachNode(otherNodes(), (n) => nodeJson(n, 'GET', '/api/cluster/status'), 3000);
 *   // [{ node: 'n2', ok: true, value }, { node: 'n3', ok: false, error: PeerError }]
 *
 * When an answer shows a newer state (a higher epoch, or the master's higher
 * generation), the node notes it; catchUp() then pulls that state.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError, conflict } from '../lib/errors';
import { nodeName } from '../lib/paths';
import { log } from '../lib/cgi';
import { clusterKey } from './key';
import { findNode, newer, type ClusterConfig, type ClusterNode, type StateMark } from './model';
import { peerJson, peerRequest, PEER_CONNECT_TIMEOUT_MS, type PeerAddress, type PeerCall, type Signer } from './peer';
import { HEADER, type ForwardedIdentity } from './sign';
import { applyState, checkedState, readCluster, type ClusterState } from './state';
import { version as PACKAGE_VERSION } from '../../package.json';

/** The software version every node reports. */
export const VERSION: string = PACKAGE_VERSION;
/** How long the calls that only ask how a node is wait in all (status, state). */
export const STATUS_TIMEOUT_MS = 4_000;

/** The cluster; 409 when this node is in none. */
export function requireCluster(): ClusterConfig {
  const c = readCluster();
  if (!c) throw conflict(`node ${nodeName()} is in no cluster`);
  return c;
}

export const isMaster = (c: ClusterConfig | null = readCluster()) => !!c && c.master === nodeName();

/** The other nodes of the cluster (names), in the cluster's order. */
export function otherNodes(c: ClusterConfig | null = readCluster()): string[] {
  return (c?.nodes ?? []).map((n) => n.name).filter((n) => n !== nodeName());
}

export function peerAddress(node: ClusterNode): PeerAddress {
  return { name: node.name, url: node.url, fingerprint: node.fingerprint };
}

/** What signs this node's requests now, acting for `identity` (null: the node itself). */
export function signer(identity: ForwardedIdentity | null = null, c: ClusterConfig | null = readCluster()): Signer {
  return { key: clusterKey(), node: nodeName(), epoch: c?.epoch ?? 0, generation: c?.generation ?? 0, identity };
}

function address(name: string, c: ClusterConfig): PeerAddress {
  const n = findNode(c, name);
  if (!n) throw new HttpError('not_found', `no node ${JSON.stringify(name.slice(0, 64))} in cluster ${c.name}`);
  return peerAddress(n);
}

/** The newest state another node showed in an answer, and who showed it. */
let seen: (StateMark & { node: string; master: string | null }) | null = null;

/** Note the (epoch, generation) an answer of `node` carried. */
export function noteMark(node: string, headers: IncomingMessage['headers']): void {
  const epoch = Number(headers[HEADER.epoch]);
  const generation = Number(headers[HEADER.generation]);
  if (!Number.isInteger(epoch) || !Number.isInteger(generation)) return;
  const master = typeof headers['x-ramvm-master'] === 'string' ? (headers['x-ramvm-master'] as string) : null;
  const mark = { epoch, generation, node, master };
  if (!seen || newer(mark, seen)) seen = mark;
}

export type NodeCall = Omit<PeerCall, 'sign'>;

/** A signed call to node `name` of this cluster; the answer as a stream. */
export async function callNode(name: string, call: NodeCall, identity: ForwardedIdentity | null = null): Promise<IncomingMessage> {
  const c = requireCluster();
  const res = await peerRequest(address(name, c), { ...call, sign: signer(identity, c) });
  noteMark(name, res.headers);
  return res;
}

/** A signed JSON call: the answer's data, or the node's error thrown again (PeerAnswerError) or PeerError. */
export async function nodeJson<T>(name: string, method: string, target: string, body?: unknown, opts: { timeoutMs?: number; identity?: ForwardedIdentity | null } = {}): Promise<T> {
  const c = requireCluster();
  const call: PeerCall = {
    method,
    target,
    sign: signer(opts.identity ?? null, c),
    connectTimeoutMs: Math.min(PEER_CONNECT_TIMEOUT_MS, opts.timeoutMs ?? PEER_CONNECT_TIMEOUT_MS),
    ...(opts.timeoutMs ? { answerTimeoutMs: opts.timeoutMs } : {}),
    ...(body !== undefined ? { body: Buffer.from(JSON.stringify(body)), headers: { 'content-type': 'application/json' } } : {}),
  };
  try {
    const a = await peerJson<T>(address(name, c), call);
    noteMark(name, a.headers);
    return a.data;
  } catch (e) {
    const h = (e as { answerHeaders?: IncomingMessage['headers'] }).answerHeaders;
    if (h) noteMark(name, h);
    throw e;
  }
}

export type EachResult<T> = { node: string; ok: true; value: T } | { node: string; ok: false; error: HttpError };

/**
 * Run `fn` for every node named, in parallel; each gets at most `timeoutMs`
 * (its failure is reported, never thrown). In the order given.
 */
export async function forEachNode<T>(nodes: readonly string[], fn: (node: string) => Promise<T>, timeoutMs = STATUS_TIMEOUT_MS): Promise<EachResult<T>[]> {
  return Promise.all(
    nodes.map(async (node): Promise<EachResult<T>> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const value = await Promise.race([
          fn(node),
          new Promise<never>((_, rej) => {
            timer = setTimeout(() => rej(new HttpError('unavailable', `node ${node} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
          }),
        ]);
        return { node, ok: true, value };
      } catch (e) {
        return { node, ok: false, error: e instanceof HttpError ? e : new HttpError('unavailable', `node ${node}: ${(e as Error).message}`) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** Pull the whole state from `node` and apply it when newer; true when applied. */
export async function pullState(node: string): Promise<boolean> {
  const s = checkedState(await nodeJson<ClusterState>(node, 'GET', '/api/cluster/state', undefined, { timeoutMs: STATUS_TIMEOUT_MS }));
  const before = readCluster();
  const applied = applyState(s);
  if (applied) {
    log(`cluster state from ${node}: epoch ${s.epoch}, generation ${s.generation} (was ${before?.epoch ?? 0}/${before?.generation ?? 0})`);
    if (before && s.epoch > before.epoch && before.master === nodeName()) {
      log(`this node is no longer the master: ${s.cluster.master} is, in epoch ${s.epoch}; cluster-wide changes made here after epoch ${before.epoch} generation ${before.generation} are dropped`);
    }
  }
  return applied;
}

/**
 * When an answer showed a newer state than ours (a higher epoch from
 * anyone; a higher generation from the master), pull it. True when pulled.
 */
export async function catchUp(): Promise<boolean> {
  const s = seen;
  seen = null;
  const c = readCluster();
  if (!s || !c) return false;
  if (!newer(s, c)) return false;
  if (s.epoch === c.epoch && s.node !== c.master && s.master !== c.master) return false;
  try {
    return await pullState(s.node);
  } catch (e) {
    log(`cluster: could not pull the newer state of ${s.node}: ${(e as Error).message}`);
    return false;
  }
}

/** Headers that tell a caller where this node stands (on every answer to a node request). */
export function markHeaders(c: ClusterConfig | null = readCluster()): [string, string][] {
  if (!c) return [];
  return [
    ['X-Ramvm-Node', nodeName()],
    ['X-Ramvm-Epoch', String(c.epoch)],
    ['X-Ramvm-Generation', String(c.generation)],
    ['X-Ramvm-Master', c.master],
  ];
}
