/**
 * What backups need to know about a guest, read from the guest's files:
 *
 *   etc/ramvm/vms/101.json                          config (disks[].file, disks[].format)
 *   var/lib/vz/images/101/vm-101-disk-0.qcow2       its disks
 *   run/ramvm/qemu/101.pid, 101.qmp, 101.status.qmp  a running guest's process and monitors
 *
 * A guest runs when its pidfile names a live QEMU process whose command
 * line carries the guest's QMP socket (a pid left by a crash may belong to
 * another program by now).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { notFound } from '../lib/errors';
import { paths } from '../lib/paths';
import { withQmp } from '../qemu/qmp';
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

interface StoredConfig {
  vmid: number;
  name?: string;
  node?: string;
  disks?: { file?: string; format?: string }[];
}

export const guestConfigFile = (vmid: number) => join(paths().vms, `${vmid}.json`);
export const qmpSocket = (vmid: number) => join(paths().qemuRun, `${vmid}.qmp`);
export const statusSocket = (vmid: number) => join(paths().qemuRun, `${vmid}.status.qmp`);
const pidFile = (vmid: number) => join(paths().qemuRun, `${vmid}.pid`);

export function readGuest(vmid: number, node: string): Guest {
  let text: string;
  try {
    text = readFileSync(guestConfigFile(vmid), 'utf8');
  } catch {
    throw notFound(`no such guest: ${vmid}`);
  }
  const c = JSON.parse(text) as StoredConfig;
  const dir = join(paths().images, String(vmid));
  const disks = (c.disks ?? []).map((d, i) => {
    const file = d.file ?? `vm-${vmid}-disk-${i}.${d.format ?? 'qcow2'}`;
    if (!/^vm-\d+-disk-\d+\.(qcow2|raw)$/.test(file)) throw new Error(`guest ${vmid}: unexpected disk file name ${file}`);
    return { path: join(dir, file), format: d.format ?? (file.endsWith('.raw') ? 'raw' : 'qcow2') };
  });
  return { vmid, name: c.name ?? null, node: c.node ?? node, disks, configText: text };
}

/** The guest's QEMU pid when it runs, else null. */
export function guestPid(vmid: number): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(vmid), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('qemu') && cmd.includes(qmpSocket(vmid)) ? pid : null;
  } catch {
    return null;
  }
}

/** QEMU's run state ("running", "paused", "io-error", …) from the status socket, or "stopped". */
export async function qemuRunState(vmid: number): Promise<string> {
  if (guestPid(vmid) === null) return 'stopped';
  const r = await withQmp(statusSocket(vmid), (q) => q.execute<{ status: string }>('query-status'));
  return r.status;
}

export async function guestStatus(vmid: number): Promise<GuestInfo['status']> {
  const s = await qemuRunState(vmid);
  if (s === 'stopped') return 'stopped';
  return s === 'running' ? 'running' : 'paused';
}

/** All guests of this node with their status. */
export async function listGuests(node: string): Promise<GuestInfo[]> {
  let names: string[];
  try {
    names = (await import('node:fs')).readdirSync(paths().vms).filter((f) => /^\d+\.json$/.test(f));
  } catch {
    names = [];
  }
  const out: GuestInfo[] = [];
  for (const f of names) {
    const vmid = Number(f.slice(0, -5));
    let g: Guest;
    try {
      g = readGuest(vmid, node);
    } catch {
      continue;
    }
    out.push({ vmid, name: g.name, node: g.node, status: await guestStatus(vmid).catch(() => 'running' as const) });
  }
  return out.sort((a, b) => a.vmid - b.vmid);
}
