/**
 * The cluster-wide configuration on disk and its replication. Config is
 * either cluster-wide or node-local, never both:
 *
 *   cluster-wide (the same on every node, changed on the master only):
 *     etc/ramvm/cluster/cluster.json   membership, master, epoch, generation (model.ts)
 *     etc/ramvm/cluster/vms.json       placement: which node each VMID lives on
 *     etc/ramvm/users.json, groups.json, acl.json, tokens.json      the access store
 *     etc/ramvm/storage.json, backup/jobs.json, backup/mail.json, backup/restore.json
 *   node-local: everything else — the node's settings (nodes/<node>.json),
 *     guest configs (vms/<vmid>.json), backup job state and alert acks,
 *     device catalogs, the keys under priv/, run/ and var/log/.
 *
 * A state is every cluster-wide file as text, with the (epoch, generation)
 * of its cluster.json:
 *
 *   { "epoch": 1, "generation": 17, "files": { "cluster.json": "{…}", "users.json": "{…}", "storage.json": null } }
 *
 * (null: the file does not exist). The master sends whole states (the files
 * are small); a node applies one only when it is newer than its own, each
 * file written atomically with fsync, cluster.json last, so a crash leaves
 * the old generation number on new files and the next pull repairs it.
 *
 * Every write of a cluster-wide file passes the store's write observer
 * (lib/store.ts): on a member it is refused (such changes are forwarded to
 * the master before they get here; this is the net below), on the master it
 * marks the state changed, and commit.ts raises the generation and pushes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpError } from '../lib/errors';
import { nodeName, paths } from '../lib/paths';
import { observeWrites, readJson, removeFile, withLock, writeFileAtomic } from '../lib/store';
import { newer, type ClusterConfig, type Placement, type StateMark } from './model';

/** Name in a state → path below etc/ramvm. The names are the whole allow-list of what a peer may write. */
export const REPLICATED: Readonly<Record<string, string>> = {
  'cluster.json': 'cluster/cluster.json',
  'vms.json': 'cluster/vms.json',
  'users.json': 'users.json',
  'groups.json': 'groups.json',
  'acl.json': 'acl.json',
  'tokens.json': 'tokens.json',
  'storage.json': 'storage.json',
  'backup/jobs.json': 'backup/jobs.json',
  'backup/mail.json': 'backup/mail.json',
  'backup/restore.json': 'backup/restore.json',
};

/** File modes: password hashes and token hashes stay readable by the node's own user only. */
const MODES: Readonly<Record<string, number>> = { 'users.json': 0o600, 'tokens.json': 0o600 };

/** The lock over the cluster-wide state (taken before the access store's lock, never after). */
export const CLUSTER_LOCK = 'cluster';

export interface ClusterState extends StateMark {
  files: Record<string, string | null>;
}

export const replicatedPath = (name: string) => join(paths().etc, REPLICATED[name]!);
export const clusterFile = () => paths().clusterConfig;
export const placementFile = () => paths().placement;
/** Join tokens live on the master only, hashed (model.ts). */
export const joinTokensFile = () => paths().joinTokens;

/** This node's cluster, or null for a node in no cluster. */
export function readCluster(): ClusterConfig | null {
  return readJson<ClusterConfig | null>(clusterFile(), null);
}

