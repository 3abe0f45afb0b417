/**
 * ISO images on every node of a three-node cluster (network namespaces, a
 * real lighttpd each): an upload to the master is copied to n2 and n3 with
 * the same SHA-256 (each node's file hashed here) by a task with a part per
 * node, a delete removes it everywhere, an upload or delete sent to a
 * member goes to the master, a node that was down gets the image (and a
 * delete) from the master's tick when it is back, and a copy cut off by the target's
 * lighttpd going away mid-transfer, or refused by a target whose disk is
 * too small, leaves no partial file there and a task that names the node
 * and what was missing. Only the master may send a node copies (unsigned,
 * forged, member-sent and replayed copies are refused and write nothing),
 * and each copy must arrive with the SHA-256 it was sent with. One cluster
 * serves the whole file, in order.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '../helpers/node';
import { fingerprintOfNode, formCluster, nodeCli, startTestCluster, waitTask, type ClusterTestNode, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/guest';
import { pathsFor } from '../../node-cgi/lib/paths';
import { peerJson, type Signer } from '../../node-cgi/cluster/peer';
import { bodyHash, signedHeaders } from '../../node-cgi/cluster/sign';
import type { HttpError } from '../../node-cgi/lib/errors';
import { ADMIN_PASSWORD } from '../helpers/node';

const MiB = 1024 * 1024;
/** Large enough that the copy is still under way when the test stops its target. */
const BIG_BYTES = 192 * MiB;
/** A distribution on a loaded machine: three lighttpds, TLS, hashing on both sides. */
const TASK_TIMEOUT_MS = 180_000;

let c: TestCluster;
let n1: ClusterTestNode;
let n2: ClusterTestNode;
let n3: ClusterTestNode;
let master: Client;
let dir: string;

const isoDir = (n: ClusterTestNode) => pathsFor(n.root).iso;
const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const hidden = (n: ClusterTestNode) => readdirSync(isoDir(n)).filter((f) => f.includes('.partial-'));

/** A file of random bytes in the test's folder; its path and SHA-256. */
function makeFile(name: string, bytes: number): { path: string; sha256: string } {
  const path = join(dir, name);
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  for (let left = bytes; left > 0; left -= MiB) {
    const b = randomBytes(Math.min(MiB, left));
    hash.update(b);
    writeSync(fd, b);
  }
  closeSync(fd);
  return { path, sha256: hash.digest('hex') };
}

/** PUT a file from disk to `path` on `base` as `api`'s user, streamed. */
function putFile(api: Client, base: string, path: string, file: string): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
  const u = new URL(base + path);
  return new Promise((res, rej) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'PUT', headers: { cookie: api.cookie!, 'x-ramvm-csrf': api.csrf!, 'content-length': String(statSync(file).size) } },
      (r) => {
        let text = '';
        r.on('data', (d) => (text += d));
        r.on('end', () => res({ status: r.statusCode!, json: text ? JSON.parse(text) : null, headers: r.headers }));
      },
    );
    req.on('error', rej);
    createReadStream(file).pipe(req);
  });
}

/** Each node's SHA-256 of `name`, read from its library folder (null: not there). */
function hashes(name: string): Record<string, string | null> {
  return Object.fromEntries(c.nodes.map((n) => [n.name, existsSync(join(isoDir(n), name)) ? sha256Of(join(isoDir(n), name)) : null]));
}

/** The iso.cgi processes lighttpd of node `n` runs now. */
function isoCgiPids(n: ClusterTestNode): number[] {
  const parent = n.server!.proc.pid;
  return readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d)).flatMap((d) => {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === parent && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('iso.cgi') ? [Number(d)] : [];
    } catch {
      return [];
    }
  });
}

/** What signs a request as node `as` of the cluster (the test holds the cluster key of n1's root). */
function signerAs(as: string): Signer {
  const cluster = JSON.parse(readFileSync(pathsFor(n1.root).clusterConfig, 'utf8'));
  return { key: Buffer.from(readFileSync(join(n1.root, 'etc/ramvm/priv/authkey'), 'utf8').trim(), 'hex'), node: as, epoch: cluster.epoch, generation: cluster.generation, identity: null };
}

const S = suite('cluster: ISO images on every node');

