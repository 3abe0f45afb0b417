/**
 * The backup format on a storage, and the names in it:
 *
 *   <storage>/ramvm/101/20261125T220000Z/          a verified (final) backup
 *       config.json                                 the guest's config as it was
 *       vm-101-disk-0.qcow2                         each disk, qcow2 (zstd clusters when compressed)
 *       backup.log                                  what the task did
 *       manifest.json                               BackupManifest: sizes, SHA-256 of every other file,
 *                                                   mode, timings, node, tool versions, verification
 *   <storage>/ramvm/101/.partial-20261125T230000Z/  a backup being written or read back; never listed
 *
 * A backup's id in the API is "<storage>:<vmid>:<stamp>", e.g.
 * "local:101:20261125T220000Z".
 */
import { checkedStorageName } from './validate';
import { checkedVmid } from '../lib/validate';
import { notFound } from '../lib/errors';
import type { BackupEntry, BackupManifest } from './types';

export const MANIFEST_FILE = 'manifest.json';
export const CONFIG_FILE = 'config.json';
export const LOG_FILE = 'backup.log';
export const PARTIAL_PREFIX = '.partial-';
/** A backup being removed: renamed first, so a half-removed folder is never taken for one. */
export const DELETING_PREFIX = '.deleting-';
/** Folder of all backups on a storage. */
export const BACKUP_ROOT = 'ramvm';

const STAMP_RE = /^[0-9]{8}T[0-9]{6}Z$/;

/** 2026-11-25T22:00:00.123Z → "20261125T220000Z" */
export function backupStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** "20261125T220000Z" → unix ms; null when not a stamp. */
export function parseStamp(s: string): number | null {
  if (!STAMP_RE.test(s)) return null;
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) || backupStamp(ms) !== s ? null : ms;
}

export interface BackupId {
  storage: string;
  vmid: number;
  stamp: string;
}

export const backupId = (b: BackupId) => `${b.storage}:${b.vmid}:${b.stamp}`;

/** "local:101:20261125T220000Z" → parts; 404 for anything else (ids come from URLs). */
export function parseBackupId(id: string): BackupId {
  const parts = id.split(':');
  const bad = () => notFound(`no such backup: ${id.slice(0, 120)}`);
  if (parts.length !== 3) throw bad();
  try {
    const storage = checkedStorageName(parts[0]);
    const vmid = checkedVmid(parts[1]);
    if (parseStamp(parts[2]!) === null) throw bad();
    return { storage, vmid, stamp: parts[2]! };
  } catch {
    throw bad();
  }
}

/** The disk's file name in a backup: always qcow2. "vm-101-disk-0.raw" → "vm-101-disk-0.qcow2" */
export function backupDiskName(source: string): string {
  const base = source.split('/').pop()!;
  return base.replace(/\.(qcow2|raw|img)$/, '') + '.qcow2';
}

/** A manifest as read from disk, checked enough to list it; throws on garbage. */
export function parseManifest(text: string): BackupManifest {
  const m = JSON.parse(text) as BackupManifest;
  if (m?.format !== 1 || typeof m.vmid !== 'number' || !Array.isArray(m.files) || typeof m.stamp !== 'string') {
    throw new Error('not a ramvm backup manifest');
  }
  return m;
}

/** The list entry of a final backup; `verified` only when its last read-back passed. */
export function backupEntry(m: BackupManifest, storage: string): BackupEntry {
  const v = m.verification;
  return {
    id: backupId({ storage, vmid: m.vmid, stamp: m.stamp }),
    vmid: m.vmid,
    storage,
    time: new Date(m.start).toISOString(),
    mode: m.mode,
    method: m.method,
    compress: m.compress,
    verified: v?.ok === true,
    verifiedAt: v ? new Date(v.time).toISOString() : null,
    problems: v?.problems ?? ['never verified'],
    size: m.files.reduce((s, f) => s + f.size, 0),
    durationMs: m.end - m.start,
    task: m.task,
    job: m.job,
    name: m.name,
  };
}

/**
 * Compare read-back sums with the manifest; one line per problem.
 *   compareSums([{name:"a",size:1,sha256:"x"}], [{name:"a",size:1,sha256:"y"}])
 *   → ["a: SHA-256 differs (stored x…, read y…)"]
 */
export function compareSums(
  want: readonly { name: string; size: number; sha256: string }[],
  got: readonly { name: string; size: number; sha256: string }[],
): string[] {
  const byName = new Map(got.map((f) => [f.name, f]));
  const out: string[] = [];
  for (const w of want) {
    const g = byName.get(w.name);
    if (!g) out.push(`${w.name}: missing`);
    else if (g.size !== w.size) out.push(`${w.name}: size differs (stored ${w.size}, read ${g.size})`);
    else if (g.sha256 !== w.sha256) out.push(`${w.name}: SHA-256 differs (stored ${w.sha256.slice(0, 12)}…, read ${g.sha256.slice(0, 12)}…)`);
  }
  return out;
}
