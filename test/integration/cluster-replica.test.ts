/**
 * Replicated disks in a 2-node cluster of network namespaces (real
 * lighttpd, each node separated with its own root helper), where DRBD
 * itself cannot run (the build host has no DRBD module): what must hold
 * without it. A qcow2 replica is refused; a peer that does not answer is a
 * 409 that leaves nothing behind; the peer's side failing (here: its
 * `drbdadm up`, no module) undoes the guest node's side, on both nodes;
 * the peer's routes take only a node's signature. The same holds for a
 * replicated disk added to an existing guest (POST /api/vm/<vmid>/disks),
 * and for a raw disk made replicated (…/disks/<id>/replicate), whose image
 * comes back as it was, data and all. GET /api/cluster says of each node
 * that it has no DRBD (`drbd: false`), as the web app needs to know before
 * it offers a replicated disk. The positive path runs in the lab (drbd.test.ts).
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_PASSWORD, type Client, type Reply } from '../helpers/node';
import { formCluster, startTestCluster, type ClusterTestNode, type TestCluster } from '../helpers/cluster';

let c: TestCluster;
let n1: ClusterTestNode;
let n2: ClusterTestNode;
let master: Client;

/** The peer's side fails here: the build host has no DRBD module (the lab has one). */
const NO_DRBD = 'node n2: DRBD is not loaded on node n2 (no /proc/drbd): replicated disks need the node image\'s kernel module';
const REPLICATED = { name: 'mirrored', memory: 32, nics: [], disks: [{ size: '64M', replicated: true }] };
const images = (n: ClusterTestNode) => join(n.root, 'var/lib/vz/images');
/** What a node keeps of guest folders and configs: nothing of a create that failed. */
const leftovers = (n: ClusterTestNode) => [
  ...(existsSync(images(n)) ? readdirSync(images(n)) : []),
  ...readdirSync(join(n.root, 'etc/ramvm/vms')).filter((f) => f.endsWith('.json')),
];

/**
 * What `ask` answers while n2's web server is down: 409, the peer named as
 * not answering; meanwhile n2 shows offline, with no word of DRBD. n2 is
 * back afterwards, whatever happened.
 */
async function refusedWhileN2Down(ask: () => Promise<Reply>): Promise<void> {
  await n2.kill();
  try {
    const r = await ask();
    assert.is(r.status, 409, r.text);
    assert.match(r.json.error.message, /the peer node n2 does not answer; a replicated disk is made on both nodes at once/);
    const down = (await master.get('/api/cluster')).json.data.nodes.find((n: { name: string }) => n.name === 'n2');
    assert.equal([down.online, 'drbd' in down], [false, false], 'a node that does not answer says nothing of DRBD');
  } finally {
    await n2.revive();
  }
}

const R = suite('cluster: replicated disks without DRBD');

R.before(async () => {
  c = await startTestCluster(2);
  [n1, n2] = c.nodes as [ClusterTestNode, ClusterTestNode];
  master = await formCluster(c, 'pair');
});
R.after(async () => c?.stop());

R('should say of each node, itself and the peer it asked, that it has no DRBD module (the build host has none)', async () => {
  assert.is(existsSync('/proc/drbd'), false, 'this test is for a host without the module');
  for (const on of [master, await n2.login('admin', ADMIN_PASSWORD)]) {
    const r = await on.get('/api/cluster');
    assert.is(r.status, 200, r.text);
    assert.equal(r.json.data.nodes.map((n: { name: string; drbd?: boolean }) => [n.name, n.drbd]), [['n1', false], ['n2', false]], `asked on ${r.json.data.self}`);
  }
});

R('should refuse a replicated qcow2 disk with 400 naming the field', async () => {
  const r = await master.post('/api/vm', { ...REPLICATED, disks: [{ size: '64M', replicated: true, format: 'qcow2' }] });
  assert.is(r.status, 400, r.text);
  assert.match(r.text, /disks\[0\]\.format.*a replicated disk is raw/);
});

R('should refuse with 409 when the peer does not answer, leaving nothing on either node', async () => {
  await refusedWhileN2Down(() => master.post('/api/vm', REPLICATED));
  assert.equal(leftovers(n1), []);
  assert.equal((await master.get('/api/vm')).json.data, [], 'no guest, the VMID given back');
});

R('should undo the guest node\'s side when the peer\'s side fails, on both nodes', async () => {
  const r = await master.post('/api/vm', REPLICATED);
  assert.is(r.status, 409, r.text);
  assert.is(r.json.error.message, NO_DRBD);
  assert.equal(leftovers(n1), [], 'nothing on the guest\'s node');
  assert.equal(leftovers(n2), [], 'nothing on the peer');
  assert.equal((await master.get('/api/vm')).json.data, []);
});

R('should take the peer\'s routes from nodes only: a user\'s request is 401', async () => {
  for (const [method, path] of [['GET', '/api/vm/101/replica'], ['POST', '/api/vm/101/replica'], ['DELETE', '/api/vm/101/replica/0']] as const) {
    const r = await master.request(method, path, method === 'POST' ? { json: { disk: 0, record: {} } } : {});
    assert.is(r.status, 401, `${method} ${path}: ${r.text}`);
    assert.match(r.text, /answers requests of cluster nodes only/);
  }
});

