/**
 * The kernel through a real lighttpd running the built CGIs: routing, errors
 * as JSON with the right status, login, CSRF, throttling, tasks run by the
 * real `ramvm` CLI, static files with caching and compression.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { DIST } from '../../build/build';
import { startTestNode, makeClient, type TestNode, type Client } from '../helpers/node';

let node: TestNode;
let admin: Client;

const K = suite('kernel through lighttpd');
K.before(async () => {
  node = await startTestNode();
  admin = await node.login('admin', node.adminPassword);
});
K.after(async () => node?.stop());

K('should answer an unknown handler with a JSON 404', async () => {
  const r = await admin.get('/api/nothing/here');
  assert.is(r.status, 404);
  assert.is(r.json.error.code, 'not_found');
  assert.match(r.json.error.message, '/api/nothing/here');
});

K('should answer an unknown path of a known handler with a JSON 404', async () => {
  const r = await admin.get('/api/task/not-a-task-id');
  assert.is(r.status, 404);
  assert.is(r.json.error.code, 'not_found');
});

K('should answer a wrong method with 405 and an Allow header', async () => {
  const r = await admin.put('/api/access/me', {});
  assert.is(r.status, 405);
  assert.is(r.headers.get('allow'), 'GET');
});

K('should refuse malformed JSON with 400', async () => {
  const r = await node.anon().request('POST', '/api/access/ticket', { body: '{"username":', headers: { 'content-type': 'application/json' } });
  assert.is(r.status, 400);
  assert.is(r.json.error.code, 'bad_request');
  assert.match(r.json.error.message, 'malformed JSON');
});

K('should refuse a JSON body over 1 MiB with 413', async () => {
  const big = JSON.stringify({ username: 'x', password: 'y'.repeat(1024 * 1024 + 10) });
  const r = await node.anon().request('POST', '/api/access/ticket', { body: big, headers: { 'content-type': 'application/json' } });
  assert.is(r.status, 413);
  assert.is(r.json.error.code, 'too_large');
});

K('should refuse a non-JSON content type with 415', async () => {
  const r = await node.anon().request('POST', '/api/access/ticket', { body: 'username=admin', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.is(r.status, 415);
});

K('should require authentication on every route but login', async () => {
  for (const p of ['/api/task', '/api/access/me']) {
    const r = await node.anon().get(p);
    assert.is(r.status, 401, p);
    assert.is(r.json.error.code, 'unauthenticated');
  }
});

K('should refuse a forged ticket', async () => {
  const forged = admin.cookie!.replace(/%3A%3A.*/, '%3A%3AAAAAforged');
  const r = await makeClient(node.url, { cookie: forged }).get('/api/access/me');
  assert.is(r.status, 401);
});

K('should set the ticket cookie HttpOnly and SameSite=Strict, and clear it on logout', async () => {
  const r = await node.anon().post('/api/access/ticket', { username: 'admin', password: node.adminPassword });
  const c = r.headers.get('set-cookie') ?? '';
  assert.match(c, /^RamvmAuth=RAMVM%3Aadmin%3A/);
  assert.match(c, 'HttpOnly');
  assert.match(c, 'SameSite=Strict');
  assert.not.match(c, 'Secure');
  const out = await admin.del('/api/access/ticket');
  assert.is(out.status, 204);
  assert.is(out.text, '', 'a delete answers without a body');
  assert.match(out.headers.get('set-cookie') ?? '', /^RamvmAuth=; .*Max-Age=0/);
});

K('should renew a valid ticket without a password', async () => {
  const c = await node.login('admin', node.adminPassword);
  const r = await c.post('/api/access/ticket', {});
  assert.is(r.status, 200);
  assert.is(r.json.data.username, 'admin');
  assert.match(r.json.data.ticket, /^RAMVM:admin:/);
});

K('should answer a renewal without a ticket cookie with 401', async () => {
  const r = await node.anon().post('/api/access/ticket', {});
  assert.is(r.status, 401, r.text);
  assert.equal(r.json.error, { code: 'unauthenticated', message: 'no session to renew: log in with username and password' });
});