export function readPlacement(): Placement {
  return readJson<Placement>(placementFile(), {});
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The state as it is on disk now. Callers that need it consistent hold CLUSTER_LOCK. */
export function readStateUnlocked(): ClusterState {
  const c = readCluster();
  const files: Record<string, string | null> = {};
  for (const name of Object.keys(REPLICATED)) files[name] = readText(replicatedPath(name));
  return { epoch: c?.epoch ?? 0, generation: c?.generation ?? 0, files };
}

export function readState(): ClusterState {
  return withLock(CLUSTER_LOCK, readStateUnlocked);
}

/**
 * A state from a peer, checked before anything is written: only names of
 * REPLICATED, every file JSON, a cluster.json whose epoch and generation
 * are the state's. Throws 400 naming what is wrong.
 */
export function checkedState(value: unknown): ClusterState & { cluster: ClusterConfig } {
  const bad = (why: string) => new HttpError('bad_request', `cluster state refused: ${why}`);
  if (!value || typeof value !== 'object') throw bad('not an object');
  const v = value as Partial<ClusterState>;
  if (!v.files || typeof v.files !== 'object') throw bad('no files');
  const files: Record<string, string | null> = {};
  for (const [name, text] of Object.entries(v.files)) {
    if (!Object.hasOwn(REPLICATED, name)) throw bad(`${JSON.stringify(name.slice(0, 64))} is not a cluster-wide file`);
    if (text === null) {
      files[name] = null;
      continue;
    }
    if (typeof text !== 'string') throw bad(`${name} is not text`);
    try {
      JSON.parse(text);
    } catch {
      throw bad(`${name} is not JSON`);
    }
    files[name] = text;
  }
  const cText = files['cluster.json'];
  if (!cText) throw bad('no cluster.json');
  const cluster = JSON.parse(cText) as ClusterConfig;
  if (!Number.isInteger(cluster.epoch) || !Number.isInteger(cluster.generation) || typeof cluster.master !== 'string' || !Array.isArray(cluster.nodes)) {
    throw bad('cluster.json lacks epoch, generation, master or nodes');
  }
  if (cluster.epoch !== v.epoch || cluster.generation !== v.generation) throw bad('its epoch and generation differ from its cluster.json');
  for (const name of Object.keys(REPLICATED)) if (!(name in files)) files[name] = null;
  return { epoch: cluster.epoch, generation: cluster.generation, files, cluster };
}

let applying = false;

/**
 * Write a checked state when it is newer than ours (or always, `force`:
 * a join). True when written. cluster.json goes last.
 */
export function applyState(s: ClusterState, force = false): boolean {
  return withLock(CLUSTER_LOCK, () => {
    const mine = readCluster();
    if (!force && mine && !newer(s, mine)) return false;
    applying = true;
    try {
      const names = Object.keys(REPLICATED).filter((n) => n !== 'cluster.json');
      for (const name of [...names, 'cluster.json']) {
        const text = s.files[name] ?? null;
        const file = replicatedPath(name);
        if (text === null) removeFile(file);
        else if (readText(file) !== text) writeFileAtomic(file, text, MODES[name] ?? 0o640);
      }
    } finally {
      applying = false;
    }
    return true;
  });
}

/** Run `fn` while writes of cluster-wide files count as replication, not as changes (leaving a cluster). */
export function asReplication<T>(fn: () => T): T {
  const before = applying;
  applying = true;
  try {
    return fn();
  } finally {
    applying = before;
  }
}

// ---- changes on the master ----

let changed = false;
let guarded = false;
const replicatedFiles = () => new Set(Object.keys(REPLICATED).map(replicatedPath));

/**
 * Watch the store's writes from now on: a cluster-wide file written on a
 * member is refused with 503 naming the master; on the master it marks
 * the state changed (see takeChanged). Installed once per process by the
 * kernel hook (dispatch.ts) and by CLI commands that change settings.
 */
export function guardClusterWrites(): void {
  if (guarded) return;
  guarded = true;
  observeWrites((file) => {
    if (applying || !replicatedFiles().has(file)) return;
    const c = readCluster();
    if (!c) return;
    if (c.master !== nodeName()) {
      throw new HttpError(
        'unavailable',
        `cluster-wide settings change only on the master ${c.master}; this node (${nodeName()}) is a member of cluster ${c.name}`,
        `refused write of ${file}`,
      );
    }
    changed = true;
  });
}

/** True once when cluster-wide files changed since the last call (the master commits them). */
export function takeChanged(): boolean {
  const c = changed;
  changed = false;
  return c;
}

/** Mark the state changed (cluster operations that write cluster.json themselves). */
export function markChanged(): void {
  changed = true;
}

/**
 * Raise the generation by one (master, under CLUSTER_LOCK) and return the
 * state to push. Writes to cluster.json here are the master's own.
 */
export function bumpGeneration(): ClusterState {
  return withLock(CLUSTER_LOCK, () => {
    const c = readCluster();
    if (!c) throw new Error('bumpGeneration outside a cluster');
    const next = { ...c, generation: c.generation + 1 };
    asReplication(() => writeFileAtomic(clusterFile(), JSON.stringify(next, null, 2) + '\n', 0o640));
    return readStateUnlocked();
  });
}

/** Write cluster.json (cluster operations: create, join, promote, remove); the caller holds CLUSTER_LOCK. */
export function writeClusterUnlocked(c: ClusterConfig | null): void {
  asReplication(() => (c ? writeFileAtomic(clusterFile(), JSON.stringify(c, null, 2) + '\n', 0o640) : removeFile(clusterFile())));
}
