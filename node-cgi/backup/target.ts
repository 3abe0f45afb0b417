/**
 * Opening a storage for a job. A directory is used as it is (and refused
 * when it does not exist, or must be a mount point and is not: a backup
 * never creates the folder of a share that is not there, on a RAM root
 * least of all); an external device is found by
 * its filesystem UUID or label, mounted on run/ramvm/backup-mnt/<name> for
 * the job and unmounted after. A device that is not there fails the job
 * before anything is written — the mount point is never written to unless
 * the device is mounted on it, so a backup never lands in the RAM root.
 *
 *   { type: "device", label: "BACKUP1" }
 *   → blkid -c /dev/null -o device -t LABEL=BACKUP1   → /dev/sdb1
 *   → mount -o noatime /dev/sdb1 /run/ramvm/backup-mnt/usb  … job …  umount /run/ramvm/backup-mnt/usb
 */
import { mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { internal, HttpError } from '../lib/errors';
import { run, runAllowFail } from '../lib/exec';
import { deviceMountPoint } from '../lib/paths';
import { takeLongLock } from './lock';
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

/** blkid's argv finding a filesystem by UUID or label, bypassing its cache. */
export function findDeviceArgs(c: Extract<StorageConfig, { type: 'device' }>): string[] {
  return ['blkid', '-c', '/dev/null', '-o', 'device', '-t', c.uuid ? `UUID=${c.uuid}` : `LABEL=${c.label}`];
}

export function mountArgs(c: Extract<StorageConfig, { type: 'device' }>, device: string, mountPoint: string): string[] {
  return ['mount', ...(c.fstype ? ['-t', c.fstype] : []), '-o', c.options ?? 'noatime', device, mountPoint];
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

const describe = (c: Extract<StorageConfig, { type: 'device' }>) => (c.uuid ? `UUID ${c.uuid}` : `label ${c.label}`);

export async function openStorage(s: StorageEntry, task: string, log: (l: string) => void): Promise<OpenStorage> {
  const c = s.config;
  if (c.type === 'dir') {
    const problem = dirProblem(c, dirFacts(c.path));
    if (problem) throw new HttpError('insufficient_storage', `storage ${s.name}: ${problem}; nothing was written`);
    mkdirSync(join(c.path, 'ramvm'), { recursive: true });
    return { name: s.name, dir: c.path, release: async () => undefined };
  }
  const release = await takeLongLock(`backup-storage-${s.name}`, task, DEVICE_WAIT_MS, (h) => log(`waiting for task ${h}, which uses storage ${s.name}`));
  try {
    const found = await runAllowFail(findDeviceArgs(c));
    const device = found.stdout.trim().split('\n')[0] ?? '';
    if (found.code !== 0 || !device.startsWith('/dev/')) {
      throw new HttpError('insufficient_storage', `storage ${s.name}: no device with filesystem ${describe(c)} is connected; nothing was written`);
    }
    const mp = deviceMountPoint(s.name);
    mkdirSync(mp, { recursive: true });
    const already = mountedAt(mp);
    if (already) {
      log(`storage ${s.name}: ${already.source} was left mounted at ${mp}; unmounting it first`);
      await run(['umount', mp]);
    }
    await run(mountArgs(c, device, mp));
    const now = mountedAt(mp);
    if (!now) throw internal(`storage ${s.name}: mount reported success but ${mp} is not mounted`);
    if (statSync(mp).dev === statSync(join(mp, '..')).dev) throw internal(`storage ${s.name}: ${mp} is still on the root filesystem`);
    log(`storage ${s.name}: mounted ${device} (${now.fstype}, ${describe(c)}) at ${mp}`);
    mkdirSync(join(mp, 'ramvm'), { recursive: true });
    return {
      name: s.name,
      dir: mp,
      release: async () => {
        try {
          await run(['sync', '-f', mp]);
          await unmount(mp);
          log(`storage ${s.name}: unmounted ${device}`);
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
    if (r.code === 0) break;
    if (i >= 10) throw new HttpError('exec_failed', `umount ${mp} failed: ${r.stderr.trim()}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
  try {
    rmdirSync(mp);
  } catch {
    // Left for the next job: an empty folder.
  }
}
