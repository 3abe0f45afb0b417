/**
 * The monitor (HMP through QMP) and screenshots through real lighttpd and a
 * real QEMU guest.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { pathsFor } from '../../node-cgi/lib/paths';
import { decodePng } from '../../node-cgi/console/png';
import { makeClient, startTestNode, type Client, type TestNode } from '../helpers/node';
import { addToken, addUser, startTestGuest, writeGuestConfig, type TestGuest } from './console-helpers';

const VMID = 111;
const STOPPED_VMID = 112;

let node: TestNode;
let guest: TestGuest | undefined;
let admin: Client;
let viewer: Client;
let auditor: Client;
let tokenClient: Client;

const S = suite('monitor');

S.before(async () => {
  node = await startTestNode({ node: 'monitor1' });
  guest = startTestGuest(node.root, VMID);
  writeGuestConfig(node.root, STOPPED_VMID);
  addUser(node.root, 'viewer', 'viewer-pw-1', 'VMUser', `/vms/${VMID}`);
  addUser(node.root, 'auditor', 'auditor-pw-1', 'VMAuditor', `/vms/${VMID}`);
  admin = await node.login('admin', node.adminPassword);
  viewer = await node.login('viewer', 'viewer-pw-1');
  auditor = await node.login('auditor', 'auditor-pw-1');
  tokenClient = makeClient(node.url, { token: addToken(node.root, 'admin', 'mon') });
});

S.after(async () => {
  guest?.stop();
  await node?.stop();
});

S('should print the guest\'s status for "info status"', async () => {
  const r = await admin.post(`/api/monitor/${VMID}`, { command: 'info status' });
  assert.is(r.status, 200);
  assert.equal(r.json, { data: { output: 'VM status: running\n' } });
});

S('should run a command that changes the guest and show its effect', async () => {
  assert.is((await admin.post(`/api/monitor/${VMID}`, { command: 'stop' })).status, 200);
  const paused = await admin.post(`/api/monitor/${VMID}`, { command: 'info status' });
  assert.is(paused.json.data.output, 'VM status: paused\n');
  assert.is((await admin.post(`/api/monitor/${VMID}`, { command: 'cont' })).status, 200);
  assert.is((await admin.post(`/api/monitor/${VMID}`, { command: 'info status' })).json.data.output, 'VM status: running\n');
});

S('should pass HMP\'s own error text back as output', async () => {
  const r = await admin.post(`/api/monitor/${VMID}`, { command: 'no-such-command' });
  assert.is(r.status, 200);
  assert.match(r.json.data.output, 'unknown command');
});

S('should accept an API token without CSRF header', async () => {
  const r = await tokenClient.post(`/api/monitor/${VMID}`, { command: 'info name' });
  assert.is(r.status, 200);
  assert.is(r.json.data.output, `ramvm-test-${VMID}\n`);
});

const refusals: [string, () => Promise<{ status: number; json: any }>, number, string][] = [
  ['no credentials', () => node.anon().post(`/api/monitor/${VMID}`, { command: 'info status' }), 401, 'unauthenticated'],
  ['a cookie without the CSRF header', () => makeClient(node.url, { cookie: admin.cookie! }).post(`/api/monitor/${VMID}`, { command: 'info status' }), 401, 'unauthenticated'],
  ['a VMUser (console yes, monitor no)', () => viewer.post(`/api/monitor/${VMID}`, { command: 'info status' }), 403, 'forbidden'],
  ['an empty command', () => admin.post(`/api/monitor/${VMID}`, { command: '' }), 400, 'invalid'],
  ['two lines in one command', () => admin.post(`/api/monitor/${VMID}`, { command: 'info status\nquit' }), 400, 'invalid'],
  ['a missing command field', () => admin.post(`/api/monitor/${VMID}`, {}), 400, 'invalid'],
  ['a guest that does not exist', () => admin.post('/api/monitor/999', { command: 'info status' }), 404, 'not_found'],
  ['a guest that is not running', () => admin.post(`/api/monitor/${STOPPED_VMID}`, { command: 'info status' }), 409, 'conflict'],
  ['GET on the monitor', () => admin.get(`/api/monitor/${VMID}`), 405, 'method_not_allowed'],
];
for (const [why, call, status, code] of refusals) {
  S(`should refuse ${why} with ${status}`, async () => {
    const r = await call();
    assert.is(r.status, status);
    assert.is(r.json.error.code, code);
  });
}

S('should have left the guest running after the refusals', async () => {
  const r = await admin.post(`/api/monitor/${VMID}`, { command: 'info status' });
  assert.is(r.json.data.output, 'VM status: running\n');
});

async function shot(c: Client, query = ''): Promise<{ status: number; type: string | null; body: Buffer; json?: any }> {
  const r = await fetch(`${node.url}/api/monitor/${VMID}/screenshot${query}`, { headers: { cookie: c.cookie! } });
  const body = Buffer.from(await r.arrayBuffer());
  const type = r.headers.get('content-type');
  return { status: r.status, type, body, ...(type?.startsWith('application/json') ? { json: JSON.parse(body.toString()) } : {}) };
}

S('should return a PNG screenshot with SeaBIOS\'s text on it and leave no file behind', async () => {
  let img;
  for (let i = 0; i < 150; i++) {
    const r = await shot(admin);
    assert.is(r.status, 200);
    assert.is(r.type, 'image/png');
    img = decodePng(r.body);
    // On a loaded machine QEMU's own 640×480 "not initialized" notice may come before SeaBIOS's text screen.
    if (img.width === 720 && img.data.some((v) => v !== 0)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.is(img!.width, 720);
  assert.is(img!.height, 400);
  assert.ok(img!.data.some((v) => v !== 0), 'non-blank');
  assert.equal(readdirSync(pathsFor(node.root).qemuRun).filter((f) => f.includes('screendump')), []);
});

S('should scale a thumbnail to the asked width', async () => {
  const r = await shot(viewer, '?width=160');
  assert.is(r.status, 200);
  const img = decodePng(r.body);
  assert.equal([img.width, img.height], [160, 89]);
  assert.ok(r.body.length < 8 * 1024, `${r.body.length} bytes`);
});

S('should refuse a screenshot to a user without VM.Console', async () => {
  const r = await shot(auditor);
  assert.is(r.status, 403);
  assert.is(r.json.error.code, 'forbidden');
});

S('should refuse a thumbnail width out of range', async () => {
  const r = await shot(admin, '?width=4');
  assert.is(r.status, 400);
  assert.match(r.json.error.message, 'width');
});

S('should answer 409 for a screenshot of a stopped guest', async () => {
  const r = await fetch(`${node.url}/api/monitor/${STOPPED_VMID}/screenshot`, { headers: { cookie: admin.cookie! } });
  assert.is(r.status, 409);
});

S.run();
