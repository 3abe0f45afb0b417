/**
 * guestSha256 (node-cgi/migrate/disks.ts) on real images, read through
 * `qemu-img map` and `qemu-img convert`: the digest both ends of a
 * migration compare is the same for the same content however sparse the
 * file, raw or qcow2, and another for a byte changed or another size. It
 * reads only the data (this process's read bytes, /proc/self/io): a 4 GiB
 * image holding 1 MiB is not read whole.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestSha256 } from '../../node-cgi/migrate/disks';

const MIB = 1024 * 1024;

function sh(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
}

let dir: string;
const G = suite('guestSha256');
G.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ramvm-migrate-disks-'));
  // 64 MiB with 3 MiB of random data at 10 MiB and one byte at the very end.
  const sparse = join(dir, 'sparse.raw');
  writeFileSync(sparse, '');
  truncateSync(sparse, 64 * MIB);
  sh(['dd', 'if=/dev/urandom', `of=${sparse}`, 'bs=1M', 'count=3', 'seek=10', 'conv=notrunc', 'status=none']);
  sh(['dd', 'if=/dev/urandom', `of=${sparse}`, 'bs=1', 'count=1', `seek=${64 * MIB - 1}`, 'conv=notrunc', 'status=none']);
});
G.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

G('should give a dense copy and a qcow2 of the same content the digest of the sparse raw image', async () => {
  const sparse = join(dir, 'sparse.raw');
  sh(['cp', '--sparse=never', sparse, join(dir, 'dense.raw')]);
  sh(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', sparse, join(dir, 'copy.qcow2')]);
  const want = await guestSha256(sparse, 'raw');
  assert.match(want, /^[0-9a-f]{64}$/);
  assert.is(await guestSha256(join(dir, 'dense.raw'), 'raw'), want);
  assert.is(await guestSha256(join(dir, 'copy.qcow2'), 'qcow2'), want);
});

/** Turns every bit of the byte at `offset` of `file`. */
function flipByte(file: string, offset: number): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

G('should give another digest for one byte changed, in the data or in a hole, and for another size', async () => {
  const sparse = join(dir, 'sparse.raw');
  const want = await guestSha256(sparse, 'raw');
  for (const [name, offset] of [['data', 11 * MIB], ['hole', 40 * MIB], ['last byte', 64 * MIB - 1]] as const) {
    const f = join(dir, `changed-${name.replace(' ', '-')}.raw`);
    sh(['cp', '--sparse=always', sparse, f]);
    flipByte(f, offset);
    assert.is.not(await guestSha256(f, 'raw'), want, `one byte changed: ${name}`);
  }
  const longer = join(dir, 'longer.raw');
  sh(['cp', '--sparse=always', sparse, longer]);
  truncateSync(longer, 65 * MIB);
  assert.is.not(await guestSha256(longer, 'raw'), want, 'a MiB of zeroes more');
});

/** Bytes this process has read so far (/proc/self/io rchar). */
const readBytes = () => Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);

G('should read only the data of a sparse image: a 4 GiB image holding 1 MiB', async () => {
  const big = join(dir, 'big.raw');
  writeFileSync(big, '');
  truncateSync(big, 4096 * MIB);
  sh(['dd', 'if=/dev/urandom', `of=${big}`, 'bs=1M', 'count=1', 'seek=2000', 'conv=notrunc', 'status=none']);
  const before = readBytes();
  await guestSha256(big, 'raw');
  const read = readBytes() - before;
  assert.ok(read >= MIB && read < 16 * MIB, `${read} bytes read`);
});

G.run();
