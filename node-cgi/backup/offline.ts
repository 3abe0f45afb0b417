/**
 * The offline copy of a stopped guest's disk: `qemu-img convert` into a
 * qcow2 on the storage, with zstd-compressed clusters when compressing.
 * Zero and unallocated areas stay unallocated, so sparse disks stay small.
 *
 *   offlineCopyArgs("/…/vm-101-disk-0.raw", "raw", "/mnt/ramvm/101/.partial-…/vm-101-disk-0.qcow2", "zstd")
 *   → qemu-img convert -p -f raw -O qcow2 -c -o compression_type=zstd <src> <dst>
 */
import { spawn } from 'node:child_process';
import { ExecError } from '../lib/exec';
import type { Compression } from './types';

export function offlineCopyArgs(source: string, format: string, target: string, compress: Compression): string[] {
  return [
    'qemu-img', 'convert', '-p', '-f', format, '-O', 'qcow2',
    ...(compress === 'zstd' ? ['-c', '-o', 'compression_type=zstd'] : []),
    source, target,
  ];
}

/** "    (42.17/100%)\r" → 42.17; the last value in a chunk of `qemu-img convert -p` output. */
export function parseConvertProgress(chunk: string): number | null {
  const all = [...chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
  return all.length > 0 ? Number(all[all.length - 1]![1]) : null;
}

/** Run the copy, reporting percent done. */
export function offlineCopy(source: string, format: string, target: string, compress: Compression, progress: (pct: number) => void): Promise<void> {
  const argv = offlineCopyArgs(source, format, target, compress);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      const p = parseConvertProgress(b.toString());
      if (p !== null) progress(p);
    });
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4096)));
    child.on('error', (e) => reject(new ExecError(argv, null, e.message, 'could not be started')));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new ExecError(argv, code, err, `failed (exit ${code})`))));
  });
}