// An existing guest gets a replicated disk through POST /api/vm/<vmid>/disks: the refusals and undo of a create, and nothing lost.
let plain = 0;
/** The files of the plain guest's folder on a node ([] without one). */
const guestFiles = (n: ClusterTestNode) => (existsSync(join(images(n), String(plain))) ? readdirSync(join(images(n), String(plain))).sort() : []);
const disksOf = async () => (await master.get(`/api/vm/${plain}`)).json.data.disks.map((d: { id: string }) => d.id);

R('should refuse a replicated qcow2 disk on an existing guest with 400, as a create does', async () => {
  const g = await master.post('/api/vm', { name: 'plain', memory: 32, nics: [], disks: [{ size: '1M', format: 'raw' }] });
  assert.is(g.status, 201, g.text);
  plain = g.json.data.vmid;
  const r = await master.post(`/api/vm/${plain}/disks`, { size: '64M', replicated: true, format: 'qcow2' });
  assert.is(r.status, 400, r.text);
  assert.match(r.json.error.message, /disks\[1\]\.format: a replicated disk is raw/);
  assert.equal(await disksOf(), ['disk0']);
});

R('should refuse to add a replicated disk with 409 when the peer does not answer, the guest as it was', async () => {
  await refusedWhileN2Down(() => master.post(`/api/vm/${plain}/disks`, { size: '64M', replicated: true }));
  assert.equal(await disksOf(), ['disk0']);
  assert.equal(guestFiles(n1), [`vm-${plain}-disk-0.raw`]);
});

R('should undo the guest node\'s side of an added disk when the peer\'s side fails, on both nodes', async () => {
  const r = await master.post(`/api/vm/${plain}/disks`, { size: '64M', replicated: true });
  assert.is(r.status, 409, r.text);
  assert.is(r.json.error.message, NO_DRBD);
  assert.equal(await disksOf(), ['disk0'], 'the config as it was');
  assert.equal(guestFiles(n1), [`vm-${plain}-disk-0.raw`], 'no record or backing file on the guest\'s node');
  assert.equal(guestFiles(n2), [], 'nothing on the peer');
  // The guest still takes a plain disk, with the index the failed add did not keep.
  const d = await master.post(`/api/vm/${plain}/disks`, { size: '1M', format: 'raw' });
  assert.is(d.status, 201, d.text);
  assert.is(d.json.data.id, 'disk1');
});

// A raw disk made replicated with its data (POST /api/vm/<vmid>/disks/<id>/replicate): every refusal and failure keeps the image as it was.
const PATTERN = 'ramvm-replicate-pattern';
const rawImage = () => join(images(n1), String(plain), `vm-${plain}-disk-0.raw`);
/** The image's size and what it holds at its start and its last bytes. */
function imageState(): { size: number; head: string; tail: string } {
  const fd = openSync(rawImage(), 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(PATTERN.length);
    const tail = Buffer.alloc(PATTERN.length);
    readSync(fd, head, 0, head.length, 0);
    readSync(fd, tail, 0, tail.length, size - tail.length);
    return { size, head: head.toString(), tail: tail.toString() };
  } finally {
    closeSync(fd);
  }
}
const WRITTEN = { size: 2 ** 20, head: PATTERN, tail: PATTERN };

R('should refuse to make a disk replicated with 409 when the peer does not answer, its image untouched', async () => {
  const fd = openSync(rawImage(), 'r+');
  writeSync(fd, PATTERN, 0);
  writeSync(fd, PATTERN, 2 ** 20 - PATTERN.length);
  closeSync(fd);
  assert.equal(imageState(), WRITTEN);
  await refusedWhileN2Down(() => master.post(`/api/vm/${plain}/disks/disk0/replicate`));
  assert.equal(imageState(), WRITTEN);
  assert.equal((await master.get(`/api/vm/${plain}`)).json.data.disks[0].file, `vm-${plain}-disk-0.raw`);
});

R('should put the image back, name, size and data, when the peer\'s side of a conversion fails', async () => {
  const r = await master.post(`/api/vm/${plain}/disks/disk0/replicate`);
  assert.is(r.status, 409, r.text);
  assert.is(r.json.error.message, NO_DRBD);
  assert.equal(imageState(), WRITTEN, 'the guest\'s data as it was');
  assert.equal(guestFiles(n1), [`vm-${plain}-disk-0.raw`, `vm-${plain}-disk-1.raw`], 'no record or .drbd file left');
  assert.equal(guestFiles(n2), [], 'nothing on the peer');
  const g = (await master.get(`/api/vm/${plain}`)).json.data;
  assert.equal(g.disks.map((d: { file: string; replicated?: true }) => [d.file, d.replicated ?? false]), [[`vm-${plain}-disk-0.raw`, false], [`vm-${plain}-disk-1.raw`, false]]);
});

R('should refuse to make a qcow2 disk or a replicated one replicated with 409, and an unknown disk with 404', async () => {
  const q = await master.post(`/api/vm/${plain}/disks`, { size: '1M', format: 'qcow2' });
  assert.is(q.status, 201, q.text);
  const r = await master.post(`/api/vm/${plain}/disks/${q.json.data.id}/replicate`);
  assert.is(r.status, 409, r.text);
  assert.match(r.json.error.message, /disk2 is qcow2: only a raw disk can be made replicated/);
  assert.is((await master.post(`/api/vm/${plain}/disks/disk9/replicate`)).status, 404);
  assert.is((await master.del(`/api/vm/${plain}`)).status, 204);
});

R.run();
