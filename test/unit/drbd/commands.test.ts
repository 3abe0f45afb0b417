/**
 * node-cgi/drbd/commands.ts: each drbdadm step's argv, checked against
 * what the real drbdadm-84 makes of it (`-d`, its dry run, prints the
 * drbdsetup-84 and drbdmeta calls it would make), and the steps of a node.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import {
  activateSteps, createSteps, cstateArgs, deactivateSteps, disconnectArgs, drbdadmArgs, loopAttachArgs, loopBackingArgs, loopDetachArgs, type DrbdadmStep, type NodeDisk,
} from '../../../node-cgi/drbd/commands';
import { drbdResource, drbdResourceConfig } from '../../../node-cgi/drbd/resource';
import { drbdadm84 } from '../../helpers/drbd';
import type { HttpError } from '../../../node-cgi/lib/errors';

const R = drbdResource(101, 0, 2, [{ name: 'node1', address: '10.99.0.1' }, { name: 'node2', address: '10.99.0.2' }]);
const CONFIG = drbdResourceConfig(R);
const DISK: NodeDisk = { resource: R, configFile: '/run/ramvm/drbd/vm-101-disk-0.res', config: CONFIG, file: '/var/lib/vz/images/101/vm-101-disk-0.drbd', bytes: 2 ** 30 };

const DA = suite('drbdadmArgs');
/** Each step, its argv, and the calls drbdadm-84 makes of it on node1. */
const STEPS: [DrbdadmStep, string[], string[]][] = [
  ['create-md', ['create-md', '--force'], ['drbdmeta 2 v08 /dev/loop1002 internal create-md --force']],
  ['up', ['up'], [
    '/usr/lib/drbd/drbdsetup-84 new-resource vm-101-disk-0',
    '/usr/lib/drbd/drbdsetup-84 new-minor vm-101-disk-0 2 0',
    'drbdmeta 2 v08 /dev/loop1002 internal apply-al',
    '/usr/lib/drbd/drbdsetup-84 attach 2 /dev/loop1002 /dev/loop1002 internal',
    '/usr/lib/drbd/drbdsetup-84 connect vm-101-disk-0 ipv4:10.99.0.1:7790 ipv4:10.99.0.2:7790 --protocol=C',
  ]],
  ['skip-sync', ['new-current-uuid', '--clear-bitmap'], ['/usr/lib/drbd/drbdsetup-84 new-current-uuid 2 --clear-bitmap']],
  ['primary', ['primary'], ['/usr/lib/drbd/drbdsetup-84 primary 2']],
  ['force-primary', ['primary', '--force'], ['/usr/lib/drbd/drbdsetup-84 primary 2 --force']],
  ['secondary', ['secondary'], ['/usr/lib/drbd/drbdsetup-84 secondary 2']],
  ['disconnect', ['disconnect'], ['/usr/lib/drbd/drbdsetup-84 disconnect ipv4:10.99.0.1:7790 ipv4:10.99.0.2:7790']],
  ['connect', ['connect'], ['/usr/lib/drbd/drbdsetup-84 connect vm-101-disk-0 ipv4:10.99.0.1:7790 ipv4:10.99.0.2:7790 --protocol=C']],
  ['down', ['down'], ['/usr/lib/drbd/drbdsetup-84 down vm-101-disk-0']],
];
for (const [step, args, calls] of STEPS) {
  DA(`should make ${step} ${args.join(' ')}, which drbdadm-84 turns into ${calls.length} call(s)`, () => {
    const argv = drbdadmArgs(step, DISK.configFile, 'vm-101-disk-0');
    assert.equal(argv, ['drbdadm', '-c', DISK.configFile, ...args, 'vm-101-disk-0']);
    const r = drbdadm84(CONFIG, 'node1', ['-d', ...argv.slice(3)]);
    assert.is(r.code, 0, r.err);
    assert.equal(r.out.trim().split('\n'), calls);
  });
}
DA.run();

