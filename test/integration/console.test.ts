/**
 * The console websocket through real lighttpd (cgi.upgrade) to a real QEMU
 * guest's VNC unix socket: RFB handshake and framebuffer, refusals before
 * any VNC byte, and the websocket's control frames end to end.
 */
import { suite } from '../helpers/suite';
import { PING_INTERVAL_MS } from '../../node-cgi/console/bridge';
import * as assert from 'uvu/assert';
import { request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../build/server';
import { useNode } from '../helpers/fixture';
import { killGuests } from '../helpers/guest';
import { freePort } from '../helpers/node';
import { CLOSE_CODE, OPCODE, closePayload } from '../../node-cgi/console/websocket';
import {
  addToken, addUser, consoleCgiPids, consoleGuest, nonBlank, openConsole, RfbClient, SEABIOS_TEXT_SCREEN, startConsoleGuest, waitForTextScreen,
} from './console-helpers';

const VMID = 101;
/** Has a config, never started. */
const STOPPED_VMID = 102;
/** Started and killed while its console is open. */
const DOOMED_VMID = 103;

let adminCookie = '';
let token = '';

const S = suite('console websocket');
const fx = useNode(S, { node: 'console1' });

S.before(async () => {
  await startConsoleGuest(fx, VMID);
  await waitForTextScreen(fx, VMID);
  await fx.createGuest(consoleGuest(STOPPED_VMID));
  addUser(fx.root, 'auditor', 'auditor-pw-1', 'VMAuditor', `/vms/${VMID}`);
  addUser(fx.root, 'viewer', 'viewer-pw-1', 'VMUser', `/vms/${VMID}`);
  token = addToken(fx.root, 'admin', 'console');
  adminCookie = fx.admin.cookie!;
});

/** Poll full frames until one is not black (the screen has settled already, see waitForTextScreen). */
async function firstNonBlankFrame(rfb: RfbClient) {
  for (let i = 0; i < 100; i++) {
    const u = await rfb.framebuffer();
    if (nonBlank(u.pixels)) return u;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the guest screen stayed black');
}

S('should complete the RFB handshake with a ticket cookie and receive a framebuffer update', async () => {
  const c = await openConsole(fx.node.url, VMID, { cookie: adminCookie, protocols: ['binary'] });
  assert.is(c.status, 101);
  assert.is(c.headers['sec-websocket-protocol'], 'binary');
  const rfb = new RfbClient(c.ws!);
  try {
    const init = await rfb.handshake();
    assert.is(init.version, 'RFB 003.008');
    assert.equal([init.width, init.height], [SEABIOS_TEXT_SCREEN.width, SEABIOS_TEXT_SCREEN.height]);
    assert.is(init.name, `QEMU (console-${VMID})`);
    const u = await firstNonBlankFrame(rfb);
    assert.equal(u.rects[0], { x: 0, y: 0, w: init.width, h: init.height, encoding: 0 });
    assert.is(u.pixels.length, init.width * init.height * (init.bitsPerPixel / 8));
  } finally {
    c.ws!.destroy();
  }
});

S('should open with an API token and no Origin, choosing no subprotocol when none is offered', async () => {
  const c = await openConsole(fx.node.url, VMID, { token });
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
  const viewer = await fx.node.login('viewer', 'viewer-pw-1');
  const c = await openConsole(fx.node.url, VMID, { cookie: viewer.cookie! });
  assert.is(c.status, 101);
  c.ws!.destroy();
});

S('should serve two consoles of one guest at once', async () => {
  const a = await openConsole(fx.node.url, VMID, { cookie: adminCookie });
  const b = await openConsole(fx.node.url, VMID, { token });
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
  ['no credentials', async () => [fx.node.url, VMID, {}], 401, 'unauthenticated'],
  ['a forged ticket', async () => [fx.node.url, VMID, { cookie: 'RamvmAuth=RAMVM%3Aadmin%3A00000000%3AAAAA' }], 401, 'unauthenticated'],
  ['a wrong token secret', async () => [fx.node.url, VMID, { token: 'admin!console=' + 'x'.repeat(32) }], 401, 'unauthenticated'],
  ['a user with VM.Audit only', async () => [fx.node.url, VMID, { cookie: (await fx.node.login('auditor', 'auditor-pw-1')).cookie! }], 403, 'forbidden'],
  ['a VMUser on another guest', async () => [fx.node.url, STOPPED_VMID, { cookie: (await fx.node.login('viewer', 'viewer-pw-1')).cookie! }], 403, 'forbidden'],
  ['a cookie sent from a page of another site', async () => [fx.node.url, VMID, { cookie: adminCookie, origin: 'https://evil.example' }], 403, 'forbidden'],
  ['a guest that does not exist', async () => [fx.node.url, 999, { cookie: adminCookie }], 404, 'not_found'],
  ['a guest that is not running', async () => [fx.node.url, STOPPED_VMID, { cookie: adminCookie }], 409, 'conflict'],
  ['a plain GET without Upgrade', async () => [fx.node.url, VMID, { cookie: adminCookie, upgrade: false }], 426, 'upgrade_required'],
  ['a subprotocol other than binary', async () => [fx.node.url, VMID, { cookie: adminCookie, protocols: ['base64'] }], 400, 'bad_request'],
  ['a malformed vmid', async () => [fx.node.url, 'abc', { cookie: adminCookie }], 400, 'invalid'],
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
  const c = await openConsole(fx.node.url, VMID, { token });
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
  const c = await openConsole(fx.node.url, VMID, { token });
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
  const c = await openConsole(fx.node.url, VMID, { token });
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
    while (Date.now() < deadline && consoleCgiPids(fx.root).length > 0) await new Promise((r) => setTimeout(r, 100));
    return consoleCgiPids(fx.root);
  };
  // Earlier tests dropped their connections too; their CGIs end on their own.
  assert.equal(await gone(), [], 'no console.cgi left from earlier tests');
  const c = await openConsole(fx.node.url, VMID, { token });
  await new RfbClient(c.ws!).handshake();
  assert.is(consoleCgiPids(fx.root).length, 1, 'one console.cgi while open');
  c.ws!.destroy();
  assert.equal(await gone(), []);
});

S('should close with 1000 and say so when the guest stops', async () => {
  const doomed = await startConsoleGuest(fx, DOOMED_VMID);
  const c = await openConsole(fx.node.url, DOOMED_VMID, { token });
  const ws = c.ws!;
  try {
    await new RfbClient(ws).handshake();
    process.kill(doomed, 'SIGKILL');
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
  const again = await openConsole(fx.node.url, DOOMED_VMID, { token });
  assert.is(again.status, 409);
});

S.run();

/** One API call to an HTTPS node with a self-signed certificate, as a script with a token makes it. */
function httpsCall(url: string, token: string, method: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((res, rej) => {
    const req = request(url, {
      method, rejectUnauthorized: false, agent: false,
      headers: { authorization: `RamvmToken ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    }, (r) => {
      let text = '';
      r.on('data', (d: Buffer) => (text += d.toString()));
      r.on('end', () => res({ status: r.statusCode!, text }));
    });
    req.on('error', rej);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const T = suite('console websocket over TLS');
T('should complete the RFB handshake through lighttpd in HTTPS mode', async () => {
  const root = mkdtempSync(join(tmpdir(), 'console-tls-'));
  const server = await startServer({ root, listen: '127.0.0.1', port: await freePort(), node: 'consoletls', https: true, quiet: true, env: { RAMVM_ADMIN_PASSWORD: 'tls-test-pw' } });
  try {
    const tls = addToken(root, 'admin', 'tls');
    const made = await httpsCall(`${server.url}/api/vm`, tls, 'POST', consoleGuest(VMID));
    assert.is(made.status, 201, made.text);
    const started = await httpsCall(`${server.url}/api/vm/${VMID}/start`, tls, 'POST', {});
    assert.is(started.status, 200, started.text);
    const c = await openConsole(server.url, VMID, { token: tls, protocols: ['binary'] });
    assert.is(c.status, 101);
    try {
      const rfb = new RfbClient(c.ws!);
      assert.is((await rfb.handshake()).version, 'RFB 003.008');
      assert.ok((await rfb.framebuffer()).rects.length >= 1);
    } finally {
      c.ws!.destroy();
    }
  } finally {
    await killGuests(root);
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
T.run();
