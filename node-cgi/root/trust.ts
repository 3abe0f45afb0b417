/**
 * What the root helper may believe, and how it touches what it may not.
 *
 * Believed: the node record, when it and every folder above it belong to
 * root and nobody else may write them (/run/ramvm-root/<key>/node.json,
 * written by the root-side start). Not believed: anything in the node's
 * data tree, which the node's user owns and may have changed, swapped for
 * a link or filled with anything. The helper reads and writes there only
 * with that user's ids (asUser), so the kernel checks each access as it
 * would check the user's own, and re-validates whatever it read.
 *
 *   lstat /run/ramvm-root                  dir, uid 0, not group/other-writable
 *   lstat /run/ramvm-root/3f9c…            dir, uid 0, not group/other-writable
 *   lstat /run/ramvm-root/3f9c…/node.json  file, uid 0, not group/other-writable  → parseNodeRecord
 */
import { lstatSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HttpError } from '../lib/errors';
import { parseNodeRecord, type NodeRecord, type NodeUser } from '../lib/separation';
import { ROOT_REGISTRY } from '../lib/paths';

/** Why `path` cannot be trusted as root's, or null: it exists, is not a link, belongs to root, and only root may write it. */
export function untrustedReason(st: { uid: number; mode: number; isSymbolicLink(): boolean }, path: string): string | null {
  if (st.isSymbolicLink()) return `${path} is a symbolic link`;
  if (st.uid !== 0) return `${path} does not belong to root`;
  if ((st.mode & 0o022) !== 0) return `${path} may be written by others than root`;
  return null;
}

/** The record of node `key`, when root wrote it; 403 otherwise (an unknown key included). */
export function trustedRecord(key: string, registry = ROOT_REGISTRY): NodeRecord {
  const file = join(registry, key, 'node.json');
  for (const p of [registry, dirname(file), file]) {
    let why: string | null;
    try {
      why = untrustedReason(lstatSync(p), p);
    } catch {
      why = `${p} does not exist`;
    }
    if (why) throw new HttpError('forbidden', `root helper: no node is registered as ${key} (${why})`);
  }
  return parseNodeRecord(readFileSync(file, 'utf8'));
}

/**
 * Run `fn` with `u`'s ids as the effective ones (and its group as the only
 * group), then become root again. Synchronous work only: a promise would
 * run its rest as root, or with the user's ids still set for other work.
 */
export function asUser<T>(u: NodeUser, fn: () => T): T {
  if (process.geteuid!() !== 0) return fn();
  const groups = process.getgroups!();
  process.setgroups!([u.gid]);
  process.setegid!(u.gid);
  process.seteuid!(u.uid);
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('asUser takes synchronous work only');
    return r;
  } finally {
    process.seteuid!(0);
    process.setegid!(0);
    process.setgroups!(groups);
  }
}
