/**
 * A guest's replicated disks, as the API makes, shows and removes them: the
 * guest's node decides (the peer, the minor, the record), writes the record,
 * asks the cluster's other node through a signed request to make its side
 * (REPLICA_ROUTES, for nodes only), makes its own, and skips the initial
 * sync of the new, empty disk. All or nothing: a failure on either side
 * undoes both.
 *
 *   POST   /api/vm/<vmid>/replica            {"disk": 0, "record": {…}}  the peer's side made (signed only)
 *   GET    /api/vm/<vmid>/replica            {"minors": [0, 1]}           minors the peer uses (signed only)
 *   DELETE /api/vm/<vmid>/replica/<disk>                                   the peer's side removed (signed only)
 *   PUT    /api/vm/<vmid>/replica/config     the guest's config               kept on the peer for a failover (signed only)
 *   POST   /api/vm/<vmid>/replica/<disk>/resolve {"side": "discard"|"keep"}   the peer's part of ending a split brain (signed only)
 *
 * An existing raw disk of a stopped guest becomes replicated with its data
 * (convertToReplicated): the peer's side starts empty and gets it all.
 *
 * A split brain (both sides wrote while apart: StandAlone, and the kernel's
 * log says so) is shown in `replication` and ended only by an admin who
 * says whose changes are discarded (resolveSplitBrain).
 *
 * Pure parts: replicaRefusal (whether this node can have replicated disks
 * now), freeMinor, replicaRecord. The rest is the edge: records on disk,
 * the root helper's steps (edge.ts drbdNodeStep), the peer's answers.
 */
