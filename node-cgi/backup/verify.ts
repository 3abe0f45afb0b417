/**
 * Reading a backup back from its storage. The sums written into the
 * manifest are taken right after the copy (from the page cache: what was
 * written); verification first flushes each file and drops it from the page
 * cache, so the second read comes from the device itself — a USB disk that
 * lost data shows here, not on the day of the restore.
 *
 *   dd if=<file> iflag=nocache count=0 status=none     drop the file's cached pages (coreutils)
 *   sha256 of the file (read from the device)          must equal the manifest
 *   qemu-img check --output=json -f qcow2 <disk>       must report no corruptions or errors
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/exec';
import { fsyncPath } from '../lib/store';
import { checkImage } from '../tools/qemu-img';
import { compareSums } from './manifest';
import type { BackupManifest, FileSum, Verification } from './types';

/** SHA-256 (hex) and size of a file, streamed. */
export async function sumFile(dir: string, name: string): Promise<FileSum> {
  const file = join(dir, name);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { name, size, sha256: hash.digest('hex') };
}

/** Drop a file's clean pages from the page cache, so the next read hits the device. */
export async function dropCache(file: string): Promise<void> {
  await run(['dd', `if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

/** Problems `qemu-img check` finds in a qcow2, one line each (leaks are not problems). */
export async function imageProblems(file: string): Promise<string[]> {
  const name = file.split('/').pop();
  const res = await checkImage(file);
  if (!res.report) return [`${name}: qemu-img check cannot read it (exit ${res.code}): ${res.error}`];
  const c = res.report;
  const out: string[] = [];
  if ((c.corruptions ?? 0) > 0) out.push(`${name}: qemu-img check found ${c.corruptions} corruptions`);
  if (c['check-errors'] > 0) out.push(`${name}: qemu-img check had ${c['check-errors']} errors`);
  return out;
}

/** Read every file of the backup in `dir` back from the device and check the disks. */
export async function verifyBackup(dir: string, m: BackupManifest, log: (l: string) => void): Promise<Verification> {
  const t0 = Date.now();
  const problems: string[] = [];
  const got: FileSum[] = [];
  for (const f of m.files) {
    const file = join(dir, f.name);
    try {
      statSync(file);
    } catch {
      problems.push(`${f.name}: missing`);
      continue;
    }
    fsyncPath(file);
    await dropCache(file);
    got.push(await sumFile(dir, f.name));
  }
  problems.push(...compareSums(m.files, got).filter((p) => !problems.some((q) => q.startsWith(p.split(':')[0]!))));
  for (const d of m.disks) {
    if (!got.some((g) => g.name === d.file)) continue;
    problems.push(...(await imageProblems(join(dir, d.file))));
  }
  const v: Verification = { ok: problems.length === 0, time: Date.now(), durationMs: Date.now() - t0, problems };
  log(v.ok ? `verified: ${m.files.length} files read back from the storage, SHA-256 match, qemu-img check clean (${v.durationMs} ms)` : `VERIFICATION FAILED: ${problems.join('; ')}`);
  return v;
}
