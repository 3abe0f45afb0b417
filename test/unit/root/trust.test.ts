/**
 * What the root helper believes: a node record in a registry only root may
 * write. Run as root (the unit suite runs as root); the registry here is a
 * folder of the test's own, made as root would make it, then spoiled one
 * way at a time.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpError } from '../../../node-cgi/lib/errors';
import { asUser, trustedRecord, untrustedReason } from '../../../node-cgi/root/trust';

const KEY = '0123456789abcdef';
const REC = {
  root: '/srv/ramvm', node: '/usr/bin/node', helper: '/opt/ramvm/dist/bin/ramvm-root',
  cgi: { user: 'ramvm', uid: 990, gid: 990 }, qemu: { user: 'ramvm-qemu', uid: 991, gid: 990, groups: [108] },
};

const U = suite('untrustedReason');
const st = (uid: number, mode: number, link = false) => ({ uid, mode, isSymbolicLink: () => link });
U('should trust only what root owns and alone may write', () => {
  assert.is(untrustedReason(st(0, 0o40755), '/run/ramvm-root'), null);
  assert.is(untrustedReason(st(0, 0o100644), '/x'), null);
  assert.is(untrustedReason(st(0, 0o100600), '/x'), null);
  assert.is(untrustedReason(st(990, 0o40755), '/x'), '/x does not belong to root');
  assert.is(untrustedReason(st(0, 0o40775), '/x'), '/x may be written by others than root');
  assert.is(untrustedReason(st(0, 0o41777), '/tmp'), '/tmp may be written by others than root');
  assert.is(untrustedReason(st(0, 0o120777, true), '/x'), '/x is a symbolic link');
});
U.run();

const T = suite('trustedRecord');
let reg = '';
T.before.each(() => {
  reg = join(mkdtempSync(join(tmpdir(), 'ramvm-registry-')), 'reg');
  mkdirSync(join(reg, KEY), { recursive: true, mode: 0o755 });
  writeFileSync(join(reg, KEY, 'node.json'), JSON.stringify(REC), { mode: 0o644 });
});
T.after.each(() => rmSync(join(reg, '..'), { recursive: true, force: true }));
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 403);
    return (e as Error).message;
  }
  assert.unreachable('trusted');
  return '';
};
T('should read a record that root wrote', () => {
  assert.equal(trustedRecord(KEY, reg), REC);
});
T('should refuse a key nobody registered', () => {
  assert.match(refusal(() => trustedRecord('fedcba9876543210', reg)), /no node is registered as fedcba9876543210 \(.*fedcba9876543210 does not exist\)/);
});
T('should refuse a record another user may write', () => {
  chmodSync(join(reg, KEY, 'node.json'), 0o666);
  assert.match(refusal(() => trustedRecord(KEY, reg)), /node.json may be written by others than root/);
});
T('should refuse a record the node\'s user owns', () => {
  chownSync(join(reg, KEY, 'node.json'), 990, 990);
  assert.match(refusal(() => trustedRecord(KEY, reg)), /node.json does not belong to root/);
});
T('should refuse a node folder another user may write (who could swap the record)', () => {
  chmodSync(join(reg, KEY), 0o777);
  assert.match(refusal(() => trustedRecord(KEY, reg)), new RegExp(`${KEY} may be written by others than root`));
});
T('should refuse a registry another user may write', () => {
  chmodSync(reg, 0o1777);
  assert.match(refusal(() => trustedRecord(KEY, reg)), /reg may be written by others than root/);
});
T('should refuse a record that is a link', () => {
  rmSync(join(reg, KEY, 'node.json'));
  writeFileSync(join(reg, 'elsewhere.json'), JSON.stringify(REC), { mode: 0o644 });
  symlinkSync(join(reg, 'elsewhere.json'), join(reg, KEY, 'node.json'));
  assert.match(refusal(() => trustedRecord(KEY, reg)), /node.json is a symbolic link/);
});
T('should refuse a record that names root as the node\'s user', () => {
  writeFileSync(join(reg, KEY, 'node.json'), JSON.stringify({ ...REC, cgi: { user: 'root', uid: 0, gid: 0 } }));
  assert.throws(() => trustedRecord(KEY, reg), /cgi must be \{user, uid, gid\} of a user other than root/);
});
T.run();

const A = suite('asUser');
A('should touch files with the user\'s ids and be root again after', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-asuser-'));
  try {
    chmodSync(dir, 0o777);
    const f = join(dir, 'made');
    asUser({ user: 'nobody', uid: 65534, gid: 65534 }, () => writeFileSync(f, 'x'));
    const { uid, gid } = statSync(f);
    assert.equal([uid, gid], [65534, 65534]);
    writeFileSync(join(dir, 'secret'), 's', { mode: 0o600 });
    assert.throws(() => asUser({ user: 'nobody', uid: 65534, gid: 65534 }, () => readFileSync(join(dir, 'secret'))), /EACCES/);
    assert.equal([process.geteuid!(), process.getegid!()], [0, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
A('should refuse work that goes on after it returns', () => {
  assert.throws(() => asUser({ user: 'nobody', uid: 65534, gid: 65534 }, () => Promise.resolve() as unknown as void), /synchronous work only/);
  assert.is(process.geteuid!(), 0);
});
A.run();
