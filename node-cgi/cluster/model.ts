/**
 * The cluster as data: membership, epochs and generations, join tokens and
 * the placement index of guests. Pure functions; state.ts reads and writes
 * the files, the handlers act.
 *
 * etc/ramvm/cluster/cluster.json (the same on every node):
 *
 *   { "name": "office", "epoch": 2, "master": "n1", "generation": 17,
 *     "nodes": [ { "name": "n1", "url": "https://10.0.0.1:8007", "fingerprint": "90:FB:…",
 *                  "version": "0.1.0", "joined": 1767225600 }, … ] }
 *
 * `generation` counts the changes of the cluster-wide files; `epoch` counts
 * masters: a promotion raises it, and a node that meets a higher epoch
 * follows that master. (epoch, generation) orders two states: the higher
 * epoch wins, within one epoch the higher generation.
 *
 * etc/ramvm/cluster/vms.json, the placement index: which node each guest
 * lives on, so VMIDs stay unique cluster-wide and a guest's requests find
 * their node:
 *
 *   { "101": { "node": "n1", "name": "web" }, "102": { "node": "n2", "name": "db" } }
 */
import { createHash, randomBytes } from 'node:crypto';
import { HttpError, conflict, invalid, notFound } from '../lib/errors';
import { VMID_MAX, VMID_MIN, checkedHostname } from '../lib/validate';

export interface ClusterNode {
  name: string;
  /** "https://ADDR:PORT" of its cluster socket. */
  url: string;
  fingerprint: string;
  version: string;
  /** Unix seconds. */
  joined: number;
}

export interface ClusterConfig {
  name: string;
  epoch: number;
  master: string;
  generation: number;
  nodes: ClusterNode[];
}

/** Where a state stands: compare with newer(). */
export interface StateMark {
  epoch: number;
  generation: number;
}

export interface PlacementEntry {
  node: string;
  name: string;
  /** Unix seconds of the reservation (absent: listed when the cluster was made). */
  since?: number;
}

/** VMID (as a string key) → where the guest lives. */
export type Placement = Record<string, PlacementEntry>;

/** The first VMID handed out, as on a single node. */
export const FIRST_VMID = 101;

/** A cluster or node name: a DNS label ("office", "pve-2"). */
export function checkedClusterName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/.test(value)) {
    throw invalid(field, 'must be 1–32 lower-case letters, digits and "-", not starting or ending with "-"');
  }
  return value;
}

/** A node's name as the cluster knows it (a host name). */
export function checkedNodeName(value: unknown, field = 'node'): string {
  return checkedHostname(value, field);
}

/**
 * A cluster URL: "https://HOST:PORT" with HOST an IPv4 address, a bracketed
 * IPv6 address or a DNS name; nothing else (no path, query or user). The
 * canonical form has the port written out.
 *
 *   "https://10.0.0.2:8007" → same;  "https://n2.lan" → "https://n2.lan:443";  "http://…" → 400
 */
export function checkedNodeUrl(value: unknown, field = 'url'): string {
  const bad = () => invalid(field, 'must be a cluster URL like "https://10.0.0.2:8007" (https, a host and a port, nothing more)');
  if (typeof value !== 'string' || value.length > 300) throw bad();
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw bad();
  }
  if (u.protocol !== 'https:' || u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) throw bad();
  if (!/^https:\/\/[^/?#]+\/?$/.test(value)) throw bad();
  const host = u.hostname;
  const v6 = host.startsWith('[');
  if (!v6 && !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)) throw bad();
  return `https://${host}:${u.port || '443'}`;
}

