/**
 * The bootable backup medium: the rescue image of the ISO library, copied
 * by each backup job onto its storage, so the backup disk carries the
 * system that boots a host and runs the guests straight off the backups.
 *
 *   <storage>/ramvm/rescue/ramvm-rescue.iso
 *   <storage>/ramvm/rescue/rescue.json   { "name": "ramvm-rescue.iso", "size": 73400320,
 *                                          "sha256": "…", "copied": 1795643300000 }
 *
 * Copied once: a job whose storage already holds an image with the
 * library's SHA-256 copies nothing; a changed image (or another name) is
 * copied again and the old one removed. The copy goes to a partial name,
 * is read back and compared, then renamed.
 */
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { internal } from '../lib/errors';
import { isoFile, paths } from '../lib/paths';
import { fsyncPath, readJson, writeJsonAtomic } from '../lib/store';
import { BACKUP_ROOT } from '../backup/manifest';
import { sumFile } from '../backup/verify';

export const RESCUE_DIR = 'rescue';
export const RESCUE_STATE = 'rescue.json';
const PARTIAL = '.partial-';

export interface RescueState {
  name: string;
  size: number;
  sha256: string;
  copied: number;
}

export const rescueDir = (storageDir: string) => join(storageDir, BACKUP_ROOT, RESCUE_DIR);

/** What a storage holds: null when no rescue image was copied there. */
export function readRescueState(storageDir: string): RescueState | null {
  return readJson<RescueState | null>(join(rescueDir(storageDir), RESCUE_STATE), null);
}

/** Whether the storage's copy is the library's image (name, size and SHA-256; the file is there). */
export function upToDate(state: RescueState | null, want: { name: string; size: number; sha256: string }, sizeOnStorage: number | null): boolean {
  return !!state && state.name === want.name && state.sha256 === want.sha256 && state.size === want.size && sizeOnStorage === want.size;
}

/** Copy the rescue image `name` to the storage unless it is there already; true when copied. */
export async function copyRescueImage(name: string, storageDir: string, log: (l: string) => void): Promise<boolean> {
  let want;
  try {
    want = await sumFile(paths().iso, name);
  } catch {
    throw internal(`the rescue image ${name} is no longer in the ISO library; the backup medium is not bootable`);
  }
  const dir = rescueDir(storageDir);
  const dst = join(dir, name);
  let have: number | null = null;
  try {
    have = statSync(dst).size;
  } catch {
    // not there
  }
  const state = readRescueState(storageDir);
  if (upToDate(state, want, have)) {
    log(`rescue image ${name} is on the storage already (sha256 ${want.sha256.slice(0, 12)}…)`);
    return false;
  }
  const partial = join(dir, PARTIAL + name);
  mkdirSync(dir, { recursive: true });
  try {
    copyFileSync(isoFile(name), partial);
    fsyncPath(partial);
    const got = await sumFile(dir, PARTIAL + name);
    if (got.sha256 !== want.sha256) throw internal(`the copy of rescue image ${name} does not read back as it was written`);
    renameSync(partial, dst);
  } catch (e) {
    rmSync(partial, { force: true });
    throw e;
  }
  for (const n of readdirSync(dir)) if (n !== name && n !== RESCUE_STATE) rmSync(join(dir, n), { recursive: true, force: true });
  writeJsonAtomic(join(dir, RESCUE_STATE), { name, size: want.size, sha256: want.sha256, copied: Date.now() } satisfies RescueState);
  fsyncPath(dir);
  log(`rescue image ${name} copied to the storage (${want.size} bytes, sha256 ${want.sha256.slice(0, 12)}…)${state ? `, replacing ${state.name}` : ''}`);
  return true;
}