const DC = suite('disconnectArgs');
for (const node of ['node1', 'node2']) {
  DC(`should make on ${node} the one drbdsetup-84 call drbdadm-84 makes of a disconnect there`, () => {
    const argv = disconnectArgs(R, node);
    const r = drbdadm84(CONFIG, node, ['-d', 'disconnect', R.name]);
    assert.is(r.code, 0, r.err);
    assert.equal(argv.join(' '), r.out.trim());
    assert.is(argv[2], `ipv4:10.99.0.${node.slice(-1)}:7790`, 'this node\'s end first');
  });
}
DC('should name both ends of an IPv6 connection in brackets', () => {
  const r6 = drbdResource(101, 0, 2, [{ name: 'node1', address: 'fd00::1' }, { name: 'node2', address: 'fd00::2' }]);
  assert.equal(disconnectArgs(r6, 'node2'), ['/usr/lib/drbd/drbdsetup-84', 'disconnect', 'ipv6:[fd00::2]:7790', 'ipv6:[fd00::1]:7790']);
});
DC('should refuse (409) on a node that is not one of the resource\'s two', () => {
  assert.throws(() => disconnectArgs(R, 'node3'), (e: HttpError) => e.code === 'conflict' && /vm-101-disk-0 is not on node node3 \(its nodes: node1, node2\)/.test(e.message));
});
DC.run();

const CS84 = suite('cstateArgs');
CS84('should ask drbdsetup-84 for the connection state by minor, as drbdadm-84 does', () => {
  const r = drbdadm84(CONFIG, 'node1', ['-d', 'cstate', R.name]);
  assert.is(r.code, 0, r.err);
  assert.equal(cstateArgs(2).join(' '), r.out.trim());
});
CS84.run();

const LO = suite('loopAttachArgs, loopDetachArgs, loopBackingArgs');
LO('should name the loop device and the file, never search for a free one', () => {
  assert.equal(loopAttachArgs('/dev/loop1002', '/f.drbd'), ['losetup', '/dev/loop1002', '/f.drbd']);
  assert.equal(loopDetachArgs('/dev/loop1002'), ['losetup', '-d', '/dev/loop1002']);
  assert.equal(loopBackingArgs('/dev/loop1002'), ['losetup', '--list', '--noheadings', '--output', 'BACK-FILE', '/dev/loop1002']);
});
LO.run();

const CS = suite('createSteps');
CS('should make a sparse file a bitmap step larger than the disk, its loop device, the resource file, meta-data, up', () => {
  assert.equal(createSteps(DISK), [
    { run: ['qemu-img', 'create', '-q', '-f', 'raw', DISK.file, String(2 ** 30 + 144 * 512)] },
    { run: ['losetup', '/dev/loop1002', DISK.file] },
    { write: DISK.configFile, text: CONFIG },
    { run: ['drbdadm', '-c', DISK.configFile, 'create-md', '--force', 'vm-101-disk-0'] },
    { run: ['drbdadm', '-c', DISK.configFile, 'up', 'vm-101-disk-0'] },
  ]);
});
CS.run();

const AS = suite('activateSteps');
AS('should attach, write the resource file and bring it up, keeping the meta-data', () => {
  const steps = activateSteps(DISK);
  assert.equal(steps.map((s) => ('run' in s ? s.run[0] + ' ' + s.run.at(-2) : 'write')), ['losetup /dev/loop1002', 'write', 'drbdadm up']);
  assert.not.ok(steps.some((s) => 'run' in s && s.run.includes('create-md')), 'never new meta-data over a disk that has some');
});
AS.run();

const DS = suite('deactivateSteps');
DS('should take the resource down, then free its loop device', () => {
  assert.equal(deactivateSteps(DISK), [
    { run: ['drbdadm', '-c', DISK.configFile, 'down', 'vm-101-disk-0'] },
    { run: ['losetup', '-d', '/dev/loop1002'] },
  ]);
});
DS.run();
