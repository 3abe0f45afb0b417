/**
 * The cluster backup mode as data: what the guest's node does, step by
 * step, to back up a guest with replicated disks from the peer's copy, and
 * what it does to put things right when a step fails. Pure; cluster.ts
 * carries the steps out.
 *
 *   clusterBackupPlan({ vmid: 101, node: "n1", status: "running", agent: false,
 *     disks: [{ id: "disk0", replica: { name: "vm-101-disk-0", minor: 0, hosts: [n1, n2] }, dev: Connected UpToDate/UpToDate, bytes }] })
 *   → { peer: "n2", hold: "pause", steps: [
 *       { step: "arm", resources: ["vm-101-disk-0"] },      the root helper started, checked, waiting for its go (before the hold: its start takes seconds)
 *       { step: "hold", how: "pause" },                   QMP stop (or the agent's fsfreeze): writes drained, all on the peer (protocol C)
 *       { step: "go", resources: ["vm-101-disk-0"] },       the armed helper disconnects them all: the peer's copy stops at this instant
 *       { step: "release", how: "resume" },               QMP cont: held for the two steps above only
 *       { step: "backup-on-peer", peer: "n2", disks: [{ id: "disk0", resource: "vm-101-disk-0", minor: 0, bytes }] },
 *       { step: "connect", resource: "vm-101-disk-0" } ] }   DRBD resyncs only the blocks written meanwhile (its bitmap)
 *
 * A stopped or paused guest is not held (it writes nothing): its resources
 * are disconnected one by one ({ step: "disconnect", resource }). A guest with a
 * disk that is not replicated, a replica that is not Connected and
 * UpToDate on both sides, or disks replicated to different peers is
 * refused (409) with every reason.
 */
import { conflict } from '../lib/errors';
import type { DrbdDeviceState } from '../drbd/proc';
import type { LocalReplica } from '../drbd/local';
import { peerOf, replicaProblem } from '../drbd/replica';

export interface ClusterDiskFacts {
  id: string;
  /** Its replica here (null: the disk is not replicated). */
  replica: Pick<LocalReplica, 'name' | 'minor' | 'hosts'> | null;
  /** This node's view of it in /proc/drbd. */
  dev: DrbdDeviceState | undefined;
  /** Bytes of the DRBD device (what the guest sees). */
  bytes: number;
}

export interface ClusterBackupFacts {
  vmid: number;
  /** This node: the guest's. */
  node: string;
  status: 'running' | 'paused' | 'stopped';
  /** A QEMU guest agent answers: freeze the filesystems instead of pausing. */
  agent: boolean;
  disks: readonly ClusterDiskFacts[];
}

export interface PeerDisk {
  id: string;
  resource: string;
  minor: number;
  bytes: number;
}

export type ClusterStep =
  | { step: 'arm'; resources: string[] }
  | { step: 'hold'; how: 'freeze' | 'pause' }
  | { step: 'go'; resources: string[] }
  | { step: 'disarm' }
  | { step: 'disconnect'; resource: string }
  | { step: 'release'; how: 'thaw' | 'resume' }
  | { step: 'backup-on-peer'; peer: string; disks: PeerDisk[] }
  | { step: 'connect'; resource: string };

export interface ClusterBackupPlan {
  peer: string;
  /** How the guest is held (null: it is not: stopped or paused). */
  hold: 'freeze' | 'pause' | null;
  steps: ClusterStep[];
}

const RELEASE_OF = { freeze: 'thaw', pause: 'resume' } as const;

/** The steps of a cluster-mode backup; 409 naming every reason it cannot run. */
export function clusterBackupPlan(f: ClusterBackupFacts): ClusterBackupPlan {
  const problems: string[] = [];
  if (f.disks.length === 0) problems.push(`guest ${f.vmid} has no disks`);
  const peers = new Set<string>();
  for (const d of f.disks) {
    if (!d.replica) {
      problems.push(`${d.id} of guest ${f.vmid} is not replicated (cluster mode reads the peer's copy, which only replicated disks have; use snapshot mode)`);
      continue;
    }
    try {
      peers.add(peerOf(d.replica, f.node));
    } catch (e) {
      problems.push((e as Error).message);
      continue;
    }
    const p = replicaProblem(d.dev, d.replica.name);
    if (p) problems.push(p);
    else if (d.dev?.role !== 'Primary') problems.push(`${d.replica.name} is ${d.dev?.role ?? 'unknown'} here, not Primary: the guest's node holds the primary`);
  }
  if (peers.size > 1) problems.push(`the disks of guest ${f.vmid} are replicated to different nodes (${[...peers].sort().join(', ')})`);
  if (problems.length) throw conflict(`cluster-mode backup of guest ${f.vmid} refused: ${problems.join('; ')}`);
  const peer = [...peers][0]!;
  const replicas = f.disks.map((d) => ({ ...d, replica: d.replica! }));
  const hold = f.status === 'running' ? (f.agent ? 'freeze' : 'pause') : null;
  const resources = replicas.map((d) => d.replica.name);
  return {
    peer,
    hold,
    steps: [
      ...(hold
        ? ([{ step: 'arm', resources }, { step: 'hold', how: hold }, { step: 'go', resources }, { step: 'release', how: RELEASE_OF[hold] }] as const)
        : resources.map((resource) => ({ step: 'disconnect', resource }) as const)),
      { step: 'backup-on-peer', peer, disks: replicas.map((d) => ({ id: d.id, resource: d.replica.name, minor: d.replica.minor, bytes: d.bytes })) },
      ...replicas.map((d) => ({ step: 'connect', resource: d.replica.name }) as const),
    ],
  };
}

/**
 * After step `failed` of `steps` went wrong (the ones before it done): the
 * guest released first if it was held and not yet released, then an armed
 * root helper that got no go dismissed (it exits having done nothing), then
 * every resource that was (or may have been, by the failed step)
 * disconnected connected again. A step that failed half-way is undone too:
 * a release, a dismissal or a connect of what is already so changes nothing.
 */
export function clusterRecovery(steps: readonly ClusterStep[], failed: number): ClusterStep[] {
  const tried = steps.slice(0, failed + 1);
  const out: ClusterStep[] = [];
  const hold = tried.find((s) => s.step === 'hold');
  const released = steps.slice(0, failed).some((s) => s.step === 'release');
  if (hold && !released) out.push({ step: 'release', how: RELEASE_OF[hold.how] });
  if (tried.some((s) => s.step === 'arm') && !tried.some((s) => s.step === 'go')) out.push({ step: 'disarm' });
  const connected = new Set(steps.slice(0, failed).filter((s) => s.step === 'connect').map((s) => s.resource));
  const disconnected = tried.flatMap((s) => (s.step === 'disconnect' ? [s.resource] : s.step === 'go' ? s.resources : []));
  for (const resource of disconnected) if (!connected.has(resource)) out.push({ step: 'connect', resource });
  return out;
}