/** The host of a cluster URL: "https://10.0.0.2:8007" → "10.0.0.2". */
export function urlAddress(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

/**
 * The URL other nodes reach this one at: RAMVM_ADDRESS, else RAMVM_LISTEN
 * when it is a specific address, else `seenAs` (the local address of a
 * connection this node made or took); the port is RAMVM_CLUSTER_PORT.
 * Null when no address is known.
 *
 *   ({ RAMVM_LISTEN: '0.0.0.0', RAMVM_CLUSTER_PORT: '8007' }, '10.0.0.2') → "https://10.0.0.2:8007"
 */
export function clusterUrlFor(env: NodeJS.ProcessEnv, seenAs?: string): string | null {
  const port = Number(env.RAMVM_CLUSTER_PORT || Number(env.RAMVM_PORT || 8006) + 1);
  const listen = env.RAMVM_LISTEN ?? '';
  const wildcard = (a: string) => a === '' || a === '0.0.0.0' || a === '::' || a === '[::]';
  const addr = env.RAMVM_ADDRESS || (!wildcard(listen) ? listen : seenAs?.replace(/^::ffff:/, '') ?? '');
  if (!addr || wildcard(addr)) return null;
  const host = addr.includes(':') && !addr.startsWith('[') ? `[${addr}]` : addr;
  return checkedNodeUrl(`https://${host}:${port}`);
}

/** True when state `a` is newer than `b`: a higher epoch, or the same epoch and a higher generation. */
export function newer(a: StateMark, b: StateMark): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.generation > b.generation);
}

export function newCluster(name: string, self: ClusterNode): ClusterConfig {
  return { name: checkedClusterName(name), epoch: 1, master: self.name, generation: 1, nodes: [self] };
}

export function findNode(c: ClusterConfig, name: string): ClusterNode | undefined {
  return c.nodes.find((n) => n.name === name);
}

export function requireNode(c: ClusterConfig, name: string): ClusterNode {
  const n = findNode(c, name);
  if (!n) throw notFound(`no node ${JSON.stringify(name.slice(0, 64))} in cluster ${c.name} (nodes: ${c.nodes.map((x) => x.name).join(', ')})`);
  return n;
}

/** The cluster with `node` added; 409 when its name, URL or certificate is taken. */
export function withNode(c: ClusterConfig, node: ClusterNode): ClusterConfig {
  const same = c.nodes.find((n) => n.name === node.name);
  if (same) throw conflict(`a node named ${node.name} is in cluster ${c.name} already; give the joining node another name (RAMVM_NODE)`);
  const cert = c.nodes.find((n) => n.fingerprint === node.fingerprint);
  if (cert) throw conflict(`node ${cert.name} of cluster ${c.name} has the same certificate (${node.fingerprint}); a node cannot join twice`);
  const url = c.nodes.find((n) => n.url === node.url);
  if (url) throw conflict(`node ${url.name} of cluster ${c.name} is at ${node.url} already`);
  return { ...c, nodes: [...c.nodes, node] };
}

/**
 * The cluster without node `name`. 409 for the master (promote another node
 * first) and for a node that still has guests (`guests`: their VMIDs).
 */
export function withoutNode(c: ClusterConfig, name: string, guests: readonly number[]): ClusterConfig {
  requireNode(c, name);
  if (name === c.master) throw conflict(`node ${name} is the master; the master cannot be removed (promote another node first)`);
  if (guests.length > 0) {
    throw conflict(`node ${name} still has ${guests.length} guest(s) (${guests.slice(0, 10).join(', ')}${guests.length > 10 ? ', …' : ''}); move or delete them first`);
  }
  return { ...c, nodes: c.nodes.filter((n) => n.name !== name) };
}

/** `self` as master: a new epoch. */
export function promoted(c: ClusterConfig, self: string): ClusterConfig {
  requireNode(c, self);
  if (c.master === self) throw conflict(`node ${self} is the master already`);
  return { ...c, master: self, epoch: c.epoch + 1 };
}

/** The VMIDs the placement index puts on `node`. */
export function guestsOn(p: Placement, node: string): number[] {
  return Object.entries(p)
    .filter(([, e]) => e.node === node)
    .map(([vmid]) => Number(vmid))
    .sort((a, b) => a - b);
}

/**
 * A VMID for a new guest: `wanted` when it is free (409 naming the node that
 * has it), else the lowest free one from FIRST_VMID.
 */
export function allocateVmid(p: Placement, wanted: number | null): number {
  if (wanted !== null) {
    const e = p[String(wanted)];
    if (e) throw conflict(`VMID ${wanted} is taken by guest ${e.name || '(unnamed)'} on node ${e.node}`);
    return wanted;
  }
  for (let v = FIRST_VMID; v <= VMID_MAX; v++) if (!p[String(v)]) return v;
  throw conflict(`no free VMID between ${VMID_MIN} and ${VMID_MAX}`);
}

