/**
 * Finding a backup to restore from, checking it against its manifest, and
 * the facts about this node the restore plans take.
 *
 *   "local:101:20261125T220000Z" → <storage>/ramvm/101/20261125T220000Z/
 *       manifest.json   files: [{ name: "config.json", size, sha256 }, { name: "vm-101-disk-0.qcow2", … }, …]
 *       config.json     the guest's config (parsed by plan.ts)
 *
 * A CGI (run from backup, boot check settings) reads backups only where they
 * can be read now: directory storages. A task (restore, boot check) opens
 * the storage the way backup jobs do, mounting an external device for its
 * length.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { internal, conflict } from '../lib/errors';
import { nodeName, paths } from '../lib/paths';
import { getStorage } from '../backup/config';
import { backupIn, readableDir, type StoredBackup } from '../backup/list';
import { CONFIG_FILE, backupId, compareSums, parseBackupId } from '../backup/manifest';
import { openStorage } from '../backup/target';
import { sumFile } from '../backup/verify';
import type { BackupManifest, FileSum, StorageEntry } from '../backup/types';
import { isoNames } from '../iso/library';
import { directIoSupported, guestOf, listVmConfigs, randomMac } from '../vm';
import { parseBackupConfig, type BackupSource, type NodeFacts } from './plan';

export interface FoundBackup extends BackupSource {
  storage: StorageEntry;
  stored: StoredBackup;
}

/** SHA-256 of a small file, read at once. */
function sumSmall(dir: string, name: string): FileSum {
  const buf = readFileSync(join(dir, name));
  return { name, size: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
}

/** config.json of a backup, checked against the manifest's SHA-256 first. */
export function readBackupConfig(dir: string, m: BackupManifest): BackupSource['config'] {
  const want = m.files.filter((f) => f.name === CONFIG_FILE);
  if (want.length !== 1) throw internal('the backup\'s manifest lists no config.json');
  let got: FileSum;
  try {
    got = sumSmall(dir, CONFIG_FILE);
  } catch {
    throw internal('config.json of the backup is missing');
  }
  const problems = compareSums(want, [got]);
  if (problems.length > 0) throw internal(`the backup is damaged: ${problems.join('; ')}`);
  return parseBackupConfig(readFileSync(join(dir, CONFIG_FILE), 'utf8'));
}

function source(storage: StorageEntry, stored: StoredBackup): FoundBackup {
  const id = backupId({ storage: storage.name, vmid: stored.manifest.vmid, stamp: stored.manifest.stamp });
  return { id, dir: stored.dir, manifest: stored.manifest, config: readBackupConfig(stored.dir, stored.manifest), storage, stored };
}

/**
 * A backup readable now (directory storage), for a CGI. The disks' sizes
 * are checked against the manifest (cheap); their SHA-256 is not read here.
 */
export function findBackupNow(idText: string): FoundBackup {
  const id = parseBackupId(idText);
  const storage = getStorage(id.storage);
  if (storage.config.type !== 'dir') {
    throw conflict(`backup ${idText} is on the external device ${storage.name}, which is mounted only while a job runs; restore it instead (POST /api/backup/<id>/restore)`);
  }
  const dir = readableDir(storage);
  if (!dir) throw conflict(`storage ${storage.name} cannot be read now`);
  const found = source(storage, backupIn(dir, storage.name, id));
  for (const f of found.manifest.files) {
    let size = -1;
    try {
      size = statSync(join(found.dir, f.name)).size;
    } catch {
      // missing: reported below
    }
    if (size !== f.size) throw conflict(`backup ${found.id} is damaged: ${f.name} ${size < 0 ? 'is missing' : `has ${size} bytes, the manifest says ${f.size}`}`);
  }
  return found;
}

export interface OpenBackup extends FoundBackup {
  release(): Promise<void>;
}

/** Open the backup's storage for a task (mounting an external device) and find the backup in it. */
export async function openBackup(idText: string, task: string, log: (l: string) => void): Promise<OpenBackup> {
  const id = parseBackupId(idText);
  const storage = getStorage(id.storage);
  const open = await openStorage(storage, task, log);
  try {
    return { ...source(storage, backupIn(open.dir, storage.name, id)), release: open.release };
  } catch (e) {
    await open.release();
    throw e;
  }
}

/**
 * Read every file the manifest lists and compare its SHA-256; one line per
 * problem. `progress(done, total)` in bytes.
 */
export async function checkSums(dir: string, m: BackupManifest, progress: (done: number, total: number) => void): Promise<string[]> {
  const total = m.files.reduce((s, f) => s + f.size, 0);
  let done = 0;
  const got: FileSum[] = [];
  for (const f of m.files) {
    try {
      got.push(await sumFile(dir, f.name));
    } catch {
      // missing: compareSums says so
    }
    done += f.size;
    progress(done, total);
  }
  return compareSums(m.files, got);
}

/** The node as the restore plans see it: its guests, ISO images and disk folder. */
export function nodeFacts(now = Date.now()): NodeFacts {
  const guests = new Map<number, { name: string; macs: string[]; running: boolean; disks: string[] }>();
  for (const c of listVmConfigs()) {
    guests.set(c.vmid, { name: c.name, macs: c.nics.map((n) => n.mac), running: guestOf(c).pid !== null, disks: c.disks.map((d) => d.file) });
  }
  return { node: nodeName(), guests, isos: isoNames(), directIo: directIoSupported(paths().images), newMac: randomMac, now };
}
