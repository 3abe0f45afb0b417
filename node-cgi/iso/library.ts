/**
 * The ISO library: the images in paths().iso, their sidecars, the guests
 * that use them, and the clean-up of what failed uploads leave behind.
 *
 * A sidecar records what the upload learnt while streaming, so listing
 * never reads an image again:
 *
 *   .debian-12.iso.meta.json
 *   { "name": "debian-12.iso", "size": 658505728, "sha256": "013f5b44…",
 *     "uploaded": "2026-11-25T10:15:00.123Z", "user": "admin",
 *     "ino": 1835011, "mtimeMs": 1795601700123.4 }
 *
 * A copy the master of a cluster sent (distribute.ts) keeps the upload's
 * time and user and says where it came from: `"from": "n1"`.
 *
 * `ino`, `size` and `mtimeMs` tie the sidecar to one file: an image copied
 * in by hand, or replaced behind our back, no longer matches and is listed
 * with `sha256: null` rather than with a checksum that is not its own.
 *
 * Guests name their install medium in etc/ramvm/vms/<vmid>.json as
 * `"cdrom": "debian-12.iso"`; those files are read defensively (a guest
 * file that does not parse counts as using nothing).
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync, statfsSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { HttpError, conflict, notFound } from '../lib/errors';
import { formatBytes } from '../lib/format';
import { guestConfigFile, isoFile, paths } from '../lib/paths';
import { fsyncPath, readJson, removeFile, withLock } from '../lib/store';
import { isIsoName, metaFileName, parseHiddenFile } from './names';

/** Lock held while an image or its sidecar appears or disappears. */
export const LIBRARY_LOCK = 'iso-library';
/** A partial upload untouched this long is removed even if its owner seems alive. */
export const STALE_PARTIAL_MS = 24 * 60 * 60 * 1000; // 1 day
/** Room left free on the library's filesystem after an upload (sidecars, configs, logs). */
export const FREE_RESERVE_BYTES = 16 * 1024 * 1024; // 16 MiB

export interface IsoMeta {
  name: string;
  size: number;
  sha256: string;
  /** ISO 8601, UTC. */
  uploaded: string;
  user: string;
  /** The node that sent this copy (a cluster's image); absent for an upload. */
  from?: string;
  ino: number;
  mtimeMs: number;
}

export interface GuestRef {
  vmid: number;
  name?: string;
}

export interface IsoImage {
  name: string;
  size: number;
  /** Lower-case hex; null when the image has no matching sidecar (copied in by hand). */
  sha256: string | null;
  /** Upload time (ISO 8601, UTC); the file's mtime when unknown. */
  date: string;
  user: string | null;
  /** On a member of a cluster: the node this copy of the cluster's image came from. */
  from?: string;
  usedBy: GuestRef[];
}

/** The guests whose config names `name` as CD-ROM; configs are untrusted JSON. */
export function guestsUsing(configs: readonly { file: string; config: unknown }[], name: string): GuestRef[] {
  const out: GuestRef[] = [];
  for (const { file, config } of configs) {
    if (!config || typeof config !== 'object') continue;
    const c = config as Record<string, unknown>;
    if (c.cdrom !== name) continue;
    const fromFile = /^([0-9]+)\.json$/.exec(file)?.[1];
    const vmid = fromFile !== undefined ? Number(fromFile) : typeof c.vmid === 'number' ? c.vmid : Number(c.vmid);
    if (!Number.isInteger(vmid)) continue;
    out.push(typeof c.name === 'string' ? { vmid, name: c.name } : { vmid });
  }
  return out.sort((a, b) => a.vmid - b.vmid);
}

/** True when the sidecar describes exactly this file. */
export function sidecarMatches(meta: Partial<IsoMeta> | undefined, st: Pick<Stats, 'ino' | 'size' | 'mtimeMs'>): meta is IsoMeta {
  return (
    !!meta &&
    typeof meta.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(meta.sha256) &&
    meta.ino === st.ino &&
    meta.size === st.size &&
    meta.mtimeMs === st.mtimeMs
  );
}

export function imageEntry(
  name: string,
  st: Pick<Stats, 'ino' | 'size' | 'mtimeMs'>,
  meta: Partial<IsoMeta> | undefined,
  usedBy: GuestRef[],
): IsoImage {
  const ok = sidecarMatches(meta, st);
  return {
    name,
    size: st.size,
    sha256: ok ? meta.sha256 : null,
    date: ok && typeof meta.uploaded === 'string' ? meta.uploaded : new Date(st.mtimeMs).toISOString(),
    user: ok && typeof meta.user === 'string' ? meta.user : null,
    ...(ok && typeof meta.from === 'string' ? { from: meta.from } : {}),
    usedBy,
  };
}

export interface HiddenEntry {
  file: string;
  mtimeMs: number;
  /** For a partial: true while its owner process still has it open. */
  held?: boolean;
}

/**
 * Hidden files to remove: partials nobody holds open any more or untouched
 * for STALE_PARTIAL_MS, and sidecars whose image is gone.
 */
export function cleanupPlan(hidden: readonly HiddenEntry[], images: ReadonlySet<string>, nowMs: number): string[] {
  const out: string[] = [];
  for (const h of hidden) {
    const kind = parseHiddenFile(h.file);
    if (!kind) continue;
    if (kind.kind === 'partial' && (!h.held || nowMs - h.mtimeMs > STALE_PARTIAL_MS)) out.push(h.file);
    if (kind.kind === 'meta' && !images.has(kind.name)) out.push(h.file);
  }
  return out;
}