S.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ramvm-cluster-iso-'));
  c = await startTestCluster(3);
  [n1, n2, n3] = c.nodes as [ClusterTestNode, ClusterTestNode, ClusterTestNode];
  master = await formCluster(c, 'office');
});
S.after(async () => {
  await c?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

S('should copy an image uploaded to the master to n2 and n3, with the same SHA-256 on each', async () => {
  const f = makeFile('debian.iso', 8 * MiB);
  const up = await putFile(master, n1.url, `/api/iso/debian.iso?sha256=${f.sha256}`, f.path);
  assert.is(up.status, 201, JSON.stringify(up.json));
  const id: string = up.json.data.task;
  assert.match(id, /^n1:/);
  assert.is(up.headers['x-ramvm-task'], id);
  const t = await waitTask(master, id, TASK_TIMEOUT_MS);
  assert.is(t.status, 'ok', t.message);
  assert.equal(
    (t.parts as any[]).map((p) => [p.name, p.status, p.progress]),
    [['n2', 'ok', 100], ['n3', 'ok', 100]],
  );
  assert.equal(hashes('debian.iso'), { n1: f.sha256, n2: f.sha256, n3: f.sha256 });
  const own = (await master.get('/api/iso/debian.iso')).json.data;
  for (const n of ['n2', 'n3']) {
    const list = await master.get(`/api/iso?node=${n}`);
    assert.is(list.status, 200, list.text);
    assert.equal(list.json.data, [{ ...own, from: 'n1' }], `${n}'s library, asked on the master`);
  }
  const log = (await master.get(`/api/task/${encodeURIComponent(id)}/log`)).json.data.lines.join('\n');
  assert.match(log, `n2: debian.iso stored, SHA-256 ${f.sha256} verified there`);
  assert.match(log, `n3: debian.iso stored, SHA-256 ${f.sha256} verified there`);
});

S('should say so for a ?node= that is no node of the cluster', async () => {
  const r = await master.get('/api/iso?node=n9');
  assert.is(r.status, 404);
  assert.is(r.json.error.message, 'no node "n9" in cluster office (nodes: n1, n2, n3)');
});

S('should send an upload made on a member to the master, which copies it to every node', async () => {
  const m2 = await n2.login('admin', ADMIN_PASSWORD);
  for (const [name, bytes] of [['small.img', 200 * 1024], ['member.iso', 3 * MiB]] as const) {
    const f = makeFile(name, bytes);
    const up = await putFile(m2, n2.url, `/api/iso/${name}`, f.path);
    assert.is(up.status, 201, JSON.stringify(up.json));
    assert.match(up.json.data.task, /^n1:/, 'the master\'s task');
    assert.is(up.json.data.sha256, f.sha256);
    assert.not.ok('from' in up.json.data, 'the master\'s own image');
    const t = await waitTask(m2, up.json.data.task, TASK_TIMEOUT_MS);
    assert.is(t.status, 'ok', t.message);
    assert.equal(hashes(name), { n1: f.sha256, n2: f.sha256, n3: f.sha256 });
  }
});

S('should remove an image deleted through a member from every node, by the master\'s task', async () => {
  const m2 = await n2.login('admin', ADMIN_PASSWORD);
  const r = await m2.del('/api/iso/small.img');
  assert.is(r.status, 204, r.text);
  const id = r.headers.get('x-ramvm-task')!;
  assert.match(id, /^n1:/, 'the master\'s task');
  const t = await waitTask(master, id, TASK_TIMEOUT_MS);
  assert.is(t.status, 'ok', t.message);
  assert.equal(hashes('small.img'), { n1: null, n2: null, n3: null });
});

S('should refuse an unsigned, forged, member-sent or replayed copy, and one that does not arrive with the SHA-256 it names, storing nothing', async () => {
  const n3Peer = { name: 'n3', url: n3.clusterUrl, fingerprint: fingerprintOfNode(n3) };
  const body = randomBytes(4096);
  const good = createHash('sha256').update(body).digest('hex');
  const target = (sha: string) => `/api/iso/cluster/forged.iso?sha256=${sha}&user=admin&uploaded=2026-11-25T10%3A15%3A00.123Z`;
  const refusal = (sha: string, sign: Signer | null, headers?: Record<string, string>) =>
    peerJson(n3Peer, { method: 'PUT', target: target(sha), body, sign, ...(headers ? { headers } : {}) }).then(
      () => assert.unreachable(`a copy (${sign?.node ?? 'unsigned'}, ${sha}) was taken`),
      (e: HttpError) => [e.status, e.message],
    );
  const nothingStored = (what: string) => {
    assert.not.ok(existsSync(join(isoDir(n3), 'forged.iso')), `${what}: no image`);
    assert.equal(readdirSync(isoDir(n3)).filter((f) => f.includes('forged')), [], `${what}: no partial file, no sidecar`);
  };
  assert.equal(await refusal(good, null), [401, 'node n3: this path answers requests of cluster nodes only (signed with the cluster key)']);
  nothingStored('unsigned');
  assert.equal(await refusal(good, { ...signerAs('n1'), key: randomBytes(32) }), [401, 'node n3: node request refused: the signature of node n1 does not match (another cluster key, or a changed request)']);
  nothingStored('another key');
  assert.equal(await refusal(good, signerAs('n2')), [403, 'node n3: only the master n1 sends ISO images to this node, not n2']);
  nothingStored('sent by a member');
  assert.equal(await refusal('0'.repeat(64), signerAs('n1')), [400, `node n3: sha256: the upload's SHA-256 is ${good}, not the expected ${'0'.repeat(64)}; nothing was stored`]);
  nothingStored('another SHA-256');
  // A valid copy, its signed headers kept as someone on the wire would.
  const s = signerAs('n1');
  const headers = signedHeaders(s.key, 'PUT', target(good), {
    node: 'n1', time: Math.floor(Date.now() / 1000), nonce: randomBytes(16).toString('hex'), bodyHash: bodyHash(body), identity: null, epoch: s.epoch, generation: s.generation,
  });
  const ok = await peerJson<any>(n3Peer, { method: 'PUT', target: target(good), body, sign: null, headers });
  assert.is(ok.status, 201);
  assert.is(ok.data.from, 'n1', 'a copy says where it came from');
  assert.is(sha256Of(join(isoDir(n3), 'forged.iso')), good);
  const stored = statSync(join(isoDir(n3), 'forged.iso'));
  assert.equal(await refusal(good, null, headers), [401, 'node n3: node request refused: this request was seen before (a replay)']);
  assert.is(statSync(join(isoDir(n3), 'forged.iso')).mtimeMs, stored.mtimeMs, 'the replay wrote nothing');
  assert.equal(hidden(n3), []);
  // It is no image of the master's: the next tick removes it from n3 again.
  const tick = nodeCli(n1, ['cluster', 'tick']);
  assert.is(tick.status, 0, tick.stderr);
  const id = /task (n1:\S+)/.exec(tick.stdout)?.[1];
  assert.ok(id, tick.stdout);
  assert.match(tick.stdout, 'n3: remove forged.iso');
  assert.is((await waitTask(master, id!, TASK_TIMEOUT_MS)).status, 'ok');
  assert.not.ok(existsSync(join(isoDir(n3), 'forged.iso')));
});

S('should give a node whose web server was down during the upload the image, and a delete, once the master\'s tick finds it back', async () => {
  await n3.kill();
  const f = makeFile('late.iso', 2 * MiB);
  try {
    const up = await putFile(master, n1.url, '/api/iso/late.iso', f.path);
    assert.is(up.status, 201, JSON.stringify(up.json));
    const t = await waitTask(master, up.json.data.task, TASK_TIMEOUT_MS);
    assert.is(t.status, 'failed');
    assert.match(t.message, /^not on n3: n3: node n3 does not answer at https:\/\/[0-9.]+:8007 \(connection refused\); done on n2 \(late\.iso copied\)/);
    assert.equal((t.parts as any[]).map((p) => [p.name, p.status]), [['n2', 'ok'], ['n3', 'failed']]);
    const del = await master.del('/api/iso/member.iso');
    assert.is(del.status, 204);
    assert.is((await waitTask(master, del.headers.get('x-ramvm-task')!, TASK_TIMEOUT_MS)).status, 'failed');
    assert.equal(hashes('late.iso'), { n1: f.sha256, n2: f.sha256, n3: null });
    assert.ok(existsSync(join(isoDir(n3), 'member.iso')), 'n3 missed the delete');
  } finally {
    await n3.revive();
  }
  const tick = nodeCli(n1, ['cluster', 'tick']);
  assert.is(tick.status, 0, tick.stderr);
  assert.match(tick.stdout, 'n3: copy late.iso, remove member.iso');
  const id = /task (n1:\S+)/.exec(tick.stdout)![1]!;
  const t = await waitTask(master, id, TASK_TIMEOUT_MS);
  assert.is(t.status, 'ok', t.message);
  assert.equal((t.parts as any[]).map((p) => [p.name, p.status]), [['n3', 'ok']]);
  assert.equal(hashes('late.iso'), { n1: f.sha256, n2: f.sha256, n3: f.sha256 });
  assert.equal(hashes('member.iso'), { n1: null, n2: null, n3: null });
  // Alike now: the next tick has nothing to do.
  const again = nodeCli(n1, ['cluster', 'tick']);
  assert.is(again.status, 0, again.stderr);
  assert.not.match(again.stdout, 'ISO library');
});

S('should end a copy whose target goes away mid-transfer with a task naming the node, and leave no partial file there', async () => {
  const f = makeFile('big.iso', BIG_BYTES);
  const up = await putFile(master, n1.url, '/api/iso/big.iso', f.path);
  assert.is(up.status, 201, JSON.stringify(up.json));
  const id: string = up.json.data.task;
  try {
    // Freeze n3's receiving CGI once bytes arrive, so the transfer is surely under way when its lighttpd goes.
    const pid = await waitFor('n3 receiving big.iso', () => (hidden(n3).some((p) => p.startsWith('.big.iso.partial-') && statSync(join(isoDir(n3), p)).size > 0) ? isoCgiPids(n3)[0] : null), 60_000, 5);
    process.kill(pid, 'SIGSTOP');
    assert.is(hidden(n3).length, 1, 'a partial file while the copy runs');
    const midway = await waitFor('n3\'s part under way in the task', async () => {
      const parts = (await master.get(`/api/task/${encodeURIComponent(id)}`)).json.data.parts as any[] | undefined;
      const p = parts?.find((x) => x.name === 'n3');
      return p && p.status === 'running' && p.progress > 0 ? p : null;
    }, 30_000);
    assert.ok(midway.progress < 100, `${midway.progress}%`);
    assert.match(midway.message, /^big\.iso: [0-9.]+ (KiB|MiB) of 192\.0 MiB$/);
    await n3.kill();
    process.kill(pid, 'SIGCONT');
    await waitFor('n3\'s partial file removed', () => hidden(n3).length === 0, 30_000);
    const t = await waitTask(master, id, TASK_TIMEOUT_MS);
    assert.is(t.status, 'failed');
    assert.match(t.message, /^not on n3: n3: copying big\.iso to n3 failed after [0-9.]+ (KiB|MiB) of 192\.0 MiB: node n3 broke off the request/);
    assert.equal((t.parts as any[]).map((p) => [p.name, p.status]), [['n2', 'ok'], ['n3', 'failed']]);
    assert.not.ok(existsSync(join(isoDir(n3), 'big.iso')));
    assert.equal(hidden(n3), []);
    assert.is(sha256Of(join(isoDir(n2), 'big.iso')), f.sha256);
  } finally {
    await n3.revive();
  }
});

S('should fail the copy to a node whose disk is too small, naming the space missing, and leave nothing there', async () => {
  // A library folder of 24 MiB on n3, in place before its lighttpd (and so its CGIs' mount namespace) starts.
  await n3.kill();
  const small = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', isoDir(n3)], { encoding: 'utf8' });
  assert.is(small.status, 0, small.stderr);
  try {
    await n3.revive();
    const f = makeFile('roomy.iso', 16 * MiB);
    const up = await putFile(master, n1.url, '/api/iso/roomy.iso', f.path);
    assert.is(up.status, 201, JSON.stringify(up.json));
    const t = await waitTask(master, up.json.data.task, TASK_TIMEOUT_MS);
    assert.is(t.status, 'failed');
    assert.match(t.message, /^not on n3: n3: copying roomy\.iso to n3 failed after [0-9.]+ (B|KiB|MiB) of 16\.0 MiB: node n3: not enough space in the ISO library: the upload needs 16\.0 MiB, [0-9.]+ (B|KiB|MiB) are free/);
    const parts = t.parts as any[];
    assert.equal(parts.map((p) => [p.name, p.status]), [['n2', 'ok'], ['n3', 'failed']]);
    assert.match(parts[1].message, 'not enough space in the ISO library: the upload needs 16.0 MiB');
    assert.equal(readdirSync(isoDir(n3)).filter((x) => x.includes('roomy')), [], 'no image, partial file or sidecar on n3');
    assert.is(hashes('roomy.iso').n2, f.sha256);
  } finally {
    await n3.kill();
    spawnSync('umount', [isoDir(n3)]);
    await n3.revive();
  }
});

S.run();
