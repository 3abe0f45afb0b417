import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useTempRoot } from '../../helpers/temp-root';
import { changesOnMaster, homeNode } from '../../../node-cgi/cluster/dispatch';
import type { Context, Route } from '../../../node-cgi/lib/cgi';
import type { ClusterConfig } from '../../../node-cgi/cluster/model';

const C: ClusterConfig = {
  name: 'office', epoch: 1, master: 'n1', generation: 4,
  nodes: ['n1', 'n2', 'n3'].map((name, i) => ({ name, url: `https://10.0.0.${i + 1}:8007`, fingerprint: 'AA', version: '0.1.0', joined: 1 })),
};
const ctx = (params: Record<string, string> = {}) => ({ params }) as unknown as Context;
const H = suite('homeNode');
const root = useTempRoot(H);
H.before(() => {
  process.env.RAMVM_NODE = 'n1';
  mkdirSync(join(root.path, 'etc/ramvm/vms'), { recursive: true });
  mkdirSync(join(root.path, 'etc/ramvm/cluster'), { recursive: true });
  writeFileSync(join(root.path, 'etc/ramvm/vms/101.json'), '{"vmid":101}');
  writeFileSync(join(root.path, 'etc/ramvm/cluster/vms.json'), JSON.stringify({ '101': { node: 'n1', name: 'a' }, '102': { node: 'n2', name: 'b' } }));
});
H.after(() => {
  delete process.env.RAMVM_NODE;
});
H('should run a route without a home here', async () => assert.is(await homeNode(undefined, ctx(), C), null));
H('should send a cluster-wide change to the master', async () => assert.is(await homeNode('master', ctx(), C), 'n1'));
H('should run a guest whose config is here, here', async () => assert.is(await homeNode({ guest: () => 101 }, ctx(), C), 'n1'));
H('should send a guest elsewhere to its node in the placement index', async () => assert.is(await homeNode({ guest: () => 102 }, ctx(), C), 'n2'));
H('should run a guest the index does not know here (where it answers 404)', async () => assert.is(await homeNode({ guest: () => 999 }, ctx(), C), null));
H('should send a request for a node of the cluster there, and keep one for an unknown node here', async () => {
  assert.is(await homeNode({ node: (x) => x.params.node ?? null }, ctx({ node: 'n3' }), C), 'n3');
  assert.is(await homeNode({ node: (x) => x.params.node ?? null }, ctx({ node: 'n9' }), C), null);
});
H.run();

const M = suite('changesOnMaster');
M('should send every change but login and logout to the master, and keep reads and given homes', () => {
  const r = (method: Route['method'], path: string, perm: Route['perm'], home?: Route['home']): Route => ({ method, path, perm, ...(home ? { home } : {}), handle: () => null });
  const out = changesOnMaster([
    r('GET', '/users', 'authenticated'),
    r('POST', '/users', { path: '/access', priv: 'User.Modify' }),
    r('POST', '/ticket', 'public'),
    r('PUT', '/x', 'authenticated', { node: () => 'n2' }),
  ]);
  assert.equal(out.map((x) => (typeof x.home === 'object' ? 'node' : x.home ?? 'here')), ['here', 'master', 'here', 'node']);
});
M.run();
