/**
 * qemu/qmp.ts against a stand-in QMP server on a unix socket: the greeting,
 * commands matched to answers by id while events arrive in between, QEMU's
 * errors, time limits, and a socket whose listen queue is full. The real
 * QEMU speaks to the same client in every integration suite with guests.
 */
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpError } from '../../../node-cgi/lib/errors';
import { Qmp, QmpError, withQmp } from '../../../node-cgi/qemu/qmp';
import { suite } from '../../helpers/suite';

/** QEMU 7.2's greeting, as it sends it. */
const GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u7"}, "capabilities": ["oob"]}}\r\n';

type Reply = (cmd: { execute: string; arguments?: Record<string, unknown>; id?: number }, sock: Socket) => void;

let dir: string;
let server: Server | undefined;
let path: string;
/** Commands the stand-in received, in order. */
let received: string[] = [];

/** A stand-in QMP server: greets (or says `hello`), answers each command with `reply`. */
function serve(reply: Reply, hello: string | null = GREETING): Promise<void> {
  received = [];
  return new Promise((res) => {
    server = createServer((sock) => {
      if (hello !== null) sock.write(hello);
      let buf = '';
      sock.on('data', (b) => {
        buf += b.toString();
        for (let nl; (nl = buf.indexOf('\n')) >= 0; ) {
          const cmd = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          received.push(cmd.execute);
          if (cmd.execute === 'qmp_capabilities') sock.write(`{"return": {}, "id": ${cmd.id}}\r\n`);
          else reply(cmd, sock);
        }
      });
      sock.on('error', () => {});
    });
    server.listen(path, () => res());
  });
}

const answer = (sock: Socket, id: number | undefined, ret: unknown) => sock.write(`${JSON.stringify({ return: ret, id })}\r\n`);

const Q = suite('Qmp');
Q.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ramvm-qmp-'));
});
Q.before.each(() => {
  path = join(dir, `${Math.random().toString(36).slice(2)}.qmp`);
});
Q.after.each(async () => {
  await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
  server = undefined;
});
Q.after(() => rmSync(dir, { recursive: true, force: true }));

Q('should read the greeting, negotiate, and return a command\'s answer', async () => {
  await serve((cmd, sock) => answer(sock, cmd.id, { status: 'running', running: true }));
  const q = await Qmp.connect(path);
  try {
    assert.equal(await q.execute('query-status'), { status: 'running', running: true });
    assert.equal(received, ['qmp_capabilities', 'query-status']);
  } finally {
    q.close();
  }
});

Q('should match answers to commands by id, with events in between', async () => {
  const seen: string[] = [];
  await serve((cmd, sock) => {
    // The second command is answered first, an event comes before both answers.
    if (cmd.execute === 'query-jobs') {
      sock.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "j1"}}\r\n');
      setTimeout(() => answer(sock, cmd.id, []), 30);
    } else answer(sock, cmd.id, 'second');
  });
  const q = await Qmp.connect(path);
  try {
    q.onEvent((e) => seen.push(`${e.event}:${e.data?.status}`));
    const [a, b] = await Promise.all([q.execute('query-jobs'), q.execute('query-name')]);
    assert.equal([a, b, seen], [[], 'second', ['JOB_STATUS_CHANGE:running']]);
  } finally {
    q.close();
  }
});

Q('should turn QEMU\'s error into a QmpError with its class and text', async () => {
  await serve((cmd, sock) => sock.write(`${JSON.stringify({ error: { class: 'DeviceNotFound', desc: "Device 'drive-disk9' not found" }, id: cmd.id })}\r\n`));
  await withQmp(path, async (q) => {
    const e = await q.execute('block_resize', { device: 'drive-disk9', size: 1 }).catch((x: unknown) => x);
    assert.instance(e, QmpError);
    assert.equal([(e as QmpError).qmpClass, (e as QmpError).status, (e as QmpError).message], ['DeviceNotFound', 500, "QEMU refused block_resize: Device 'drive-disk9' not found"]);
  });
});

Q('should give up on a command QEMU does not answer in time with 504', async () => {
  await serve(() => {});
  await withQmp(path, async (q) => {
    const e = await q.execute('query-status', undefined, 100).catch((x: unknown) => x);
    assert.instance(e, HttpError);
    assert.equal([(e as HttpError).status, (e as HttpError).code, (e as HttpError).message], [504, 'timeout', 'QEMU did not answer query-status within 100 ms']);
  });
});

Q('should wait for a matching event and give up with 504', async () => {
  await serve((cmd, sock) => {
    answer(sock, cmd.id, {});
    sock.write('{"event": "STOP"}\r\n{"event": "RESUME"}\r\n');
  });
  await withQmp(path, async (q) => {
    const resumed = q.waitEvent((e) => e.event === 'RESUME', 2_000);
    await q.execute('cont');
    assert.is((await resumed).event, 'RESUME');
    const e = await q.waitEvent((x) => x.event === 'SHUTDOWN', 100).catch((x: unknown) => x);
    assert.equal([(e as HttpError).status, (e as HttpError).message], [504, 'no matching QEMU event within 100 ms']);
  });
});

