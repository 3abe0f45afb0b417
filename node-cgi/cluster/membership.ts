/**
 * Forming and changing a cluster: create, join tokens, admitting a joining
 * node (master side) and joining (joiner side), promotion, removal and
 * leaving, and the master's commit of every cluster-wide change (generation
 * + 1, pushed to every member, acknowledged once on their disks).
 *
 *   create → this node is master, epoch 1, generation 1; the placement index lists its guests
 *   join   → joiner: refused at once with guests or a cluster; connects pinned to the
 *            master's fingerprint; POST /api/cluster/members {token, name, url, fingerprint, version}
 *            master: token (single use, hashed, expiring), name/URL/certificate free, the joiner
 *            reachable at its URL with its certificate → node added, pushed; answers key + state
 *            joiner: writes the key and the state (its users and ACL become the cluster's)
 *
 * Every refusal happens before anything is written, on either side.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import type { TaskRun } from '../tasks/task';
import { reconcileOnMaster } from './placement';
import { commitChanges, pushState, type CommitResult } from './replicate';
import { HttpError, conflict, invalid } from '../lib/errors';
import { guestConfigFile, joinTaskTokenFile, nodeName, paths } from '../lib/paths';
import { readJson, removeFile, updateJson, withLock, writeFileAtomic, writeJsonAtomic } from '../lib/store';
import { log } from '../lib/cgi';
import { checkedFingerprint, nodeFingerprint } from './identity';
import { clusterKey, newClusterKey, writeClusterKey } from './key';
import {
  checkedNodeName, checkedNodeUrl, clusterUrlFor, consumeJoinToken, joinTokenHash, JOIN_TOKEN_LIFETIME_MAX_S, keptJoinTokens, newCluster, newJoinToken, promoted, usableJoinToken,
  withNode, withoutNode, guestsOn, newer, type ClusterConfig, type ClusterNode, type JoinTokenRecord, type Placement, type StateMark,
} from './model';
import { noteSeen } from './seen';
import { catchUp, forEachNode, isMaster, nodeJson, otherNodes, requireCluster, signer, STATUS_TIMEOUT_MS, VERSION } from './members';
import { connectPeer, peerJson, peerRequest, readAll, PeerError, type PeerAddress } from './peer';
import {
  applyState, asReplication, checkedState, CLUSTER_LOCK, joinTokensFile, placementFile, readCluster, readPlacement,
  readState, readStateUnlocked, writeClusterUnlocked, type ClusterState,
} from './state';

const nowS = () => Math.floor(Date.now() / 1000);

/** Guests whose configs are on this node: VMID and name. */
export function localGuests(): { vmid: number; name: string }[] {
  let names: string[];
  try {
    names = readdirSync(paths().vms);
  } catch {
    return [];
  }
  const out: { vmid: number; name: string }[] = [];
  for (const n of names) {
    const m = /^([0-9]{3,9})\.json$/.exec(n);
    if (!m) continue;
    const cfg = readJson<{ name?: string }>(guestConfigFile(Number(m[1])), {});
    out.push({ vmid: Number(m[1]), name: typeof cfg.name === 'string' ? cfg.name : '' });
  }
  return out.sort((a, b) => a.vmid - b.vmid);
}

/**
 * The server settings that make this node's cluster URL: RAMVM_ADDRESS,
 * RAMVM_LISTEN, RAMVM_PORT, RAMVM_CLUSTER_PORT from the environment (set
 * for the CGIs by the lighttpd config), else from run/ramvm/server.json
 * (written by `npm start`, for the CLI).
 */
export function serverEnv(): NodeJS.ProcessEnv {
  // The environment carries the server's settings when it has the cluster port (lighttpd's setenv).
  const from = process.env.RAMVM_CLUSTER_PORT ? process.env : readJson<Record<string, string>>(paths().serverInfo, {});
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['RAMVM_ADDRESS', 'RAMVM_LISTEN', 'RAMVM_PORT', 'RAMVM_CLUSTER_PORT']) if (typeof from[k] === 'string') env[k] = from[k];
  return env;
}

/** This node as a cluster member; 409 when it knows no address for others to reach it at. */
export function selfNode(seenAs?: string): ClusterNode {
  const name = checkedNodeName(nodeName(), 'RAMVM_NODE');
  const url = clusterUrlFor(serverEnv(), seenAs);
  if (!url) {
    throw conflict('this node listens on every address and knows none that other nodes reach it at: set RAMVM_ADDRESS (or a specific RAMVM_LISTEN)');
  }
  return { name, url, fingerprint: nodeFingerprint(), version: VERSION, joined: nowS() };
}

