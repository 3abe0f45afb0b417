/**
 * A guest's replicated disks around its QEMU: primary on this node before
 * QEMU opens /dev/drbdN, secondary after it ended (the peer can then take
 * over). Kept apart from guest.ts, which speaks to the cluster, so that the
 * root helper's bundle, which starts guests, stays small.
 */
import { drbdNodeStep } from './edge';

/** What this folder needs of a guest's config (vm/types.ts VmConfig, a layer above). */
export interface GuestDisks {
  disks: readonly { id: string; size: string; replicated?: true }[];
}
export interface Guest extends GuestDisks {
  vmid: number;
}

/** The disk index of "disk3" (3). */
export const diskIndexOf = (d: { id: string }): number => Number(d.id.slice(4));

/** Disk indexes of a guest's replicated disks. */
export const replicatedDisks = (cfg: GuestDisks): number[] => cfg.disks.filter((d) => d.replicated).map(diskIndexOf);

/** Make each replicated disk of a guest primary here (before its QEMU starts); a failure demotes the ones made primary. */
export async function promoteDisks(cfg: Guest): Promise<void> {
  const done: number[] = [];
  try {
    for (const disk of replicatedDisks(cfg)) {
      await drbdNodeStep('primary', cfg.vmid, disk);
      done.push(disk);
    }
  } catch (e) {
    await demoteDisks({ vmid: cfg.vmid, disks: cfg.disks.filter((d) => done.includes(diskIndexOf(d))) });
    throw e;
  }
}

/** Each replicated disk of a guest back to secondary (after its QEMU ended); failures are left for the next start to meet. */
export async function demoteDisks(cfg: Guest): Promise<void> {
  for (const disk of replicatedDisks(cfg)) await drbdNodeStep('secondary', cfg.vmid, disk).catch(() => undefined);
}

