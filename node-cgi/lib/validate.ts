/**
 * The checks every handler's parser is built from: names that reach a path
 * or an argv (no `/`, no `..`, no leading `-` or `.`, only safe
 * characters), the refusal of unknown fields, booleans, sizes and
 * bandwidths. Each returns the checked value or throws 400 "invalid"
 * naming the field:
 *
 *   only({ vmid: 101, vmdi: 1 }, ['vmid'])   → 400 "vmdi: unknown field"
 *   optionalBool(undefined, 'force')         → false
 *   parseSize('32G')                          → 34359738368
 *   checkedBandwidth(50)                      → 52428800   (MiB/s in the API, bytes/s for QEMU)
 */
import { invalid } from './errors';

/** Smallest VMID, as in the original system. */
export const VMID_MIN = 100;
export const VMID_MAX = 999_999_999;

/**
 * A VMID from a path segment or JSON field: an integer 100..999999999. A
 * string must be written the one way ("101", never "0101"): the router
 * checks the ACL on the path as written ("/vms/0101"), so another spelling
 * of the same guest would slip past an entry on "/vms/101".
 */
export function checkedVmid(value: unknown, field = 'vmid'): number {
  const n = typeof value === 'string' && /^[1-9][0-9]*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw invalid(field, 'must be an integer');
  if (n < VMID_MIN || n > VMID_MAX) throw invalid(field, `must be between ${VMID_MIN} and ${VMID_MAX}`);
  return n;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** A file or object name: 1..max chars, no path parts, no leading dot or dash. */
export function checkedName(value: unknown, field: string, max = 128): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(field, 'must be a non-empty string');
  if (value.length > max) throw invalid(field, `must be at most ${max} characters`);
  if (!NAME_RE.test(value) || value.includes('..')) {
    throw invalid(field, 'may contain only letters, digits, ".", "_", "+", "-" and must not start with "." or "-"');
  }
  return value;
}

/** A user name: letters, digits, ".", "_", "-", "@"; 1..64 chars. */
export function checkedUsername(value: unknown, field = 'username'): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(value)) {
    throw invalid(field, 'must be 1–64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
  }
  return value;
}

/** A DNS-style host or guest name (RFC 1123 label rules, dots allowed). */
export function checkedHostname(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || !/^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(value)) {
    throw invalid(field, 'must be a host name: letters, digits and "-", 1–63 characters');
  }
  return value;
}

/** 400 naming the first field the endpoint does not know: a typo ("pasword", "vmdi") must not pass silently. */
export function only(body: Record<string, unknown>, fields: readonly string[]): void {
  for (const k of Object.keys(body)) if (!fields.includes(k)) throw invalid(k, 'unknown field');
}

/** true or false, nothing else. */
export function checkedBool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(field, 'must be true or false');
  return value;
}

/** A boolean that may be left out (undefined), then `dflt`. */
export function optionalBool(value: unknown, field: string, dflt = false): boolean {
  return value === undefined ? dflt : checkedBool(value, field);
}

const SIZE_UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
/** Smallest and largest size of a disk or image. */
export const SIZE_MIN_BYTES = 1024 * 1024; // 1 MiB
export const SIZE_MAX_BYTES = 64 * 1024 ** 4; // 64 TiB

/**
 * A size as bytes: "32G", "64M", "1T", "512K" (binary units, "GiB"/"GB"
 * spellings accepted), or a number of GiB; 1M..64T. Throws Error with the
 * reason (the caller names the field).
 */
export function parseSize(value: unknown): number {
  let bytes: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) throw new Error('must be a whole number of GiB or a string like "32G"');
    bytes = value * SIZE_UNITS.G!;
  } else if (typeof value === 'string') {
    const m = /^([1-9][0-9]{0,15})\s*([KMGT])(?:i?B)?$/i.exec(value.trim());
    if (!m) throw new Error('must be a whole number with K, M, G or T, like "32G" or "64M"');
    bytes = Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!;
  } else {
    throw new Error('must be a size like "32G" or "64M"');
  }
  if (bytes < SIZE_MIN_BYTES) throw new Error(`must be at least ${formatSize(SIZE_MIN_BYTES)}`);
  if (bytes > SIZE_MAX_BYTES) throw new Error(`must be at most ${formatSize(SIZE_MAX_BYTES)}`);
  return bytes;
}

/** Bytes as the largest exact binary unit: 34359738368 → "32G", 1536 MiB → "1536M". */
export function formatSize(bytes: number): string {
  for (const u of ['T', 'G', 'M', 'K']) {
    const f = SIZE_UNITS[u]!;
    if (bytes % f === 0) return `${bytes / f}${u}`;
  }
  return `${bytes}`;
}

/** Largest copy speed a client may set, MiB/s. */
export const BANDWIDTH_MAX_MIB_S = 100_000;
const MIB = 1024 * 1024;

/**
 * A copy speed limit as the API takes it, in MiB/s (fractions allowed),
 * as bytes/s, what QEMU's block jobs take; absent, null or 0: unlimited (0).
 */
export function checkedBandwidth(value: unknown, field = 'bwlimit'): number {
  if (value === undefined || value === null || value === 0) return 0;
  if (typeof value !== 'number' || !(value > 0) || value > BANDWIDTH_MAX_MIB_S) {
    throw invalid(field, `must be MiB/s between 0 and ${BANDWIDTH_MAX_MIB_S}`);
  }
  return Math.round(value * MIB);
}
