/**
 * node-cgi/backup/cluster-plan.ts: the cluster backup mode's steps and
 * their recovery, as tables of guests and replica states.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { clusterBackupPlan, clusterRecovery, type ClusterBackupFacts, type ClusterDiskFacts, type ClusterStep } from '../../../node-cgi/backup/cluster-plan';
import type { DrbdDeviceState } from '../../../node-cgi/drbd/proc';
import { HttpError } from '../../../node-cgi/lib/errors';

const HOSTS = [{ name: 'n1', address: '10.0.0.1' }, { name: 'n2', address: '10.0.0.2' }] as [{ name: string; address: string }, { name: string; address: string }];
const UP: DrbdDeviceState = { minor: 0, connection: 'Connected', role: 'Primary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'UpToDate', protocol: 'C', outOfSyncKiB: 0 };
const MIB = 2 ** 20;

function disk(n: number, over: Partial<ClusterDiskFacts> = {}): ClusterDiskFacts {
  const name = `vm-101-disk-${n}`;
  return { id: `disk${n}`, replica: { name, minor: n, hosts: HOSTS }, dev: { ...UP, minor: n }, bytes: 64 * MIB, ...over };
}
const facts = (over: Partial<ClusterBackupFacts> = {}): ClusterBackupFacts => ({ vmid: 101, node: 'n1', status: 'running', agent: false, disks: [disk(0)], ...over });
const res = (n: number) => ({ resource: `vm-101-disk-${n}` });

const P = suite('clusterBackupPlan');
P('should arm the disconnect before the pause, hold the guest only while the armed helper disconnects, then back up on the peer and connect again', () => {
  assert.equal(clusterBackupPlan(facts({ disks: [disk(0), disk(1)] })), {
    peer: 'n2',
    hold: 'pause',
    steps: [
      { step: 'arm', resources: ['vm-101-disk-0', 'vm-101-disk-1'] },
      { step: 'hold', how: 'pause' },
      { step: 'go', resources: ['vm-101-disk-0', 'vm-101-disk-1'] },
      { step: 'release', how: 'resume' },
      { step: 'backup-on-peer', peer: 'n2', disks: [{ id: 'disk0', resource: 'vm-101-disk-0', minor: 0, bytes: 64 * MIB }, { id: 'disk1', resource: 'vm-101-disk-1', minor: 1, bytes: 64 * MIB }] },
      { step: 'connect', ...res(0) },
      { step: 'connect', ...res(1) },
    ],
  });
});
P('should freeze and thaw through the guest agent when one answers', () => {
  const p = clusterBackupPlan(facts({ agent: true }));
  assert.is(p.hold, 'freeze');
  assert.equal(p.steps.filter((s) => s.step === 'hold' || s.step === 'release'), [{ step: 'hold', how: 'freeze' }, { step: 'release', how: 'thaw' }]);
});
P('should not hold (nor arm) a stopped or a paused guest, which writes nothing, and disconnect each resource on its own', () => {
  for (const status of ['stopped', 'paused'] as const) {
    const p = clusterBackupPlan(facts({ status }));
    assert.is(p.hold, null);
    assert.equal(p.steps.map((s) => s.step), ['disconnect', 'backup-on-peer', 'connect']);
  }
});
P('should find the peer from either node of the resource', () => {
  const p = clusterBackupPlan(facts({ node: 'n2', disks: [disk(0, { dev: { ...UP } })] }));
  assert.is(p.peer, 'n1');
});
const REFUSED: [string, Partial<ClusterBackupFacts>, RegExp][] = [
  ['a guest without disks', { disks: [] }, /guest 101 has no disks/],
  ['a disk that is not replicated', { disks: [disk(0), disk(1, { replica: null, dev: undefined })] }, /disk1 of guest 101 is not replicated .*use snapshot mode/],
  ['a replica waiting for its peer', { disks: [disk(0, { dev: { ...UP, connection: 'WFConnection', peerDisk: 'DUnknown' } })] }, /vm-101-disk-0 is WFConnection, not Connected/],
  ['a replica still resyncing', { disks: [disk(0, { dev: { ...UP, connection: 'SyncSource', peerDisk: 'Inconsistent' } })] }, /is SyncSource, not Connected/],
  ['an outdated peer', { disks: [disk(0, { dev: { ...UP, peerDisk: 'Outdated' } })] }, /Outdated on the peer; both must be UpToDate/],
  ['a resource not up here', { disks: [disk(0, { dev: undefined })] }, /vm-101-disk-0 is not up on this node/],
  ['a resource Secondary on the guest\'s node', { disks: [disk(0, { dev: { ...UP, role: 'Secondary', peerRole: 'Primary' } })] }, /is Secondary here, not Primary/],
  ['a resource of two other nodes', { node: 'n3' }, /replicated between n1 and n2, not on node n3/],
  ['disks replicated to different peers', {
    disks: [disk(0), disk(1, { replica: { name: 'vm-101-disk-1', minor: 1, hosts: [HOSTS[0], { name: 'n3', address: '10.0.0.3' }] } })],
  }, /replicated to different nodes \(n2, n3\)/],
];
for (const [why, over, re] of REFUSED) {
  P(`should refuse with 409 ${why}`, () => {
    try {
      clusterBackupPlan(facts(over));
      assert.unreachable('planned');
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).code, 'conflict');
      assert.match((e as Error).message, /^cluster-mode backup of guest 101 refused: /);
      assert.match((e as Error).message, re);
    }
  });
}
P('should name every reason at once', () => {
  assert.throws(() => clusterBackupPlan(facts({ disks: [disk(0, { replica: null }), disk(1, { dev: { ...UP, minor: 1, peerDisk: 'Outdated' } })] })),
    /disk0 of guest 101 is not replicated.*; vm-101-disk-1 is UpToDate here and Outdated on the peer/);
});
P.run();

const STEPS: ClusterStep[] = clusterBackupPlan(facts({ disks: [disk(0), disk(1)] })).steps;
const at = (step: string, n = 0) => STEPS.findIndex((s, i) => s.step === step && STEPS.slice(0, i).filter((x) => x.step === step).length === n);

const R = suite('clusterRecovery');
R('should only dismiss the helper when arming it failed: the guest was not held, nothing disconnected', () => {
  assert.equal(clusterRecovery(STEPS, at('arm')), [{ step: 'disarm' }]);
});
R('should release the guest, then dismiss the armed helper, when the pause itself failed, and touch no resource', () => {
  assert.equal(clusterRecovery(STEPS, at('hold')), [{ step: 'release', how: 'resume' }, { step: 'disarm' }]);
});
R('should release the guest first, then connect every resource the failed go may have disconnected', () => {
  assert.equal(clusterRecovery(STEPS, at('go')), [{ step: 'release', how: 'resume' }, { step: 'connect', ...res(0) }, { step: 'connect', ...res(1) }]);
});
R('should connect what a failed disconnect of a guest that was not held may have disconnected', () => {
  const stopped = clusterBackupPlan(facts({ status: 'stopped', disks: [disk(0), disk(1)] })).steps;
  assert.equal(clusterRecovery(stopped, 1), [{ step: 'connect', ...res(0) }, { step: 'connect', ...res(1) }]);
});
R('should connect every resource, and not release again, when the backup on the peer failed', () => {
  assert.equal(clusterRecovery(STEPS, at('backup-on-peer')), [{ step: 'connect', ...res(0) }, { step: 'connect', ...res(1) }]);
});
R('should retry the failed connect and do the ones not reached, not those done', () => {
  assert.equal(clusterRecovery(STEPS, at('connect', 0)), [{ step: 'connect', ...res(0) }, { step: 'connect', ...res(1) }]);
  assert.equal(clusterRecovery(STEPS, at('connect', 1)), [{ step: 'connect', ...res(1) }]);
});
R('should thaw a frozen guest', () => {
  const frozen = clusterBackupPlan(facts({ agent: true })).steps;
  assert.equal(clusterRecovery(frozen, 2), [{ step: 'release', how: 'thaw' }, { step: 'connect', ...res(0) }]);
});
R('should connect only, for a guest that was not held', () => {
  const stopped = clusterBackupPlan(facts({ status: 'stopped' })).steps;
  assert.equal(clusterRecovery(stopped, 1), [{ step: 'connect', ...res(0) }]);
});
R.run();
