/**
 * Forming a cluster of three nodes in network namespaces (real lighttpd
 * each, HTTPS between them): create, join tokens, every refusal of a join
 * with both config trees unchanged byte for byte, the join itself, one login
 * on every node, replication acknowledged by every member, catch-up of a
 * member that was away, writes sent to a member, removal, promotion while
 * the master is down and the old master's return without a lost change,
 * and the `ramvm cluster` CLI. One cluster serves the whole file, in order.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { request as httpsRequest } from 'node:https';
import { ADMIN_PASSWORD, loginClient, type Client } from '../helpers/node';
import { configTree, fingerprintOfNode, nodeCli, startTestCluster, waitTask, type ClusterTestNode, type TestCluster } from '../helpers/cluster';

let c: TestCluster;
let n1: ClusterTestNode;
let n2: ClusterTestNode;
let n3: ClusterTestNode;
let a1: Client;
let a2: Client;
let a3: Client;

const login = (n: ClusterTestNode) => n.login('admin', ADMIN_PASSWORD);

/** 401 "wrong user name or password" for this login on the node at `url`. */
async function loginRefused(url: string, username: string, password: string): Promise<void> {
  const r = await fetch(`${url}/api/access/ticket`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.is(r.status, 401, `${username} may log in at ${url}`);
  assert.match(((await r.json()) as any).error.message, 'wrong user name or password');
}

async function token(api = a1, body: Record<string, unknown> = {}): Promise<{ token: string; expires: number; fingerprint: string; url: string }> {
  const r = await api.post('/api/cluster/token', body);
  assert.is(r.status, 200, r.text);
  return r.json.data;
}

/** Run `fn` and assert that it changed nothing in the config trees of `nodes`. */
async function unchanged(nodes: ClusterTestNode[], fn: () => Promise<void>): Promise<void> {
  const before = nodes.map((n) => configTree(n.root));
  await fn();
  nodes.forEach((n, i) => assert.equal(configTree(n.root), before[i], `the config tree of ${n.name} changed`));
}

/** POST the master's /api/cluster/members as a joining node would (over HTTPS, unsigned). */
function postMembers(master: ClusterTestNode, body: unknown): Promise<{ status: number; json: any }> {
  const u = new URL(master.clusterUrl);
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((res, rej) => {
    const req = httpsRequest(
      { host: u.hostname, port: u.port, path: '/api/cluster/members', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': String(data.length) } },
      (r) => {
        let text = '';
        r.on('data', (d) => (text += d));
        r.on('end', () => res({ status: r.statusCode!, json: JSON.parse(text) }));
      },
    );
    req.on('error', rej);
    req.end(data);
  });
}

async function join(api: Client, t: { token: string; fingerprint: string }, master = n1) {
  return api.post('/api/cluster/join', { master: master.clusterUrl, token: t.token, fingerprint: t.fingerprint });
}

/** Join `node` and wait for its task; returns the admin client of the joined node and the time it took. */
async function joinOk(node: ClusterTestNode, api: Client): Promise<{ api: Client; ms: number }> {
  const t0 = Date.now();
  const r = await join(api, await token());
  assert.is(r.status, 202, r.text);
  const task = await waitTask(api, r.json.data.task, 60_000, () => login(node));
  assert.is(task.status, 'ok', task.message);
  return { api: await login(node), ms: Date.now() - t0 };
}

const J = suite('cluster: forming and changing');

J.before(async () => {
  c = await startTestCluster(3);
  [n1, n2, n3] = c.nodes as [ClusterTestNode, ClusterTestNode, ClusterTestNode];
  [a1, a2, a3] = await Promise.all([login(n1), login(n2), login(n3)]);
});
J.after(async () => c?.stop());

J('should show a node in no cluster alone, with its fingerprint, and make no join token there', async () => {
  const v = (await a1.get('/api/cluster')).json.data;
  assert.is(v.name, null);
  assert.is(v.master, null);
  assert.equal(v.nodes.map((n: any) => [n.name, n.online, n.url, n.fingerprint]), [['n1', true, n1.clusterUrl, fingerprintOfNode(n1)]]);
  const t = await a1.post('/api/cluster/token', {});
  assert.is(t.status, 409);
  assert.match(t.json.error.message, 'node n1 is in no cluster');
});

J('should make n1 the master of a new cluster, and refuse a bad name or a second one', async () => {
  const bad = await a1.post('/api/cluster', { name: 'Office!' });
  assert.is(bad.status, 400);
  assert.match(bad.json.error.message, 'name: must be 1–32 lower-case letters');
  const r = await a1.post('/api/cluster', { name: 'office' });
  assert.is(r.status, 200, r.text);
  assert.is(r.json.data.name, 'office');
  assert.is(r.json.data.master, 'n1');
  assert.is(r.json.data.epoch, 1);
  const again = await a1.post('/api/cluster', { name: 'other' });
  assert.is(again.status, 409);
  assert.match(again.json.error.message, 'node n1 is in cluster office already');
});

J('should give a single-use join token with an expiry of 1 h and the master\'s fingerprint', async () => {
  const t = await token();
  assert.match(t.token, /^rjt_[A-Za-z0-9_-]{43}$/);
  assert.ok(Math.abs(t.expires - (Date.now() / 1000 + 3600)) < 120, String(t.expires));
  assert.is(t.fingerprint, fingerprintOfNode(n1));
  assert.is(t.url, n1.clusterUrl);
});

J('should refuse a forged token, changing nothing on either node', async () => {
  await unchanged([n1, n2], async () => {
    const r = await join(a2, { token: `rjt_${'A'.repeat(43)}`, fingerprint: fingerprintOfNode(n1) });
    assert.is(r.status, 403);
    assert.match(r.json.error.message, 'the join token is not valid for this cluster');
  });
});

J('should refuse a wrong fingerprint before sending anything, changing nothing', async () => {
  const t = await token();
  await unchanged([n1, n2], async () => {
    const r = await join(a2, { token: t.token, fingerprint: fingerprintOfNode(n3) });
    assert.is(r.status, 400);
    assert.match(r.json.error.message, `fingerprint: the certificate at ${n1.clusterUrl} has fingerprint ${fingerprintOfNode(n1)}, not ${fingerprintOfNode(n3)}`);
    assert.match(r.json.error.message, 'nothing was sent');
  });
});

J('should refuse an expired token, changing nothing', async () => {
  const t = await token(a1, { lifetime: 1 });
  await new Promise((r) => setTimeout(r, 2100));
  await unchanged([n1, n2], async () => {
    const r = await join(a2, t);
    assert.is(r.status, 410);
    assert.match(r.json.error.message, 'the join token expired at');
  });
});

J('should refuse a joining node whose name is taken, and one the master cannot reach, changing nothing', async () => {
  const t = await token();
  const me = { name: 'n1', url: n3.clusterUrl, fingerprint: fingerprintOfNode(n3), version: '0.1.0', token: t.token };
  await unchanged([n1, n3], async () => {
    const r = await postMembers(n1, me);
    assert.is(r.status, 409);
    assert.match(r.json.error.message, 'a node named n1 is in cluster office already');
    const far = await postMembers(n1, { ...me, name: 'n3', url: `https://${n3.addr}:9` });
    assert.is(far.status, 409);
    assert.match(far.json.error.message, `the master cannot reach the joining node at https://${n3.addr}:9`);
  });
});

J('should refuse a node that has guests, changing nothing', async () => {
  const g = await a2.post('/api/vm', { name: 'early', memory: 32, nics: [], disks: [{ size: '1M', format: 'raw' }] });
  assert.is(g.status, 201, g.text);
  const t = await token();
  await unchanged([n1, n2], async () => {
    const r = await join(a2, t);
    assert.is(r.status, 409);
    assert.match(r.json.error.message, 'cannot join: node n2 has 1 guest(s) (101)');
  });
  assert.is((await a2.del(`/api/vm/${g.json.data.vmid}`)).status, 204);
});

J('should join n2: both list each other, and n2 takes the cluster\'s users', async () => {
  assert.is((await a2.post('/api/access/users', { username: 'onlyn2', password: 'only-n2-pw' })).status, 201);
  const j = await joinOk(n2, a2);
  a2 = j.api;
  process.stdout.write(`\n  join of n2 took ${j.ms} ms (POST /api/cluster/join to its task done, through the API)\n`);
  for (const api of [a1, a2]) {
    const v = (await api.get('/api/cluster')).json.data;
    assert.is(v.name, 'office');
    assert.is(v.master, 'n1');
    assert.equal(v.nodes.map((n: any) => [n.name, n.online, n.master]), [['n1', true, true], ['n2', true, false]]);
    assert.is(v.nodes[0].generation, v.nodes[1].generation, 'both nodes hold the same generation');
  }
  await loginRefused(n2.url, 'onlyn2', 'only-n2-pw');
});

J('should refuse a used token, changing nothing', async () => {
  const t = await token();
  const r = await join(a3, t);
  assert.is(r.status, 202, r.text);
  const task = await waitTask(a3, r.json.data.task, 60_000, () => login(n3));
  assert.is(task.status, 'ok', task.message);
  a3 = await login(n3);
  // n3 is a member now: make it leave, then try the same token again.
  assert.is((await a1.del('/api/cluster/nodes/n3')).status, 204);
  a3 = await login(n3);
  await unchanged([n1, n3], async () => {
    const again = await join(a3, t);
    assert.is(again.status, 410);
    assert.match(again.json.error.message, 'the join token was used already (by node n3');
  });
});

J('should refuse a node that is in another cluster, changing nothing, and join it after it left (CLI)', async () => {
  assert.is((await a3.post('/api/cluster', { name: 'other' })).status, 200);
  const t = await token();
  await unchanged([n1, n3], async () => {
    const r = await join(a3, t);
    assert.is(r.status, 409);
    assert.match(r.json.error.message, 'cannot join: node n3 is in cluster other already');
  });
  const left = nodeCli(n3, ['cluster', 'leave']);
  assert.is(left.status, 0, left.stderr);
  const tok = nodeCli(n1, ['cluster', 'token']);
  assert.is(tok.status, 0, tok.stderr);
  const cmd = /ramvm cluster join (\S+) (\S+) (\S+)/.exec(tok.stdout);
  assert.ok(cmd, tok.stdout);
  assert.is(cmd![1], n1.clusterUrl);
  const joined = nodeCli(n3, ['cluster', 'join', cmd![1]!, cmd![2]!, cmd![3]!]);
  assert.is(joined.status, 0, joined.stderr);
  assert.match(joined.stdout, 'this node is a member of cluster office; master n1');
  a3 = await login(n3);
  assert.equal((await a1.get('/api/cluster')).json.data.nodes.map((n: any) => n.name), ['n1', 'n2', 'n3']);
});

J('should take one login on every node', async () => {
  for (const n of [n2, n3]) {
    const r = await fetch(`${n.url}/api/access/me`, { headers: { cookie: a1.cookie! } });
    const me = (await r.json()) as any;
    assert.is(r.status, 200);
    assert.is(me.data.node, n.name);
    const post = await fetch(`${n.url}/api/cluster/token`, { method: 'POST', headers: { cookie: a1.cookie!, 'x-ramvm-csrf': a1.csrf!, 'content-type': 'application/json' }, body: '{}' });
    assert.is(post.status, 200, 'its CSRF token too (the token is made on the master)');
  }
});

J('should have a user made on the master on every member when the answer comes', async () => {
  const r = await a1.post('/api/access/users', { username: 'anna', password: 'anna-pw-123' });
  assert.is(r.status, 201, r.text);
  for (const n of [n2, n3]) await loginClient(n.url, 'anna', 'anna-pw-123');
  const gens = await Promise.all([a1, a2, a3].map(async (api) => (await api.get('/api/cluster')).json.data.generation));
  assert.is(new Set(gens).size, 1, `generations ${gens}`);
});

J('should send a change made on a member to the master, and have it everywhere', async () => {
  const r = await a2.post('/api/access/users', { username: 'bert', password: 'bert-pw-1234' });
  assert.is(r.status, 201, r.text);
  for (const n of [n1, n3]) await loginClient(n.url, 'bert', 'bert-pw-1234');
});

J('should bring a member that was away up to date when it is back', async () => {
  await n3.kill();
  const r = await a1.post('/api/access/users', { username: 'late', password: 'late-pw-1234' });
  assert.is(r.status, 201, 'the change is made while n3 is away');
  await n3.revive();
  await loginRefused(n3.url, 'late', 'late-pw-1234');
  const tick = nodeCli(n3, ['cluster', 'tick']);
  assert.is(tick.status, 0, tick.stderr);
  assert.match(tick.stdout, 'took the newer state');
  await loginClient(n3.url, 'late', 'late-pw-1234');
});

J('should refuse a promotion while the master answers', async () => {
  const r = await a2.post('/api/cluster/promote', {});
  assert.is(r.status, 409);
  assert.match(r.json.error.message, 'the master n1 answers');
});

J('should remove n3 (it becomes a single node with its users), and refuse to remove the master', async () => {
  const self = await a1.del('/api/cluster/nodes/n1');
  assert.is(self.status, 409);
  assert.match(self.json.error.message, 'the master cannot be removed');
  const r = await a1.del('/api/cluster/nodes/n3');
  assert.is(r.status, 204, r.text);
  assert.equal((await a1.get('/api/cluster')).json.data.nodes.map((n: any) => n.name), ['n1', 'n2']);
  assert.is((await a3.get('/api/cluster')).status, 401, 'n3 was told to leave: its key is new, old tickets end');
  a3 = await login(n3);
  const v = (await a3.get('/api/cluster')).json.data;
  assert.is(v.name, null);
  await loginClient(n3.url, 'anna', 'anna-pw-123');
});

J('should promote n2 while n1 is down, and let n1 come back as a member without losing the change made meanwhile', async () => {
  await n1.kill();
  const p = await a2.post('/api/cluster/promote', {});
  assert.is(p.status, 200, p.text);
  assert.is(p.json.data.master, 'n2');
  assert.is(p.json.data.epoch, 2);
  assert.is((await a2.post('/api/access/users', { username: 'between', password: 'between-pw-1' })).status, 201);
  await n1.revive();
  a1 = await login(n1);
  // n1 still takes itself for the master: its first change is refused and dropped.
  const lost = await a1.post('/api/access/users', { username: 'lost', password: 'lost-pw-1234' });
  assert.is(lost.status, 409, lost.text);
  assert.match(lost.json.error.message, 'this node is no longer the master: n2 is, since epoch 2');
  const v = (await a1.get('/api/cluster')).json.data;
  assert.is(v.master, 'n2');
  assert.is(v.epoch, 2);
  assert.equal(v.nodes.map((n: any) => [n.name, n.online, n.master]), [['n1', true, false], ['n2', true, true]]);
  await loginClient(n1.url, 'between', 'between-pw-1');
  await loginRefused(n2.url, 'lost', 'lost-pw-1234');
  await loginRefused(n1.url, 'lost', 'lost-pw-1234');
  // A change on n1 now goes to its master n2.
  assert.is((await a1.post('/api/access/users', { username: 'after', password: 'after-pw-1234' })).status, 201);
  await loginClient(n2.url, 'after', 'after-pw-1234');
});

J('should make a node removed while it was away leave when it is back (its tick)', async () => {
  // n3, a single node since its removal, joins the cluster of n2 (the master now) and goes away.
  const t = await token(a2);
  const r = await join(a3, t, n2);
  assert.is(r.status, 202, r.text);
  assert.is((await waitTask(a3, r.json.data.task, 60_000, () => login(n3))).status, 'ok');
  await n3.kill();
  const del = await a2.del('/api/cluster/nodes/n3');
  assert.is(del.status, 204, del.text);
  await n3.revive();
  assert.equal(JSON.parse(nodeCli(n3, ['cluster', 'show']).stdout).name, 'office', 'n3 was not there to be told: it still takes itself for a member');
  const tick = nodeCli(n3, ['cluster', 'tick']);
  assert.is(tick.status, 0, tick.stderr);
  assert.match(tick.stdout, 'the master n2 no longer lists this node: left cluster office');
  const v = (await (await login(n3)).get('/api/cluster')).json.data;
  assert.is(v.name, null);
});

J.run();
