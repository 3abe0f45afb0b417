import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import {
  allocateVmid, checkedClusterName, checkedNodeUrl, checkedTokenLifetime, clusterUrlFor, consumeJoinToken, guestsOn, newCluster, newJoinToken, newer,
  promoted, staleEntries, usableJoinToken, withNode, withoutNode, JOIN_TOKEN_KEEP_S, JOIN_TOKEN_LIFETIME_S, type ClusterNode, type Placement,
} from '../../../node-cgi/cluster/model';

const node = (name: string, n: number): ClusterNode => ({ name, url: `https://10.0.0.${n}:8007`, fingerprint: `${String(n).padStart(2, '0')}:`.repeat(31) + 'AA', version: '0.1.0', joined: 1000 });
const N1 = node('n1', 1);
const N2 = node('n2', 2);

const U = suite('checkedNodeUrl');
U('should keep a canonical URL and write out a missing port', () => {
  assert.is(checkedNodeUrl('https://10.0.0.2:8007'), 'https://10.0.0.2:8007');
  assert.is(checkedNodeUrl('https://10.0.0.2:8007/'), 'https://10.0.0.2:8007');
  assert.is(checkedNodeUrl('https://n2.lan'), 'https://n2.lan:443');
  assert.is(checkedNodeUrl('https://[fd00::2]:8007'), 'https://[fd00::2]:8007');
});
const BAD_URLS: [string, string][] = [
  ['http://10.0.0.2:8007', 'plain http'],
  ['https://10.0.0.2:8007/api', 'a path'],
  ['https://10.0.0.2:8007?x=1', 'a query'],
  ['https://user@10.0.0.2:8007', 'a user'],
  ['https://-bad-.lan:8007', 'a host name starting with "-"'],
  ['https://10.0.0.2:99999', 'a port out of range'],
  ['10.0.0.2:8007', 'no scheme'],
];
for (const [u, why] of BAD_URLS) U(`should refuse ${why}`, () => assert.throws(() => checkedNodeUrl(u), /url: must be a cluster URL/));
U.run();

const CU = suite('clusterUrlFor');
CU('should prefer RAMVM_ADDRESS', () => {
  assert.is(clusterUrlFor({ RAMVM_ADDRESS: '192.168.1.5', RAMVM_LISTEN: '0.0.0.0', RAMVM_CLUSTER_PORT: '8007' }, '10.0.0.9'), 'https://192.168.1.5:8007');
});
CU('should take a specific RAMVM_LISTEN', () => {
  assert.is(clusterUrlFor({ RAMVM_LISTEN: '10.0.0.2', RAMVM_CLUSTER_PORT: '9007' }), 'https://10.0.0.2:9007');
});
CU('should fall back to the address a connection showed when listening on every address', () => {
  assert.is(clusterUrlFor({ RAMVM_LISTEN: '0.0.0.0', RAMVM_CLUSTER_PORT: '8007' }, '::ffff:10.0.0.3'), 'https://10.0.0.3:8007');
  assert.is(clusterUrlFor({ RAMVM_LISTEN: '::', RAMVM_CLUSTER_PORT: '8007' }, 'fd00::3'), 'https://[fd00::3]:8007');
});
CU('should be null when no address is known', () => assert.is(clusterUrlFor({ RAMVM_LISTEN: '0.0.0.0' }), null));
CU('should default the port to the UI port + 1', () => assert.is(clusterUrlFor({ RAMVM_LISTEN: '10.0.0.2', RAMVM_PORT: '8006' }), 'https://10.0.0.2:8007'));
CU.run();

const NM = suite('checkedClusterName');
NM('should take a DNS label', () => assert.is(checkedClusterName('office-2'), 'office-2'));
for (const bad of ['', 'Office', '-x', 'a_b', 'x'.repeat(33), '../x']) NM(`should refuse ${JSON.stringify(bad)}`, () => assert.throws(() => checkedClusterName(bad), /name: must be 1–32 lower-case/));
NM.run();

const O = suite('newer');
O('should order by epoch first, then by generation', () => {
  assert.ok(newer({ epoch: 2, generation: 1 }, { epoch: 1, generation: 99 }));
  assert.ok(newer({ epoch: 1, generation: 5 }, { epoch: 1, generation: 4 }));
  assert.not.ok(newer({ epoch: 1, generation: 4 }, { epoch: 1, generation: 4 }));
  assert.not.ok(newer({ epoch: 1, generation: 99 }, { epoch: 2, generation: 1 }));
});
O.run();

