import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { asQemuArgs, processUid } from '../../../node-cgi/root/guest';

const S = suite('asQemuArgs');
S('should run QEMU as its user with its groups, no capabilities and no way to gain any', () => {
  assert.equal(asQemuArgs({ user: 'ramvm-qemu', uid: 995, gid: 995, groups: [108] }),
    ['setpriv', '--reuid=995', '--regid=995', '--groups=108', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--']);
});
S('should clear the groups on a host without a KVM group', () => {
  assert.ok(asQemuArgs({ user: 'ramvm-qemu', uid: 995, gid: 995, groups: [] }).includes('--clear-groups'));
});
S.run();

const U = suite('processUid');
U('should read the uid of /proc/<pid>/status when all four agree', () => {
  assert.is(processUid(readFileSync('/proc/self/status', 'utf8')), process.getuid!());
  assert.is(processUid('Name:\tqemu\nUid:\t995\t995\t995\t995\nGid:\t995\t995\t995\t995\n'), 995);
});
U('should give no uid to a process whose ids differ (it is changing its user) or to garbage', () => {
  assert.is(processUid('Uid:\t995\t0\t995\t995\n'), null);
  assert.is(processUid(''), null);
});
U.run();
