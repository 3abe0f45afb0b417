/**
 * Opening a storage for a job. A directory is used as it is (and refused
 * when it does not exist, or must be a mount point and is not: a backup
 * never creates the folder of a share that is not there, on a RAM root
 * least of all); an external device is found by its filesystem UUID or
 * label, mounted for the job and unmounted after. A device that is not
 * there fails the job before anything is written — the mount point is
 * never written to unless the device is mounted on it, so a backup never
 * lands in the RAM root.
 *
 *   { type: "device", label: "BACKUP1" }
 *   → blkid -c /dev/null -o export -t LABEL=BACKUP1          → DEVNAME=/dev/sdb1, TYPE=ext4
 *   → mount -t ext4 -o noatime,nosuid,nodev,noexec /dev/sdb1 /run/ramvm-root/3f9c…/mnt/usb
 *   … job …  umount /run/ramvm-root/3f9c…/mnt/usb
 *
 * Mounting needs root: on a separated node (lib/separation.ts) the job asks
 * the root helper (mount-backup, umount-backup), which runs mountDevice
 * below with the storage it reads itself; the folder ramvm/ on the device
 * then belongs to the node's user (FAT-like filesystems are mounted as that
 * user's). The mount point lies in the node's root-owned registry, so the
 * node's user cannot turn it into a link to somewhere else.
 */
import { mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { internal, HttpError } from '../lib/errors';
import { run, runAllowFail } from '../lib/exec';
import { deviceMountPoint } from '../lib/paths';
import { rootCall, separation, type NodeUser } from '../lib/separation';
import { takeLongLock } from './lock';
import { checkedMountOptions, FSTYPES } from './validate';
import type { StorageConfig, StorageEntry } from './types';

/** How long a job waits for another job using the same device. */
export const DEVICE_WAIT_MS = 6 * 60 * 60 * 1000; // 6 h

export interface OpenStorage {
  name: string;
  /** The folder holding `ramvm/`. */
  dir: string;
  release(): Promise<void>;
}

/** Mount points of /proc/self/mountinfo, unescaped ("\040" → " "). */
export function parseMountInfo(text: string): { mountPoint: string; source: string; fstype: string }[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text.split('\n').filter(Boolean).map((line) => {
    const [left, right = ''] = line.split(' - ');
    const f = left!.split(' ');
    const r = right.split(' ');
    return { mountPoint: unescape(f[4] ?? ''), source: unescape(r[1] ?? ''), fstype: r[0] ?? '' };
  });
}

export function mountedAt(path: string): { source: string; fstype: string } | null {
  const m = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((e) => e.mountPoint === path);
  return m.length > 0 ? m[m.length - 1]! : null;
}

type DeviceConfig = Extract<StorageConfig, { type: 'device' }>;

/** blkid's argv finding a filesystem by UUID or label, bypassing its cache; its answer in `-o export` form. */
export function findDeviceArgs(c: DeviceConfig): string[] {
  return ['blkid', '-c', '/dev/null', '-o', 'export', '-t', c.uuid ? `UUID=${c.uuid}` : `LABEL=${c.label}`];
}

/**
 * `blkid -o export` → the devices it found, blank-line separated:
 *
 *   DEVNAME=/dev/sdb1\nLABEL=BACKUP1\nUUID=…\nTYPE=ext4\n\nDEVNAME=/dev/sdc1\n…
 *   → [{ device: "/dev/sdb1", fstype: "ext4" }, { device: "/dev/sdc1" }]
 */
export function parseBlkidExport(out: string): { device: string; fstype?: string }[] {
  return out.split(/\n\s*\n/).map((block) => {
    const v = Object.fromEntries(block.split('\n').map((l) => l.split('=', 2)).filter((kv) => kv.length === 2)) as Record<string, string>;
    return v.DEVNAME ? { device: v.DEVNAME, ...(v.TYPE ? { fstype: v.TYPE } : {}) } : null;
  }).filter((d): d is { device: string; fstype?: string } => d !== null);
}

/** Filesystems without Unix owners: the node's user owns every file through the mount options. */
const FOREIGN_FS = ['vfat', 'exfat', 'ntfs', 'ntfs3'];

/**
 * mount's argv for a found device: the storage's options (only those of
 * MOUNT_OPTIONS), the owner on FAT-like filesystems, and always nosuid,
 * nodev, noexec (last, so they win).
 *
 *   ({ label: "B", options: "noatime" }, { device: "/dev/sdb1", fstype: "vfat" }, mp, { uid: 998, gid: 998 })
 *   → mount -t vfat -o noatime,uid=998,gid=998,umask=0007,nosuid,nodev,noexec /dev/sdb1 mp
 */
export function mountArgs(c: DeviceConfig, found: { device: string; fstype?: string }, mountPoint: string, owner: Pick<NodeUser, 'uid' | 'gid'> | null): string[] {
  const fstype = c.fstype ?? found.fstype;
  if (!fstype || !FSTYPES.includes(fstype)) {
    throw new HttpError('conflict', `the filesystem of ${found.device} is ${fstype ?? 'unknown'}; a backup device may have ${FSTYPES.join(', ')}`);
  }
  if (!/^\/dev\/[A-Za-z0-9][A-Za-z0-9/_.:-]*$/.test(found.device) || found.device.includes('..')) throw internal(`blkid named ${JSON.stringify(found.device)}, not a device`);
  const opts = checkedMountOptions(c.options ?? 'noatime');
  if (owner && FOREIGN_FS.includes(fstype)) opts.push(`uid=${owner.uid}`, `gid=${owner.gid}`, 'umask=0007');
  opts.push('nosuid', 'nodev', 'noexec');
  return ['mount', '-t', fstype, '-o', opts.join(','), found.device, mountPoint];
}

const describe = (c: DeviceConfig) => (c.uuid ? `UUID ${c.uuid}` : `label ${c.label}`);

export interface MountedDevice {
  mountPoint: string;
  device: string;
  fstype: string;
  /** What was found and done first, for the job's log. */
  notes: string[];
}

/**
 * Find storage `name`'s device and mount it on its mount point; `owner`:
 * the node's user, who gets ramvm/ on it (null: this process's user keeps
 * it). Runs as root: the root helper's mount-backup, or a direct node's job
 * started by root.
 */
export async function mountDevice(name: string, c: DeviceConfig, owner: NodeUser | null): Promise<MountedDevice> {
  const found = parseBlkidExport((await runAllowFail(findDeviceArgs(c))).stdout)[0];
  if (!found) throw new HttpError('insufficient_storage', `storage ${name}: no device with filesystem ${describe(c)} is connected; nothing was written`);
  if (!statSync(found.device).isBlockDevice()) throw internal(`storage ${name}: ${found.device} is not a block device`);
  const mp = deviceMountPoint(name);
  const argv = mountArgs(c, found, mp, owner);
  const notes: string[] = [];
  try {
    mkdirSync(mp, { recursive: true, mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') throw new HttpError('conflict', `storage ${name}: mounting a backup device needs a node started as root`);
    throw e;
  }
  const already = mountedAt(mp);
  if (already) {
    notes.push(`${already.source} was left mounted at ${mp}; unmounting it first`);
    await run(['umount', mp]);
  }
  await run(argv);
  const now = mountedAt(mp);
  if (!now) throw internal(`storage ${name}: mount reported success but ${mp} is not mounted`);
  if (statSync(mp).dev === statSync(join(mp, '..')).dev) throw internal(`storage ${name}: ${mp} is still on the root filesystem`);
  const top = join(mp, 'ramvm');
  mkdirSync(top, { recursive: true, mode: 0o750 });
  // Backups written before the node's user existed belong to root: hand them over (-h: links themselves, never what they name).
  if (owner && !FOREIGN_FS.includes(now.fstype)) await run(['chown', '-R', '-h', `${owner.uid}:${owner.gid}`, top]);
  return { mountPoint: mp, device: found.device, fstype: now.fstype, notes };
}

/** Unmount storage `name`'s device (retrying while it is busy) and remove its mount point. */
export async function umountDevice(name: string): Promise<void> {
  const mp = deviceMountPoint(name);
  if (mountedAt(mp)) await unmount(mp);
  try {
    rmdirSync(mp);
  } catch {
    // Left for the next job: an empty folder, or none.
  }
}

type DirConfig = Extract<StorageConfig, { type: 'dir' }>;

/** What a directory storage's path is now: a folder, nothing, or something else. */
export interface DirFacts {
  kind: 'dir' | 'missing' | 'other';
  /** A filesystem is mounted there. */
  mounted: boolean;
}

/** Why a directory storage cannot take backups now, or null when it can. */
export function dirProblem(c: DirConfig, f: DirFacts): string | null {
  if (f.kind === 'missing') return `${c.path} does not exist (create it, or mount the filesystem there)`;
  if (f.kind === 'other') return `${c.path} is not a directory`;
  if (c.mountpoint && !f.mounted) return `${c.path} is not a mounted filesystem`;
  return null;
}

/** The facts of dirProblem, read now. */
export function dirFacts(path: string): DirFacts {
  let kind: DirFacts['kind'];
  try {
    kind = statSync(path).isDirectory() ? 'dir' : 'other';
  } catch {
    kind = 'missing';
  }
  return { kind, mounted: kind === 'dir' && mountedAt(path) !== null };
}

export async function openStorage(s: StorageEntry, task: string, log: (l: string) => void): Promise<OpenStorage> {
  const c = s.config;
  if (c.type === 'dir') {
    const problem = dirProblem(c, dirFacts(c.path));
    if (problem) throw new HttpError('insufficient_storage', `storage ${s.name}: ${problem}; nothing was written`);
    try {
      mkdirSync(join(c.path, 'ramvm'), { recursive: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
      const user = separation()?.cgi.user;
      throw new HttpError('insufficient_storage', `storage ${s.name}: the node's user${user ? ` ${user}` : ''} may not write in ${c.path}; nothing was written${user ? ` (as root: chown ${user}: ${c.path})` : ''}`);
    }
    return { name: s.name, dir: c.path, release: async () => undefined };
  }
  const release = await takeLongLock(`backup-storage-${s.name}`, task, DEVICE_WAIT_MS, (h) => log(`waiting for task ${h}, which uses storage ${s.name}`));
  try {
    const sep = separation();
    const m = sep ? await rootCall<MountedDevice>(sep, 'mount-backup', [s.name]) : await mountDevice(s.name, c, null);
    for (const n of m.notes) log(`storage ${s.name}: ${n}`);
    log(`storage ${s.name}: mounted ${m.device} (${m.fstype}, ${describe(c)}) at ${m.mountPoint}`);
    return {
      name: s.name,
      dir: m.mountPoint,
      release: async () => {
        try {
          await run(['sync', '-f', m.mountPoint]);
          if (sep) await rootCall(sep, 'umount-backup', [s.name]);
          else await umountDevice(s.name);
          log(`storage ${s.name}: unmounted ${m.device}`);
        } finally {
          release();
        }
      },
    };
  } catch (e) {
    release();
    throw e;
  }
}

async function unmount(mp: string): Promise<void> {
  for (let i = 0; ; i++) {
    const r = await runAllowFail(['umount', mp]);
    if (r.code === 0) return;
    if (i >= 10) {
      const e = new HttpError('exec_failed', `umount ${mp} failed`, r.stderr.trim());
      e.said = r.stderr.trim().split('\n').pop() ?? '';
      throw e;
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
}