Q('should refuse a socket that does not greet like QMP, saying what it said', async () => {
  await serve(() => {}, 'SSH-2.0-OpenSSH_9.2\r\n');
  const e = await Qmp.connect(path).catch((x: unknown) => x);
  assert.instance(e, Error);
  assert.is((e as Error).message, `not a QMP socket: ${path} (its first line: SSH-2.0-OpenSSH_9.2\r)`);
});

Q('should answer 504 when nothing greets in time', async () => {
  await serve(() => {}, null);
  const e = await Qmp.connect(path, 150).catch((x: unknown) => x);
  assert.equal([(e as HttpError).status, (e as HttpError).message], [504, 'QEMU monitor did not answer within 150 ms (busy or hung)']);
});

Q('should answer 409 when there is no socket: the guest is not running', async () => {
  const e = await Qmp.connect(join(dir, 'none.qmp')).catch((x: unknown) => x);
  assert.equal([(e as HttpError).status, (e as HttpError).code, (e as HttpError).message], [409, 'conflict', 'the guest is not running']);
});

Q('should fail the commands in flight when QEMU closes the connection', async () => {
  await serve((_cmd, sock) => sock.destroy());
  await withQmp(path, async (q) => {
    const e = await q.execute('quit').catch((x: unknown) => x);
    assert.is((e as Error).message, 'QMP connection closed');
    const again = await q.execute('query-status').catch((x: unknown) => x);
    assert.is((again as Error).message, 'QMP connection closed', 'later commands fail at once');
  });
});

Q('should close the connection when the work throws', async () => {
  let closed = false;
  await serve((cmd, sock) => answer(sock, cmd.id, {}));
  server!.on('connection', (s) => s.on('close', () => (closed = true)));
  await withQmp(path, async () => {
    throw new Error('the work failed');
  }).catch((e: Error) => assert.is(e.message, 'the work failed'));
  for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(closed);
});

Q.run();

/**
 * A QMP stand-in in a process of its own that listens with a queue of one
 * and then does not accept for `blockMs` (as QEMU while it serves another
 * client), so further connects fail with EAGAIN until it accepts again.
 */
function busyServer(socket: string, blockMs: number): Promise<ChildProcess> {
  const code = `
    const net = require('node:net');
    const srv = net.createServer((s) => {
      s.write(${JSON.stringify(GREETING)});
      s.on('data', (b) => { for (const l of b.toString().split('\\n').filter(Boolean)) { const c = JSON.parse(l); s.write(JSON.stringify({ return: {}, id: c.id }) + '\\r\\n'); } });
      s.on('error', () => {});
    });
    srv.listen({ path: process.argv[1], backlog: 1 }, () => {
      process.stdout.write('listening\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]));
    });`;
  const p = spawn(process.execPath, ['-e', code, socket, String(blockMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res) => p.stdout!.once('data', () => res(p)));
}

const rawConnect = (socket: string) =>
  new Promise<string>((res) => {
    const s = connect(socket);
    s.on('connect', () => res('connected'));
    s.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? e.message));
  });

const Busy = suite('Qmp.connect while QEMU serves another client');
let busyDir: string;
let child: ChildProcess | undefined;
Busy.before(() => {
  busyDir = mkdtempSync(join(tmpdir(), 'ramvm-qmp-busy-'));
});
Busy.after(() => {
  child?.kill('SIGKILL');
  rmSync(busyDir, { recursive: true, force: true });
});

Busy('should wait its turn where connect() says EAGAIN, until the socket accepts', async () => {
  const socket = join(busyDir, 'busy.qmp');
  child = await busyServer(socket, 800);
  // The queue fills; the next plain connect is refused at once.
  const plain = await Promise.all([rawConnect(socket), rawConnect(socket), rawConnect(socket), rawConnect(socket)]);
  assert.ok(plain.includes('EAGAIN'), `a full queue refuses: ${plain}`);
  const clients = await Promise.all([1, 2, 3].map(() => Qmp.connect(socket, 10_000)));
  for (const q of clients) {
    assert.equal(await q.execute('query-status'), {});
    q.close();
  }
});

Busy('should give up with 504 when the queue stays full past the time limit', async () => {
  const socket = join(busyDir, 'stuck.qmp');
  child?.kill('SIGKILL');
  child = await busyServer(socket, 5_000);
  await Promise.all([rawConnect(socket), rawConnect(socket), rawConnect(socket)]);
  const e = await Qmp.connect(socket, 300).catch((x: unknown) => x);
  assert.equal([(e as HttpError).status, (e as HttpError).message], [504, 'QEMU monitor did not answer within 300 ms (busy or hung)']);
});

Busy.run();
