import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { nodeKey } from '../../../node-cgi/lib/paths';
import { parseHelperAnswer, parseNodeRecord, rootCallArgv } from '../../../node-cgi/lib/separation';

const REC = {
  root: '/srv/ramvm', node: '/usr/bin/node', helper: '/opt/ramvm/dist/bin/ramvm-root',
  cgi: { user: 'ramvm', uid: 999, gid: 995 }, qemu: { user: 'ramvm-qemu', uid: 995, gid: 995, groups: [108] },
};

const P = suite('parseNodeRecord');
P('should read a record as root wrote it', () => {
  assert.equal(parseNodeRecord(JSON.stringify(REC)), REC);
});
// [why, the record with one thing wrong, the error]
const BAD: [string, unknown, RegExp][] = [
  ['a relative root', { ...REC, root: 'var' }, /root must be an absolute path/],
  ['a root that climbs', { ...REC, root: '/srv/../etc' }, /root must be an absolute path/],
  ['a helper path with a space', { ...REC, helper: '/opt/ram vm/x' }, /helper must be an absolute path/],
  ['root as the CGI user', { ...REC, cgi: { user: 'ramvm', uid: 0, gid: 995 } }, /cgi must be \{user, uid, gid\} of a user other than root/],
  ['root\'s group for QEMU', { ...REC, qemu: { ...REC.qemu, gid: 0 } }, /qemu must be/],
  ['root\'s group among QEMU\'s groups', { ...REC, qemu: { ...REC.qemu, groups: [0] } }, /qemu.groups must be group ids other than root's/],
  ['one user for both', { ...REC, qemu: { ...REC.qemu, uid: 999 } }, /the CGI user and the QEMU user must differ/],
  ['a user name that is an option', { ...REC, cgi: { ...REC.cgi, user: '-oroot' } }, /cgi must be/],
];
for (const [why, rec, err] of BAD) P(`should refuse ${why}`, () => assert.throws(() => parseNodeRecord(JSON.stringify(rec)), err));
P.run();

const A = suite('parseHelperAnswer');
A('should take the last line\'s answer or error', () => {
  assert.equal(parseHelperAnswer('{"ok":{"pid":42}}\n'), { ok: { pid: 42 } });
  assert.equal(parseHelperAnswer('noise\n{"error":{"code":"conflict","message":"guest 101 is already running"}}\n'),
    { error: { code: 'conflict', message: 'guest 101 is already running' } });
});
A('should make anything else an internal error without its text', () => {
  for (const out of ['', 'Segmentation fault', '{"error":{"code":"teapot","message":"x"}}', '{"error":"x"}']) {
    assert.equal(parseHelperAnswer(out), { error: { code: 'internal', message: 'the root helper gave no answer' } }, out);
  }
});
A.run();

const C = suite('rootCallArgv');
C('should call exactly the command of the sudoers line, with the node key, never a path', () => {
  assert.equal(rootCallArgv(REC, 'start-guest', ['101', 'kvm']),
    ['sudo', '-n', '/usr/bin/node', '/opt/ramvm/dist/bin/ramvm-root', nodeKey('/srv/ramvm'), 'start-guest', '101', 'kvm']);
});
C.run();