// ---- join tokens ----

/** A join token is valid this long unless asked otherwise. */
export const JOIN_TOKEN_LIFETIME_S = 60 * 60; // 1 h
/** Longest lifetime a join token may be given. */
export const JOIN_TOKEN_LIFETIME_MAX_S = 7 * 24 * 60 * 60; // 1 week
/** Used and expired tokens are kept this long (to tell "used" from "forged"), then dropped. */
export const JOIN_TOKEN_KEEP_S = 7 * 24 * 60 * 60;

export interface JoinTokenRecord {
  /** sha256 hex of the token; the token itself is shown once. */
  hash: string;
  created: number;
  expires: number;
  used?: { at: number; by: string };
}

export const joinTokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/** "rjt_" + 43 base64url characters (32 random bytes). */
export function newJoinToken(nowS: number, lifetimeS = JOIN_TOKEN_LIFETIME_S, random = randomBytes(32)): { token: string; record: JoinTokenRecord } {
  const token = `rjt_${random.toString('base64url')}`;
  return { token, record: { hash: joinTokenHash(token), created: nowS, expires: nowS + lifetimeS } };
}

/**
 * The record of a token that may join now; throws naming why not: 403 for a
 * token this master never made (forged, or another master's), 410 for one
 * used or expired.
 */
export function usableJoinToken(records: readonly JoinTokenRecord[], token: unknown, nowS: number): JoinTokenRecord {
  if (typeof token !== 'string' || !/^rjt_[A-Za-z0-9_-]{43}$/.test(token)) {
    throw invalid('token', 'is not a join token (it looks like "rjt_…"; make one with POST /api/cluster/token on the master)');
  }
  const hash = joinTokenHash(token);
  const rec = records.find((r) => r.hash === hash);
  if (!rec) throw new HttpError('forbidden', 'the join token is not valid for this cluster (forged, or made by another master)');
  if (rec.used) throw new HttpError('gone', `the join token was used already (by node ${rec.used.by} at ${new Date(rec.used.at * 1000).toISOString()}); make a new one`);
  if (rec.expires <= nowS) throw new HttpError('gone', `the join token expired at ${new Date(rec.expires * 1000).toISOString()}; make a new one`);
  return rec;
}

/** The records without those kept past JOIN_TOKEN_KEEP_S after their use or expiry. */
export function keptJoinTokens(records: readonly JoinTokenRecord[], nowS: number): JoinTokenRecord[] {
  return records.filter((r) => Math.max(r.expires, r.used?.at ?? 0) + JOIN_TOKEN_KEEP_S > nowS);
}

/** The records with `hash` marked used by node `by` (and old ones dropped). */
export function consumeJoinToken(records: readonly JoinTokenRecord[], hash: string, by: string, nowS: number): JoinTokenRecord[] {
  return keptJoinTokens(records.map((r) => (r.hash === hash ? { ...r, used: { at: nowS, by } } : r)), nowS);
}

/** Lifetime from a request ({"expires": seconds}); default JOIN_TOKEN_LIFETIME_S. */
export function checkedTokenLifetime(value: unknown): number {
  if (value === undefined) return JOIN_TOKEN_LIFETIME_S;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > JOIN_TOKEN_LIFETIME_MAX_S) {
    throw invalid('lifetime', `must be a whole number of seconds from 1 to ${JOIN_TOKEN_LIFETIME_MAX_S}`);
  }
  return value;
}

/** A reservation younger than this is left alone when its node does not list the guest yet (it is being made). */
export const RESERVATION_GRACE_S = 10 * 60;

/**
 * The entries of `node` that its own list of guests no longer has (deleted
 * while the master could not be told, or a create that died), leaving fresh
 * reservations alone.
 *
 *   staleEntries({ "101": {node: "n2", since: 0}, "102": {node: "n2", since: now} }, "n2", [], now) → [101]
 */
export function staleEntries(p: Placement, node: string, present: readonly number[], nowS: number): number[] {
  const have = new Set(present);
  return guestsOn(p, node).filter((v) => !have.has(v) && nowS - (p[String(v)]!.since ?? 0) > RESERVATION_GRACE_S);
}
