import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { connect, type Socket } from 'node:net';
import { FrameReader, MAX_FRAME_BYTES, encodeFrame, startHub } from '../../../build/lab/hub';

const ARP = Buffer.from('ffffffffffff52540072760108060001080006040001', 'hex');

const F = suite('FrameReader');
F('should cut frames out of a stream split anywhere', () => {
  const wire = Buffer.concat([encodeFrame(ARP), encodeFrame(Buffer.from('abc'))]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const r = new FrameReader();
    const frames = [...r.push(wire.subarray(0, cut)), ...r.push(wire.subarray(cut))];
    assert.equal(frames.map((f) => f.toString('hex')), [ARP.toString('hex'), '616263'], `cut at ${cut}`);
  }
});
F('should keep a partial frame for the next chunk', () => {
  const r = new FrameReader();
  assert.equal(r.push(encodeFrame(ARP).subarray(0, 10)), []);
});
F('should reject a zero or oversized length (a broken stream)', () => {
  assert.throws(() => new FrameReader().push(Buffer.from([0, 0, 0, 0])), /bad frame length 0/);
  const big = Buffer.alloc(4);
  big.writeUInt32BE(MAX_FRAME_BYTES + 1);
  assert.throws(() => new FrameReader().push(big), /bad frame length/);
});
F.run();

const E = suite('encodeFrame');
E('should prefix the big-endian length', () => {
  assert.equal([...encodeFrame(Buffer.from('abc')).subarray(0, 4)], [0, 0, 0, 3]);
});
E.run();

const H = suite('startHub');
const open = (port: number) =>
  new Promise<{ sock: Socket; got: Buffer[] }>((res, rej) => {
    const got: Buffer[] = [];
    const reader = new FrameReader();
    const sock = connect(port, '127.0.0.1', () => res({ sock, got }));
    sock.on('data', (d: Buffer) => got.push(...reader.push(d)));
    sock.once('error', rej);
  });
const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
};
H('should pass a frame from one node to every other node and not back', async () => {
  const hub = await startHub();
  try {
    const [a, b, c] = await Promise.all([open(hub.port), open(hub.port), open(hub.port)]);
    await until(() => hub.peers() === 3);
    a!.sock.write(encodeFrame(ARP));
    await until(() => b!.got.length > 0 && c!.got.length > 0);
    assert.equal(b!.got.map((f) => f.toString('hex')), [ARP.toString('hex')]);
    assert.equal(c!.got.map((f) => f.toString('hex')), [ARP.toString('hex')]);
    assert.equal(a!.got, []);
    assert.is(hub.frames(), 1);
    for (const s of [a, b, c]) s!.sock.destroy();
  } finally {
    await hub.close();
  }
});
H('should drop a peer that sends garbage and keep serving the rest', async () => {
  const hub = await startHub();
  try {
    const [a, b, c] = await Promise.all([open(hub.port), open(hub.port), open(hub.port)]);
    await until(() => hub.peers() === 3);
    const closed = new Promise((r) => a!.sock.once('close', r));
    a!.sock.write(Buffer.from([0, 0, 0, 0]));
    await closed;
    b!.sock.write(encodeFrame(Buffer.from('ok')));
    await until(() => c!.got.length > 0);
    assert.equal(c!.got.map(String), ['ok']);
    for (const s of [b, c]) s!.sock.destroy();
  } finally {
    await hub.close();
  }
});
H('should listen on 127.0.0.1 only', async () => {
  const hub = await startHub();
  try {
    const err = await new Promise<Error | null>((res) => {
      const s = connect(hub.port, '::1', () => {
        s.destroy();
        res(null);
      });
      s.once('error', res);
    });
    assert.ok(err, 'no connection on ::1');
  } finally {
    await hub.close();
  }
});
H.run();
