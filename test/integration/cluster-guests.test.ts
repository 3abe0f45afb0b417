/**
 * Guests of a three-node cluster (network namespaces, real lighttpd and
 * QEMU each), all managed through the master: create on n2 and n3 and see
 * each run there, power, config, monitor, screenshots, the console
 * websocket carrying RFB, tasks and their logs, backup and restore (also of
 * a backup its guest left behind on another node), the ACL
 * checked on the master; a node whose web server is down shows offline and
 * its guests "unknown" while the rest works; a member serves its own guests
 * while the master is down. One cluster serves the whole file, in order.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_PASSWORD, loginClient, type Client } from '../helpers/node';
import { formCluster, nodeCli, startTestCluster, waitTask, type ClusterTestNode, type TestCluster } from '../helpers/cluster';
import { createSectorGuest, GUEST_MARKER, waitForSerial } from '../helpers/guest';
import { nonBlank, openConsole, RfbClient } from './console-helpers';

let c: TestCluster;
let n1: ClusterTestNode;
let n2: ClusterTestNode;
let n3: ClusterTestNode;
let master: Client;
let v1: number;
let v2: number;
let v3: number;

/** The network namespace a process runs in ("rvc3f9a-n2"). */
function namespaceOf(pid: number): string {
  return spawnSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).stdout.trim();
}

const qemuPid = (n: ClusterTestNode, vmid: number) => Number(readFileSync(join(n.root, `run/ramvm/qemu/${vmid}.pid`), 'utf8').trim());
const guests = async (api: Client) => (await api.get('/api/vm')).json.data.map((g: any) => [g.vmid, g.node, g.status]);

async function started(api: Client, n: ClusterTestNode, vmid: number): Promise<void> {
  const r = await api.post(`/api/vm/${vmid}/start`, {});
  assert.is(r.status, 200, r.text);
  await waitForSerial(join(n.root, `run/ramvm/qemu/${vmid}.serial.log`), GUEST_MARKER);
}

const G = suite('cluster: guests through the master');

G.before(async () => {
  c = await startTestCluster(3);
  [n1, n2, n3] = c.nodes as [ClusterTestNode, ClusterTestNode, ClusterTestNode];
  master = await formCluster(c, 'office');
});
G.after(async () => c?.stop());

G('should create a guest on n2 and on n3 from the master, each on its own node, with VMIDs unique in the cluster', async () => {
  v2 = await createSectorGuest(master, n2.root, { name: 'two', node: 'n2' });
  v3 = await createSectorGuest(master, n3.root, { name: 'three', node: 'n3' });
  v1 = await createSectorGuest(master, n1.root, { name: 'one' });
  assert.equal([v2, v3, v1], [101, 102, 103]);
  assert.ok(existsSync(join(n2.root, `etc/ramvm/vms/${v2}.json`)) && !existsSync(join(n1.root, `etc/ramvm/vms/${v2}.json`)));
  assert.ok(existsSync(join(n3.root, `etc/ramvm/vms/${v3}.json`)));
  const bad = await master.post('/api/vm', { name: 'nowhere', node: 'n9', memory: 32, nics: [], disks: [] });
  assert.is(bad.status, 400);
  assert.match(bad.json.error.message, 'node: no node "n9" in cluster office (nodes: n1, n2, n3)');
  const taken = await master.post('/api/vm', { vmid: v2, name: 'twin', node: 'n3', memory: 32, nics: [], disks: [] });
  assert.is(taken.status, 409);
  assert.match(taken.json.error.message, `VMID ${v2} is taken by guest two on node n2`);
});

G('should list every node\'s guests with their node, on the master and on a member', async () => {
  for (const n of [n1, n2]) {
    const api = await n.login('admin', ADMIN_PASSWORD);
    assert.equal(await guests(api), [[101, 'n2', 'stopped'], [102, 'n3', 'stopped'], [103, 'n1', 'stopped']]);
  }
});

G('should start the n2 and n3 guests from the master, each QEMU in its node\'s namespace', async () => {
  await started(master, n2, v2);
  await started(master, n3, v3);
  assert.is(namespaceOf(qemuPid(n2, v2)), n2.ns);
  assert.is(namespaceOf(qemuPid(n3, v3)), n3.ns);
  const d = (await master.get(`/api/vm/${v2}`)).json.data;
  assert.is(d.status, 'running');
  assert.is(d.node, 'n2');
  assert.is(d.runtime.pid, qemuPid(n2, v2));
});

