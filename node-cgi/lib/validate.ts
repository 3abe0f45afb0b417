/**
 * Checks for every name that reaches a path or an argv. A name that passes
 * has no `/`, no `..`, no leading `-` or `.`, and only safe characters.
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