import { existsSync, linkSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { HttpError, conflict, invalid } from '../lib/errors';
import { drbdBackingFile, guestImagesDir, nodeName, paths, replicaConfigFile } from '../lib/paths';
import { log } from '../lib/cgi';
import { readJson, withLock, writeJsonAtomic } from '../lib/store';
import { parseSize } from '../lib/validate';
import { separation } from '../lib/separation';
import type { ApiContext, ApiRoute } from '../auth/authorize';
import { Reply } from '../lib/cgi';
import { checkedVmid } from '../lib/validate';
import type { ClusterConfig } from '../cluster/model';
import { urlHostPort } from '../cluster/peer';
import { nodeJson } from '../cluster/members';
import { verifiedPeer } from '../cluster/receive';
import { readCluster } from '../cluster/state';
import { drbdNodeStep, readDrbdRecord, readProcDrbd, writeDrbdRecord } from './edge';
import { deviceOf, type ProcDrbd, type Replication } from './proc';
import { parseDrbdRecord, recordReplication, type DrbdRecord } from './record';
import { backingFileBytes, drbdResourceName, DRBD_MINOR_MAX, DRBD_PORT_FIRST, type DrbdHost } from './resource';
import { diskIndexOf, replicatedDisks, type Guest } from './disks';

export { demoteDisks, diskIndexOf, promoteDisks, replicatedDisks } from './disks';

/** How long the guest's node waits for its peer's side of a disk (create-md and up on a loaded node). */
export const REPLICA_PEER_TIMEOUT_MS = 90_000;
/** How long a new disk's two sides have to find each other before the initial sync is skipped. */
export const REPLICA_CONNECT_TIMEOUT_MS = 60_000;
const CONNECT_POLL_MS = 250;


/**
 * Why this node cannot have a replicated disk now, or null when it can: it
 * must be one of a 2-node cluster and run DRBD through its root helper.
 * `self` is this node's name; `peerAnswers` whether the other node answered.
 */
export function replicaRefusal(c: Pick<ClusterConfig, 'nodes'> | null, self: string, rootHelper: boolean, peerAnswers?: boolean): string | null {
  if (!c) return 'a replicated disk needs a cluster of two nodes; this node is in no cluster';
  if (c.nodes.length !== 2) return `a replicated disk needs a cluster of exactly two nodes; this cluster has ${c.nodes.length}`;
  if (!c.nodes.some((n) => n.name === self)) return `node ${self} is not a member of its cluster`;
  if (!rootHelper) return 'replicated disks need a node started as root (the root helper runs DRBD)';
  const peer = c.nodes.find((n) => n.name !== self)!.name;
  if (peerAnswers === false) return `the peer node ${peer} does not answer; a replicated disk is made on both nodes at once`;
  return null;
}

/** The lowest minor neither node uses; 409 when all are taken. */
export function freeMinor(used: Iterable<number>): number {
  const u = new Set(used);
  for (let m = 0; m <= DRBD_MINOR_MAX; m++) if (!u.has(m)) return m;
  throw conflict(`all ${DRBD_MINOR_MAX + 1} DRBD minors are in use`);
}

/** Held while a minor is chosen and its record written: disks made at once on this node never share a minor. */
export const DRBD_MINOR_LOCK = 'drbd-minors';

/**
 * Write the record of a new replicated disk with the lowest minor free on
 * both nodes (`peerUsed`: the peer's, as it answered), exclusively (a record
 * there already is another request's disk: 409), under DRBD_MINOR_LOCK.
 */
export function claimRecord(vmid: number, disk: number, bytes: number, c: ClusterConfig, self: string, peer: string, peerUsed: readonly number[]): DrbdRecord {
  return withLock(DRBD_MINOR_LOCK, () => {
    const record = replicaRecord(vmid, disk, freeMinor([...peerUsed, ...localMinors()]), bytes, drbdHostOf(c, self), drbdHostOf(c, peer));
    writeDrbdRecord(vmid, disk, record, true);
    return record;
  });
}

/** The record of disk `disk` of guest `vmid`: the guest's node first. */
export function replicaRecord(vmid: number, disk: number, minor: number, bytes: number, self: DrbdHost, peer: DrbdHost): DrbdRecord {
  return { resource: drbdResourceName(vmid, disk), minor, bytes, hosts: [self, peer] };
}

/** A cluster node as a DRBD host: its name and the address of its cluster URL. */
export function drbdHostOf(c: Pick<ClusterConfig, 'nodes'>, name: string): DrbdHost {
  const n = c.nodes.find((x) => x.name === name);
  if (!n) throw conflict(`node ${name} is not in the cluster`);
  return { name, address: urlHostPort(n.url).host };
}

/** The replicated disks this node has a record of: var/lib/vz/images/<vmid>/vm-<vmid>-disk-<n>.drbd.json. */
function recordsHere(): { vmid: number; disk: number }[] {
  const out: { vmid: number; disk: number }[] = [];
  let dirs: string[] = [];
  try {
    dirs = readdirSync(paths().images).filter((n) => /^[0-9]+$/.test(n));
  } catch {
    return out;
  }
  for (const d of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(guestImagesDir(Number(d)));
    } catch {
      continue;
    }
    for (const n of names) {
      const m = /^vm-([0-9]+)-disk-([0-9]+)\.drbd\.json$/.exec(n);
      if (m && m[1] === d) out.push({ vmid: Number(m[1]), disk: Number(m[2]) });
    }
  }
  return out;
}

/** Minors of the records on this node. */
export function localMinors(): number[] {
  const out: number[] = [];
  for (const { vmid, disk } of recordsHere()) {
    try {
      const r = readDrbdRecord(vmid, disk);
      if (r) out.push(r.minor);
    } catch {
      /* a record that does not parse holds no minor the helper would use */
    }
  }
  return out;
}

const replicaPath = (vmid: number, disk?: number) => `/api/vm/${vmid}/replica${disk === undefined ? '' : `/${disk}`}`;

/** The cluster and the peer, after the refusals (409 with the reason). */
async function clusterAndPeer(vmid: number): Promise<{ c: ClusterConfig; self: string; peer: string; used: number[] }> {
  const c = readCluster();
  const self = nodeName();
  const first = replicaRefusal(c, self, separation() !== null);
  if (first) throw conflict(first);
  const peer = c!.nodes.find((n) => n.name !== self)!.name;
  let used: number[];
  try {
    used = (await nodeJson<{ minors: number[] }>(peer, 'GET', replicaPath(vmid))).minors;
  } catch {
    throw conflict(replicaRefusal(c, self, true, false)!);
  }
  return { c: c!, self, peer, used };
}