/** 409 unless this node is in no cluster. */
function refuseIfClustered(what: string): void {
  const c = readCluster();
  if (c) throw conflict(`${what}: node ${nodeName()} is in cluster ${c.name} already (master ${c.master})`);
}

/** POST /api/cluster: this node becomes the master of a new cluster; its guests enter the placement index. */
export function createCluster(name: string, seenAs?: string): ClusterConfig {
  refuseIfClustered('cannot create a cluster');
  const self = selfNode(seenAs);
  const c = newCluster(name, self);
  return withLock(CLUSTER_LOCK, () => {
    refuseIfClustered('cannot create a cluster');
    const placement: Placement = {};
    for (const g of localGuests()) placement[String(g.vmid)] = { node: self.name, name: g.name };
    asReplication(() => writeJsonAtomic(placementFile(), placement));
    writeClusterUnlocked(c);
    log(`created cluster ${c.name} with this node (${self.name}, ${self.url}) as master`);
    return c;
  });
}

export interface JoinTokenAnswer {
  token: string;
  /** Unix seconds. */
  expires: number;
  fingerprint: string;
  /** The master's cluster URL, to join at. */
  url: string;
  master: string;
}

/** POST /api/cluster/token (master): a single-use join token; only its hash is kept. */
export function makeJoinToken(lifetimeS: number): JoinTokenAnswer {
  const c = requireCluster();
  if (!isMaster(c)) throw conflict(`join tokens are made on the master ${c.master}`);
  const { token, record } = newJoinToken(nowS(), lifetimeS);
  updateJson<{ tokens: JoinTokenRecord[] }>(joinTokensFile(), { tokens: [] }, (f) => ({ tokens: [...keptJoinTokens(f.tokens, nowS()), record] }));
  const self = c.nodes.find((n) => n.name === c.master)!;
  return { token, expires: record.expires, fingerprint: self.fingerprint, url: self.url, master: c.master };
}

/**
 * The master accepts a join token made elsewhere (a prepared image derives
 * one per node from its cluster secret): kept hashed and single use like
 * those of makeJoinToken, for the longest lifetime a token may have.
 */
export function acceptJoinToken(token: string): void {
  const c = requireCluster();
  if (!isMaster(c)) throw conflict(`join tokens are made on the master ${c.master}`);
  if (!/^rjt_[A-Za-z0-9_-]{43}$/.test(token)) throw invalid('token', 'is not a join token');
  const now = nowS();
  const record: JoinTokenRecord = { hash: joinTokenHash(token), created: now, expires: now + JOIN_TOKEN_LIFETIME_MAX_S };
  updateJson<{ tokens: JoinTokenRecord[] }>(joinTokensFile(), { tokens: [] }, (f) => ({ tokens: [...keptJoinTokens(f.tokens, now).filter((r) => r.hash !== record.hash), record] }));
}

// ---- the master admits a node ----

export interface AdmitRequest {
  token: string;
  node: ClusterNode;
}

/** POST /api/cluster/members body, checked. */
export function checkedAdmitRequest(body: Record<string, unknown>): AdmitRequest {
  for (const k of Object.keys(body)) if (!['token', 'name', 'url', 'fingerprint', 'version'].includes(k)) throw invalid(k, 'unknown field');
  if (typeof body.token !== 'string') throw invalid('token', 'is required');
  const version = body.version;
  if (typeof version !== 'string' || !/^[0-9A-Za-z.+-]{1,32}$/.test(version)) throw invalid('version', 'must be a version like "0.1.0"');
  return {
    token: body.token,
    node: {
      name: checkedNodeName(body.name, 'name'),
      url: checkedNodeUrl(body.url, 'url'),
      fingerprint: checkedFingerprint(body.fingerprint),
      version,
      joined: nowS(),
    },
  };
}

export interface AdmitAnswer {
  cluster: string;
  master: string;
  /** The cluster key, hex (absent for a check). */
  key?: string;
  state?: ClusterState;
}

function readJoinTokens(): JoinTokenRecord[] {
  return readJson<{ tokens: JoinTokenRecord[] }>(joinTokensFile(), { tokens: [] }).tokens;
}

/** Everything that would refuse `r` now; throws naming the first. */
function admitRefusal(r: AdmitRequest): { c: ClusterConfig; token: JoinTokenRecord; next: ClusterConfig } {
  const c = requireCluster();
  if (!isMaster(c)) throw conflict(`node ${nodeName()} is not the master of cluster ${c.name}; join at the master ${c.master}`);
  const token = usableJoinToken(readJoinTokens(), r.token, nowS());
  return { c, token, next: withNode(c, r.node) };
}

