/**
 * Names in the ISO library. An image name is what users see and what a
 * guest's `cdrom` field holds; every other file in the folder is hidden
 * (starts with a dot) and belongs to one image:
 *
 *   debian-12.iso                              the image
 *   .debian-12.iso.meta.json                   its sidecar: sha256, upload time, user
 *   .debian-12.iso.partial-4711-9f3a61c0b2     an upload in progress by pid 4711
 *
 * Image names never start with a dot, so a hidden file can never be
 * mistaken for an image, and the owner pid in a partial's name lets the
 * clean-up tell a live upload from the leftovers of a killed one.
 */
import { invalid } from '../lib/errors';

/** Longest image name, in characters. */
export const ISO_NAME_MAX_CHARS = 128;

const NAME_CHARS_RE = /^[A-Za-z0-9._+-]+$/;
const EXTENSION_RE = /\.(iso|img)$/i;

/**
 * An image name from a path segment or a JSON field: 1..128 characters of
 * letters, digits, ".", "_", "+", "-"; no leading dot or dash; no "..";
 * ending in .iso or .img (any case). Throws 400 naming the rule it broke.
 */
export function checkedIsoName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(field, 'must be a non-empty string');
  if (value.length > ISO_NAME_MAX_CHARS) throw invalid(field, `must be at most ${ISO_NAME_MAX_CHARS} characters`);
  if (value.includes('/') || value.includes('\\')) throw invalid(field, 'must be a file name, without "/" or "\\"');
  if (value.startsWith('.')) throw invalid(field, 'must not start with "."');
  if (value.startsWith('-')) throw invalid(field, 'must not start with "-"');
  if (!NAME_CHARS_RE.test(value)) throw invalid(field, 'may contain only letters, digits, ".", "_", "+" and "-"');
  if (value.includes('..')) throw invalid(field, 'must not contain ".."');
  if (!EXTENSION_RE.test(value)) throw invalid(field, 'must end in .iso or .img');
  return value;
}

/** True when `file` is a valid image name (for reading the folder). */
export function isIsoName(file: string): boolean {
  try {
    checkedIsoName(file);
    return true;
  } catch {
    return false;
  }
}

/** ".debian-12.iso.meta.json" */
export function metaFileName(name: string): string {
  return `.${name}.meta.json`;
}

/** ".debian-12.iso.partial-4711-9f3a61c0b2" (token: hex) */
export function partialFileName(name: string, pid: number, token: string): string {
  if (!Number.isInteger(pid) || pid <= 0 || !/^[0-9a-f]+$/.test(token)) throw new Error(`bad partial owner ${pid}/${token}`);
  return `.${name}.partial-${pid}-${token}`;
}

export type HiddenFile =
  | { kind: 'meta'; name: string }
  | { kind: 'partial'; name: string; pid: number };

const META_RE = /^\.(.+)\.meta\.json$/;
const PARTIAL_RE = /^\.(.+)\.partial-([1-9][0-9]*)-[0-9a-f]+$/;

/** What a hidden file of the library is; null for anything else (left alone). */
export function parseHiddenFile(file: string): HiddenFile | null {
  const meta = META_RE.exec(file);
  if (meta && isIsoName(meta[1]!)) return { kind: 'meta', name: meta[1]! };
  const partial = PARTIAL_RE.exec(file);
  if (partial && isIsoName(partial[1]!)) return { kind: 'partial', name: partial[1]!, pid: Number(partial[2]) };
  return null;
}
