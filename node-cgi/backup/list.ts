/**
 * The backups on the storages. A directory storage is read directly; an
 * external device only while a job has it mounted, otherwise from the
 * catalog written at the end of the device's last job:
 *
 *   etc/ramvm/backup/catalog-<storage>.json  { "time": 1795643300000, "backups": [BackupEntry, …] }
 *
 * Partial folders are never listed: a backup exists only once it was read
 * back and renamed.
 */
import { readdirSync, readFileSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { conflict, notFound } from '../lib/errors';
import { catalogFile, deviceMountPoint } from '../lib/paths';
import { readJson, writeJsonAtomic } from '../lib/store';
import { BACKUP_ROOT, DELETING_PREFIX, MANIFEST_FILE, backupEntry, parseManifest, parseStamp, type BackupId } from './manifest';
import { getStorage } from './config';
import { dirFacts, dirProblem, mountedAt, type OpenStorage } from './target';
import type { BackupEntry, BackupManifest, ListedBackup, StorageEntry, StorageView } from './types';

export interface StoredBackup {
  entry: BackupEntry;
  manifest: BackupManifest;
  dir: string;
}

/** Final backups under `dir` (the folder holding ramvm/), newest first. */
export function scanBackups(dir: string, storage: string, vmid?: number): StoredBackup[] {
  const root = join(dir, BACKUP_ROOT);
  let vmids: string[];
  try {
    vmids = readdirSync(root).filter((n) => /^[0-9]+$/.test(n) && (vmid === undefined || Number(n) === vmid));
  } catch {
    return [];
  }
  const out: StoredBackup[] = [];
  for (const v of vmids) {
    let stamps: string[];
    try {
      stamps = readdirSync(join(root, v)).filter((n) => parseStamp(n) !== null);
    } catch {
      continue;
    }
    for (const s of stamps) {
      const bdir = join(root, v, s);
      try {
        const manifest = parseManifest(readFileSync(join(bdir, MANIFEST_FILE), 'utf8'));
        out.push({ entry: backupEntry(manifest, storage), manifest, dir: bdir });
      } catch {
        // A folder without a readable manifest is not a backup.
      }
    }
  }
  return out.sort((a, b) => b.manifest.start - a.manifest.start || b.entry.id.localeCompare(a.entry.id));
}

/** The folder holding ramvm/ when it can be read now, else null (device not mounted). */
export function readableDir(s: StorageEntry): string | null {
  if (s.config.type === 'dir') return s.config.path;
  const mp = deviceMountPoint(s.name);
  return mountedAt(mp) ? mp : null;
}

/**
 * A storage for GET /api/storage: `online` when a directory storage exists
 * (and is mounted where it must be: else `problem` says why not) or a
 * device is mounted now; its space when it can be read.
 */
export function storageView(s: StorageEntry): StorageView {
  const problem = s.config.type === 'dir' ? dirProblem(s.config, dirFacts(s.config.path)) : null;
  const dir = problem === null ? readableDir(s) : null;
  let usage = {};
  if (dir) {
    try {
      const f = statfsSync(dir);
      usage = { total: f.blocks * f.bsize, avail: f.bavail * f.bsize };
    } catch {
      usage = {};
    }
  }
  return { name: s.name, ...s.config, builtin: s.builtin, online: dir !== null, ...(problem ? { problem } : {}), ...usage };
}

/** Backups of one storage; for an unmounted device, its catalog (`offline: true`). */
export function listBackups(s: StorageEntry, vmid?: number): Omit<ListedBackup, 'node'>[] {
  const dir = readableDir(s);
  if (dir) return scanBackups(dir, s.name, vmid).map((b) => b.entry);
  const cat = readJson<{ backups: BackupEntry[] }>(catalogFile(s.name), { backups: [] });
  return cat.backups.filter((b) => vmid === undefined || b.vmid === vmid).map((b) => ({ ...b, offline: true }));
}

/** Remember what a device holds, for listing it while it is unplugged. */
export function writeCatalog(s: StorageEntry, dir: string): void {
  if (s.config.type !== 'device') return;
  writeJsonAtomic(catalogFile(s.name), { time: Date.now(), backups: scanBackups(dir, s.name).map((b) => b.entry) });
}

/** The end of a task's use of a storage: its catalog written (devices), then released (unmounted). */
export async function closeStorage(s: StorageEntry, open: OpenStorage, log: (l: string) => void): Promise<void> {
  try {
    writeCatalog(s, open.dir);
  } catch (e) {
    log(`catalog of ${s.name} not written: ${(e as Error).message}`);
  }
  await open.release();
}

/** The backup `id` under an open storage folder; 404 when there is none. */
export function backupIn(dir: string, storage: string, id: BackupId): StoredBackup {
  const b = scanBackups(dir, storage, id.vmid).find((x) => x.manifest.stamp === id.stamp);
  if (!b) throw notFound(`no such backup: ${storage}:${id.vmid}:${id.stamp}`);
  return b;
}

/** A backup readable now, with its storage; 409 when its device is not connected, 404 when there is no such backup. */
export function findBackup(id: BackupId): { storage: StorageEntry; b: StoredBackup } {
  const storage = getStorage(id.storage);
  const dir = readableDir(storage);
  if (!dir) throw conflict(`storage ${id.storage} is an external device that is not connected`);
  return { storage, b: backupIn(dir, storage.name, id) };
}

/** Remove a backup: renamed first, so a half-removed folder is never taken for a backup (cleanPartials removes what a crash leaves). */
export function removeBackup(b: StoredBackup): void {
  const grave = join(dirname(b.dir), `${DELETING_PREFIX}${b.manifest.stamp}`);
  renameSync(b.dir, grave);
  rmSync(grave, { recursive: true, force: true });
}

/** DELETE /api/backup/<id>: only on directory storages (a device's backups go by its job's retention). */
export function deleteBackup(storage: StorageEntry, b: StoredBackup): void {
  if (storage.config.type !== 'dir') throw conflict('backups on external devices are removed by their job\'s retention');
  removeBackup(b);
}