/** /proc/drbd now; a node without the DRBD module loaded lists no device. */
async function procNow(): Promise<ProcDrbd> {
  try {
    return await readProcDrbd();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: '', devices: [] };
    throw e;
  }
}

/**
 * `replication` of each replicated disk of a guest on this node, by disk id
 * (GET /api/vm/<vmid>): the peer from the disk's record, the state from
 * /proc/drbd (read once). A disk without its record here says so as its state.
 */
export async function guestReplication(cfg: Guest): Promise<Record<string, Replication>> {
  const disks = cfg.disks.filter((d) => d.replicated);
  if (!disks.length) return {};
  const proc = await procNow();
  const self = nodeName();
  const out: Record<string, Replication> = {};
  for (const d of disks) {
    let r: DrbdRecord | null = null;
    try {
      r = readDrbdRecord(cfg.vmid, diskIndexOf(d));
    } catch {
      /* an unreadable record: shown as missing */
    }
    out[d.id] = r
      ? await withSplitBrain(recordReplication(r, proc, self), cfg.vmid, diskIndexOf(d))
      : { peer: '', state: 'NoRecord', synced: null, connection: 'Unconfigured', role: null, peerState: null };
  }
  return out;
}

/** `r` with `splitBrain: true` when it is StandAlone and the kernel's log says why (the root helper reads it). */
async function withSplitBrain(r: Replication, vmid: number, disk: number): Promise<Replication> {
  if (r.connection !== 'StandAlone') return r;
  const sb = await drbdNodeStep('split-brain', vmid, disk).catch(() => null);
  return sb?.splitBrain ? { ...r, splitBrain: true } : r;
}

/** Connection states of a replica that is there and working (a resync counts: it ends by itself). */
const WORKING_CONNECTIONS = new Set(['Connected', 'SyncSource', 'SyncTarget', 'PausedSyncS', 'PausedSyncT', 'WFBitMapS', 'WFBitMapT', 'WFSyncUUID']);
const SYNCING = new Set(['SyncSource', 'SyncTarget', 'PausedSyncS', 'PausedSyncT', 'WFBitMapS', 'WFBitMapT', 'WFSyncUUID']);

/**
 * What is wrong with a replicated disk, as a warning for the Nodes view and
 * the mail alerts; null when both sides are there and UpToDate (or
 * resyncing, which ends by itself).
 *
 *   { peer: 'node2', connection: 'WFConnection', … }   → "disconnected from node2 (WFConnection): writes are not replicated"
 *   { peer: 'node2', state: 'Outdated', … }            → "this node's copy is Outdated"
 *   { peer: 'node2', peerState: 'Inconsistent', connection: 'Connected', … } → "the copy on node2 is Inconsistent"
 */
export function replicaWarning(r: Replication): string | null {
  if (r.splitBrain) return `split brain with ${r.peer}: both sides wrote while apart and nothing is replicated; say whose changes are discarded (POST /api/vm/<vmid>/replica/resolve)`;
  if (r.connection === 'StandAlone') return `disconnected from ${r.peer} (StandAlone: a split brain, or a disconnect asked for): writes are not replicated`;
  if (!WORKING_CONNECTIONS.has(r.connection)) return `disconnected from ${r.peer} (${r.connection}): writes are not replicated`;
  if (SYNCING.has(r.connection)) return null;
  if (r.state !== 'UpToDate') return `this node's copy is ${r.state}`;
  if (r.peerState !== 'UpToDate') return `the copy on ${r.peer} is ${r.peerState ?? 'unknown'}`;
  return null;
}

export interface NodeReplica {
  vmid: number;
  disk: number;
  resource: string;
  replication: Replication;
  warning: string | null;
}

/** `resources` with this node's replicated disks, when it has any (GET /api/node/<node>/resources, the cluster's node list). */
export async function withReplicas<T extends object>(resources: T): Promise<T & { replicas?: NodeReplica[] }> {
  const replicas = await nodeReplicas().catch(() => []);
  return replicas.length ? { ...resources, replicas } : resources;
}

