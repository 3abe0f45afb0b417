/**
 * Disk facts both ends of a migration take the same way: the bytes an image
 * occupies, and the SHA-256 of what the guest sees (the raw content, holes
 * read as zeroes), so a raw image on one node and the same disk on the other
 * compare equal whatever their layout. A qcow2 is read through
 * `qemu-img convert -O raw` into a sparse scratch file beside it first.
 */
import { createHash } from 'node:crypto';
import { createReadStream, rmSync, statSync } from 'node:fs';
import { run } from '../lib/exec';
import { CONVERT_TIMEOUT_MS } from '../tools/qemu-img';

/** Bytes the file occupies (st_blocks × 512): what a sparse copy must keep. */
export function allocatedBytes(file: string): number {
  return statSync(file).blocks * 512;
}

function sha256OfFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** SHA-256 of the guest-visible content of an image. */
export async function guestSha256(file: string, format: 'raw' | 'qcow2'): Promise<string> {
  if (format === 'raw') return sha256OfFile(file);
  const scratch = `${file}.sha256-scratch.raw`;
  try {
    await run(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', file, scratch], { timeoutMs: CONVERT_TIMEOUT_MS });
    return await sha256OfFile(scratch);
  } finally {
    rmSync(scratch, { force: true });
  }
}
