/**
 * What backups need of a guest, through the guests module (vm/):
 *
 *   etc/ramvm/vms/101.json                          config (disks[].file, disks[].format)
 *   var/lib/vz/images/101/vm-101-disk-0.qcow2       its disks
 *   run/ramvm/qemu/101.pid, 101.qmp                 a running guest's process and monitor
 *
 * and stop mode's shutdown and start: the ACPI power button, a wait of up
 * to the timeout, then a hard stop (SIGTERM: QEMU flushes the disks); start
 * as `POST /api/vm/<vmid>/start`.
 */
import { readFileSync } from 'node:fs';
import { notFound } from '../lib/errors';
import { diskPath, findGuest, guestOf, listVmConfigs, openGuest, shutdownVm, startVm, stopVm, vmStatus, waitStopped, type Guest } from '../vm';
import type { GuestInfo } from './schedule';

export interface GuestDisk {
  /** Absolute path of the image. */
  path: string;
  format: string;
}

/** A guest as a backup takes it. */
export interface BackupGuest {
  /** The guest's handle: config, files, process. */
  handle: Guest;
  vmid: number;
  name: string | null;
  node: string;
  disks: GuestDisk[];
  /** The config file's text, stored as config.json in the backup. */
  configText: string;
}

export function readGuest(vmid: number): BackupGuest {
  const g = openGuest(vmid);
  let configText: string;
  try {
    configText = readFileSync(g.files.config, 'utf8');
  } catch {
    throw notFound(`no guest with VMID ${vmid}`);
  }
  return {
    handle: g, vmid, name: g.config.name ?? null, node: g.node, configText,
    disks: g.config.disks.map((d) => ({ path: diskPath(vmid, d), format: d.format })),
  };
}

export async function guestStatus(g: Guest): Promise<GuestInfo['status']> {
  return (await vmStatus(g)).status;
}

/** The guests of the cluster config with the status of those on this node. */
export async function listGuests(node: string): Promise<GuestInfo[]> {
  const out: GuestInfo[] = [];
  for (const c of listVmConfigs()) {
    out.push({ vmid: c.vmid, name: c.name ?? null, node: c.node, status: c.node === node ? await guestStatus(guestOf(c)) : 'stopped' });
  }
  return out;
}

/** Whether the guest's QEMU runs now (false when it has no config any more). */
export function guestRunning(vmid: number): boolean {
  return (findGuest(vmid)?.pid ?? null) !== null;
}

/** Start and stop of a guest, for stop mode. */
export interface GuestLifecycle {
  /** ACPI shutdown, then a hard stop after `timeoutMs`; resolves when QEMU is gone. */
  shutdown(vmid: number, timeoutMs: number, log: (l: string) => void): Promise<void>;
  start(vmid: number): Promise<void>;
}

export const lifecycle: GuestLifecycle = {
  async shutdown(vmid, timeoutMs, log) {
    const g = openGuest(vmid);
    if (g.pid === null) return;
    await shutdownVm(g).catch((e) => log(`ACPI shutdown of guest ${vmid} refused: ${(e as Error).message}`));
    if (await waitStopped(g, timeoutMs)) return;
    log(`guest ${vmid} did not power off within ${Math.round(timeoutMs / 1000)} s: stopping it`);
    await stopVm(g);
  },
  async start(vmid) {
    await startVm(openGuest(vmid));
  },
};