/** 507 unless `bytes` fit into `availBytes` leaving FREE_RESERVE_BYTES. */
export function checkFreeSpace(bytes: number, availBytes: number): void {
  if (bytes + FREE_RESERVE_BYTES <= availBytes) return;
  throw new HttpError(
    'insufficient_storage',
    `not enough space in the ISO library: the upload needs ${formatBytes(bytes)}, ` +
      `${formatBytes(Math.max(0, availBytes - FREE_RESERVE_BYTES))} are free`,
  );
}

// ---- the folder --------------------------------------------------------------

export const imagePath = isoFile;
export const metaPath = (name: string) => isoFile(metaFileName(name));

/** Bytes an unprivileged writer may still use on the library's filesystem. */
export function libraryAvailBytes(): number {
  const s = statfsSync(paths().iso);
  return s.bavail * s.bsize;
}

/** The guests' config files as untrusted JSON (the library sits below vm/ and reads only their `cdrom`). */
export function readGuestConfigs(): { file: string; config: unknown }[] {
  let files: string[];
  try {
    files = readdirSync(paths().vms).filter((f) => /^[0-9]+\.json$/.test(f));
  } catch {
    return [];
  }
  const out: { file: string; config: unknown }[] = [];
  for (const file of files) {
    try {
      out.push({ file, config: JSON.parse(readFileSync(guestConfigFile(Number(file.slice(0, -5))), 'utf8')) });
    } catch {
      // Being written by someone else, or corrupt: it names no image we could trust.
    }
  }
  return out;
}

/**
 * True when process `pid` has `file` open (the owner of a partial upload),
 * and when it lives but is another user's, whose files this user may not
 * see (taken as held: the staleness rule still removes it in time).
 */
export function processHoldsOpen(pid: number, file: string): boolean {
  const fdDir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = readdirSync(fdDir);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EACCES';
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(join(fdDir, fd)) === file) return true;
    } catch {
      // fd closed meanwhile
    }
  }
  return false;
}

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function readMeta(name: string): Partial<IsoMeta> | undefined {
  try {
    return readJson<Partial<IsoMeta>>(metaPath(name));
  } catch {
    return undefined;
  }
}

/** Remove leftovers of failed uploads and orphaned sidecars; returns what was removed. */
export function cleanupLibrary(nowMs = Date.now()): string[] {
  const dir = paths().iso;
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const images = new Set(files.filter(isIsoName));
  // /proc/<pid>/fd links name the canonical path.
  const realDir = realpathSync(dir);
  const hidden: HiddenEntry[] = [];
  for (const file of files) {
    const kind = parseHiddenFile(file);
    if (!kind) continue;
    const st = statOrNull(join(dir, file));
    if (!st) continue;
    hidden.push({ file, mtimeMs: st.mtimeMs, ...(kind.kind === 'partial' ? { held: processHoldsOpen(kind.pid, join(realDir, file)) } : {}) });
  }
  const doomed = cleanupPlan(hidden, images, nowMs);
  if (doomed.length === 0) return [];
  // Under the lock, so a sidecar written just before its image's rename is not taken for an orphan.
  return withLock(LIBRARY_LOCK, () => {
    const removed: string[] = [];
    for (const file of doomed) {
      const kind = parseHiddenFile(file)!;
      if (kind.kind === 'meta' && statOrNull(imagePath(kind.name))) continue;
      removeFile(join(dir, file));
      removed.push(file);
    }
    return removed;
  });
}

/**
 * The names of the regular files in the library that a guest's CD-ROM may
 * name (what validation checks `cdrom` against), without reading them.
 */
export function isoNames(): Set<string> {
  try {
    return new Set(readdirSync(paths().iso, { withFileTypes: true }).filter((e) => e.isFile() && /^[A-Za-z0-9]/.test(e.name)).map((e) => e.name));
  } catch {
    return new Set();
  }
}

export function listImages(): IsoImage[] {
  cleanupLibrary();
  let files: string[];
  try {
    files = readdirSync(paths().iso);
  } catch {
    return [];
  }
  const guests = readGuestConfigs();
  const out: IsoImage[] = [];
  for (const name of files.filter(isIsoName).sort()) {
    const st = statOrNull(imagePath(name));
    if (!st || !st.isFile()) continue;
    out.push(imageEntry(name, st, readMeta(name), guestsUsing(guests, name)));
  }
  return out;
}

export function readImage(name: string): IsoImage {
  const st = statOrNull(imagePath(name));
  if (!st || !st.isFile()) throw notFound(`no such ISO image: ${name}`);
  return imageEntry(name, st, readMeta(name), guestsUsing(readGuestConfigs(), name));
}

export function imageExists(name: string): boolean {
  return statOrNull(imagePath(name)) !== null;
}

/** 409 naming the guests when any guest's CD-ROM is `name`. */
export function checkNotInUse(name: string, what: string): void {
  const users = guestsUsing(readGuestConfigs(), name);
  if (users.length === 0) return;
  const ids = users.map((g) => g.vmid).join(', ');
  throw conflict(`${name} is the CD-ROM of guest${users.length > 1 ? 's' : ''} ${ids}; ${what}`);
}

/** Remove an image and its sidecar; 404 when missing, 409 while a guest uses it. */
export function removeImage(name: string): void {
  withLock(LIBRARY_LOCK, () => {
    if (!imageExists(name)) throw notFound(`no such ISO image: ${name}`);
    checkNotInUse(name, 'remove it from the guest first');
    removeFile(imagePath(name));
    removeFile(metaPath(name));
    fsyncPath(paths().iso);
  });
}
