/**
 * Claiming a VMID for a guest being restored or run from a backup, and
 * cleaning up what a dead restore left.
 *
 * A claim is the guest's disk folder, made under the node-wide lock
 * "vm-create" (vm claimVmid, as creating a guest does), holding an owner
 * file until the config is written:
 *
 *   var/lib/vz/images/105/.restore-owner   {"pid": 4242, "task": "2026…-restore-vms-105-a1b2c3"}
 *
 * A folder without a config whose owner process is gone was left by a
 * restore that died (kill -9, reboot); the next claim removes it.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestImagesDir, paths } from '../lib/paths';
import { processAlive } from '../lib/proc';
import { claimVmid as claimFreeVmid, dropClaim, findVmConfig } from '../vm';

export const OWNER_FILE = '.restore-owner';

/** Disk folders of dead claims: no config, and an owner that is gone. Returns the VMIDs removed. */
export function cleanDeadClaims(): number[] {
  let names: string[];
  try {
    names = readdirSync(paths().images).filter((n) => /^[0-9]+$/.test(n));
  } catch {
    return [];
  }
  const removed: number[] = [];
  for (const n of names) {
    const vmid = Number(n);
    let owner: { pid?: number; task?: string };
    try {
      owner = JSON.parse(readFileSync(join(guestImagesDir(vmid), OWNER_FILE), 'utf8'));
    } catch {
      continue;
    }
    if (findVmConfig(vmid)) continue;
    if (owner.pid && processAlive(owner.pid, owner.task || undefined)) continue;
    rmSync(guestImagesDir(vmid), { recursive: true, force: true });
    removed.push(vmid);
  }
  return removed;
}

/**
 * Claim `wanted` (409 when in use) or the next free VMID, as creating a
 * guest does (vm claimVmid), and mark the claim with its owner: `task`
 * when a task claims ("" for a CGI, whose pid alone says it lives).
 */
export function claimVmid(wanted: number | undefined, task: string): number {
  cleanDeadClaims();
  const vmid = claimFreeVmid(wanted);
  writeFileSync(join(guestImagesDir(vmid), OWNER_FILE), JSON.stringify({ pid: process.pid, task }));
  return vmid;
}

/** The config is written: the folder is the guest's now. */
export function settleClaim(vmid: number): void {
  rmSync(join(guestImagesDir(vmid), OWNER_FILE), { force: true });
}

export { dropClaim };
