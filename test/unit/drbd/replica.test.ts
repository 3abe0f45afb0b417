/**
 * node-cgi/drbd/replica.ts: the peer of a resource, a replica's fitness from /proc/drbd's view, and the
 * dual-primary switch checked with the real drbdadm-84's dry run.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { drbdResource, drbdResourceConfig } from '../../../node-cgi/drbd/resource';
import { peerOf, replicaProblem, twoPrimariesArgs } from '../../../node-cgi/drbd/replica';
import type { DrbdDeviceState } from '../../../node-cgi/drbd/proc';
import { drbdadm84 } from '../../helpers/drbd';
import { parseRootCall } from '../../../node-cgi/root/ops';

const HOSTS = [{ name: 'node1', address: '10.99.0.1' }, { name: 'node2', address: '10.99.0.2' }] as const;
const CONFIG = drbdResourceConfig(drbdResource(101, 0, 3, HOSTS));

const O = suite('peerOf');
O('should name the other node of the resource', () => {
  const r = { name: 'vm-101-disk-0', hosts: HOSTS };
  assert.is(peerOf(r, 'node1'), 'node2');
  assert.is(peerOf(r, 'node2'), 'node1');
});
O('should refuse a node the resource is not on', () => {
  assert.throws(() => peerOf({ name: 'vm-101-disk-0', hosts: HOSTS }, 'node3'), /replicated between node1 and node2, not on node node3/);
});
O.run();

const ok: DrbdDeviceState = { minor: 3, connection: 'Connected', role: 'Primary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'UpToDate', protocol: 'C', outOfSyncKiB: 0 };
const R = suite('replicaProblem');
R('should find nothing wrong with a connected resource UpToDate on both sides', () => {
  assert.is(replicaProblem(ok, 'vm-101-disk-0'), null);
});
const BAD: [string, DrbdDeviceState | undefined, RegExp][] = [
  ['not in /proc/drbd', undefined, /vm-101-disk-0 is not up on this node/],
  ['unconfigured', { minor: 3, connection: 'Unconfigured' }, /is not up on this node/],
  ['waiting for its peer', { ...ok, connection: 'WFConnection', peerDisk: 'DUnknown' }, /is WFConnection, not Connected to its peer/],
  ['resyncing', { ...ok, connection: 'SyncSource', peerDisk: 'Inconsistent' }, /is SyncSource, not Connected/],
  ['outdated peer', { ...ok, peerDisk: 'Outdated' }, /UpToDate here and Outdated on the peer; both must be UpToDate/],
  ['inconsistent here', { ...ok, disk: 'Inconsistent' }, /Inconsistent here and UpToDate on the peer/],
];
for (const [why, dev, re] of BAD) R(`should name the problem of a resource ${why}`, () => assert.match(replicaProblem(dev, 'vm-101-disk-0')!, re));
R.run();

const T = suite('twoPrimariesArgs');
T('should switch two primaries on and off as drbdsetup-84 net-options, without taking the resource down', () => {
  for (const [allow, word] of [[true, 'yes'], [false, 'no']] as const) {
    const argv = twoPrimariesArgs('/run/ramvm/drbd/vm-101-disk-0.res', 'vm-101-disk-0', allow);
    assert.equal(argv, ['drbdadm', '-c', '/run/ramvm/drbd/vm-101-disk-0.res', 'net-options', `--allow-two-primaries=${word}`, 'vm-101-disk-0']);
    const r = drbdadm84(CONFIG, 'node1', ['-d', ...argv.slice(3)]);
    assert.is(r.code, 0, r.err);
    assert.is(r.out.trim(), `/usr/lib/drbd/drbdsetup-84 net-options ipv4:10.99.0.1:7791 ipv4:10.99.0.2:7791 --allow-two-primaries=${word}`);
  }
});
T.run();

const H = suite('the root helper\'s dual-primary steps');
H('should take two-primaries and one-primary as drbd steps of a disk', () => {
  const KEY = '0123456789abcdef';
  for (const step of ['two-primaries', 'one-primary'] as const) {
    assert.equal(parseRootCall([KEY, 'drbd', step, '101', '0']), { key: KEY, op: 'drbd', step, vmid: 101, disk: 0 });
  }
  assert.throws(() => parseRootCall([KEY, 'drbd', '--allow-two-primaries', '101', '0']), /drbd steps are .*two-primaries, one-primary/);
});
H.run();
