/**
 * node-cgi/backup/cluster.ts, its pure parts: the peer's request parsed as
 * data (a table of bad bodies, each with its reason), the replica's state
 * the peer needs, and the backup id read from the peer's task.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { holdPartsText, parseReplicaRequest, runClusterSteps, PEER_SILENT_MS, peerSilenceEnds, replicaBackupProblem, verifiedIdOf } from '../../../node-cgi/backup/cluster';
import { PeerAnswerError, PeerError } from '../../../node-cgi/cluster/peer';
import { HttpError } from '../../../node-cgi/lib/errors';
import type { DrbdDeviceState } from '../../../node-cgi/drbd/proc';
import { clusterBackupPlan, type ClusterStep } from '../../../node-cgi/backup/cluster-plan';

const CONFIG = JSON.stringify({ vmid: 101, name: 'web', disks: [{ id: 'disk0', file: 'vm-101-disk-0.raw' }, { id: 'disk1', file: 'vm-101-disk-1.drbd' }] });
const BODY = {
  vmid: 101, storage: 'local', compress: 'zstd', job: null, user: 'admin@pve', source: 'UPID:n1:0001', config: CONFIG,
  disks: [{ id: 'disk0', resource: 'vm-101-disk-0', minor: 0 }, { id: 'disk1', resource: 'vm-101-disk-1', minor: 7 }],
};

const P = suite('parseReplicaRequest');
P('should take a body as the guest\'s node sends it, naming each backup file after the guest\'s disk', () => {
  assert.equal(parseReplicaRequest(BODY), {
    vmid: 101, storage: 'local', compress: 'zstd', job: null, user: 'admin@pve', source: 'UPID:n1:0001', configText: CONFIG,
    disks: [
      { id: 'disk0', file: 'vm-101-disk-0.qcow2', resource: 'vm-101-disk-0', minor: 0 },
      { id: 'disk1', file: 'vm-101-disk-1.qcow2', resource: 'vm-101-disk-1', minor: 7 },
    ],
  });
});
const BAD: [string, Record<string, unknown>, RegExp][] = [
  ['an unknown field', { ...BODY, path: '/etc' }, /path/],
  ['a config that is not JSON', { ...BODY, config: '{' }, /config.*is not JSON/],
  ['the config of another guest', { ...BODY, config: CONFIG.replace('101', '102') }, /is not the config of guest 101/],
  ['fewer disks than the config', { ...BODY, disks: BODY.disks.slice(0, 1) }, /one entry per disk of the config/],
  ['disks in another order', { ...BODY, disks: [...BODY.disks].reverse() }, /entry 0 is not disk disk0 of the config/],
  ['a resource that is not the disk\'s', { ...BODY, disks: [{ ...BODY.disks[0], resource: 'vm-102-disk-0' }, BODY.disks[1]] }, /disk0 of guest 101 is resource vm-101-disk-0/],
  ['a minor out of range', { ...BODY, disks: [{ ...BODY.disks[0], minor: 256 }, BODY.disks[1]] }, /minor of disk0 must be 0–255/],
  ['a disk file that is a path', { ...BODY, config: CONFIG.replace('vm-101-disk-0.raw', '../../etc/passwd') }, /disk0 has no disk file name/],
  ['a storage name that is a path', { ...BODY, storage: '../x' }, /storage/],
  ['no user', { ...BODY, user: undefined }, /must name the user/],
  ['a config beyond 256 KiB', { ...BODY, config: ' '.repeat(300 * 1024) }, /at most 262144 characters/],
];
for (const [why, body, re] of BAD) P(`should refuse ${why}`, () => assert.throws(() => parseReplicaRequest(body), re));
P.run();

const SECONDARY: DrbdDeviceState = { minor: 0, connection: 'StandAlone', role: 'Secondary', peerRole: 'Unknown', disk: 'UpToDate', peerDisk: 'DUnknown' };
const Q = suite('replicaBackupProblem');
Q('should accept a disconnected, UpToDate secondary, StandAlone or waiting for its peer', () => {
  assert.is(replicaBackupProblem(SECONDARY, 'vm-101-disk-0', 'n2'), null);
  assert.is(replicaBackupProblem({ ...SECONDARY, connection: 'WFConnection' }, 'vm-101-disk-0', 'n2'), null);
});
const UNFIT: [string, DrbdDeviceState | undefined, RegExp][] = [
  ['a resource that is not up', undefined, /vm-101-disk-0 is not up on node n2/],
  ['a primary', { ...SECONDARY, role: 'Primary' }, /is Primary on node n2, not Secondary/],
  ['a connected replica, which changes as the guest writes', { ...SECONDARY, connection: 'Connected' }, /is Connected on node n2: the guest's node disconnects it before the backup/],
  ['an inconsistent replica', { ...SECONDARY, disk: 'Inconsistent' }, /is Inconsistent on node n2, not UpToDate/],
];
for (const [why, dev, re] of UNFIT) Q(`should refuse ${why}`, () => assert.match(replicaBackupProblem(dev, 'vm-101-disk-0', 'n2')!, re));
Q.run();

const V = suite('verifiedIdOf');
V('should read the backup id from the peer task\'s closing message', () => {
  assert.is(verifiedIdOf('replicas of guest 101 backed up and verified local:101:20261206T193000Z'), 'local:101:20261206T193000Z');
});
V('should refuse a message that names no backup', () => {
  assert.throws(() => verifiedIdOf('something else'), /did not name a verified backup: something else/);
});
V.run();

const S = suite('peerSilenceEnds');
S('should look again at a peer that missed a look, until it has been silent for PEER_SILENT_MS', () => {
  const table: [PeerError, number, boolean][] = [
    [new PeerError('n2', 'timeout', 'node n2 did not answer GET /api/backup/replica/t within 4 s'), 5_000, false],
    [new PeerError('n2', 'unreachable', 'node n2 is not reachable'), PEER_SILENT_MS, false],
    [new PeerError('n2', 'timeout', 'node n2 did not answer'), PEER_SILENT_MS + 1, true],
    [new PeerError('n2', 'fingerprint', 'node n2 is not who it should be'), 0, true],
  ];
  for (const [e, silentMs, ends] of table) assert.is(peerSilenceEnds(e, 1_000, 1_000 + silentMs), ends, `${e.failure} after ${silentMs} ms`);
});
S('should end at once on an answer that is an error, or any other failure', () => {
  assert.is(peerSilenceEnds(new PeerAnswerError('n2', 'not_found', 'no such task: t', {}), 1_000, 1_000), true);
  assert.is(peerSilenceEnds(new HttpError('internal', 'broken'), 1_000, 1_000), true);
});
S.run();

const H = suite('holdPartsText');
H('should name the stop, the go to its answer in its parts, and the cont, in ms', () => {
  assert.is(
    holdPartsText(1000, 1020.5, 1071, 1090, { toHelperMs: 4, helperMs: 35.25, backMs: 11.25 }),
    'stop 20.5 ms, go → answer 50.5 ms (to the helper 4.0 ms, its disconnect 35.3 ms, back 11.3 ms), cont 19.0 ms',
  );
});
H('should say which parts a helper that told no times leaves unknown', () => {
  assert.is(holdPartsText(0, 1, 2, 3, { toHelperMs: NaN, helperMs: NaN, backMs: NaN }), 'stop 1.0 ms, go → answer 1.0 ms (to the helper not told, its disconnect not told, back not told), cont 1.0 ms');
});
H.run();
H('should name a freeze and a thaw instead of the stop and the cont', () => {
  assert.is(
    holdPartsText(0, 30, 80, 95, { toHelperMs: 4, helperMs: 35, backMs: 11 }, 'freeze', 'thaw'),
    'freeze 30.0 ms, go → answer 50.0 ms (to the helper 4.0 ms, its disconnect 35.0 ms, back 11.0 ms), thaw 15.0 ms',
  );
});

const R = suite('runClusterSteps');
const UP_HERE: DrbdDeviceState = { minor: 0, connection: 'Connected', role: 'Primary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'UpToDate', protocol: 'C', outOfSyncKiB: 0 };
const agentPlan = () => clusterBackupPlan({
  vmid: 101, node: 'n1', status: 'running', agent: true,
  disks: [{ id: 'disk0', replica: { name: 'vm-101-disk-0', minor: 0, hosts: [{ name: 'n1', address: '10.0.0.1' }, { name: 'n2', address: '10.0.0.2' }] }, dev: UP_HERE, bytes: 2 ** 26 }],
}).steps;
const shown = (s: ClusterStep) => ('how' in s ? `${s.step} ${s.how}` : s.step);
/** The edge faked: each step recorded, the one named `failing` throws. */
function edge(failing: string | null) {
  const done: string[] = [];
  return {
    done,
    doStep: async (s: ClusterStep) => {
      done.push(shown(s));
      if (shown(s) === failing) throw new Error(`${failing} went wrong`);
    },
  };
}
R('should freeze through the agent only around the armed disconnect, thaw, then back up on the peer and connect', async () => {
  const e = edge(null);
  await runClusterSteps(agentPlan(), e.doStep, () => {});
  assert.equal(e.done, ['arm', 'hold freeze', 'go', 'release thaw', 'backup-on-peer', 'connect']);
});
R('should thaw and connect again when the disconnect fails while frozen, and pass the failure on', async () => {
  const e = edge('go');
  const lines: string[] = [];
  const err = await runClusterSteps(agentPlan(), e.doStep, (l) => lines.push(l)).catch((x: Error) => x);
  assert.match((err as Error).message, /go went wrong/);
  assert.equal(e.done, ['arm', 'hold freeze', 'go', 'release thaw', 'connect']);
  assert.equal(lines, ['cluster mode: go vm-101-disk-0 failed: go went wrong', 'cluster mode: release done after the failure', 'cluster mode: connect vm-101-disk-0 done after the failure']);
});
R('should thaw what a failed freeze may have frozen and dismiss the armed helper', async () => {
  const e = edge('hold freeze');
  await runClusterSteps(agentPlan(), e.doStep, () => {}).catch(() => undefined);
  assert.equal(e.done, ['arm', 'hold freeze', 'release thaw', 'disarm']);
});
R('should log a recovery step that fails too, and still try the rest', async () => {
  const done: string[] = [];
  const lines: string[] = [];
  const doStep = async (s: ClusterStep) => {
    done.push(shown(s));
    if (s.step === 'go' || s.step === 'release') throw new Error(`${s.step} broke`);
  };
  await runClusterSteps(agentPlan(), doStep, (l) => lines.push(l)).catch(() => undefined);
  assert.equal(done, ['arm', 'hold freeze', 'go', 'release thaw', 'connect']);
  assert.ok(lines.includes('CLUSTER MODE: release FAILED TOO: release broke'));
});
R.run();
