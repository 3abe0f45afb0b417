/**
 * A writer of "newc" cpio archives, the format the kernel unpacks an
 * initramfs from (Documentation/driver-api/early-userspace/buffer-format.rst).
 * Written here so the image build needs no cpio tool and every archive is
 * byte-for-byte reproducible (fixed owner, mode and mtime 0).
 *
 * One entry: a 110-byte header "070701" + 13 fields of 8 hex digits, the
 * name with its NUL, padding to 4 bytes, the data, padding to 4 bytes:
 *
 *   newcHeader({ name: "init", mode: 0o100755, size: 5, ino: 1 })
 *   → "070701" "00000001" "000081ED" "00000000" "00000000" "00000001" "00000000"
 *     "00000005" "00000000" "00000000" "00000000" "00000000" "00000005" "00000000"
 *   then "init\0" + 1 byte of padding (110 + 5 = 115 → 116), then the 5 bytes.
 *
 * The archive ends with an entry named "TRAILER!!!".
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

export interface CpioEntry {
  /** Path inside the archive, without a leading "/". */
  name: string;
  /** st_mode: type bits and permissions (0o040755 a directory, 0o100644 a file, 0o120777 a symlink). */
  mode: number;
  size: number;
  ino: number;
  nlink?: number;
  /** Device number of a character device (S_IFCHR). */
  rdev?: { major: number; minor: number };
}

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Header plus name plus the padding after the name. */
export function newcHeader(e: CpioEntry): Buffer {
  if (e.name.startsWith('/')) throw new Error(`cpio names are relative: ${e.name}`);
  const nameBytes = Buffer.from(e.name + '\0', 'utf8');
  const fields = [e.ino, e.mode, 0, 0, e.nlink ?? (e.mode & S_IFDIR ? 2 : 1), 0, e.size, 0, 0, e.rdev?.major ?? 0, e.rdev?.minor ?? 0, nameBytes.length, 0];
  const head = Buffer.from('070701' + fields.map(hex8).join(''), 'ascii');
  return Buffer.concat([head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length))]);
}

/** What one archive member holds: a directory, a symlink target, bytes, or a file to stream. */
export type CpioSource =
  | { name: string; kind: 'dir'; mode?: number }
  | { name: string; kind: 'chardev'; major: number; minor: number; mode?: number }
  | { name: string; kind: 'symlink'; target: string }
  | { name: string; kind: 'data'; data: Buffer; mode?: number }
  | { name: string; kind: 'file'; path: string; mode?: number };

/** Writes the members in order and the trailer to `out`; returns the archive's length in bytes. */
export function writeCpio(out: string, members: readonly CpioSource[]): number {
  const fd = openSync(out, 'w');
  let offset = 0;
  const put = (b: Buffer) => {
    writeSync(fd, b);
    offset += b.length;
  };
  try {
    let ino = 1;
    for (const m of members) {
      if (m.kind === 'dir') {
        put(newcHeader({ name: m.name, mode: S_IFDIR | (m.mode ?? 0o755), size: 0, ino: ino++ }));
      } else if (m.kind === 'chardev') {
        put(newcHeader({ name: m.name, mode: S_IFCHR | (m.mode ?? 0o600), size: 0, ino: ino++, rdev: { major: m.major, minor: m.minor } }));
      } else if (m.kind === 'symlink') {
        const data = Buffer.from(m.target, 'utf8');
        put(newcHeader({ name: m.name, mode: S_IFLNK | 0o777, size: data.length, ino: ino++ }));
        put(Buffer.concat([data, Buffer.alloc(pad4(data.length))]));
      } else if (m.kind === 'data') {
        put(newcHeader({ name: m.name, mode: S_IFREG | (m.mode ?? 0o644), size: m.data.length, ino: ino++ }));
        put(Buffer.concat([m.data, Buffer.alloc(pad4(m.data.length))]));
      } else {
        const src = openSync(m.path, 'r');
        try {
          const size = fstatSync(src).size;
          put(newcHeader({ name: m.name, mode: S_IFREG | (m.mode ?? 0o644), size, ino: ino++ }));
          const buf = Buffer.alloc(1 << 20);
          let done = 0;
          while (done < size) {
            const n = readSync(src, buf, 0, buf.length, done);
            if (n === 0) throw new Error(`${m.path} shrank while being archived`);
            put(buf.subarray(0, n));
            done += n;
          }
          put(Buffer.alloc(pad4(size)));
        } finally {
          closeSync(src);
        }
      }
    }
    put(newcHeader({ name: 'TRAILER!!!', mode: 0, size: 0, ino: 0, nlink: 1 }));
  } finally {
    closeSync(fd);
  }
  return offset;
}