/** Every replicated disk this node has a side of (from its records), with its state and warning. */
export async function nodeReplicas(): Promise<NodeReplica[]> {
  const proc = await procNow();
  const self = nodeName();
  const out: NodeReplica[] = [];
  for (const { vmid, disk } of recordsHere()) {
    let r: DrbdRecord | null = null;
    try {
      r = readDrbdRecord(vmid, disk);
    } catch {
      continue;
    }
    if (!r) continue;
    const replication = await withSplitBrain(recordReplication(r, proc, self), vmid, disk);
    out.push({ vmid, disk, resource: r.resource, replication, warning: replicaWarning(replication) });
  }
  return out;
}

/** Remove this node's side of a disk: down, then its record and backing file. */
async function dropLocal(vmid: number, disk: number): Promise<void> {
  if (!readDrbdRecord(vmid, disk)) return;
  await drbdNodeStep('down', vmid, disk).catch(() => undefined);
  const file = drbdBackingFile(vmid, drbdResourceName(vmid, disk));
  rmSync(file, { force: true });
  rmSync(`${file}.json`, { force: true });
}

/** Until this node's minor is connected to its peer (the new disk's two sides found each other). */
async function waitConnected(minor: number, hosts: readonly DrbdHost[]): Promise<void> {
  const end = Date.now() + REPLICA_CONNECT_TIMEOUT_MS;
  for (;;) {
    const d = deviceOf(await readProcDrbd(), minor);
    if (d?.connection === 'Connected') return;
    if (Date.now() > end) {
      const between = hosts.map((h) => `${h.name} ${h.address}:${DRBD_PORT_FIRST + minor}`).join(' and ');
      throw new HttpError('unavailable', `the two sides of the replicated disk (minor ${minor}) did not connect within ${REPLICA_CONNECT_TIMEOUT_MS / 1000} s (connection: ${d?.connection ?? 'none'}; between ${between})`);
    }
    await new Promise((r) => setTimeout(r, CONNECT_POLL_MS));
  }
}

/**
 * Make the replicated disks of `cfg` on both nodes: a new guest's (called
 * after the VMID is claimed: its folder exists), or the one disk added to
 * an existing guest (POST /api/vm/<vmid>/disks). On any failure both sides
 * of every disk made so far are removed and the error is thrown again.
 */
export async function createReplicatedDisks(cfg: Guest): Promise<void> {
  const disks = cfg.disks.filter((d) => d.replicated);
  if (!disks.length) return;
  const { c, self, peer, used } = await clusterAndPeer(cfg.vmid);
  const made: number[] = [];
  try {
    for (const d of disks) {
      const disk = diskIndexOf(d);
      // Exclusive: a record there already is another request's disk, which an undo here must not touch.
      const record = claimRecord(cfg.vmid, disk, parseSize(d.size), c, self, peer, used);
      const minor = record.minor;
      made.push(disk);
      await nodeJson(peer, 'POST', replicaPath(cfg.vmid), { disk, record }, { timeoutMs: REPLICA_PEER_TIMEOUT_MS });
      await drbdNodeStep('create', cfg.vmid, disk);
      await waitConnected(minor, record.hosts);
      await drbdNodeStep('skip-sync', cfg.vmid, disk);
    }
  } catch (e) {
    await dropReplicas(cfg.vmid, made, peer);
    throw e;
  }
}

/** Remove both sides of disks `disks` of guest `vmid` (the peer's first attempted, its failure not hiding ours). */
export async function dropReplicas(vmid: number, disks: readonly number[], peer?: string): Promise<void> {
  if (!disks.length) return;
  const c = readCluster();
  const other = peer ?? c?.nodes.find((n) => n.name !== nodeName())?.name;
  for (const disk of disks) {
    if (other) await nodeJson(other, 'DELETE', replicaPath(vmid, disk), undefined, { timeoutMs: REPLICA_PEER_TIMEOUT_MS }).catch(() => undefined);
    await dropLocal(vmid, disk);
  }
}

/** A disk as the conversion needs it: its id, size and file (vm/types.ts DiskConfig). */
interface PlainDisk {
  id: string;
  size: string;
  file: string;
}

