/**
 * Backup mode: a node booted from a backup disk (its boot partition made
 * by a backup job, restore/backup-disk.ts; kernel parameter
 * ramvm.backup=<UUID>). Everything is in RAM; the backup filesystem is
 * mounted read-only (its device and disk set read-only too) and is the
 * directory storage "backupdisk", so the guests of every backup on it run
 * straight off it (POST /api/backup/<id>/boot: NICs unplugged first).
 * The node's set-up writes the state, the API reads it:
 *
 *   run/ramvm/backup-mode.json   { "storage": "backupdisk", "device": "/dev/sda3", "uuid": "0b6d…",
 *                                  "mount": "/mnt/backup", "since": 1795643300000 }
 *
 *   GET /api/restore/backup-mode
 *   → { active: true, storage, device, mount, readOnly: true,
 *       guests: [{ vmid: 101, name: "web", macs: ["52:54:00:…"], seen: [], warning: "…",
 *                  backups: [{ id: "backupdisk:101:20261125T220000Z", time, verified, size }] }] }
 *
 * `seen`: the guest's MAC addresses this node sees on its network now
 * (its ARP table: the original, or another copy, is up): a conflict the
 * moment the copy's network is plugged in.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from '../lib/paths';
import { readJson, writeJsonAtomic } from '../lib/store';
import { scanBackups } from '../backup/list';
import { parseMountInfo } from '../backup/target';
import { readBackupConfig } from './source';

/** The storage backup mode makes of the backup disk. */
export const BACKUP_MODE_STORAGE = 'backupdisk';
/** Where the node's set-up mounts it, read-only. */
export const BACKUP_MODE_MOUNT = '/mnt/backup';

export interface BackupModeState {
  storage: string;
  device: string;
  uuid: string;
  mount: string;
  since: number;
}

export interface BackupModeGuest {
  vmid: number;
  name: string;
  macs: string[];
  /** Its MACs seen on this node's network now, with the address seen. */
  seen: { mac: string; ip: string }[];
  warning: string;
  backups: { id: string; time: string; verified: boolean; size: number }[];
}

export type BackupModeView =
  | { active: false }
  | { active: true; storage: string; device: string; mount: string; readOnly: boolean; guests: BackupModeGuest[] };

export const backupModeFile = () => join(paths().run, 'backup-mode.json');

export function readBackupMode(): BackupModeState | null {
  return readJson<BackupModeState | null>(backupModeFile(), null);
}

export function writeBackupMode(s: BackupModeState): void {
  writeJsonAtomic(backupModeFile(), s);
}

/**
 * Whether the filesystem at `path` is mounted read-only, from
 * /proc/self/mountinfo (the 6th field holds the mount's own options):
 *
 *   "36 25 8:3 / /mnt/backup ro,relatime shared:1 - ext4 /dev/sda3 ro,norecovery" → true
 */
export function mountReadOnly(mountinfo: string, path: string): boolean {
  const lines = mountinfo.split('\n').filter((l) => l.split(' ')[4] === path);
  const m = parseMountInfo(lines.join('\n'));
  if (m.length === 0) return false;
  const opts = lines[lines.length - 1]!.split(' ')[5] ?? '';
  return opts.split(',').includes('ro');
}

/**
 * /proc/net/arp → the complete entries, MAC lower case:
 *
 *   "IP address  HW type  Flags  HW address  Mask  Device\n192.168.1.5  0x1  0x2  52:54:00:aa:bb:cc  *  vmbr0"
 *   → [{ ip: "192.168.1.5", mac: "52:54:00:aa:bb:cc" }]
 */
export function parseProcArp(text: string): { ip: string; mac: string }[] {
  return text.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 6 && f[2] !== '0x0' && /^[0-9a-f:]{17}$/i.test(f[3]!) && f[3] !== '00:00:00:00:00:00')
    .map((f) => ({ ip: f[0]!, mac: f[3]!.toLowerCase() }));
}

/** The warning a guest of the backup disk carries: what plugging its network in means. */
export function conflictWarning(vmid: number, macs: readonly string[], seen: readonly { mac: string; ip: string }[]): string {
  const now = seen.length > 0 ? ` ${seen.map((s) => `${s.mac} answers on this network now at ${s.ip}`).join('; ')}: the original (or another copy) is up, plugging the copy in conflicts at once.` : '';
  return `guest ${vmid} starts with its network unplugged: a copy has the IP address${macs.length ? ` and MAC ${macs.join(', ')}` : ''} of the original, so connect it only while the original is off.${now}`;
}

/** GET /api/restore/backup-mode: the backup disk's guests (those `shown`), each with its backups, newest first. */
export function backupModeView(shown: (vmid: number) => boolean, arp = readText('/proc/net/arp'), mountinfo = readText('/proc/self/mountinfo')): BackupModeView {
  const s = readBackupMode();
  if (!s) return { active: false };
  const neighbours = parseProcArp(arp);
  const byVmid = new Map<number, BackupModeGuest>();
  for (const b of scanBackups(s.mount, s.storage)) {
    const vmid = b.manifest.vmid;
    if (!shown(vmid)) continue;
    let g = byVmid.get(vmid);
    if (!g) {
      let macs: string[] = [];
      try {
        macs = readBackupConfig(b.dir, b.manifest).nics.map((n) => n.mac.toLowerCase());
      } catch {
        // a damaged config: the backup is listed, its run refused with the reason
      }
      const seen = neighbours.filter((n) => macs.includes(n.mac));
      g = { vmid, name: b.manifest.name ?? `guest ${vmid}`, macs, seen, warning: conflictWarning(vmid, macs, seen), backups: [] };
      byVmid.set(vmid, g);
    }
    g.backups.push({ id: b.entry.id, time: b.entry.time, verified: b.entry.verified, size: b.entry.size });
  }
  return {
    active: true, storage: s.storage, device: s.device, mount: s.mount, readOnly: mountReadOnly(mountinfo, s.mount),
    guests: [...byVmid.values()].sort((a, b) => a.vmid - b.vmid),
  };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
