/**
 * The console websocket through real lighttpd (cgi.upgrade) to a real QEMU
 * guest's VNC unix socket: RFB handshake and framebuffer, refusals before
 * any VNC byte, and the websocket's control frames end to end.
 */
import { suite } from '../helpers/suite';
import { PING_INTERVAL_MS } from '../../node-cgi/console/bridge';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../build/server';
import { freePort, startTestNode, type TestNode } from '../helpers/node';
import { CLOSE_CODE, OPCODE, closePayload } from '../../node-cgi/console/websocket';
import { addToken, addUser, consoleCgiPids, nonBlank, openConsole, RfbClient, startTestGuest, writeGuestConfig, type TestGuest } from './console-helpers';

const VMID = 101;
/** Has a config, never started. */
const STOPPED_VMID = 102;
/** Started and killed while its console is open. */
const DOOMED_VMID = 103;

let node: TestNode;
let guest: TestGuest | undefined;
let doomed: TestGuest | undefined;
let adminCookie = '';
let token = '';

const S = suite('console websocket');

S.before(async () => {
  node = await startTestNode({ node: 'console1' });
  guest = startTestGuest(node.root, VMID);
  writeGuestConfig(node.root, STOPPED_VMID);
  addUser(node.root, 'auditor', 'auditor-pw-1', 'VMAuditor', `/vms/${VMID}`);
  addUser(node.root, 'viewer', 'viewer-pw-1', 'VMUser', `/vms/${VMID}`);
  token = addToken(node.root, 'admin', 'console');
  adminCookie = (await node.login('admin', node.adminPassword)).cookie!;
});

S.after(async () => {
  guest?.stop();
  doomed?.stop();
  await node?.stop();
});

