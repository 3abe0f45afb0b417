import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sfsPart, sfsToPrune, treeHash, xzStreamOffset } from '../../../build/image/image';
import { partSquashfsOpts } from '../../../build/image/layout';

const X = suite('xzStreamOffset');
X('should find the xz magic after the decompressor stub', () => {
  const bz = Buffer.concat([Buffer.alloc(100, 0x90), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 4]), Buffer.alloc(10)]);
  assert.is(xzStreamOffset(bz), 100);
});
X('should fail on a kernel compressed otherwise', () => {
  assert.throws(() => xzStreamOffset(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), /CONFIG_KERNEL_XZ/);
});
X.run();

const T = suite('treeHash');
const OPTS = partSquashfsOpts('base');
T('should change with content, mode, link target and squashfs options, and only then', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-image-hash-'));
  try {
    writeFileSync(join(dir, 'a'), 'one');
    symlinkSync('a', join(dir, 'l'));
    const h0 = treeHash(dir, OPTS);
    assert.is(treeHash(dir, OPTS), h0, 'stable');
    assert.is.not(treeHash(dir, partSquashfsOpts('node')), h0, 'another block size');
    writeFileSync(join(dir, 'a'), 'two');
    const h1 = treeHash(dir, OPTS);
    assert.is.not(h1, h0, 'content');
    chmodSync(join(dir, 'a'), 0o755);
    const h2 = treeHash(dir, OPTS);
    assert.is.not(h2, h1, 'mode');
    rmSync(join(dir, 'l'));
    symlinkSync('b', join(dir, 'l'));
    assert.is.not(treeHash(dir, OPTS), h2, 'link target');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
T.run();

const P = suite('sfsPart');
P('should name the part of a cached squashfs, also a part whose name has a dash', () => {
  assert.is(sfsPart('mesa-0123456789abcdef.sfs'), 'mesa');
  assert.is(sfsPart('kiosk-data-0123456789abcdef.sfs'), 'kiosk-data');
});
P('should take no other file for a part: a temporary file, another hash length, another suffix', () => {
  assert.is(sfsPart('mesa-0123456789abcdef.sfs.4242.tmp'), null);
  assert.is(sfsPart('mesa-0123.sfs'), null);
  assert.is(sfsPart('mesa-0123456789abcdef.img'), null);
});
P.run();

const R = suite('sfsToPrune');
R('should keep the most recently used builds and give the rest, oldest first', () => {
  const builds = [{ f: 'a', at: 30 }, { f: 'b', at: 10 }, { f: 'c', at: 50 }, { f: 'd', at: 20 }, { f: 'e', at: 40 }];
  assert.equal(sfsToPrune(builds, 3), ['b', 'd']);
});
R('should give nothing while there are no more than it keeps', () => {
  assert.equal(sfsToPrune([{ f: 'a', at: 1 }, { f: 'b', at: 2 }], 3), []);
});
R.run();
