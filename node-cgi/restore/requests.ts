/**
 * Requests on restores as data: each parser takes what a client sent and
 * returns what to do, or throws 400 "invalid" naming the field. Pure; the
 * handler then checks the caller's privileges on what it names and acts.
 *
 *   parseRestore({ force: true }, 101)          → { vmid: 101, force: true }     over the guest the backup is of
 *   parseBoot({ live: true, bwlimit: 50 })      → { live: true, speed: 52428800, force: false }
 *   parseMedium({ image: null })                → { image: null }                 no rescue image
 */
import { invalid } from '../lib/errors';
import { checkedBandwidth, checkedName, checkedVmid, only, optionalBool } from '../lib/validate';
import { BOOT_CHECK_DEFAULT_S, checkedSeconds } from './settings';

/** The one storage of guests' disks on a node: var/lib/vz/images (as `local` holds them in the original). */
export const DISK_STORAGE = 'local';

/** POST /api/backup/<id>/restore {vmid?, storage?, force?}: as `backupVmid`, the guest it was taken of, unless told. */
export function parseRestore(body: Record<string, unknown>, backupVmid: number): { vmid: number; force: boolean } {
  only(body, ['vmid', 'storage', 'force']);
  if ((body.storage ?? DISK_STORAGE) !== DISK_STORAGE) {
    throw invalid('storage', `guests' disks on this node live in storage "${DISK_STORAGE}" (var/lib/vz/images); the other storages hold backups`);
  }
  const force = optionalBool(body.force, 'force');
  return { vmid: body.vmid === undefined ? backupVmid : checkedVmid(body.vmid), force };
}

export interface BootRequest {
  /** The VMID of the temporary guest; the next free one when absent. */
  vmid?: number;
  /** Start a live restore at once. */
  live: boolean;
  /** Its speed, bytes/s; 0 = unlimited. */
  speed: number;
  /** Run a backup that failed its last verification. */
  force: boolean;
}

/** POST /api/backup/<id>/boot {vmid?, live?, bwlimit? (MiB/s), force?} */
export function parseBoot(body: Record<string, unknown>): BootRequest {
  only(body, ['vmid', 'live', 'bwlimit', 'force']);
  const vmid = body.vmid === undefined ? undefined : checkedVmid(body.vmid);
  const live = optionalBool(body.live, 'live');
  const speed = checkedBandwidth(body.bwlimit);
  return { ...(vmid !== undefined ? { vmid } : {}), live, speed, force: optionalBool(body.force, 'force') };
}

/** POST /api/backup/<id>/bootcheck {seconds?} */
export function parseBootCheckRun(body: Record<string, unknown>): { seconds: number } {
  only(body, ['seconds']);
  return { seconds: body.seconds === undefined ? BOOT_CHECK_DEFAULT_S : checkedSeconds(body.seconds) };
}

/** POST /api/restore/<vmid>/link {up} */
export function parseLinks(body: Record<string, unknown>): { up: boolean } {
  only(body, ['up']);
  if (typeof body.up !== 'boolean') throw invalid('up', 'is required: true connects the network cards, false unplugs them');
  return { up: body.up };
}

/** POST /api/restore/<vmid>/keep {bwlimit? (MiB/s)} */
export function parseKeep(body: Record<string, unknown>): { speed: number } {
  only(body, ['bwlimit']);
  return { speed: checkedBandwidth(body.bwlimit) };
}

/** PUT /api/restore/medium {image}: an ISO name (whether the library has it, the settings check), or null for none. */
export function parseMedium(body: Record<string, unknown>): { image: string | null } {
  only(body, ['image']);
  if (!('image' in body)) throw invalid('image', 'is required: an ISO image of the library, or null');
  return { image: body.image === null ? null : checkedName(body.image, 'image', 200) };
}