/**
 * Make raw disk `d` of stopped guest `vmid` replicated, keeping its data.
 * Internal meta-data needs room at the end of the file, so the file grows
 * by it and the guest's disk keeps its size; the peer's side is new and
 * empty, and gets all of this node's data in a full sync (never skipped:
 * the data exists only here):
 *
 *   vm-101-disk-1.raw, 64 MiB → vm-101-disk-1.drbd, 64 MiB + 40 KiB of meta-data; its record
 *   peer: create (empty, sparse); here: adopt (meta-data, up); connected; force-primary (the sync starts), secondary
 *
 * The guest may start at once (its node is the sync's source). On any
 * failure both sides go and the file is back under its name at its size.
 */
export async function convertToReplicated(vmid: number, d: PlainDisk): Promise<void> {
  const { c, self, peer, used } = await clusterAndPeer(vmid);
  const disk = diskIndexOf(d);
  const bytes = parseSize(d.size);
  const raw = join(guestImagesDir(vmid), d.file);
  const file = drbdBackingFile(vmid, drbdResourceName(vmid, disk));
  let size: number;
  try {
    size = statSync(raw).size;
  } catch {
    throw conflict(`the image ${d.file} of ${d.id} is missing`);
  }
  if (size !== bytes) throw conflict(`the image ${d.file} of ${d.id} has ${size} bytes, not the ${bytes} of its size ${d.size}`);
  if (existsSync(file)) throw conflict(`${file} exists already`);
  const record = claimRecord(vmid, disk, bytes, c, self, peer, used);
  const minor = record.minor;
  try {
    // link, then unlink: the name moves only if nothing has it (rename would replace a file there).
    linkSync(raw, file);
    unlinkSync(raw);
    truncateSync(file, backingFileBytes(bytes));
    await nodeJson(peer, 'POST', replicaPath(vmid), { disk, record }, { timeoutMs: REPLICA_PEER_TIMEOUT_MS });
    await drbdNodeStep('adopt', vmid, disk);
    await waitConnected(minor, record.hosts);
    await drbdNodeStep('force-primary', vmid, disk);
    await drbdNodeStep('secondary', vmid, disk);
  } catch (e) {
    await unconvert(vmid, d, peer);
    throw e;
  }
}

/** Undo convertToReplicated: the peer's side removed, this side down, the file back under its name at its size, the record gone. */
export async function unconvert(vmid: number, d: PlainDisk, peer?: string): Promise<void> {
  const disk = diskIndexOf(d);
  const other = peer ?? readCluster()?.nodes.find((n) => n.name !== nodeName())?.name;
  if (other) await nodeJson(other, 'DELETE', replicaPath(vmid, disk), undefined, { timeoutMs: REPLICA_PEER_TIMEOUT_MS }).catch(() => undefined);
  await drbdNodeStep('down', vmid, disk).catch(() => undefined);
  const raw = join(guestImagesDir(vmid), d.file);
  const file = drbdBackingFile(vmid, drbdResourceName(vmid, disk));
  if (existsSync(file) && !existsSync(raw)) {
    truncateSync(file, parseSize(d.size));
    linkSync(file, raw);
    unlinkSync(file);
  } else if (existsSync(file) && existsSync(raw) && statSync(file).ino === statSync(raw).ino) {
    unlinkSync(file); // linked, not yet moved: the image never left its name
  }
  rmSync(`${file}.json`, { force: true });
}

/** Both sides of replicated disks, made and removed, for the guest code that does not speak to the cluster (vm/manage.ts). */
export const GUEST_REPLICAS = {
  make: createReplicatedDisks,
  drop: (vmid: number, disks: readonly number[]) => dropReplicas(vmid, disks),
  convert: convertToReplicated,
  unconvert: (vmid: number, d: PlainDisk) => unconvert(vmid, d),
};