K('should answer a user name without a password with 400', async () => {
  const r = await node.anon().post('/api/access/ticket', { username: 'admin' });
  assert.is(r.status, 400, r.text);
  assert.match(r.json.error.message, 'password is required');
});

K('should refuse a wrong password with 401 and throttle after five failures', async () => {
  const anon = node.anon();
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    statuses.push((await anon.post('/api/access/ticket', { username: 'nobody', password: 'wrong' })).status);
  }
  assert.equal(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
  assert.is(statuses[5], 429);
});

K('should never send a stack trace to the client', async () => {
  const r = await admin.get('/api/task/..%2F..%2Fetc%2Fpasswd');
  assert.is(r.status, 404);
  assert.not.match(r.text, /at .*\.js:\d+/);
});
K.run();

const S = suite('static files');
S.before(async () => {
  node = await startTestNode();
});
S.after(async () => node?.stop());

S('should serve index.html with no-cache and the hashed bundle as immutable', async () => {
  const html = await fetch(node.url + '/');
  assert.is(html.status, 200);
  assert.is(html.headers.get('cache-control'), 'no-cache');
  const text = await html.text();
  const js = /src="(app-[A-Z0-9]+\.js)"/.exec(text)?.[1];
  assert.ok(js, 'index.html names the bundle');
  const bundle = await fetch(`${node.url}/${js}`);
  assert.is(bundle.status, 200);
  assert.match(bundle.headers.get('cache-control') ?? '', 'immutable');
  assert.match(bundle.headers.get('content-type') ?? '', 'javascript');
});

S('should compress the bundle with gzip when asked', async () => {
  const html = await (await fetch(node.url + '/')).text();
  const js = /src="(app-[A-Z0-9]+\.js)"/.exec(html)![1]!;
  const raw = readFileSync(join(DIST, 'www', js));
  const body = await new Promise<{ enc: string | undefined; buf: Buffer }>((res, rej) => {
    const u = new URL(`${node.url}/${js}`);
    httpRequest({ host: u.hostname, port: u.port, path: u.pathname, headers: { 'accept-encoding': 'gzip' } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ enc: r.headers['content-encoding'], buf: Buffer.concat(chunks) }));
    }).on('error', rej).end();
  });
  assert.is(body.enc, 'gzip');
  assert.ok(body.buf.length < raw.length);
  assert.equal(gunzipSync(body.buf), raw);
});
S.run();

