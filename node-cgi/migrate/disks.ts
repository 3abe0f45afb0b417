/**
 * Disk facts both ends of a migration take the same way: the bytes an image
 * occupies, and the SHA-256 of what the guest sees, read sparsely (its size,
 * then each page that is not all zeroes after its index), so a raw image on
 * one node and the same disk on the other compare equal whatever their
 * layout, and a 4 GiB disk holding 100 MiB is read as 100 MiB, not 4 GiB.
 * Only the extents `qemu-img map` reports as data are read. A qcow2 is read
 * through `qemu-img convert -O raw` into a sparse scratch file beside it first.
 *
 *   size 8 B BE ‖ (page index 8 B BE ‖ page 4096 B) for each non-zero page, in order
 */
import { createHash, type Hash } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { run } from '../lib/exec';
import { CONVERT_TIMEOUT_MS } from '../tools/qemu-img';
import { parseMapDataExtents } from './plan';

/** The unit of the digest: a page of the guest's disk. */
export const DIGEST_PAGE_BYTES = 4096;
/** Pages read at once. */
const READ_PAGES = 1024;
const ZERO_PAGE = Buffer.alloc(DIGEST_PAGE_BYTES);

/** Bytes the file occupies (st_blocks × 512): what a sparse copy must keep. */
export function allocatedBytes(file: string): number {
  return statSync(file).blocks * 512;
}

/** An unsigned 64-bit big-endian number. */
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/**
 * Adds the pages of `buf` (read from page `firstPage` on; `bytes` of it are
 * the file's, the rest past its end) that are not all zeroes, each after its
 * index.
 */
export function digestPages(h: Hash, buf: Buffer, firstPage: number, bytes: number): void {
  for (let off = 0; off < bytes; off += DIGEST_PAGE_BYTES) {
    let page = buf.subarray(off, off + DIGEST_PAGE_BYTES);
    // The file's last page, zero past its end.
    if (off + DIGEST_PAGE_BYTES > bytes) page = Buffer.concat([buf.subarray(off, bytes), ZERO_PAGE.subarray(bytes - off)]);
    if (!page.equals(ZERO_PAGE)) h.update(u64(firstPage + off / DIGEST_PAGE_BYTES)).update(page);
  }
}

/**
 * Pages to read, in order and each once, from data extents: [first page,
 * page count] runs of at most READ_PAGES (an extent need not begin or end on
 * a page).
 */
export function pageRuns(extents: readonly { start: number; length: number }[]): [number, number][] {
  const out: [number, number][] = [];
  let next = 0;
  for (const e of [...extents].sort((a, b) => a.start - b.start)) {
    const end = Math.ceil((e.start + e.length) / DIGEST_PAGE_BYTES);
    for (let first = Math.max(next, Math.floor(e.start / DIGEST_PAGE_BYTES)); first < end; first += READ_PAGES) out.push([first, Math.min(READ_PAGES, end - first)]);
    next = Math.max(next, end);
  }
  return out;
}

async function sparseSha256(file: string): Promise<string> {
  const extents = parseMapDataExtents((await run(['qemu-img', 'map', '-U', '--output=json', '-f', 'raw', file], { timeoutMs: CONVERT_TIMEOUT_MS })).stdout);
  const h = createHash('sha256');
  const fh = await open(file, 'r');
  try {
    h.update(u64((await fh.stat()).size));
    const buf = Buffer.alloc(READ_PAGES * DIGEST_PAGE_BYTES);
    for (const [first, count] of pageRuns(extents)) {
      const { bytesRead } = await fh.read(buf, 0, count * DIGEST_PAGE_BYTES, first * DIGEST_PAGE_BYTES);
      digestPages(h, buf, first, bytesRead);
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** SHA-256 of the guest-visible content of an image, read sparsely (see above). */
export async function guestSha256(file: string, format: 'raw' | 'qcow2'): Promise<string> {
  if (format === 'raw') return sparseSha256(file);
  const scratch = `${file}.sha256-scratch.raw`;
  try {
    await run(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', file, scratch], { timeoutMs: CONVERT_TIMEOUT_MS });
    return await sparseSha256(scratch);
  } finally {
    rmSync(scratch, { force: true });
  }
}
