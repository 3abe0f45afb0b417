import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_FILES, parseLdd, usrMerged } from '../../../build/image/files';

const L = suite('parseLdd');
L('should list the libraries and the interpreter of real ldd output', () => {
  const libs = parseLdd(readFileSync(join(__dirname, 'fixtures/ldd-qemu-img-7.2.txt'), 'utf8'));
  assert.is(libs.length, 20);
  assert.ok(libs.includes('/lib/x86_64-linux-gnu/libzstd.so.1'));
  assert.ok(libs.includes('/lib64/ld-linux-x86-64.so.2'));
  assert.not.ok(libs.some((l) => l.includes('vdso')));
});
L('should return nothing for a static program', () => {
  assert.equal(parseLdd('\tstatically linked\n'), []);
  assert.equal(parseLdd('\tnot a dynamic executable\n'), []);
});
L('should fail on a library that is not found', () => {
  assert.throws(() => parseLdd('\tlibfoo.so.1 => not found\n'), /libfoo/);
});
L.run();

const U = suite('usrMerged');
U('should move /lib, /bin, /sbin and /lib64 below /usr', () => {
  assert.is(usrMerged('/lib/x86_64-linux-gnu/libc.so.6'), '/usr/lib/x86_64-linux-gnu/libc.so.6');
  assert.is(usrMerged('/lib64/ld-linux-x86-64.so.2'), '/usr/lib64/ld-linux-x86-64.so.2');
  assert.is(usrMerged('/sbin/drbdadm'), '/usr/sbin/drbdadm');
  assert.is(usrMerged('/bin'), '/usr/bin');
});
U('should leave other paths and look-alikes alone', () => {
  assert.is(usrMerged('/usr/bin/node'), '/usr/bin/node');
  assert.is(usrMerged('/library/x'), '/library/x');
  assert.is(usrMerged('/etc/mke2fs.conf'), '/etc/mke2fs.conf');
});
U.run();

const H = suite('HOST_FILES');
H('should name each file once, all absolute', () => {
  const paths = HOST_FILES.map((f) => f.path);
  assert.is(new Set(paths).size, paths.length);
  assert.ok(paths.every((p) => p.startsWith('/')));
});
H('should carry what a node runs: node, qemu, qemu-img, lighttpd, drbd, iproute2', () => {
  for (const p of ['/usr/bin/node', '/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-img', '/usr/sbin/lighttpd', '/usr/sbin/drbdadm', '/usr/bin/ip']) {
    assert.ok(HOST_FILES.some((f) => f.path === p), p);
  }
});
H.run();