const M = suite('withNode / withoutNode / promoted');
M('should start a cluster at epoch 1, generation 1, with its creator as master', () => {
  assert.equal(newCluster('office', N1), { name: 'office', epoch: 1, master: 'n1', generation: 1, nodes: [N1] });
});
M('should add a node', () => assert.equal(withNode(newCluster('office', N1), N2).nodes.map((n) => n.name), ['n1', 'n2']));
M('should refuse a name that is taken, naming the node', () => {
  assert.throws(() => withNode(newCluster('office', N1), { ...N2, name: 'n1' }), /a node named n1 is in cluster office already/);
});
M('should refuse a certificate that is in the cluster already', () => {
  assert.throws(() => withNode(newCluster('office', N1), { ...N2, fingerprint: N1.fingerprint }), /same certificate/);
});
M('should refuse to remove the master or a node with guests', () => {
  const c = withNode(newCluster('office', N1), N2);
  assert.throws(() => withoutNode(c, 'n1', []), /the master cannot be removed/);
  assert.throws(() => withoutNode(c, 'n2', [104, 105]), /still has 2 guest\(s\) \(104, 105\)/);
  assert.throws(() => withoutNode(c, 'n9', []), /no node "n9" in cluster office/);
  assert.equal(withoutNode(c, 'n2', []).nodes, [N1]);
});
M('should promote a member with the next epoch and keep the generation', () => {
  const c = { ...withNode(newCluster('office', N1), N2), generation: 7 };
  const p = promoted(c, 'n2');
  assert.is(p.master, 'n2');
  assert.is(p.epoch, 2);
  assert.is(p.generation, 7);
  assert.throws(() => promoted(p, 'n2'), /n2 is the master already/);
});
M.run();

const P = suite('allocateVmid / guestsOn');
const PL: Placement = { '101': { node: 'n1', name: 'a' }, '102': { node: 'n2', name: 'b' }, '104': { node: 'n2', name: 'c' } };
P('should give the lowest free VMID from 101', () => {
  assert.is(allocateVmid({}, null), 101);
  assert.is(allocateVmid(PL, null), 103);
});
P('should give a wanted VMID that is free and refuse one that is taken, naming where', () => {
  assert.is(allocateVmid(PL, 200), 200);
  assert.throws(() => allocateVmid(PL, 102), /VMID 102 is taken by guest b on node n2/);
});
P('should list a node\'s guests in order', () => assert.equal(guestsOn(PL, 'n2'), [102, 104]));
P.run();

const T = suite('join tokens');
const NOW = 1_767_225_600;
T('should make an rjt_ token and keep only its hash', () => {
  const { token, record } = newJoinToken(NOW, JOIN_TOKEN_LIFETIME_S, Buffer.alloc(32, 1));
  assert.match(token, /^rjt_[A-Za-z0-9_-]{43}$/);
  assert.not.match(JSON.stringify(record), token.slice(4));
  assert.is(record.expires, NOW + 3600);
});
T('should accept a fresh token once', () => {
  const { token, record } = newJoinToken(NOW);
  assert.is(usableJoinToken([record], token, NOW + 10), record);
  const after = consumeJoinToken([record], record.hash, 'n2', NOW + 10);
  assert.throws(() => usableJoinToken(after, token, NOW + 11), /the join token was used already \(by node n2/);
});
T('should refuse an expired token with 410', () => {
  const { token, record } = newJoinToken(NOW);
  try {
    usableJoinToken([record], token, NOW + 3600);
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /the join token expired at 2026-01-01T01:00:00.000Z/);
    assert.is((e as { status: number }).status, 410);
  }
});
T('should refuse a token it never made (forged) with 403', () => {
  const { record } = newJoinToken(NOW);
  const forged = newJoinToken(NOW).token;
  try {
    usableJoinToken([record], forged, NOW);
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /not valid for this cluster/);
    assert.is((e as { status: number }).status, 403);
  }
});
T('should refuse what is not a token at all with 400', () => {
  assert.throws(() => usableJoinToken([], 'hello', NOW), /token: is not a join token/);
});
T('should drop records kept longer than a week after use or expiry', () => {
  const a = newJoinToken(NOW).record;
  const b = newJoinToken(NOW + JOIN_TOKEN_KEEP_S).record;
  const kept = consumeJoinToken([a, b], b.hash, 'n3', NOW + JOIN_TOKEN_KEEP_S + 3600);
  assert.equal(kept.map((r) => r.hash), [b.hash]);
});
T('should take a lifetime from 1 s to a week', () => {
  assert.is(checkedTokenLifetime(undefined), 3600);
  assert.is(checkedTokenLifetime(600), 600);
  assert.throws(() => checkedTokenLifetime(0), /lifetime: must be a whole number of seconds from 1/);
  assert.throws(() => checkedTokenLifetime(8 * 24 * 3600), /lifetime: must be a whole number of seconds from 1 to 604800/);
  assert.throws(() => checkedTokenLifetime(1.5), /lifetime/);
});
T.run();

const S = suite('staleEntries');
S('should give the entries a node no longer lists, sparing fresh reservations and other nodes', () => {
  const now = 1_767_225_600;
  const p: Placement = {
    '101': { node: 'n2', name: 'old' },
    '102': { node: 'n2', name: 'new', since: now - 60 },
    '103': { node: 'n2', name: 'kept', since: 0 },
    '104': { node: 'n3', name: 'elsewhere' },
  };
  assert.equal(staleEntries(p, 'n2', [103], now), [101]);
  assert.equal(staleEntries(p, 'n2', [103], now + 3600), [101, 102]);
});
S.run();