G('should run the monitor, a config change and a screenshot of the n2 guest through the master', async () => {
  const m = await master.post(`/api/monitor/${v2}`, { command: 'info status' });
  assert.is(m.status, 200, m.text);
  assert.is(m.json.data.output, 'VM status: running\n');
  const p = await master.put(`/api/vm/${v2}`, { description: 'changed through the master' });
  assert.is(p.status, 200, p.text);
  assert.is(JSON.parse(readFileSync(join(n2.root, `etc/ramvm/vms/${v2}.json`), 'utf8')).description, 'changed through the master');
  const shot = await fetch(`${n1.url}/api/monitor/${v2}/screenshot?width=160`, { headers: { cookie: master.cookie! } });
  assert.is(shot.status, 200);
  assert.is(shot.headers.get('content-type'), 'image/png');
  const png = Buffer.from(await shot.arrayBuffer());
  assert.equal([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.is(png.readUInt32BE(16), 160, 'scaled to 160 px on n2');
});

G('should carry a noVNC session of the n2 guest over the master\'s console websocket', async () => {
  const con = await openConsole(n1.url, v2, { cookie: master.cookie! });
  assert.is(con.status, 101, con.body);
  const rfb = new RfbClient(con.ws!);
  const init = await rfb.handshake();
  assert.is(init.version, 'RFB 003.008');
  assert.is(init.name, 'QEMU (two)');
  rfb.requestUpdate(false);
  const u = await rfb.readUpdate();
  assert.ok(u.rects.length > 0);
  assert.ok(nonBlank(u.pixels), 'the guest\'s screen arrived');
  con.ws!.close();
});

G('should refuse the console from another site\'s page on the master, before anything reaches n2', async () => {
  const con = await openConsole(n1.url, v2, { cookie: master.cookie!, origin: 'https://evil.example' });
  assert.is(con.status, 403);
  assert.match(con.body!, 'the console may be opened only from a page of this node');
});

G('should follow a task of n2 through the master: its id names n2, its state and log come from there', async () => {
  const r = await master.post(`/api/vm/${v2}/check`, {});
  assert.is(r.status, 202, r.text);
  const id: string = r.json.data.task;
  assert.match(id, /^n2:/);
  const t = await waitTask(master, id);
  assert.is(t.status, 'ok', t.message);
  const log = await master.get(`/api/task/${encodeURIComponent(id)}/log`);
  assert.is(log.status, 200);
  assert.match(log.json.data.lines.join('\n'), 'on node n2');
  const list = (await master.get('/api/task')).json.data;
  assert.ok(list.some((x: any) => x.id === id && x.node === 'n2'), 'the master lists the task of n2');
});

G('should back the n2 guest up and restore it through the master, on n2', async () => {
  const b = await master.post('/api/backup/run', { vmid: v2, storage: 'local', mode: 'snapshot', compress: 'none' });
  assert.is(b.status, 202, b.text);
  assert.match(b.json.data.task, /^n2:/);
  const t = await waitTask(master, b.json.data.task);
  assert.is(t.status, 'ok', t.message);
  const list = (await master.get(`/api/backup?vmid=${v2}`)).json.data;
  assert.is(list.length, 1);
  assert.ok(existsSync(join(n2.root, `var/lib/vz/dump/ramvm/${v2}`)), 'the backup is on n2');
  assert.is((await master.post(`/api/vm/${v2}/stop`, {})).status, 200);
  const r = await master.post(`/api/backup/${encodeURIComponent(list[0].id)}/restore`, { force: true });
  assert.is(r.status, 202, r.text);
  const rt = await waitTask(master, r.json.data.task);
  assert.is(rt.status, 'ok', rt.message);
  await started(master, n2, v2);
  // As a new guest: its VMID must be free in the whole cluster.
  const taken = await master.post(`/api/backup/${encodeURIComponent(list[0].id)}/restore`, { vmid: v1 });
  assert.is(taken.status, 409);
  assert.match(taken.json.error.message, `VMID ${v1} is taken by guest one on node n1`);
  const fresh = await master.post(`/api/backup/${encodeURIComponent(list[0].id)}/restore`, { vmid: 150 });
  assert.is(fresh.status, 202, fresh.text);
  assert.is((await waitTask(master, fresh.json.data.task)).status, 'ok');
  assert.equal((await guests(master)).find((g: any[]) => g[0] === 150), [150, 'n2', 'stopped']);
  assert.is((await master.del('/api/vm/150')).status, 204);
});

G('should find a backup left on n2 when its guest moved to n3: listed with its node from any node, read, restored there', async () => {
  const before = (await master.get(`/api/backup?vmid=${v2}`)).json.data;
  assert.equal(before.map((b: any) => b.node), ['n2']);
  const id: string = before[0].id;
  assert.is((await master.post(`/api/vm/${v2}/stop`, {})).status, 200);
  const mv = await master.post(`/api/vm/${v2}/migrate`, { target: 'n3', online: false });
  assert.is(mv.status, 202, mv.text);
  assert.is((await waitTask(master, mv.json.data.task)).status, 'ok');
  // The guest's node is n3 now; its backup stays on n2's storage.
  const m3 = await n3.login('admin', ADMIN_PASSWORD);
  for (const api of [master, m3]) {
    const list = await api.get(`/api/backup?vmid=${v2}`);
    assert.is(list.status, 200, list.text);
    assert.equal(list.json.data.map((b: any) => [b.id, b.node]), [[id, 'n2']], 'listed from every node, with the node that holds it');
  }
  assert.equal((await master.get(`/api/backup?vmid=${v2}&node=n3`)).json.data, [], 'n3 holds none');
  assert.equal((await master.get(`/api/backup?vmid=${v2}&node=n2`)).json.data.map((b: any) => b.node), ['n2']);
  const nine = await master.get(`/api/backup?node=n9`);
  assert.is(nine.status, 404, nine.text);
  assert.match(nine.json.error.message, 'no node "n9" in cluster office (nodes: n1, n2, n3)');
  const one = await m3.get(`/api/backup/${encodeURIComponent(id)}`);
  assert.is(one.status, 200, one.text);
  assert.equal([one.json.data.id, one.json.data.node, one.json.data.manifest.vmid], [id, 'n2', v2]);
  const log = await master.get(`/api/backup/${encodeURIComponent(id)}/log`);
  assert.is(log.status, 200, log.text);
  const wrong = await master.get(`/api/backup/${encodeURIComponent(id)}?node=n3`);
  assert.is(wrong.status, 404, `n3 holds no such backup: ${wrong.text}`);
  const r = await m3.post(`/api/backup/${encodeURIComponent(id)}/restore`, { vmid: 151 });
  assert.is(r.status, 202, r.text);
  assert.match(r.json.data.task, /^n2:/, 'restored where the backup lies');
  assert.is((await waitTask(master, r.json.data.task)).status, 'ok');
  assert.equal((await guests(master)).find((g: any[]) => g[0] === 151), [151, 'n2', 'stopped']);
  assert.is((await master.del('/api/vm/151')).status, 204);
  // Back where the later tests expect it, running.
  const back = await master.post(`/api/vm/${v2}/migrate`, { target: 'n2', online: false });
  assert.is(back.status, 202, back.text);
  assert.is((await waitTask(master, back.json.data.task)).status, 'ok');
  await started(master, n2, v2);
});

G('should check the ACL on the master: a user may start the guest granted, not another one', async () => {
  assert.is((await master.post('/api/access/users', { username: 'olga', password: 'olga-pw-1234' })).status, 201);
  assert.is((await master.put('/api/access/acl', { path: `/vms/${v3}`, user: 'olga', role: 'VMUser' })).status, 200);
  const olga = await loginClient(n1.url, 'olga', 'olga-pw-1234');
  assert.equal(await guests(olga), [[102, 'n3', 'running']]);
  const no = await olga.post(`/api/vm/${v2}/stop`, {});
  assert.is(no.status, 403);
  assert.match(no.json.error.message, `permission denied: VM.PowerMgmt on /vms/${v2}`);
  const m = await olga.post(`/api/monitor/${v3}`, { command: 'info status' });
  assert.is(m.status, 403, 'VMUser holds no VM.Monitor');
});

G('should show a node whose web server stopped as offline and its guests unknown, answer 503 for them, and work on', async () => {
  // A name changed on n3 reaches the master's index with its minute tick, for the list while n3 is away.
  assert.is((await master.put(`/api/vm/${v3}`, { name: 'three-b' })).status, 200);
  const tick = nodeCli(n1, ['cluster', 'tick']);
  assert.is(tick.status, 0, tick.stderr);
  await n3.kill();
  const t0 = Date.now();
  const list = await guests(master);
  process.stdout.write(`\n  GET /api/vm with n3 down answered in ${Date.now() - t0} ms\n`);
  assert.equal(list, [[101, 'n2', 'running'], [102, 'n3', 'unknown'], [103, 'n1', 'stopped']]);
  const away = (await master.get('/api/vm')).json.data.find((g: any) => g.vmid === v3);
  assert.is(away.name, 'three-b');
  assert.match(away.note, `node n3 does not answer at ${n3.clusterUrl}`);
  const v = (await master.get('/api/cluster')).json.data;
  assert.equal(v.nodes.map((n: any) => [n.name, n.online]), [['n1', true], ['n2', true], ['n3', false]]);
  assert.match(v.nodes[2].error, `node n3 does not answer at ${n3.clusterUrl}`);
  const s = await master.post(`/api/vm/${v3}/stop`, {});
  assert.is(s.status, 503);
  assert.match(s.json.error.message, `node n3 does not answer at ${n3.clusterUrl}`);
  assert.match(s.json.error.message, 'what lives on node n3 waits until it is back');
  assert.is((await master.post(`/api/monitor/${v2}`, { command: 'info status' })).status, 200, 'n2 works on');
  await n3.revive();
  assert.equal(await guests(master), [[101, 'n2', 'running'], [102, 'n3', 'running'], [103, 'n1', 'stopped']]);
});

G('should refuse to remove a node that has guests', async () => {
  const r = await master.del('/api/cluster/nodes/n3');
  assert.is(r.status, 409);
  assert.match(r.json.error.message, `node n3 still has 1 guest(s) (${v3})`);
});

G('should let a member serve its own guests while the master is down; cluster-wide changes wait', async () => {
  await n1.kill();
  try {
    const api = await n2.login('admin', ADMIN_PASSWORD);
    const v = (await api.get('/api/cluster')).json.data;
    assert.is(v.master, 'n1');
    assert.is(v.masterOnline, false);
    assert.equal(await guests(api), [[101, 'n2', 'running'], [102, 'n3', 'running'], [103, 'n1', 'unknown']]);
    assert.is((await api.post(`/api/vm/${v2}/stop`, {})).status, 200);
    assert.is((await api.post(`/api/vm/${v2}/start`, {})).status, 200);
    assert.is((await api.post(`/api/monitor/${v2}`, { command: 'info status' })).json.data.output, 'VM status: running\n');
    const con = await openConsole(n2.url, v2, { cookie: api.cookie! });
    assert.is(con.status, 101);
    assert.is((await new RfbClient(con.ws!).handshake()).name, 'QEMU (two)');
    con.ws!.close();
    const b = await api.post('/api/backup/run', { vmid: v2, storage: 'local', mode: 'snapshot', compress: 'none' });
    assert.is(b.status, 202, b.text);
    assert.is((await waitTask(api, b.json.data.task)).status, 'ok');
    // The guest on n3 is reached from n2 directly, by the placement index.
    assert.is((await api.post(`/api/monitor/${v3}`, { command: 'info status' })).status, 200);
    const u = await api.post('/api/access/users', { username: 'waits', password: 'waits-pw-123' });
    assert.is(u.status, 503);
    assert.match(u.json.error.message, `node n1 does not answer at ${n1.clusterUrl}`);
    assert.match(u.json.error.message, 'cluster-wide changes wait for the master n1 to be back, or for a promotion');
    const g = await api.post('/api/vm', { name: 'new', memory: 32, nics: [], disks: [] });
    assert.is(g.status, 503);
    assert.match(g.json.error.message, 'new guests get their VMID from the master n1, which does not answer');
  } finally {
    await n1.revive();
  }
  assert.is((await master.get('/api/cluster')).json.data.masterOnline, true);
});

G('should give a deleted guest\'s VMID back to the cluster', async () => {
  assert.is((await master.post(`/api/vm/${v3}/stop`, {})).status, 200);
  const d = await master.del(`/api/vm/${v3}`);
  assert.is(d.status, 204, d.text);
  assert.ok(!existsSync(join(n3.root, `etc/ramvm/vms/${v3}.json`)));
  const again = await createSectorGuest(master, n2.root, { name: 'reuse', node: 'n2' });
  assert.is(again, v3);
});

G.run();
