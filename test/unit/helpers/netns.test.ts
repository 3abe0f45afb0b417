import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { networkNames, networkPlan, teardownPlan } from '../../helpers/netns';

const N = suite('networkNames');
N('should keep every interface name within 15 characters', () => {
  const n = networkNames('3f9a', 9);
  for (const l of [n.hostLink, n.hostPeer, ...n.nodes.flatMap((x) => [x.link, x.peer])]) assert.ok(l.length <= 15, l);
  assert.is(n.nodes[0]!.ns, 'rvc3f9a-n1');
});
N('should refuse an id that is not 4 hex digits', () => assert.throws(() => networkNames('zz', 1), /4 hex digits/));
N.run();

const P = suite('networkPlan');
P('should give each node eth0 with .N on the run\'s /24 and the root namespace .254', () => {
  const steps = networkPlan('3f9a', 57, 2).map((s) => s.join(' '));
  assert.ok(steps.includes('-n rvc3f9a-n1 addr add 10.213.57.1/24 dev eth0'));
  assert.ok(steps.includes('-n rvc3f9a-n2 addr add 10.213.57.2/24 dev eth0'));
  assert.ok(steps.includes('addr add 10.213.57.254/24 dev rvc3f9ah'));
  assert.is(steps[0], 'netns add rvc3f9a-hub');
});
P('should refuse a subnet octet or a node count out of range', () => {
  assert.throws(() => networkPlan('3f9a', 0, 1), /subnet octet/);
  assert.throws(() => networkPlan('3f9a', 5, 10), /1\.\.9 nodes/);
});
P.run();

const T = suite('teardownPlan');
T('should remove the root link and every namespace, the hub last', () => {
  assert.equal(teardownPlan('3f9a', 2), [['link', 'del', 'rvc3f9ah'], ['netns', 'del', 'rvc3f9a-n1'], ['netns', 'del', 'rvc3f9a-n2'], ['netns', 'del', 'rvc3f9a-hub']]);
});
T.run();
