/**
 * node-cgi/migrate/failover.ts: when a replicated guest may fail over to
 * the surviving node, and every refusal with its reason, as a table.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { failoverRefusal, type FailoverFacts } from '../../../node-cgi/migrate/failover';
import type { DrbdDeviceState } from '../../../node-cgi/drbd/proc';
import type { LocalReplica } from '../../../node-cgi/drbd/local';

const HOSTS: LocalReplica['hosts'] = [{ name: 'n1', address: '10.0.0.1' }, { name: 'n2', address: '10.0.0.2' }];
/** n2's view of a disk whose primary n1 is gone. */
const ALONE: DrbdDeviceState = { minor: 0, connection: 'WFConnection', role: 'Secondary', peerRole: 'Unknown', disk: 'UpToDate', peerDisk: 'DUnknown', protocol: 'C', outOfSyncKiB: 0 };
const disk = (n: number, over: Partial<FailoverFacts['disks'][number]> = {}) => ({ id: `disk${n}`, replica: { name: `vm-101-disk-${n}`, hosts: HOSTS }, dev: { ...ALONE, minor: n }, ...over });
const facts = (over: Partial<FailoverFacts> = {}): FailoverFacts => ({
  vmid: 101, self: 'n2', home: 'n1', livesHere: false, hasConfig: true, peerAnswers: false, disks: [disk(0), disk(1)], ...over,
});

const F = suite('failoverRefusal');
F('should allow a failover of a guest whose node is down and whose replicas here are all UpToDate', () => {
  assert.is(failoverRefusal(facts()), null);
});
F('should allow it to a replica that is Primary here already (a failover asked again)', () => {
  assert.is(failoverRefusal(facts({ disks: [disk(0, { dev: { ...ALONE, role: 'Primary' } })] })), null);
});
const REFUSED: [string, Partial<FailoverFacts>, RegExp][] = [
  ['while the guest\'s node still answers', { peerAnswers: true }, /node n1 still answers: a failover is for a node that is down/],
  ['a replica that is Outdated here', { disks: [disk(0, { dev: { ...ALONE, disk: 'Outdated' } })] }, /vm-101-disk-0 is Outdated on node n2, not UpToDate: it may lack writes the guest made/],
  ['a replica that is Inconsistent here (a resync cut short)', { disks: [disk(0), disk(1, { dev: { ...ALONE, minor: 1, disk: 'Inconsistent' } })] }, /vm-101-disk-1 is Inconsistent on node n2/],
  ['a replica still Primary on the other node', { disks: [disk(0, { dev: { ...ALONE, connection: 'Connected', peerRole: 'Primary', peerDisk: 'UpToDate' } })] }, /Primary on the other node: the guest still runs there/],
  ['a replica not up here', { disks: [disk(0, { dev: undefined })] }, /vm-101-disk-0 is not up on node n2/],
  ['a disk that is not replicated', { disks: [disk(0), { id: 'disk1', replica: null, dev: undefined }] }, /disk1 is not replicated: its data is on node n1 only/],
  ['a replica shared with another node', { home: 'n3' }, /replicated between n1 and n2, not with node n3/],
  ['without a copy of the config', { hasConfig: false }, /node n2 holds no copy of the config of guest 101/],
  ['a guest that lives here already', { livesHere: true, disks: [] }, /guest 101 lives on node n2 already: start it/],
  ['a guest no node is known for', { home: null }, /no node is known for guest 101/],
  ['without any replica here', { disks: [] }, /guest 101 has no disk replicated on node n2/],
];
for (const [why, over, re] of REFUSED) {
  F(`should refuse ${why}`, () => {
    const r = failoverRefusal(facts(over)) ?? '';
    assert.match(r, /^failover of guest 101 to node n2 refused: /);
    assert.match(r, re);
  });
}
F('should name every reason at once', () => {
  const r = failoverRefusal(facts({ peerAnswers: true, disks: [disk(0, { dev: { ...ALONE, disk: 'Outdated' } })] }))!;
  assert.match(r, /still answers.*; vm-101-disk-0 is Outdated/);
});
F.run();