/**
 * POST /api/cluster/members (master): admit a joining node, or with `check`
 * only say whether it would be admitted. Nothing is written unless every
 * check passed; the token is spent in the same locked step that adds the node.
 */
export async function admit(r: AdmitRequest, check: boolean): Promise<AdmitAnswer> {
  const first = admitRefusal(r);
  // The master must reach the joiner where it says it is, with the certificate it names.
  try {
    (await connectPeer({ name: r.node.name, url: r.node.url, fingerprint: r.node.fingerprint })).destroy();
  } catch (e) {
    throw conflict(`the master cannot reach the joining node at ${r.node.url}: ${(e as Error).message}; set RAMVM_ADDRESS on the joining node to an address the master reaches`);
  }
  if (check) return { cluster: first.c.name, master: first.c.master };
  const state = withLock(CLUSTER_LOCK, () => {
    const { token, next } = admitRefusal(r);
    updateJson<{ tokens: JoinTokenRecord[] }>(joinTokensFile(), { tokens: [] }, (f) => ({ tokens: consumeJoinToken(f.tokens, token.hash, r.node.name, nowS()) }));
    writeClusterUnlocked({ ...next, generation: next.generation + 1 });
    return readStateUnlocked();
  });
  log(`node ${r.node.name} (${r.node.url}) joined cluster ${first.c.name}; generation ${state.generation}`);
  const others = otherNodes(checkedState(state).cluster).filter((n) => n !== r.node.name);
  await pushState(state, others);
  return { cluster: first.c.name, master: first.c.master, key: clusterKey().toString('hex'), state };
}

// ---- the joiner ----

export interface JoinRequest {
  master: PeerAddress;
  token: string;
}

/** POST /api/cluster/join body, checked; refusals that need nobody else come first. */
export function checkedJoinRequest(body: Record<string, unknown>): JoinRequest {
  for (const k of Object.keys(body)) if (!['master', 'token', 'fingerprint'].includes(k)) throw invalid(k, 'unknown field');
  joinPreconditions();
  const url = checkedNodeUrl(body.master, 'master');
  const fingerprint = checkedFingerprint(body.fingerprint);
  if (typeof body.token !== 'string' || !/^rjt_[A-Za-z0-9_-]{43}$/.test(body.token)) {
    throw invalid('token', 'is not a join token (it looks like "rjt_…"; make one with POST /api/cluster/token on the master)');
  }
  return { master: { name: 'master', url, fingerprint }, token: body.token };
}

/** 409 when this node is in a cluster or has guests. */
export function joinPreconditions(): void {
  refuseIfClustered('cannot join');
  const guests = localGuests();
  if (guests.length > 0) {
    throw conflict(`cannot join: node ${nodeName()} has ${guests.length} guest(s) (${guests.slice(0, 10).map((g) => g.vmid).join(', ')}); a node joins empty (back them up, remove them, restore them in the cluster)`);
  }
}

/** This node as the master will see it: its URL from the connection it made to the master when it has no address of its own. */
async function joinerNode(master: PeerAddress): Promise<ClusterNode> {
  const sock = await connectPeer(master);
  const local = sock.localAddress;
  sock.destroy();
  return selfNode(local);
}

async function postMembers(j: JoinRequest, self: ClusterNode, check: boolean): Promise<AdmitAnswer> {
  const body = { token: j.token, name: self.name, url: self.url, fingerprint: self.fingerprint, version: self.version };
  const a = await peerJson<AdmitAnswer>(j.master, {
    method: 'POST',
    target: `/api/cluster/members${check ? '?check=1' : ''}`,
    body: Buffer.from(JSON.stringify(body)),
    headers: { 'content-type': 'application/json' },
    sign: null,
  });
  return a.data;
}

/**
 * Ask the master whether it would admit this node (nothing changes on either
 * side). Throws the master's refusal, or a fingerprint mismatch (nothing sent).
 */
export async function joinCheck(j: JoinRequest): Promise<AdmitAnswer> {
  try {
    return await postMembers(j, await joinerNode(j.master), true);
  } catch (e) {
    throw asJoinError(e);
  }
}

function asJoinError(e: unknown): HttpError {
  if (e instanceof HttpError && (e as { failure?: string }).failure === 'fingerprint') return invalid('fingerprint', (e as Error).message);
  if (e instanceof HttpError) return e;
  return new HttpError('internal', (e as Error).message);
}