/** The peer's side: the record as the guest's node sent it, checked; this node must be its second host. */
export async function createPeerSide(vmid: number, from: string, body: unknown): Promise<{ resource: string }> {
  const b = body as { disk?: unknown; record?: unknown } | null;
  const disk = typeof b?.disk === 'number' ? b.disk : NaN;
  const { record } = parseDrbdRecord(JSON.stringify(b?.record ?? null), vmid, disk);
  const self = nodeName();
  if (record.hosts[0].name !== from || record.hosts[1].name !== self) {
    throw new HttpError('invalid', `replicated disk record: hosts must be the sender ${from} and this node ${self}`);
  }
  withLock(DRBD_MINOR_LOCK, () => {
    if (readDrbdRecord(vmid, disk)) throw conflict(`disk ${disk} of guest ${vmid} is replicated here already`);
    if (localMinors().includes(record.minor)) throw conflict(`DRBD minor ${record.minor} is in use on node ${self}`);
    writeDrbdRecord(vmid, disk, record);
  });
  try {
    await drbdNodeStep('create', vmid, disk);
  } catch (e) {
    await dropLocal(vmid, disk);
    throw e;
  }
  return { resource: record.resource };
}

/** The peer's side removed; its guest folder goes with its last disk. */
async function dropPeerSide(vmid: number, disk: number): Promise<null> {
  await dropLocal(vmid, disk);
  if (!recordsHere().some((r) => r.vmid === vmid)) rmSync(replicaConfigFile(vmid), { force: true });
  try {
    if (readdirSync(guestImagesDir(vmid)).length === 0) rmSync(guestImagesDir(vmid), { recursive: true, force: true });
  } catch {
    /* no folder */
  }
  return null;
}

/** The other node of this node's replicated disks of guest `vmid` (from their records); null when it has none here. */
export function replicaPeer(vmid: number): string | null {
  const self = nodeName();
  for (const r of recordsHere()) {
    if (r.vmid !== vmid) continue;
    const rec = readDrbdRecord(vmid, r.disk);
    if (rec) return rec.hosts[0].name === self ? rec.hosts[1].name : rec.hosts[0].name;
  }
  return null;
}

/**
 * The guest's config to the peer of its replicated disks, which keeps it
 * for a failover (the config a failover starts is the one shared last: at
 * the create, each start and each change). Never fails the caller: the
 * reason it could not be shared is returned and logged.
 */
export async function shareGuestConfig(cfg: Guest): Promise<string | null> {
  if (!cfg.disks.some((d) => d.replicated)) return null;
  const peer = replicaPeer(cfg.vmid);
  if (!peer) return null;
  try {
    await nodeJson(peer, 'PUT', `${replicaPath(cfg.vmid)}/config`, cfg, { timeoutMs: REPLICA_PEER_TIMEOUT_MS });
    return null;
  } catch (e) {
    const why = `the config of guest ${cfg.vmid} was not shared with node ${peer}: ${(e as Error).message}`;
    log(why);
    return why;
  }
}

/** The peer's copy of a guest's config, as its node shared it; null when there is none. */
export function replicaConfigCopy(vmid: number): (Guest & Record<string, unknown>) | null {
  return readJson<(Guest & Record<string, unknown>) | null>(replicaConfigFile(vmid), null);
}

/** The peer keeps the config the guest's node sent, if it holds a replica of that guest shared with that node. */
function keepConfigCopy(vmid: number, from: string, body: unknown): null {
  const b = body as Partial<Guest> | null;
  if (!b || typeof b !== 'object' || b.vmid !== vmid || !Array.isArray(b.disks)) throw invalid('config', `not a config of guest ${vmid}`);
  if (replicaPeer(vmid) !== from) throw conflict(`node ${nodeName()} holds no replica of guest ${vmid} shared with node ${from}`);
  writeJsonAtomic(replicaConfigFile(vmid), b, 0o640);
  return null;
}

/** This node's part of ending a split brain of one disk: "discard" its changes (secondary, connect --discard-my-data), or "keep" them (connect). */
async function resolveSide(vmid: number, disk: number, side: unknown): Promise<{ resource: string }> {
  if (side !== 'discard' && side !== 'keep') throw invalid('side', 'must be "discard" or "keep"');
  if (side === 'discard') {
    await drbdNodeStep('secondary', vmid, disk);
    return { resource: (await drbdNodeStep('discard', vmid, disk)).resource };
  }
  return { resource: (await drbdNodeStep('connect', vmid, disk)).resource };
}