/** Write a task record as startTask does, so the real CLI can run it. */
function recordTask(root: string, id: string, kind: string, params: Record<string, unknown>, pid: number | null = null) {
  const dir = join(root, 'var/log/ramvm/tasks');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${id}.json`), JSON.stringify({
    id, kind, object: `/vms/${params.vmid}`, user: 'admin', node: 'testnode', params, pid,
    start: Date.now(), end: null, status: 'running', progress: 0, message: 'starting',
  }));
}

function runCli(args: string[]) {
  return spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), ...args], { env: node.env, encoding: 'utf8' });
}

const T = suite('tasks');
T.before(async () => {
  node = await startTestNode();
  admin = await node.login('admin', node.adminPassword);
});
T.after(async () => node?.stop());

T('should run a disk check task to ok and log what qemu-img found', async () => {
  const dir = join(node.root, 'var/lib/vz/images/101');
  mkdirSync(dir, { recursive: true });
  spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'vm-101-disk-0.qcow2'), '64M']);
  spawnSync('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'vm-101-disk-1.raw'), '16M']);
  const id = '20261125T101500Z-disk-check-vms-101-aaaaaa';
  recordTask(node.root, id, 'disk-check', { vmid: 101 });
  const run = runCli(['task', 'run', id]);
  assert.is(run.status, 0, run.stderr);
  const t = await admin.get(`/api/task/${id}`);
  assert.is(t.json.data.status, 'ok');
  assert.is(t.json.data.progress, 100);
  assert.match(t.json.data.message, '2 disk image(s) of guest 101 checked');
  const log = await admin.get(`/api/task/${id}/log`);
  const lines: string[] = log.json.data.lines;
  assert.ok(lines.some((l) => /vm-101-disk-0\.qcow2: 0 corruptions, 0 leaked clusters/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /vm-101-disk-1\.raw: raw image/.test(l)));
  assert.match(lines[lines.length - 1]!, /TASK OK/);
  const list = await admin.get('/api/task');
  assert.ok(list.json.data.some((x: { id: string }) => x.id === id));
});

T('should fail a disk check of a damaged qcow2 image', async () => {
  const dir = join(node.root, 'var/lib/vz/images/102');
  mkdirSync(dir, { recursive: true });
  const img = join(dir, 'vm-102-disk-0.qcow2');
  spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '64M']);
  spawnSync('qemu-io', ['-c', 'write -P 0x5a 0 1M', img]);
  // Point the refcount table somewhere absurd (header offset 48, 8 bytes big-endian).
  const fd = openSync(img, 'r+');
  writeSync(fd, Buffer.from([0, 0, 0, 0, 0, 0x10, 0, 0]), 0, 8, 48);
  closeSync(fd);
  const id = '20261125T101600Z-disk-check-vms-102-bbbbbb';
  recordTask(node.root, id, 'disk-check', { vmid: 102 });
  const run = runCli(['task', 'run', id]);
  assert.is(run.status, 1);
  const t = await admin.get(`/api/task/${id}`);
  assert.is(t.json.data.status, 'failed');
  const log = await admin.get(`/api/task/${id}/log`);
  assert.match(log.json.data.lines[log.json.data.lines.length - 1], /^.* TASK FAILED: /);
});

T('should show a task whose process died without a final state as failed, interrupted', async () => {
  const dead = spawn('true');
  await new Promise((r) => dead.once('exit', r));
  const id = '20261125T101700Z-disk-check-vms-103-cccccc';
  recordTask(node.root, id, 'disk-check', { vmid: 103 }, dead.pid!);
  const t = await admin.get(`/api/task/${id}`);
  assert.is(t.json.data.status, 'failed');
  assert.match(t.json.data.message, /^interrupted:/);
  // The final state was written, not only computed.
  const onDisk = JSON.parse(readFileSync(join(node.root, 'var/log/ramvm/tasks', `${id}.json`), 'utf8'));
  assert.is(onDisk.status, 'failed');
});

T('should hide other users\' tasks from a user without Sys.Audit', async () => {
  // A user with no privileges at all.
  const users = JSON.parse(readFileSync(join(node.root, 'etc/ramvm/users.json'), 'utf8'));
  users.users.nobody = { ...users.users.admin, groups: [] };
  writeFileSync(join(node.root, 'etc/ramvm/users.json'), JSON.stringify(users));
  const nobody = await node.login('nobody', node.adminPassword);
  const list = await nobody.get('/api/task');
  assert.is(list.status, 200);
  assert.equal(list.json.data, []);
  const one = await nobody.get('/api/task/20261125T101500Z-disk-check-vms-101-aaaaaa');
  assert.is(one.status, 403);
});

T('should leave no temp or lock files behind in the config tree', () => {
  const etc = readdirSync(join(node.root, 'etc/ramvm'));
  assert.not.ok(etc.some((f) => f.endsWith('.tmp')), etc.join(' '));
  assert.equal(readdirSync(join(node.root, 'run/ramvm/lock')), []);
});
T.run();

const L = suite('server log');
L.before(async () => {
  node = await startTestNode();
});
L.after(async () => node?.stop());

L('should write the CGIs\' log lines to the node\'s error log', async () => {
  const r = await node.anon().post('/api/access/ticket', { username: 'ghost', password: 'nope' });
  assert.is(r.status, 401);
  const log = readFileSync(join(node.root, 'var/log/ramvm/lighttpd-error.log'), 'utf8');
  assert.match(log, 'server started');
  assert.match(log, /ramvm\[access\.cgi\]: login failed for ghost from 127\.0\.0\.1/);
});
L.run();