/** Join: admitted by the master, then its key and state written here. Returns the cluster. */
export async function joinCluster(j: JoinRequest, say: (line: string) => void): Promise<ClusterConfig> {
  joinPreconditions();
  const self = await joinerNode(j.master).catch((e) => {
    throw asJoinError(e);
  });
  say(`joining at ${j.master.url} (certificate ${j.master.fingerprint}) as ${self.name}, reachable at ${self.url}`);
  let a: AdmitAnswer;
  try {
    a = await postMembers(j, self, false);
  } catch (e) {
    throw asJoinError(e);
  }
  const state = checkedState(a.state);
  const me = state.cluster.nodes.find((n) => n.name === self.name);
  if (!me || me.fingerprint !== self.fingerprint) throw new HttpError('internal', 'the master answered with a cluster that does not list this node');
  const key = Buffer.from(a.key ?? '', 'hex');
  writeClusterKey(key);
  applyState(state, true);
  say(`joined cluster ${state.cluster.name}: master ${state.cluster.master}, ${state.cluster.nodes.length} nodes, generation ${state.generation}; users, groups, ACL, tokens, storages and jobs are the cluster's now`);
  return state.cluster;
}

/**
 * The params of a "cluster-join" task. The token is no param (params are
 * recorded in the task's file): it waits in a 0600 file of run/ that the
 * task reads and removes.
 */
export function joinTaskParams(j: JoinRequest): Record<string, string> {
  const tokenRef = `join-${randomBytes(8).toString('hex')}`;
  writeFileAtomic(joinTokenFile(tokenRef), j.token, 0o600);
  return { master: j.master.url, fingerprint: j.master.fingerprint, tokenRef };
}

const joinTokenFile = (ref: string) => {
  if (!/^join-[0-9a-f]{16}$/.test(ref)) throw new Error(`bad join token reference ${ref}`);
  return joinTaskTokenFile(ref);
};

/** The cluster's task kinds (cli/task-kinds.ts). */
export const CLUSTER_TASK_KINDS: Record<string, (t: TaskRun) => Promise<string>> = { 'cluster-join': (t) => joinTask(t) };

/** The "cluster-join" task: join the master named in its params. */
export async function joinTask(t: TaskRun): Promise<string> {
  const { master, fingerprint, tokenRef } = t.params as { master: string; fingerprint: string; tokenRef: string };
  const file = joinTokenFile(tokenRef);
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } finally {
    rmSync(file, { force: true });
  }
  const j = checkedJoinRequest({ master, fingerprint, token });
  t.progress(10, `joining ${master}`);
  const c = await joinCluster(j, t.log);
  return `joined cluster ${c.name} (master ${c.master}, ${c.nodes.length} nodes)`;
}

// ---- the minute tick ----

/**
 * `ramvm cluster tick`, each minute (npm start's timer; cron on a node
 * image): every node asks the others how they stand. A node that meets a
 * newer state pulls it (a member behind its master, a master that was
 * replaced while it was away); the master pushes its state to members
 * behind it; a node its master no longer lists leaves. Returns what it did.
 */
export async function clusterTick(): Promise<string[]> {
  const c = readCluster();
  if (!c) return [];
  const out: string[] = [];
  const answers = await forEachNode(otherNodes(c), (n) => nodeJson<StateMark & { guests?: { vmid: number; name: string }[] }>(n, 'GET', '/api/cluster/status', undefined, { timeoutMs: STATUS_TIMEOUT_MS }));
  noteSeen(answers);
  const fromMaster = answers.find((a) => a.node === c.master);
  if (fromMaster && !fromMaster.ok && (fromMaster.error as { answerHeaders?: Record<string, unknown> }).answerHeaders?.['x-ramvm-member'] === 'no') {
    leaveCluster();
    return [`the master ${c.master} no longer lists this node: left cluster ${c.name}`];
  }
  if (await catchUp()) {
    const now = readCluster()!;
    out.push(`took the newer state: epoch ${now.epoch}, generation ${now.generation}, master ${now.master}`);
  }
  const now = readCluster();
  if (now && now.master === nodeName()) {
    // Entries of guests a node no longer has (deleted while this master was away, or a create that died).
    const lists = [{ node: nodeName(), guests: localGuests() }, ...answers.flatMap((a) => (a.ok ? [{ node: a.node, guests: a.value.guests ?? [] }] : []))];
    for (const l of lists) {
      const released = reconcileOnMaster(l.node, l.guests);
      if (released.length) out.push(`released VMID(s) ${released.join(', ')} of ${l.node}: the node no longer has them`);
    }
    await commitChanges();
    const behind = answers.filter((a): a is Extract<typeof a, { ok: true }> => a.ok && newer(now, a.value)).map((a) => a.node);
    if (behind.length > 0) {
      const results = await pushState(readState(), behind);
      for (const r of results) out.push(r.ok ? `${r.node} was behind: now at generation ${r.value.generation}` : `${r.node} is behind and did not take the state: ${r.error.message}`);
    }
  }
  for (const a of answers) if (!a.ok) out.push(`${a.node} does not answer: ${a.error.message}`);
  return out;
}

