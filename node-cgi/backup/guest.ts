/**
 * What backups need to know about a guest, through the guests module:
 *
 *   etc/ramvm/vms/101.json                          config (disks[].file, disks[].format)
 *   var/lib/vz/images/101/vm-101-disk-0.qcow2       its disks
 *   run/ramvm/qemu/101.pid, 101.qmp, 101.status.qmp  a running guest's process and monitors
 */
import { readFileSync } from 'node:fs';
import { notFound } from '../lib/errors';
import { listVmConfigs, readVmConfig } from '../vm/config';
import { diskPath, vmFiles } from '../vm/files';
import { guestPid as vmPid, vmStatus } from '../vm/status';
import type { GuestInfo } from './schedule';

export interface GuestDisk {
  /** Absolute path of the image. */
  path: string;
  format: string;
}

export interface Guest {
  vmid: number;
  name: string | null;
  node: string;
  disks: GuestDisk[];
  /** The config file's text, stored as config.json in the backup. */
  configText: string;
}

export const qmpSocket = (vmid: number) => vmFiles(vmid).qmp;

export function readGuest(vmid: number): Guest {
  const cfg = readVmConfig(vmid);
  let configText: string;
  try {
    configText = readFileSync(vmFiles(vmid).config, 'utf8');
  } catch {
    throw notFound(`no guest with VMID ${vmid}`);
  }
  return {
    vmid, name: cfg.name ?? null, node: cfg.node, configText,
    disks: cfg.disks.map((d) => ({ path: diskPath(vmid, d), format: d.format })),
  };
}

/** The guest's QEMU pid when it runs, else null. */
export const guestPid = (vmid: number): number | null => vmPid(vmid).pid;

export async function guestStatus(vmid: number): Promise<GuestInfo['status']> {
  return (await vmStatus(vmid)).status;
}

/** QEMU's own run state ("running", "io-error", …) or "stopped". */
export async function qemuRunState(vmid: number): Promise<string> {
  const s = await vmStatus(vmid);
  return s.status === 'stopped' ? 'stopped' : s.qmpStatus ?? s.status;
}

/** The guests of the cluster config with the status of those on this node. */
export async function listGuests(node: string): Promise<GuestInfo[]> {
  const out: GuestInfo[] = [];
  for (const c of listVmConfigs()) {
    out.push({ vmid: c.vmid, name: c.name ?? null, node: c.node, status: c.node === node ? await guestStatus(c.vmid) : 'stopped' });
  }
  return out;
}
