/**
 * node-cgi/migrate/replicated.ts: the plan of a replicated guest's live
 * migration and every refusal (409 with its reason), as tables.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { replicaFilesKept, replicatedMovePlan, type ReplicatedMoveFacts } from '../../../node-cgi/migrate/replicated';
import type { DrbdDeviceState } from '../../../node-cgi/drbd/proc';
import type { LocalReplica } from '../../../node-cgi/drbd/local';
import { HttpError } from '../../../node-cgi/lib/errors';

const HOSTS: LocalReplica['hosts'] = [{ name: 'n1', address: '10.0.0.1' }, { name: 'n2', address: '10.0.0.2' }];
const UP: DrbdDeviceState = { minor: 0, connection: 'Connected', role: 'Primary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'UpToDate', protocol: 'C', outOfSyncKiB: 0 };
const replica = (n: number, hosts = HOSTS): LocalReplica => ({ name: `vm-101-disk-${n}`, minor: n, hosts, bytes: 64 << 20 });
const disk = (n: number, over: Partial<ReplicatedMoveFacts['disks'][number]> = {}) => ({ id: `disk${n}`, replica: replica(n), dev: { ...UP, minor: n }, ...over });
const facts = (over: Partial<ReplicatedMoveFacts> = {}): ReplicatedMoveFacts => ({ vmid: 101, node: 'n1', target: 'n2', online: true, disks: [disk(0)], ...over });

const P = suite('replicatedMovePlan');
P('should leave a guest without replicated disks to the copying migration', () => {
  assert.is(replicatedMovePlan(facts({ disks: [{ id: 'disk0', replica: null, dev: undefined }] })), null);
});
P('should allow two primaries on both sides, promote the target, move RAM, demote the source and forbid two primaries again', () => {
  const p = replicatedMovePlan(facts({ disks: [disk(0), disk(1)] }))!;
  assert.equal(p.resources, [
    { id: 'disk0', resource: 'vm-101-disk-0', minor: 0 },
    { id: 'disk1', resource: 'vm-101-disk-1', minor: 1 },
  ]);
  assert.equal(p.steps, [
    'source: allow two primaries of vm-101-disk-0', 'source: allow two primaries of vm-101-disk-1',
    'target: allow two primaries of vm-101-disk-0', 'target: allow two primaries of vm-101-disk-1',
    'target: primary vm-101-disk-0', 'target: primary vm-101-disk-1',
    'target: QEMU waits for the guest (-incoming defer), its disks /dev/drbd0, /dev/drbd1',
    'source: RAM moved (migrate), the target runs the guest (go → cont)',
    'source: QEMU quits; secondary vm-101-disk-0, secondary vm-101-disk-1',
    'source: forbid two primaries of vm-101-disk-0', 'source: forbid two primaries of vm-101-disk-1',
    'target: forbid two primaries of vm-101-disk-0', 'target: forbid two primaries of vm-101-disk-1',
  ]);
});
const REFUSED: [string, Partial<ReplicatedMoveFacts>, RegExp][] = [
  ['a move that is not live', { online: false }, /a replicated guest moves only live/],
  ['a guest with a disk that is not replicated', { disks: [disk(0), { id: 'disk1', replica: null, dev: undefined }] }, /disk1 is not replicated: a guest with replicated disks moves only if all its disks are/],
  ['a target that holds no replica', { target: 'n3' }, /vm-101-disk-0 is replicated to node n2, not to n3: the guest can move only to its replica/],
  ['a replica waiting for its peer', { disks: [disk(0, { dev: { ...UP, connection: 'WFConnection', peerDisk: 'DUnknown' } })] }, /vm-101-disk-0 is WFConnection, not Connected to its peer/],
  ['a replica resyncing', { disks: [disk(0, { dev: { ...UP, connection: 'SyncSource', peerDisk: 'Inconsistent' } })] }, /is SyncSource, not Connected/],
  ['an outdated replica on the target', { disks: [disk(0, { dev: { ...UP, peerDisk: 'Outdated' } })] }, /Outdated on the peer; both must be UpToDate/],
  ['a resource not up here', { disks: [disk(0, { dev: undefined })] }, /vm-101-disk-0 is not up on this node/],
  ['a Secondary source', { disks: [disk(0, { dev: { ...UP, role: 'Secondary' } })] }, /is Secondary here, not Primary/],
  ['a resource this node is not part of', { node: 'n3' }, /replicated between n1 and n2, not on node n3/],
];
for (const [why, over, re] of REFUSED) {
  P(`should refuse with 409 ${why}`, () => {
    try {
      replicatedMovePlan(facts(over));
      assert.unreachable('planned');
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).code, 'conflict');
      assert.match((e as Error).message, /^live migration of replicated guest 101 to n[23] refused: /);
      assert.match((e as Error).message, re);
    }
  });
}
P.run();

const K = suite('replicaFilesKept');
K('should name each replica\'s backing file and record, the files the source keeps as the peer\'s side', () => {
  assert.equal(replicaFilesKept([{ resource: 'vm-101-disk-0' }, { resource: 'vm-101-disk-1' }]), [
    'vm-101-disk-0.drbd', 'vm-101-disk-0.drbd.json', 'vm-101-disk-1.drbd', 'vm-101-disk-1.drbd.json',
  ]);
});
K('should keep nothing of a guest without replicas', () => {
  assert.equal(replicaFilesKept([]), []);
});
K.run();
