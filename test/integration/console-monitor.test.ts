/**
 * The monitor (HMP through QMP) and screenshots through real lighttpd and a
 * real QEMU guest.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { pathsFor } from '../../node-cgi/lib/paths';
import { decodePng } from '../../node-cgi/console/png';
import { Qmp } from '../../node-cgi/qemu/qmp';
import { useNode } from '../helpers/fixture';
import { makeClient, type Client } from '../helpers/node';
import { addToken, addUser, consoleGuest, SEABIOS_TEXT_SCREEN, startConsoleGuest, waitForTextScreen } from './console-helpers';

const VMID = 111;
const STOPPED_VMID = 112;

let viewer: Client;
let auditor: Client;
let tokenClient: Client;

const S = suite('monitor');
const fx = useNode(S, { node: 'monitor1' });

S.before(async () => {
  await startConsoleGuest(fx, VMID);
  await fx.createGuest(consoleGuest(STOPPED_VMID));
  addUser(fx.root, 'viewer', 'viewer-pw-1', 'VMUser', `/vms/${VMID}`);
  addUser(fx.root, 'auditor', 'auditor-pw-1', 'VMAuditor', `/vms/${VMID}`);
  viewer = await fx.node.login('viewer', 'viewer-pw-1');
  auditor = await fx.node.login('auditor', 'auditor-pw-1');
  tokenClient = makeClient(fx.node.url, { token: addToken(fx.root, 'admin', 'mon') });
});

S('should print the guest\'s status for "info status"', async () => {
  const r = await fx.admin.post(`/api/monitor/${VMID}`, { command: 'info status' });
  assert.is(r.status, 200);
  assert.equal(r.json, { data: { output: 'VM status: running\n' } });
});

S('should run a command that changes the guest and show its effect', async () => {
  assert.is((await fx.admin.post(`/api/monitor/${VMID}`, { command: 'stop' })).status, 200);
  const paused = await fx.admin.post(`/api/monitor/${VMID}`, { command: 'info status' });
  assert.is(paused.json.data.output, 'VM status: paused\n');
  assert.is((await fx.admin.post(`/api/monitor/${VMID}`, { command: 'cont' })).status, 200);
  assert.is((await fx.admin.post(`/api/monitor/${VMID}`, { command: 'info status' })).json.data.output, 'VM status: running\n');
});

S('should pass HMP\'s own error text back as output', async () => {
  const r = await fx.admin.post(`/api/monitor/${VMID}`, { command: 'no-such-command' });
  assert.is(r.status, 200);
  assert.match(r.json.data.output, 'unknown command');
});

S('should accept an API token without CSRF header', async () => {
  const r = await tokenClient.post(`/api/monitor/${VMID}`, { command: 'info name' });
  assert.is(r.status, 200);
  assert.is(r.json.data.output, `console-${VMID}\n`);
});

const refusals: [string, () => Promise<{ status: number; json: any }>, number, string][] = [
  ['no credentials', () => fx.node.anon().post(`/api/monitor/${VMID}`, { command: 'info status' }), 401, 'unauthenticated'],
  ['a cookie without the CSRF header', () => makeClient(fx.node.url, { cookie: fx.admin.cookie! }).post(`/api/monitor/${VMID}`, { command: 'info status' }), 401, 'unauthenticated'],
  ['a VMUser (console yes, monitor no)', () => viewer.post(`/api/monitor/${VMID}`, { command: 'info status' }), 403, 'forbidden'],
  ['an empty command', () => fx.admin.post(`/api/monitor/${VMID}`, { command: '' }), 400, 'invalid'],
  ['two lines in one command', () => fx.admin.post(`/api/monitor/${VMID}`, { command: 'info status\nquit' }), 400, 'invalid'],
  ['a missing command field', () => fx.admin.post(`/api/monitor/${VMID}`, {}), 400, 'invalid'],
  ['a guest that does not exist', () => fx.admin.post('/api/monitor/999', { command: 'info status' }), 404, 'not_found'],
  ['a guest that is not running', () => fx.admin.post(`/api/monitor/${STOPPED_VMID}`, { command: 'info status' }), 409, 'conflict'],
  ['GET on the monitor', () => fx.admin.get(`/api/monitor/${VMID}`), 405, 'method_not_allowed'],
];
for (const [why, call, status, code] of refusals) {
  S(`should refuse ${why} with ${status}`, async () => {
    const r = await call();
    assert.is(r.status, status);
    assert.is(r.json.error.code, code);
  });
}

S('should serve monitor commands that arrive together, one after another on QEMU\'s one monitor', async () => {
  // Hold the guest's work socket as a long job would; QEMU queues one more client, the rest must wait their turn.
  const holder = await Qmp.connect(fx.runFile(VMID, 'qmp'));
  const release = setTimeout(() => holder.close(), 1_500);
  try {
    const replies = await Promise.all([1, 2, 3].map(() => fx.admin.post(`/api/monitor/${VMID}`, { command: 'info status' })));
    assert.equal(replies.map((r) => [r.status, r.json?.data?.output]), [1, 2, 3].map(() => [200, 'VM status: running\n']));
  } finally {
    clearTimeout(release);
    holder.close();
  }
});

S('should have left the guest running after the refusals', async () => {
  const r = await fx.admin.post(`/api/monitor/${VMID}`, { command: 'info status' });
  assert.is(r.json.data.output, 'VM status: running\n');
});

async function shot(c: Client, query = ''): Promise<{ status: number; type: string | null; body: Buffer; json?: any }> {
  const r = await fetch(`${fx.node.url}/api/monitor/${VMID}/screenshot${query}`, { headers: { cookie: c.cookie! } });
  const body = Buffer.from(await r.arrayBuffer());
  const type = r.headers.get('content-type');
  return { status: r.status, type, body, ...(type?.startsWith('application/json') ? { json: JSON.parse(body.toString()) } : {}) };
}

S('should return a PNG screenshot of SeaBIOS\'s text screen and leave no file behind', async () => {
  await waitForTextScreen(fx, VMID);
  const r = await shot(fx.admin);
  assert.equal([r.status, r.type], [200, 'image/png']);
  const img = decodePng(r.body);
  assert.equal([img.width, img.height], [SEABIOS_TEXT_SCREEN.width, SEABIOS_TEXT_SCREEN.height]);
  assert.ok(img.data.some((v) => v !== 0), 'SeaBIOS\'s text is on it');
  assert.equal(readdirSync(pathsFor(fx.root).qemuRun).filter((f) => f.includes('screendump')), []);
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
  const r = await shot(fx.admin, '?width=4');
  assert.is(r.status, 400);
  assert.match(r.json.error.message, 'width');
});

S('should answer 409 for a screenshot of a stopped guest', async () => {
  const r = await fetch(`${fx.node.url}/api/monitor/${STOPPED_VMID}/screenshot`, { headers: { cookie: fx.admin.cookie! } });
  assert.is(r.status, 409);
});

S.run();
