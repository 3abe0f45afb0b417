/**
 * Live migration of a guest whose disks are replicated with DRBD between
 * its node and the target: no disk is copied, only RAM moves. The target
 * opens its own replica, primary for the move alongside the source (two
 * primaries allowed for these minutes only); once the guest runs there the
 * source's side goes back to Secondary and two primaries are forbidden
 * again. As data (pure), then the few edge helpers both ends share:
 *
 *   replicatedMovePlan({ vmid: 101, node: "n1", target: "n2", online: true,
 *     disks: [{ id: "disk0", replica: vm-101-disk-0 on n1/n2, dev: Connected UpToDate/UpToDate Primary }] })
 *   → { resources: [{ id: "disk0", resource: "vm-101-disk-0", minor: 0 }], steps: [
 *       "source: allow two primaries of vm-101-disk-0",
 *       "target: allow two primaries of vm-101-disk-0", "target: primary vm-101-disk-0",
 *       "target: QEMU waits for the guest (-incoming defer), its disks /dev/drbdN",
 *       "source: RAM moved (migrate), the target runs the guest (go → cont)",
 *       "source: QEMU quits; secondary vm-101-disk-0", "source: forbid two primaries of vm-101-disk-0",
 *       "target: forbid two primaries of vm-101-disk-0" ] }
 *
 * null for a guest without replicated disks (the copying migration moves
 * it); 409 naming every reason for one that cannot move this way: a disk
 * not replicated, a replica whose peer is not the target, one that is not
 * Connected and UpToDate on both sides, a move that is not live.
 */
import { conflict } from '../lib/errors';
import { replicaConfigFile } from '../lib/paths';
import { writeJsonAtomic } from '../lib/store';
import type { VmConfig } from '../vm';
import { replicaStep, type LocalReplica, type ReplicaStep } from '../drbd/local';
import type { DrbdDeviceState } from '../drbd/proc';
import { peerOf, replicaProblem } from '../drbd/replica';

export interface ReplicatedMoveFacts {
  vmid: number;
  node: string;
  target: string;
  online: boolean;
  disks: readonly { id: string; replica: Pick<LocalReplica, 'name' | 'minor' | 'hosts'> | null; dev: DrbdDeviceState | undefined }[];
}

export interface MovingReplica {
  id: string;
  resource: string;
  minor: number;
}

export interface ReplicatedMove {
  resources: MovingReplica[];
  /** What happens, in order, for the task's log. */
  steps: string[];
}

export function replicatedMovePlan(f: ReplicatedMoveFacts): ReplicatedMove | null {
  if (!f.disks.some((d) => d.replica)) return null;
  const problems: string[] = [];
  if (!f.online) problems.push(`a replicated guest moves only live: running, with "online": true`);
  for (const d of f.disks) {
    if (!d.replica) {
      problems.push(`${d.id} is not replicated: a guest with replicated disks moves only if all its disks are`);
      continue;
    }
    let peer: string;
    try {
      peer = peerOf(d.replica, f.node);
    } catch (e) {
      problems.push((e as Error).message);
      continue;
    }
    if (peer !== f.target) problems.push(`${d.replica.name} is replicated to node ${peer}, not to ${f.target}: the guest can move only to its replica`);
    const p = replicaProblem(d.dev, d.replica.name);
    if (p) problems.push(p);
    else if (d.dev?.role !== 'Primary') problems.push(`${d.replica.name} is ${d.dev?.role ?? 'unknown'} here, not Primary`);
  }
  if (problems.length) throw conflict(`live migration of replicated guest ${f.vmid} to ${f.target} refused: ${problems.join('; ')}`);
  const resources = f.disks.map((d) => ({ id: d.id, resource: d.replica!.name, minor: d.replica!.minor }));
  const each = (fmt: (r: string) => string) => resources.map((r) => fmt(r.resource));
  return {
    resources,
    steps: [
      ...each((r) => `source: allow two primaries of ${r}`),
      ...each((r) => `target: allow two primaries of ${r}`),
      ...each((r) => `target: primary ${r}`),
      `target: QEMU waits for the guest (-incoming defer), its disks ${resources.map((r) => `/dev/drbd${r.minor}`).join(', ')}`,
      'source: RAM moved (migrate), the target runs the guest (go → cont)',
      `source: QEMU quits; ${each((r) => `secondary ${r}`).join(', ')}`,
      ...each((r) => `source: forbid two primaries of ${r}`),
      ...each((r) => `target: forbid two primaries of ${r}`),
    ],
  };
}

/**
 * The files of the guest's images folder that stay on the source after the
 * move: each replica's backing file and record ("vm-101-disk-0.drbd",
 * "vm-101-disk-0.drbd.json"), the target's peer side from now on.
 */
export function replicaFilesKept(resources: readonly Pick<MovingReplica, 'resource'>[]): string[] {
  return resources.flatMap((r) => [`${r.resource}.drbd`, `${r.resource}.drbd.json`]);
}

/**
 * The source of a replicated move is the guest's peer from now on: it keeps
 * the guest's config, the guest on `target`, as the guest's node shares it
 * at each change (drbd/guest.ts shareGuestConfig), so a failover to this
 * node finds the config it starts. Written after the source's own files
 * went (they are the guest's, which lives on `target` now).
 */
export function keepConfigAsPeer(cfg: VmConfig, target: string): void {
  writeJsonAtomic(replicaConfigFile(cfg.vmid), { ...cfg, node: target }, 0o640);
}

/** Each resource through `step`, in order. */
export async function eachReplica(resources: readonly Pick<MovingReplica, 'resource'>[], step: ReplicaStep): Promise<void> {
  for (const r of resources) await replicaStep(step, r.resource);
}

/** What one end undoes after a move that failed: Secondary (`demote`: the target), one primary again; each tried, failures listed. */
export async function undoReplicated(resources: readonly MovingReplica[], demote: boolean): Promise<string[]> {
  const failed: string[] = [];
  for (const r of resources) {
    for (const step of [...(demote ? ['secondary' as const] : []), 'one-primary' as const]) {
      try {
        await replicaStep(step, r.resource);
      } catch (e) {
        failed.push(`${step} ${r.resource}: ${(e as Error).message}`);
      }
    }
  }
  return failed;
}
