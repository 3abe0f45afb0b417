/**
 * The pure parts of making a guest's replicated disks: whether this node
 * can (a 2-node cluster, the root helper, a peer that answers), which minor
 * the new disk gets, its record, a cluster node as a DRBD host, and what
 * is wrong with a replica (the Nodes view's warning).
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { drbdHostOf, freeMinor, replicaRecord, replicaRefusal, replicaWarning } from '../../../node-cgi/drbd/guest';
import type { Replication } from '../../../node-cgi/drbd/proc';
import { parseDrbdRecord, drbdRecordText } from '../../../node-cgi/drbd/record';

const node = (name: string, url: string) => ({ name, url, fingerprint: 'f', version: '1', joined: 0 });
const TWO = { nodes: [node('node1', 'https://10.99.0.1:8007'), node('node2', 'https://10.99.0.2:8007')] };
const THREE = { nodes: [...TWO.nodes, node('node3', 'https://10.99.0.3:8007')] };

const R = suite('replicaRefusal');
R('should let a member of a 2-node cluster with the root helper and an answering peer have one', () => {
  assert.is(replicaRefusal(TWO, 'node1', true, true), null);
  assert.is(replicaRefusal(TWO, 'node2', true), null, 'before the peer was asked');
});
// [cluster, self, rootHelper, peerAnswers, the reason]
const REFUSED: [typeof TWO | null, string, boolean, boolean | undefined, RegExp][] = [
  [null, 'node1', true, true, /needs a cluster of two nodes; this node is in no cluster/],
  [THREE, 'node1', true, true, /exactly two nodes; this cluster has 3/],
  [{ nodes: [TWO.nodes[0]!] }, 'node1', true, true, /exactly two nodes; this cluster has 1/],
  [TWO, 'node9', true, true, /node node9 is not a member/],
  [TWO, 'node1', false, true, /need a node started as root/],
  [TWO, 'node1', true, false, /the peer node node2 does not answer/],
];
for (const [c, self, root, answers, reason] of REFUSED) {
  R(`should refuse: ${reason.source}`, () => {
    assert.match(replicaRefusal(c, self, root, answers) ?? '', reason);
  });
}
R.run();

const F = suite('freeMinor');
F('should give the lowest minor neither node uses', () => {
  assert.is(freeMinor([]), 0);
  assert.is(freeMinor([0, 1, 3]), 2);
  assert.is(freeMinor(new Set([1, 0])), 2);
});
F('should refuse with 409 when all 256 are taken', () => {
  assert.throws(() => freeMinor(Array.from({ length: 256 }, (_, i) => i)), (e: unknown) => e instanceof HttpError && e.status === 409 && /all 256 DRBD minors are in use/.test(e.message));
});
F.run();

const P = suite('replicaRecord');
P('should make a record the root helper accepts, the guest\'s node first', () => {
  const r = replicaRecord(101, 2, 5, 64 * 2 ** 20, { name: 'node1', address: '10.99.0.1' }, { name: 'node2', address: '10.99.0.2' });
  assert.equal(r, { resource: 'vm-101-disk-2', minor: 5, bytes: 64 * 2 ** 20, hosts: [{ name: 'node1', address: '10.99.0.1' }, { name: 'node2', address: '10.99.0.2' }] });
  assert.equal(parseDrbdRecord(drbdRecordText(r), 101, 2).record, r);
});
P.run();

const H = suite('drbdHostOf');
H('should take the address from the node\'s cluster URL', () => {
  assert.equal(drbdHostOf(TWO, 'node2'), { name: 'node2', address: '10.99.0.2' });
});
H('should refuse a node the cluster does not have', () => {
  assert.throws(() => drbdHostOf(TWO, 'node7'), /node node7 is not in the cluster/);
});
H.run();

const W = suite('replicaWarning');
const rep = (over: Partial<Replication>): Replication => ({ peer: 'node2', state: 'UpToDate', synced: 100, connection: 'Connected', role: 'Primary', peerState: 'UpToDate', ...over });
W('should say nothing of a connected disk UpToDate on both sides, nor of a resync under way', () => {
  assert.is(replicaWarning(rep({})), null);
  assert.is(replicaWarning(rep({ connection: 'SyncSource', peerState: 'Inconsistent', synced: 40 })), null);
  assert.is(replicaWarning(rep({ connection: 'SyncTarget', state: 'Inconsistent', synced: 40 })), null);
});
// [replication, the warning]
const WARNED: [Partial<Replication>, RegExp][] = [
  [{ connection: 'WFConnection', peerState: 'DUnknown', synced: null }, /^disconnected from node2 \(WFConnection\): writes are not replicated$/],
  [{ connection: 'StandAlone', peerState: 'DUnknown', synced: null }, /^disconnected from node2 \(StandAlone: a split brain, or a disconnect asked for\)/],
  [{ connection: 'StandAlone', peerState: 'DUnknown', synced: null, splitBrain: true }, /^split brain with node2: both sides wrote while apart .*POST \/api\/vm\/<vmid>\/replica\/resolve/],
  [{ connection: 'Unconfigured', state: 'Unconfigured', peerState: null, role: null, synced: null }, /^disconnected from node2 \(Unconfigured\)/],
  [{ state: 'Outdated', synced: null }, /^this node's copy is Outdated$/],
  [{ peerState: 'Outdated', synced: null }, /^the copy on node2 is Outdated$/],
];
for (const [over, warning] of WARNED) {
  W(`should warn: ${warning.source}`, () => {
    assert.match(replicaWarning(rep(over)) ?? '', warning);
  });
}
W.run();