/**
 * POST /api/vm/<vmid>/replica/resolve {"discard": "<node>"} on the guest's
 * node: each replicated disk in a split brain is reconnected with the
 * changes of node `discard` thrown away (DRBD resyncs that side from the
 * other). 409 when no disk is in a split brain, or when the side to discard
 * runs the guest (its QEMU holds the device).
 */
export async function resolveSplitBrain(cfg: Guest, discard: unknown, runningHere: boolean): Promise<{ resolved: string[]; discarded: string }> {
  const self = nodeName();
  const peer = replicaPeer(cfg.vmid);
  if (!peer) throw conflict(`guest ${cfg.vmid} has no replicated disk on node ${self}`);
  if (typeof discard !== 'string' || (discard !== self && discard !== peer)) throw invalid('discard', `must name node ${self} or node ${peer}, whose changes are thrown away`);
  const split: number[] = [];
  for (const disk of replicatedDisks(cfg)) {
    if ((await drbdNodeStep('split-brain', cfg.vmid, disk)).splitBrain) split.push(disk);
  }
  if (!split.length) throw conflict(`no replicated disk of guest ${cfg.vmid} is in a split brain`);
  if (discard === self && runningHere) throw conflict(`guest ${cfg.vmid} runs on node ${self}, whose changes would be discarded under it: stop it first`);
  const resolved: string[] = [];
  for (const disk of split) {
    if (discard === self) {
      await resolveSide(cfg.vmid, disk, 'discard');
      await nodeJson(peer, 'POST', `${replicaPath(cfg.vmid, disk)}/resolve`, { side: 'keep' }, { timeoutMs: REPLICA_PEER_TIMEOUT_MS });
    } else {
      await nodeJson(peer, 'POST', `${replicaPath(cfg.vmid, disk)}/resolve`, { side: 'discard' }, { timeoutMs: REPLICA_PEER_TIMEOUT_MS });
      await resolveSide(cfg.vmid, disk, 'keep');
    }
    resolved.push(drbdResourceName(cfg.vmid, disk));
  }
  return { resolved, discarded: discard };
}

function signed(handle: (ctx: ApiContext, from: string) => unknown): ApiRoute['handle'] {
  return async (ctx) => handle(ctx, verifiedPeer(ctx.req).node);
}

const diskParam = (ctx: ApiContext): number => {
  const s = ctx.params.disk ?? '';
  if (!/^[0-9]{1,2}$/.test(s)) throw new HttpError('invalid', 'disk must be a disk index');
  drbdResourceName(checkedVmid(ctx.params.vmid), Number(s));
  return Number(s);
};

/** The routes of the peer's side, for the guest's node only (signed with the cluster key). */
export const REPLICA_ROUTES: ApiRoute[] = [
  { method: 'GET', path: '/:vmid/replica', perm: 'public', handle: signed(() => ({ minors: localMinors() })) },
  {
    method: 'POST',
    path: '/:vmid/replica',
    perm: 'public',
    handle: signed(async (ctx, from) => new Reply(201, await createPeerSide(checkedVmid(ctx.params.vmid), from, await ctx.req.json()))),
  },
  {
    method: 'PUT',
    path: '/:vmid/replica/config',
    perm: 'public',
    handle: signed(async (ctx, from) => keepConfigCopy(checkedVmid(ctx.params.vmid), from, await ctx.req.json())),
  },
  {
    method: 'POST',
    path: '/:vmid/replica/:disk/resolve',
    perm: 'public',
    handle: signed(async (ctx) => {
      const b = (await ctx.req.json()) as { side?: unknown } | null;
      return resolveSide(checkedVmid(ctx.params.vmid), diskParam(ctx), b?.side);
    }),
  },
  {
    method: 'DELETE',
    path: '/:vmid/replica/:disk',
    perm: 'public',
    body: 'none',
    handle: signed(async (ctx) => {
      await dropPeerSide(checkedVmid(ctx.params.vmid), diskParam(ctx));
      return new Reply(204, null);
    }),
  },
];