// ---- promotion, removal, leaving ----

export interface PromoteResult {
  cluster: ClusterConfig;
  told: string[];
  unreachable: string[];
}

/**
 * POST /api/cluster/promote (a member, while the master does not answer):
 * this node becomes master in the next epoch and tells every node it reaches.
 */
export async function promote(): Promise<PromoteResult> {
  const c = requireCluster();
  if (c.master === nodeName()) throw conflict(`node ${nodeName()} is the master already`);
  // Any answer of the master, even an error, shows it is up; only no answer (PeerError) allows a promotion.
  const answers = await nodeJson(c.master, 'GET', '/api/cluster/status', undefined, { timeoutMs: STATUS_TIMEOUT_MS }).then(
    () => true,
    (e) => !(e instanceof PeerError),
  );
  if (answers) throw conflict(`the master ${c.master} answers; promote a member only while the master is down`);
  const state = withLock(CLUSTER_LOCK, () => {
    const now = requireCluster();
    const next = promoted(now, nodeName());
    writeClusterUnlocked({ ...next, generation: next.generation + 1 });
    return readStateUnlocked();
  });
  log(`this node (${nodeName()}) is the master of cluster ${c.name} now, epoch ${state.epoch} (the master ${c.master} did not answer)`);
  const results = await pushState(state, otherNodes(checkedState(state).cluster));
  return {
    cluster: checkedState(state).cluster,
    told: results.filter((r) => r.ok).map((r) => r.node),
    unreachable: results.filter((r) => !r.ok).map((r) => r.node),
  };
}

/**
 * DELETE /api/cluster/nodes/<name> (master): remove a node without guests;
 * the node, when reachable, is told to leave (it becomes a single node).
 */
export async function removeNode(name: string): Promise<{ cluster: ClusterConfig; left: boolean; commit: CommitResult | null }> {
  const c = requireCluster();
  if (!isMaster(c)) throw conflict(`nodes are removed on the master ${c.master}`);
  withLock(CLUSTER_LOCK, () => {
    const now = requireCluster();
    const next = withoutNode(now, name, guestsOn(readPlacement(), name));
    writeClusterUnlocked({ ...next, generation: next.generation + 1 });
  });
  log(`node ${name} removed from cluster ${c.name}`);
  const state = withLock(CLUSTER_LOCK, readStateUnlocked);
  const results = await pushState(state, otherNodes(checkedState(state).cluster));
  const acked = results.filter((r) => r.ok).map((r) => r.node);
  const behind = results.filter((r): r is Extract<typeof r, { ok: false }> => !r.ok).map((r) => ({ node: r.node, error: r.error.message }));
  let left = false;
  try {
    // Signed with the key the removed node still holds; it checks that its master sends it.
    const res = await callNodeOf(c, name, 'POST', '/api/cluster/leave');
    left = res === 200;
  } catch (e) {
    log(`node ${name} was not told to leave (${(e as Error).message}); it leaves when it is back and learns it is no member (or: ramvm cluster leave on it)`);
  }
  return { cluster: readCluster()!, left, commit: { generation: state.generation, acked, behind } };
}

/** A signed call to a node of cluster `c` (which may list a node the current file no longer does). */
async function callNodeOf(c: ClusterConfig, name: string, method: string, target: string): Promise<number> {
  const node = c.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  const res = await peerRequest({ name, url: node.url, fingerprint: node.fingerprint }, { method, target, sign: signer(null, c), headers: {}, body: Buffer.alloc(0), connectTimeoutMs: 2000, answerTimeoutMs: STATUS_TIMEOUT_MS });
  await readAll(res);
  return res.statusCode ?? 0;
}

/**
 * Leave the cluster: this node becomes a single node with a new key (every
 * ticket ends), keeping the users, ACL and settings it had as its own.
 */
export function leaveCluster(): void {
  withLock(CLUSTER_LOCK, () => {
    const c = readCluster();
    if (!c) throw conflict(`node ${nodeName()} is in no cluster`);
    writeClusterKey(newClusterKey());
    asReplication(() => removeFile(placementFile()));
    writeClusterUnlocked(null);
    log(`left cluster ${c.name}; this node is a single node again, with a new key`);
  });
}
