/**
 * The pure parts of making a guest's replicated disks: whether this node
 * can (a 2-node cluster, the root helper, a peer that answers), which minor
 * the new disk gets, its record, a cluster node as a DRBD host, and what
 * is wrong with a replica (the Nodes view's warning); and that requests
 * running at once in separate processes never claim one minor twice.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { waitFor } from '../../helpers/guest';
import { join } from 'node:path';
import { ROOT } from '../../../build/build';
import { useTempRoot } from '../../helpers/temp-root';
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

const C = suite('claimRecord');
const claimRoot = useTempRoot(C);
C('should give the disks of requests running at once in separate processes (CGIs) distinct minors', async () => {
  const PROCS = 6;
  const DISKS = 25; // disks 0–24 of a guest each (29 is the highest index)
  const go = join(claimRoot.path, 'go');
  // Each child waits for the go file, then claims DISKS records for a guest of its own, as fast as it can.
  const script = `
    const { existsSync, writeFileSync } = require('node:fs');
    const { claimRecord } = require(${JSON.stringify(join(ROOT, 'node-cgi/drbd/guest.ts'))});
    const c = ${JSON.stringify(TWO)};
    writeFileSync(${JSON.stringify(go)} + '-ready-' + process.argv[1], '');
    while (!existsSync(${JSON.stringify(go)})) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    const vmid = 200 + Number(process.argv[1]);
    const minors = [];
    for (let d = 0; d < ${DISKS}; d++) minors.push(claimRecord(vmid, d, 2 ** 20, c, 'node1', 'node2', []).minor);
    process.stdout.write(JSON.stringify(minors));`;
  const children = Array.from({ length: PROCS }, (_, i) => {
    const p = spawn(process.execPath, ['-r', 'esbuild-register', '-e', script, String(i)], { cwd: ROOT, env: { ...process.env, RAMVM_ROOT: claimRoot.path }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (err += b));
    return new Promise<number[]>((res, rej) => p.once('close', (code) => (code === 0 ? res(JSON.parse(out) as number[]) : rej(new Error(`child ${i}: ${code} ${err}`)))));
  });
  await waitFor('every child waiting for the go', () => (Array.from({ length: PROCS }, (_, i) => existsSync(`${go}-ready-${i}`)).every(Boolean) ? true : null), 30_000);
  writeFileSync(go, '');
  const all = (await Promise.all(children)).flat();
  assert.is(all.length, PROCS * DISKS);
  assert.is(new Set(all).size, all.length, `a minor given twice: ${all.join(' ')}`);
  assert.equal([...all].sort((a, b) => a - b), Array.from({ length: all.length }, (_, i) => i), 'the lowest free ones');
});
C.run();

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