/** Poll full frames until SeaBIOS has drawn something (TCG takes a moment). */
async function firstNonBlankFrame(rfb: RfbClient) {
  for (let i = 0; i < 100; i++) {
    const u = await rfb.framebuffer();
    if (nonBlank(u.pixels)) return u;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the guest screen stayed black');
}

S('should complete the RFB handshake with a ticket cookie and receive a framebuffer update', async () => {
  const c = await openConsole(node.url, VMID, { cookie: adminCookie, protocols: ['binary'] });
  assert.is(c.status, 101);
  assert.is(c.headers['sec-websocket-protocol'], 'binary');
  const rfb = new RfbClient(c.ws!);
  try {
    const init = await rfb.handshake();
    assert.is(init.version, 'RFB 003.008');
    assert.ok(init.width >= 640 && init.height >= 400, `${init.width}×${init.height}`);
    assert.is(init.name, `QEMU (ramvm-test-${VMID})`);
    const u = await firstNonBlankFrame(rfb);
    assert.equal(u.rects[0], { x: 0, y: 0, w: init.width, h: init.height, encoding: 0 });
    assert.is(u.pixels.length, init.width * init.height * (init.bitsPerPixel / 8));
  } finally {
    c.ws!.destroy();
  }
});

S('should open with an API token and no Origin, choosing no subprotocol when none is offered', async () => {
  const c = await openConsole(node.url, VMID, { token });
  assert.is(c.status, 101);
  assert.is(c.headers['sec-websocket-protocol'], undefined);
  try {
    const init = await new RfbClient(c.ws!).handshake();
    assert.is(init.version, 'RFB 003.008');
  } finally {
    c.ws!.destroy();
  }
});

S('should let a VMUser open the console of a guest it may use', async () => {
  const viewer = await node.login('viewer', 'viewer-pw-1');
  const c = await openConsole(node.url, VMID, { cookie: viewer.cookie! });
  assert.is(c.status, 101);
  c.ws!.destroy();
});

S('should serve two consoles of one guest at once', async () => {
  const a = await openConsole(node.url, VMID, { cookie: adminCookie });
  const b = await openConsole(node.url, VMID, { token });
  try {
    const ra = new RfbClient(a.ws!);
    const rb = new RfbClient(b.ws!);
    const ia = await ra.handshake();
    const ib = await rb.handshake();
    assert.equal([ib.width, ib.height], [ia.width, ia.height]);
    // A shared ClientInit keeps the first client connected while the second one reads frames.
    assert.is((await rb.framebuffer()).pixels.length, ib.width * ib.height * (ib.bitsPerPixel / 8));
    assert.is((await ra.framebuffer()).pixels.length, ia.width * ia.height * (ia.bitsPerPixel / 8));
  } finally {
    a.ws!.destroy();
    b.ws!.destroy();
  }
});

// Every refusal is a JSON error answer instead of a 101: no VNC byte can flow.
const refusals: [string, () => Promise<Parameters<typeof openConsole>>, number, string][] = [
  ['no credentials', async () => [node.url, VMID, {}], 401, 'unauthenticated'],
  ['a forged ticket', async () => [node.url, VMID, { cookie: 'RamvmAuth=RAMVM%3Aadmin%3A00000000%3AAAAA' }], 401, 'unauthenticated'],
  ['a wrong token secret', async () => [node.url, VMID, { token: 'admin!console=' + 'x'.repeat(32) }], 401, 'unauthenticated'],
  ['a user with VM.Audit only', async () => [node.url, VMID, { cookie: (await node.login('auditor', 'auditor-pw-1')).cookie! }], 403, 'forbidden'],
  ['a VMUser on another guest', async () => [node.url, STOPPED_VMID, { cookie: (await node.login('viewer', 'viewer-pw-1')).cookie! }], 403, 'forbidden'],
  ['a cookie sent from a page of another site', async () => [node.url, VMID, { cookie: adminCookie, origin: 'https://evil.example' }], 403, 'forbidden'],
  ['a guest that does not exist', async () => [node.url, 999, { cookie: adminCookie }], 404, 'not_found'],
  ['a guest that is not running', async () => [node.url, STOPPED_VMID, { cookie: adminCookie }], 409, 'conflict'],
  ['a plain GET without Upgrade', async () => [node.url, VMID, { cookie: adminCookie, upgrade: false }], 426, 'upgrade_required'],
  ['a subprotocol other than binary', async () => [node.url, VMID, { cookie: adminCookie, protocols: ['base64'] }], 400, 'bad_request'],
  ['a malformed vmid', async () => [node.url, 'abc', { cookie: adminCookie }], 400, 'invalid'],
];
for (const [why, args, status, code] of refusals) {
  S(`should refuse ${why} with ${status} before any VNC byte`, async () => {
    const c = await openConsole(...(await args()));
    if (c.ws) c.ws.destroy();
    assert.is(c.status, status);
    assert.is(c.ws, undefined);
    const j = JSON.parse(c.body!);
    assert.is(j.error.code, code);
    assert.not.match(c.body!, 'RFB');
  });
}

S('should answer a ping with a pong through lighttpd', async () => {
  const c = await openConsole(node.url, VMID, { token });
  const ws = c.ws!;
  try {
    ws.frame(OPCODE.PING, 'hello?');
    for (;;) {
      const ev = await ws.next();
      assert.ok(ev, 'connection open');
      if (ev!.type === 'pong') {
        assert.is(ev!.data.toString(), 'hello?');
        break;
      }
    }
  } finally {
    ws.destroy();
  }
});

S('should complete the close handshake and end the connection', async () => {
  const c = await openConsole(node.url, VMID, { token });
  const ws = c.ws!;
  await new RfbClient(ws).handshake();
  ws.close(1000, 'done');
  for (;;) {
    const ev = await ws.next();
    assert.ok(ev, 'a close frame before the end');
    if (ev!.type === 'close') {
      assert.is(ev!.code, 1000);
      break;
    }
  }
  await ws.closed();
});

S('should close with 1002 when the browser sends an unmasked frame', async () => {
  const c = await openConsole(node.url, VMID, { token });
  const ws = c.ws!;
  try {
    ws.socket.write(Buffer.from('82026869', 'hex'));
    for (;;) {
      const ev = await ws.next();
      assert.ok(ev, 'a close frame before the end');
      if (ev!.type === 'close') {
        assert.is(ev!.code, CLOSE_CODE.PROTOCOL_ERROR);
        break;
      }
    }
    ws.frame(OPCODE.CLOSE, closePayload(1002));
    await ws.closed();
  } finally {
    ws.destroy();
  }
});

S('should end the CGI when the browser drops the connection without a close', async () => {
  // A drop is noticed at the latest at the bridge's next ping (see PING_INTERVAL_MS).
  const gone = async () => {
    const deadline = Date.now() + PING_INTERVAL_MS + 10_000;
    while (Date.now() < deadline && consoleCgiPids(node.root).length > 0) await new Promise((r) => setTimeout(r, 100));
    return consoleCgiPids(node.root);
  };
  // Earlier tests dropped their connections too; their CGIs end on their own.
  assert.equal(await gone(), [], 'no console.cgi left from earlier tests');
  const c = await openConsole(node.url, VMID, { token });
  await new RfbClient(c.ws!).handshake();
  assert.is(consoleCgiPids(node.root).length, 1, 'one console.cgi while open');
  c.ws!.destroy();
  assert.equal(await gone(), []);
});

S('should close with 1000 and say so when the guest stops', async () => {
  doomed = startTestGuest(node.root, DOOMED_VMID);
  const c = await openConsole(node.url, DOOMED_VMID, { token });
  const ws = c.ws!;
  try {
    await new RfbClient(ws).handshake();
    process.kill(doomed.pid, 'SIGKILL');
    for (;;) {
      const ev = await ws.next();
      assert.ok(ev, 'a close frame before the end');
      if (ev!.type === 'close') {
        assert.is(ev!.code, 1000);
        assert.match(ev!.reason, 'guest');
        break;
      }
    }
    ws.close(1000);
    await ws.closed();
  } finally {
    ws.destroy();
  }
  const again = await openConsole(node.url, DOOMED_VMID, { token });
  assert.is(again.status, 409);
});

S.run();

const T = suite('console websocket over TLS');
T('should complete the RFB handshake through lighttpd in HTTPS mode', async () => {
  const root = mkdtempSync(join(tmpdir(), 'console-tls-'));
  const server = await startServer({ root, listen: '127.0.0.1', port: await freePort(), node: 'consoletls', https: true, quiet: true, env: { RAMVM_ADMIN_PASSWORD: 'tls-test-pw' } });
  let g: TestGuest | undefined;
  try {
    g = startTestGuest(root, VMID);
    const c = await openConsole(server.url, VMID, { token: addToken(root, 'admin', 'tls'), protocols: ['binary'] });
    assert.is(c.status, 101);
    try {
      const rfb = new RfbClient(c.ws!);
      assert.is((await rfb.handshake()).version, 'RFB 003.008');
      assert.ok((await rfb.framebuffer()).rects.length >= 1);
    } finally {
      c.ws!.destroy();
    }
  } finally {
    g?.stop();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
T.run();
