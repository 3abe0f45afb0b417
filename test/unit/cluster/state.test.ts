import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useTempRoot } from '../../helpers/temp-root';
import { applyState, checkedState, guardClusterWrites, replicatedPath, takeChanged, type ClusterState } from '../../../node-cgi/cluster/state';
import { writeJsonAtomic } from '../../../node-cgi/lib/store';
import type { ClusterConfig } from '../../../node-cgi/cluster/model';

const cluster = (epoch: number, generation: number, master = 'n1'): ClusterConfig => ({
  name: 'office', epoch, master, generation,
  nodes: [{ name: 'n1', url: 'https://10.0.0.1:8007', fingerprint: 'AA', version: '0.1.0', joined: 1 }, { name: 'n2', url: 'https://10.0.0.2:8007', fingerprint: 'BB', version: '0.1.0', joined: 2 }],
});
const state = (c: ClusterConfig, files: Record<string, string | null> = {}): ClusterState => ({ epoch: c.epoch, generation: c.generation, files: { 'cluster.json': JSON.stringify(c), ...files } });


const C = suite('checkedState');
const BAD: [string, unknown, RegExp][] = [
  ['a file outside the allow-list', state(cluster(1, 1), { '../priv/authkey': '"x"' }), /"..\/priv\/authkey" is not a cluster-wide file/],
  ['a node-local file', state(cluster(1, 1), { 'vms/101.json': '{}' }), /is not a cluster-wide file/],
  ['a file that is not JSON', state(cluster(1, 1), { 'users.json': '{"users":' }), /users.json is not JSON/],
  ['no cluster.json', { epoch: 1, generation: 1, files: {} }, /no cluster.json/],
  ['an epoch that is not its cluster.json\'s', { ...state(cluster(1, 1)), epoch: 2 }, /differ from its cluster.json/],
  ['no files at all', { epoch: 1, generation: 1 }, /no files/],
];
for (const [why, v, re] of BAD) C(`should refuse ${why}`, () => assert.throws(() => checkedState(v), re));
C('should fill the files a state leaves out with null (absent)', () => {
  const s = checkedState(state(cluster(1, 3)));
  assert.is(s.files['users.json'], null);
  assert.is(s.cluster.generation, 3);
});
C.run();

const A = suite('applyState');
const rootA = useTempRoot(A);
A('should write a newer state, remove files it lacks, and leave an older or equal one alone', () => {
  mkdirSync(join(rootA.path, 'etc/ramvm'), { recursive: true });
  writeFileSync(replicatedPath('storage.json'), '{"storages":{"old":{}}}');
  assert.is(applyState(checkedState(state(cluster(1, 5), { 'users.json': '{"users":{"a":1}}' }))), true);
  assert.is(readFileSync(replicatedPath('users.json'), 'utf8'), '{"users":{"a":1}}');
  assert.not.ok(existsSync(replicatedPath('storage.json')), 'a file the state lacks is removed');
  assert.is(applyState(checkedState(state(cluster(1, 5), { 'users.json': '{"users":{}}' }))), false, 'same generation');
  assert.is(applyState(checkedState(state(cluster(1, 4), { 'users.json': '{"users":{}}' }))), false, 'older generation');
  assert.is(readFileSync(replicatedPath('users.json'), 'utf8'), '{"users":{"a":1}}');
  assert.is(applyState(checkedState(state(cluster(2, 1, 'n2'), { 'users.json': '{"users":{"b":1}}' }))), true, 'a higher epoch wins over a higher generation');
  assert.is(JSON.parse(readFileSync(replicatedPath('cluster.json'), 'utf8')).master, 'n2');
});
A.run();

const G = suite('guardClusterWrites');
const rootG = useTempRoot(G);
G.after(() => {
  delete process.env.RAMVM_NODE;
});
G('should refuse a change of a cluster-wide file on a member, naming the master, and count one on the master', () => {
  mkdirSync(join(rootG.path, 'etc/ramvm/cluster'), { recursive: true });
  writeJsonAtomic(replicatedPath('cluster.json'), cluster(1, 1));
  guardClusterWrites();
  takeChanged();
  process.env.RAMVM_NODE = 'n2';
  assert.throws(() => writeJsonAtomic(replicatedPath('users.json'), { users: {} }), /cluster-wide settings change only on the master n1; this node \(n2\) is a member of cluster office/);
  assert.not.ok(existsSync(replicatedPath('users.json')), 'nothing written');
  writeJsonAtomic(join(rootG.path, 'etc/ramvm/nodes-local-test.json'), {});
  assert.is(takeChanged(), false, 'node-local files are no change of the cluster');
  process.env.RAMVM_NODE = 'n1';
  writeJsonAtomic(replicatedPath('users.json'), { users: {} });
  assert.is(takeChanged(), true);
  assert.is(takeChanged(), false, 'told once');
});
G.run();
