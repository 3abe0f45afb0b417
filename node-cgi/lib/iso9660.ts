/**
 * Files of an ISO 9660 image read in this process, never by the kernel: a
 * rescue image lies on a storage the node's user writes, and mounting it
 * as root would hand that user's bytes to the kernel's isofs driver. Only
 * what a boot partition needs is read: a directory's entries (their Rock
 * Ridge names, else the ISO names without ";1" and a trailing dot) and a
 * file's extent, every offset checked against the image's size.
 *
 *   const r = fileReader(fd);
 *   const e = isoLookup(r, 'boot/vmlinuz');   // { name: 'vmlinuz', lba: 1234, size: 8650752, dir: false }
 *   isoCopy(r, e, '/tmp/x/vmlinuz');
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';

export const ISO_BLOCK_BYTES = 2048;
/** The primary volume descriptor's block. */
const PVD_LBA = 16;
/** Most entries one directory may have: a bound on a crafted image's loops. */
const MAX_ENTRIES = 10_000;
const COPY_CHUNK_BYTES = 1 << 20;

export interface IsoReader {
  /** Bytes [pos, pos+len) of the image; throws past its end. */
  read(pos: number, len: number): Buffer;
  size: number;
}

export interface IsoEntry {
  name: string;
  lba: number;
  size: number;
  dir: boolean;
}

/** A reader over an open file. */
export function fileReader(fd: number): IsoReader {
  const size = fstatSync(fd).size;
  return {
    size,
    read(pos, len) {
      if (pos < 0 || len < 0 || pos + len > size) throw new Error(`the image ends at ${size} bytes: no ${len} bytes at ${pos}`);
      const b = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const n = readSync(fd, b, got, len - got, pos + got);
        if (n === 0) throw new Error(`the image ended at ${pos + got} bytes`);
        got += n;
      }
      return b;
    },
  };
}

/** A reader over bytes in memory (tests, small images). */
export function bufferReader(buf: Buffer): IsoReader {
  return {
    size: buf.length,
    read(pos, len) {
      if (pos < 0 || len < 0 || pos + len > buf.length) throw new Error(`the image ends at ${buf.length} bytes: no ${len} bytes at ${pos}`);
      return buf.subarray(pos, pos + len);
    },
  };
}

/** The directory record at `off` of `b` as an entry, or null for "." and "..". */
function entryOf(b: Buffer, off: number, len: number): IsoEntry | null {
  const nameLen = b[off + 32]!;
  if (33 + nameLen > len) throw new Error('a directory record is shorter than its name');
  const raw = b.subarray(off + 33, off + 33 + nameLen);
  if (nameLen === 1 && (raw[0] === 0 || raw[0] === 1)) return null;
  const flags = b[off + 25]!;
  if (flags & 0x80) throw new Error('a file in several extents is not read');
  // Rock Ridge: SUSP entries after the name (padded to an even offset); NM holds the real name.
  let name: string | null = null;
  let su = 33 + nameLen + ((33 + nameLen) % 2);
  while (su + 4 <= len) {
    const sig = b.toString('latin1', off + su, off + su + 2);
    const l = b[off + su + 2]!;
    if (l < 4 || su + l > len) break;
    if (sig === 'NM') name = (name ?? '') + b.toString('utf8', off + su + 5, off + su + l);
    su += l;
  }
  name ??= raw.toString('latin1').replace(/;\d+$/, '').replace(/\.$/, '').toLowerCase();
  return { name, lba: b.readUInt32LE(off + 2), size: b.readUInt32LE(off + 10), dir: (flags & 0x02) !== 0 };
}

/** The entries of a directory. */
export function isoDirectory(r: IsoReader, dir: Pick<IsoEntry, 'lba' | 'size'>): IsoEntry[] {
  const b = r.read(dir.lba * ISO_BLOCK_BYTES, dir.size);
  const out: IsoEntry[] = [];
  let off = 0;
  while (off < b.length) {
    const len = b[off]!;
    // A zero length pads to the next block.
    if (len === 0) {
      off = (Math.floor(off / ISO_BLOCK_BYTES) + 1) * ISO_BLOCK_BYTES;
      continue;
    }
    if (len < 34 || off + len > b.length) throw new Error('a directory record runs past its directory');
    const e = entryOf(b, off, len);
    if (e) out.push(e);
    if (out.length > MAX_ENTRIES) throw new Error(`a directory of more than ${MAX_ENTRIES} entries`);
    off += len;
  }
  return out;
}

/** The root directory, from the primary volume descriptor; throws for what is no ISO 9660 image. */
export function isoRoot(r: IsoReader): IsoEntry {
  const pvd = r.read(PVD_LBA * ISO_BLOCK_BYTES, ISO_BLOCK_BYTES);
  if (pvd[0] !== 1 || pvd.toString('latin1', 1, 6) !== 'CD001') throw new Error('no ISO 9660 image (no primary volume descriptor)');
  if (pvd.readUInt16LE(128) !== ISO_BLOCK_BYTES) throw new Error('an ISO 9660 image of another block size');
  const e = entryOf(pvd, 156, 34);
  // The root's own record names itself "\0": read its extent directly.
  return e ?? { name: '', lba: pvd.readUInt32LE(156 + 2), size: pvd.readUInt32LE(156 + 10), dir: true };
}

/** The entry at `path` ("boot/vmlinuz"), or null when there is none. */
export function isoLookup(r: IsoReader, path: string): IsoEntry | null {
  let cur = isoRoot(r);
  for (const part of path.split('/').filter(Boolean)) {
    if (!cur.dir) return null;
    const next = isoDirectory(r, cur).find((e) => e.name === part);
    if (!next) return null;
    cur = next;
  }
  return cur;
}

/** A file's bytes (small files: release names, configs). */
export function isoRead(r: IsoReader, e: IsoEntry): Buffer {
  if (e.dir) throw new Error(`${e.name} is a directory`);
  return Buffer.from(r.read(e.lba * ISO_BLOCK_BYTES, e.size));
}

/** A file copied to `dest` (created, never followed: O_EXCL), synced. */
export function isoCopy(r: IsoReader, e: IsoEntry, dest: string): void {
  if (e.dir) throw new Error(`${e.name} is a directory`);
  const start = e.lba * ISO_BLOCK_BYTES;
  if (start + e.size > r.size) throw new Error(`${e.name} runs past the image's end`);
  const out = openSync(dest, 'wx', 0o644);
  try {
    for (let done = 0; done < e.size; ) {
      const n = Math.min(COPY_CHUNK_BYTES, e.size - done);
      writeSync(out, r.read(start + done, n));
      done += n;
    }
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
}
