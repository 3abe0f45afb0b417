/**
 * The root helper's backup-device operations: the storage is looked up by
 * name in the node's storage.json (read as the node's user) and checked
 * again as the API checks it (backup/validate.ts parseStorage); only a
 * "device" storage is mounted, by backup/target.ts mountDevice, on its
 * mount point in the node's root-owned registry, with the node's user as
 * the owner of its ramvm/ folder.
 */
import { readFileSync } from 'node:fs';
import { conflict, notFound } from '../lib/errors';
import { paths } from '../lib/paths';
import type { NodeRecord } from '../lib/separation';
import { mountDevice, umountDevice, type MountedDevice } from '../backup/target';
import { parseStorage } from '../backup/validate';
import { asUser } from './trust';
import { bootBackupDisk, prepareBackupDisk, type BackupDiskAnswer, type BootBackupAnswer } from '../restore/backup-disk';

function deviceStorage(rec: NodeRecord, name: string) {
  const text = asUser(rec.cgi, () => {
    try {
      return readFileSync(paths().storages, 'utf8');
    } catch {
      return '{}';
    }
  });
  let stored: unknown;
  try {
    stored = (JSON.parse(text) as { storages?: Record<string, unknown> }).storages?.[name];
  } catch {
    throw conflict('the storage list is not JSON');
  }
  if (!stored || typeof stored !== 'object') throw notFound(`no storage named ${name}`);
  const c = parseStorage(name, stored as Record<string, unknown>);
  if (c.type !== 'device') throw conflict(`storage ${name} is a directory, not a device to mount`);
  return c;
}

export function prepareBackupDiskOf(rec: NodeRecord, name: string, disk: string): BackupDiskAnswer {
  return prepareBackupDisk(name, deviceStorage(rec, name), disk);
}

export function bootBackupDiskOf(rec: NodeRecord, name: string): BootBackupAnswer {
  deviceStorage(rec, name);
  return bootBackupDisk(name);
}

export function mountBackup(rec: NodeRecord, name: string): Promise<MountedDevice> {
  return mountDevice(name, deviceStorage(rec, name), rec.cgi);
}

/** Whatever is mounted on the storage's mount point (in the registry: only ever a backup device) comes off, the storage deleted meanwhile or not. */
export async function umountBackup(name: string): Promise<Record<string, never>> {
  await umountDevice(name);
  return {};
}
