/**
 * The root-side start as data: which users to make, how the data tree is
 * handed over, the sudoers line, and where a helper may not run from.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  accountsOf, dataTreePlan, parseGroup, parsePasswd, sudoersFile, sudoersText, unreachableReason, unsafeForRoot, usersPlan,
} from '../../../node-cgi/root/setup';

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\nkvm:x:108:\n';
const NOLOGIN = ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin'];

const U = suite('usersPlan');
U('should make both users, ramvm-qemu in ramvm\'s group, both in kvm', () => {
  assert.equal(usersPlan(parsePasswd(PASSWD), parseGroup(GROUP)), [
    ['useradd', '--system', '--user-group', '--groups', 'kvm', ...NOLOGIN, 'ramvm'],
    ['useradd', '--system', '--gid', 'ramvm', '--groups', 'kvm', ...NOLOGIN, 'ramvm-qemu'],
  ]);
});
U('should leave out kvm on a host without that group', () => {
  assert.equal(usersPlan(parsePasswd(PASSWD), parseGroup('root:x:0:\n')).map((a) => a.includes('kvm')), [false, false]);
});
U('should make nothing when both exist, and only add a missing kvm membership', () => {
  const passwd = parsePasswd(`${PASSWD}ramvm:x:999:995::/nonexistent:/usr/sbin/nologin\nramvm-qemu:x:995:995::/nonexistent:/usr/sbin/nologin\n`);
  assert.equal(usersPlan(passwd, parseGroup('kvm:x:108:ramvm,ramvm-qemu\n')), []);
  assert.equal(usersPlan(passwd, parseGroup('kvm:x:108:ramvm\n')), [['usermod', '--append', '--groups', 'kvm', 'ramvm-qemu']]);
});
U.run();

const A = suite('accountsOf');
const both = `${PASSWD}ramvm:x:999:995::/nonexistent:/usr/sbin/nologin\nramvm-qemu:x:995:995::/nonexistent:/usr/sbin/nologin\n`;
A('should give both users\' ids and QEMU\'s extra group /dev/kvm\'s', () => {
  assert.equal(accountsOf(parsePasswd(both), parseGroup(GROUP)), {
    cgi: { user: 'ramvm', uid: 999, gid: 995 },
    qemu: { user: 'ramvm-qemu', uid: 995, gid: 995, groups: [108] },
  });
});
A('should refuse users that are missing, root, or that share no group', () => {
  assert.throws(() => accountsOf(parsePasswd(PASSWD), parseGroup(GROUP)), /users ramvm and ramvm-qemu must exist/);
  assert.throws(() => accountsOf(parsePasswd(`${PASSWD}ramvm:x:0:0::/:/bin/sh\nramvm-qemu:x:995:0::/:/bin/sh\n`), parseGroup(GROUP)), /must not be root/);
  assert.throws(() => accountsOf(parsePasswd(`${PASSWD}ramvm:x:999:995::/:/bin/sh\nramvm-qemu:x:995:994::/:/bin/sh\n`), parseGroup(GROUP)), /ramvm-qemu's group must be ramvm's/);
});
A.run();

const D = suite('dataTreePlan');
D('should hand the data folders to ramvm and keep QEMU out of configs and logs', () => {
  assert.equal(dataTreePlan('/srv/r', { cgi: { user: 'ramvm', uid: 999, gid: 995 } }).map((s) => s.argv), [
    ['mkdir', '-p', '/srv/r/etc/ramvm', '/srv/r/var/lib/vz', '/srv/r/run/ramvm', '/srv/r/var/log/ramvm', '/srv/r/run/ramvm/qemu', '/srv/r/run/ramvm/upload', '/srv/r/var/lib/vz/images'],
    ['chmod', 'go+x', '/srv/r'],
    ['chown', '-R', '-h', '999:995', '/srv/r/etc/ramvm', '/srv/r/var/lib/vz', '/srv/r/run/ramvm', '/srv/r/var/log/ramvm'],
    ['chmod', '0700', '/srv/r/etc/ramvm', '/srv/r/var/log/ramvm', '/srv/r/run/ramvm/upload'],
    ['chmod', '0750', '/srv/r/var/lib/vz', '/srv/r/run/ramvm'],
    ['chmod', '0770', '/srv/r/run/ramvm/qemu'],
    ['chmod', '-R', 'g+rwX', '/srv/r/var/lib/vz/images'],
  ]);
});
D('should never change the modes of / on a node', () => {
  const plan = dataTreePlan('/', { cgi: { user: 'ramvm', uid: 999, gid: 995 } }).map((s) => s.argv);
  assert.ok(plan.every((a) => !a.includes('/')), JSON.stringify(plan));
  assert.equal(plan[1], ['chown', '-R', '-h', '999:995', '/etc/ramvm', '/var/lib/vz', '/run/ramvm', '/var/log/ramvm']);
});
D.run();

const S = suite('sudoersText');
const rec = { node: '/usr/bin/node', helper: '/opt/ramvm/dist/bin/ramvm-root', cgi: { user: 'ramvm', uid: 999, gid: 995 } };
S('should allow ramvm the helper bundle run by node, with a reset environment, and nothing else', () => {
  const lines = sudoersText(rec).split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(lines, ['Defaults:ramvm env_reset', 'ramvm ALL=(root) NOPASSWD: /usr/bin/node /opt/ramvm/dist/bin/ramvm-root *']);
});
S('should refuse paths sudoers would read as something else', () => {
  assert.throws(() => sudoersText({ ...rec, helper: '/opt/ram vm/ramvm-root' }), /letters, digits/);
  assert.throws(() => sudoersText({ ...rec, helper: '/opt/x,ALL/ramvm-root' }), /letters, digits/);
  assert.throws(() => sudoersText({ ...rec, node: '/usr/bin/node:ALL' }), /letters, digits/);
});
S('should name one file per installed copy, without a dot (sudo skips those)', () => {
  assert.match(sudoersFile('/opt/ramvm/dist/bin/ramvm-root'), /^\/etc\/sudoers\.d\/ramvm-[0-9a-f]{12}$/);
  assert.is.not(sudoersFile('/a/dist/bin/ramvm-root'), sudoersFile('/b/dist/bin/ramvm-root'));
});
S.run();

const R = suite('unsafeForRoot');
let dir = '';
R.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ramvm-unsafe-'));
});
R.after(() => rmSync(dir, { recursive: true, force: true }));
R('should accept node itself, root\'s all the way up', () => {
  assert.is(unsafeForRoot(process.execPath), null);
});
R('should refuse a helper below a folder anybody may write (/tmp)', () => {
  const f = join(dir, 'ramvm-root');
  writeFileSync(f, '', { mode: 0o755 });
  chmodSync(dir, 0o755);
  assert.is(unsafeForRoot(f), `${tmpdir()} may be written by others than root`);
});
R('should refuse a helper that does not exist (someone could make it)', () => {
  assert.match(unsafeForRoot('/usr/lib/ramvm-no-such/ramvm-root') ?? '', /does not exist/);
});
R.run();

const Re = suite('unreachableReason');
Re('should find the folder above a data root that closes the way', () => {
  const top = mkdtempSync(join(tmpdir(), 'ramvm-reach-'));
  try {
    mkdirSync(join(top, 'a/b'), { recursive: true });
    chmodSync(top, 0o700);
    assert.is(unreachableReason(join(top, 'a/b')), `${top} is closed to other users`);
    chmodSync(top, 0o755);
    assert.is(unreachableReason(join(top, 'a/b')), null);
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
});
Re.run();
