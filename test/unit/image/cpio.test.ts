import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S_IFCHR, S_IFREG, newcHeader, writeCpio } from '../../../build/image/cpio';

const H = suite('newcHeader');
H('should write the worked example byte for byte', () => {
  const h = newcHeader({ name: 'init', mode: S_IFREG | 0o755, size: 5, ino: 1 });
  assert.is(h.length, 116);
  assert.is(
    h.toString('latin1'),
    '070701' + '00000001' + '000081ED' + '00000000' + '00000000' + '00000001' + '00000000' + '00000005' +
      '00000000' + '00000000' + '00000000' + '00000000' + '00000005' + '00000000' + 'init\0' + '\0',
  );
});
H('should pad header and name to a multiple of 4', () => {
  for (const name of ['a', 'ab', 'abc', 'abcd', 'abcde']) assert.is(newcHeader({ name, mode: S_IFREG, size: 0, ino: 1 }).length % 4, 0, name);
});
H('should carry the device number of a character device', () => {
  const h = newcHeader({ name: 'dev/console', mode: S_IFCHR | 0o600, size: 0, ino: 2, rdev: { major: 5, minor: 1 } }).toString('latin1');
  assert.is(h.slice(6 + 8 * 9, 6 + 8 * 11), '0000000500000001');
  assert.is(h.slice(6 + 8, 6 + 16), '00002180');
});
H('should refuse absolute names', () => {
  assert.throws(() => newcHeader({ name: '/init', mode: S_IFREG, size: 0, ino: 1 }), /relative/);
});
H.run();

const W = suite('writeCpio');
W('should write an archive that busybox cpio unpacks to the same tree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-image-cpio-'));
  try {
    writeFileSync(join(dir, 'src.bin'), Buffer.from([1, 2, 3, 4, 5, 6, 7]));
    const len = writeCpio(join(dir, 'a.cpio'), [
      { name: 'etc', kind: 'dir' },
      { name: 'etc/parts', kind: 'data', data: Buffer.from('ramvm\nbase\n') },
      { name: 'bin', kind: 'dir' },
      { name: 'bin/sh', kind: 'symlink', target: 'busybox' },
      { name: 'bin/busybox', kind: 'file', path: join(dir, 'src.bin'), mode: 0o755 },
    ]);
    assert.is(len, readFileSync(join(dir, 'a.cpio')).length);
    assert.is(len % 4, 0);
    const out = join(dir, 'out');
    mkdirSync(out);
    const r = spawnSync('busybox', ['cpio', '-i', '-d'], { cwd: out, input: readFileSync(join(dir, 'a.cpio')), encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.is(readFileSync(join(out, 'etc/parts'), 'utf8'), 'ramvm\nbase\n');
    assert.equal([...readFileSync(join(out, 'bin/busybox'))], [1, 2, 3, 4, 5, 6, 7]);
    const ls = spawnSync('ls', ['-l', join(out, 'bin')], { encoding: 'utf8' }).stdout;
    assert.match(ls, /-rwxr-xr-x .* busybox/);
    assert.match(ls, /sh -> busybox/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
W.run();
