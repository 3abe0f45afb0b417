/**
 * The bridge between websocket frames and a VNC socket. The browser's side
 * is a pair of in-memory streams (what the CGI's stdin/stdout are); the
 * guest's side is a real unix socket whose far end plays QEMU. The real
 * QEMU and lighttpd edges are exercised in test/integration/console.test.ts.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runBridge, type BridgeOptions, type BridgeResult } from '../../../node-cgi/console/bridge';
import { CLOSE_CODE, FrameDecoder, OPCODE, closePayload, encodeFrame, type WsEvent } from '../../../node-cgi/console/websocket';

const MASK = Buffer.from('37fa213d', 'hex');
const cf = (opcode: number, payload: Buffer | string = '', fin = true) => encodeFrame(opcode, Buffer.from(payload), { fin, mask: MASK });

interface Rig {
  /** What the browser sends (the CGI's stdin). */
  toBridge: PassThrough;
  /** The CGI's stdout. */
  output: PassThrough;
  /** Raw bytes the bridge wrote to it. */
  out: Buffer[];
  /** The QEMU end of the VNC socket. */
  qemu: Socket;
  qemuGot: Buffer[];
  qemuEnded: Promise<void>;
  done: Promise<BridgeResult>;
  /** The bridge's output decoded as server frames. */
  events(): WsEvent[];
  cleanup(): void;
}

async function rig(opts: BridgeOptions = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'console-bridge-'));
  const path = join(dir, 'vnc.sock');
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const guest = connect(path);
  await new Promise((r) => guest.once('connect', r));
  const qemu = await accepted;
  const qemuGot: Buffer[] = [];
  qemu.on('data', (b) => qemuGot.push(b));
  const qemuEnded = new Promise<void>((r) => qemu.once('close', () => r()));
  const toBridge = new PassThrough();
  const output = new PassThrough();
  const out: Buffer[] = [];
  output.on('data', (b) => out.push(b));
  const done = runBridge(toBridge, output, guest, opts);
  return {
    toBridge,
    output,
    out,
    qemu,
    qemuGot,
    qemuEnded,
    done,
    events: () => new FrameDecoder({ masked: false }).push(Buffer.concat(out)),
    cleanup: () => {
      qemu.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const until = async (cond: () => boolean, what: string, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const S = suite('runBridge');

S('should send what QEMU writes as one unmasked binary frame, byte for byte', async () => {
  const r = await rig();
  try {
    r.qemu.write('RFB 003.008\n');
    await until(() => r.out.length > 0, 'a frame');
    assert.equal(Buffer.concat(r.out), Buffer.from('820c524642203030332e3030380a', 'hex'));
    r.toBridge.end();
    await r.done;
  } finally {
    r.cleanup();
  }
});

S('should write a client message to QEMU unmasked and reassembled', async () => {
  const r = await rig();
  try {
    r.toBridge.write(Buffer.concat([cf(OPCODE.BINARY, 'RFB 003', false), cf(OPCODE.CONTINUATION, '.008\n')]));
    r.toBridge.write(cf(OPCODE.BINARY, Buffer.from([1])));
    await until(() => Buffer.concat(r.qemuGot).length === 13, 'the message at QEMU');
    assert.is(Buffer.concat(r.qemuGot).toString('latin1'), 'RFB 003.008\n\x01');
    r.toBridge.end();
    const res = await r.done;
    assert.is(res.bytesToGuest, 13);
  } finally {
    r.cleanup();
  }
});

S('should answer a ping between fragments with a pong of the same payload', async () => {
  const r = await rig();
  try {
    r.toBridge.write(Buffer.concat([cf(OPCODE.BINARY, 'ab', false), cf(OPCODE.PING, 'are you there'), cf(OPCODE.CONTINUATION, 'cd')]));
    await until(() => r.out.length > 0 && Buffer.concat(r.qemuGot).length === 4, 'pong and data');
    assert.equal(Buffer.concat(r.out), encodeFrame(OPCODE.PONG, Buffer.from('are you there')));
    assert.is(Buffer.concat(r.qemuGot).toString(), 'abcd');
    r.toBridge.end();
    await r.done;
  } finally {
    r.cleanup();
  }
});

S('should echo the browser\'s close code and end the VNC connection', async () => {
  const r = await rig();
  try {
    r.toBridge.write(cf(OPCODE.CLOSE, closePayload(1000, 'user closed the tab')));
    const res = await r.done;
    assert.equal(Buffer.concat(r.out), encodeFrame(OPCODE.CLOSE, closePayload(1000)));
    assert.is(res.endedBy, 'client');
    assert.is(res.code, 1000);
    assert.is(res.reason, 'user closed the tab');
    await r.qemuEnded;
  } finally {
    r.cleanup();
  }
});

S('should answer an empty close with an empty close', async () => {
  const r = await rig();
  try {
    r.toBridge.write(cf(OPCODE.CLOSE));
    const res = await r.done;
    assert.equal(Buffer.concat(r.out), Buffer.from('8800', 'hex'));
    assert.is(res.code, CLOSE_CODE.NO_STATUS);
  } finally {
    r.cleanup();
  }
});

S('should close with 1000 and a reason when the guest\'s display goes away', async () => {
  const r = await rig();
  try {
    r.qemu.end();
    await until(() => r.out.length > 0, 'a close frame');
    const ev = r.events();
    assert.is(ev.length, 1);
    assert.is(ev[0]!.type, 'close');
    assert.is((ev[0] as { code: number }).code, 1000);
    assert.match((ev[0] as { reason: string }).reason, 'guest');
    r.toBridge.write(cf(OPCODE.CLOSE, closePayload(1000)));
    const res = await r.done;
    assert.is(res.endedBy, 'guest');
    assert.is(res.code, 1000);
  } finally {
    r.cleanup();
  }
});

S('should treat a reset VNC socket (QEMU killed) as the guest stopping', async () => {
  const r = await rig({ closeTimeoutMs: 50 });
  try {
    // A unix socket closed with unread data resets its peer, as a killed QEMU does.
    r.qemu.removeAllListeners('data');
    r.qemu.pause();
    r.toBridge.write(cf(OPCODE.BINARY, Buffer.alloc(200_000)));
    await new Promise((res) => setTimeout(res, 50));
    r.qemu.destroy();
    const res = await r.done;
    assert.is(res.endedBy, 'guest');
    assert.is(res.code, 1000);
    assert.match(res.reason, 'guest display closed');
  } finally {
    r.cleanup();
  }
});

S('should stop waiting for the browser\'s close reply after the close timeout', async () => {
  const r = await rig({ closeTimeoutMs: 50 });
  try {
    r.qemu.end();
    const res = await r.done;
    assert.is(res.endedBy, 'guest');
  } finally {
    r.cleanup();
  }
});

S('should close with 1002 on an unmasked frame and pass nothing to QEMU', async () => {
  const r = await rig({ closeTimeoutMs: 50 });
  try {
    r.toBridge.write(Buffer.from('82026869', 'hex'));
    const res = await r.done;
    assert.is(res.endedBy, 'protocol');
    assert.is(res.code, CLOSE_CODE.PROTOCOL_ERROR);
    const ev = r.events();
    assert.equal(ev[0], { type: 'close', code: 1002, reason: 'client frames must be masked' });
    await r.qemuEnded;
    assert.equal(r.qemuGot, []);
  } finally {
    r.cleanup();
  }
});

S('should close with 1003 on a text message', async () => {
  const r = await rig({ closeTimeoutMs: 50 });
  try {
    r.toBridge.write(cf(OPCODE.TEXT, 'UkZC'));
    const res = await r.done;
    assert.is(res.code, CLOSE_CODE.UNSUPPORTED_DATA);
    assert.is((r.events()[0] as { code: number }).code, 1003);
    assert.equal(r.qemuGot, []);
  } finally {
    r.cleanup();
  }
});

S('should end with 1006 when the browser goes away without a close', async () => {
  const r = await rig();
  try {
    r.toBridge.end();
    const res = await r.done;
    assert.is(res.endedBy, 'client');
    assert.is(res.code, CLOSE_CODE.ABNORMAL);
    await r.qemuEnded;
  } finally {
    r.cleanup();
  }
});

S('should end with 1006 when writing to the browser fails (lighttpd closed the pipe)', async () => {
  const r = await rig();
  try {
    r.output.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    const res = await r.done;
    assert.is(res.endedBy, 'client');
    assert.is(res.code, CLOSE_CODE.ABNORMAL);
    await r.qemuEnded;
  } finally {
    r.cleanup();
  }
});

S('should ping the browser and give up after two silent intervals', async () => {
  const r = await rig({ pingIntervalMs: 20, closeTimeoutMs: 20 });
  try {
    const res = await r.done;
    assert.is(res.endedBy, 'timeout');
    assert.is(res.code, CLOSE_CODE.GOING_AWAY);
    const ev = r.events();
    assert.ok(ev.filter((e) => e.type === 'ping').length >= 1, 'pinged');
    assert.equal(ev[ev.length - 1], { type: 'close', code: 1001, reason: 'no answer to pings' });
  } finally {
    r.cleanup();
  }
});

S('should stay open while the browser answers pings', async () => {
  // Intervals wide enough that a loaded machine's timer lag (tens of ms) never
  // makes two ping intervals look silent while pongs are being sent.
  const r = await rig({ pingIntervalMs: 100 });
  try {
    const t = setInterval(() => r.toBridge.write(cf(OPCODE.PONG)), 20);
    await new Promise((res) => setTimeout(res, 700));
    clearInterval(t);
    assert.ok(r.events().filter((e) => e.type === 'ping').length >= 3, 'several pings');
    assert.not.ok(r.events().some((e) => e.type === 'close'), 'not closed');
    r.toBridge.end();
    await r.done;
  } finally {
    r.cleanup();
  }
});

S('should close with 1008 once access is withdrawn', async () => {
  let allowed = true;
  const r = await rig({ pingIntervalMs: 20, closeTimeoutMs: 20, allowed: () => allowed });
  try {
    const t = setInterval(() => r.toBridge.write(cf(OPCODE.PONG)), 10);
    await new Promise((res) => setTimeout(res, 60));
    assert.not.ok(r.events().some((e) => e.type === 'close'), 'open while allowed');
    allowed = false;
    const res = await r.done;
    clearInterval(t);
    assert.is(res.endedBy, 'revoked');
    const ev = r.events();
    assert.equal(ev[ev.length - 1], { type: 'close', code: 1008, reason: 'access to this console was withdrawn' });
    await r.qemuEnded;
  } finally {
    r.cleanup();
  }
});

S.run();
