/**
 * qemu/qga.ts: the agent's stream parsed as data (stale bytes and stale
 * syncs before the sentinel, half lines, refusals), and the client against
 * a stand-in agent on a unix socket (sync, time limits, a freeze that is
 * always thawed). The real qemu-ga answers the same client in the
 * integration suite backup-agent.
 */
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpError } from '../../../node-cgi/lib/errors';
import {
  agentAnswers, freezeStatus, parseFreezeStatus, parseFsCount, parseQgaAnswer, parseQgaStream, Qga, QgaError, qgaSyncRequest, whileFrozen,
} from '../../../node-cgi/qemu/qga';
import { suite } from '../../helpers/suite';

const FF = Buffer.from([0xff]);
const b = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));

const S = suite('parseQgaStream');
S('should skip everything before the sentinel and the sync answer, then give the answers in order', () => {
  const r = parseQgaStream(b('{"return": 5}\n{"error": {"class": "GenericError", "desc": "stale"}}\n', FF, '{"return": 42}\n{"return": {}}\n{"return": 2}\n'), 42, 'stale');
  assert.equal(r, { phase: 'synced', answers: [{ return: {} }, { return: 2 }], rest: Buffer.alloc(0) });
});
S('should keep an unfinished line for the next read, in every phase', () => {
  assert.equal(parseQgaStream(b(FF, '{"ret'), 42, 'stale'), { phase: 'sync', answers: [], rest: b('{"ret') });
  assert.equal(parseQgaStream(b('{"return": 42}\n{"return": "fro'), 42, 'sync'), { phase: 'synced', answers: [], rest: b('{"return": "fro') });
  assert.equal(parseQgaStream(b('{"return": "fro', 'zen"}\n'), 42, 'synced'), { phase: 'synced', answers: [{ return: 'frozen' }], rest: Buffer.alloc(0) });
});
S('should drop stale bytes without a sentinel entirely', () => {
  assert.equal(parseQgaStream(b('{"return": 7}\n{"return": {}'), 42, 'stale'), { phase: 'stale', answers: [], rest: Buffer.alloc(0) });
});
S("should skip an earlier client's sync (another id) and wait for the next sentinel", () => {
  const r = parseQgaStream(b(FF, '{"return": 99}\n{"return": {}}\n', FF, '{"return": 42}\n{"return": 1}\n'), 42, 'stale');
  assert.equal(r.phase, 'synced');
  assert.equal(r.answers, [{ return: 1 }]);
});
S('should take a second sentinel before the sync line ends as the start again', () => {
  const r = parseQgaStream(b(FF, '{"retu', FF, '{"return": 42}\n'), 42, 'stale');
  assert.equal(r, { phase: 'synced', answers: [], rest: Buffer.alloc(0) });
});
S('should give a refusal as an error answer', () => {
  const r = parseQgaStream(b('{"error": {"class": "GenericError", "desc": "failed to freeze /mnt: Operation not supported"}}\n'), 42, 'synced');
  assert.equal(r.answers, [{ error: { class: 'GenericError', desc: 'failed to freeze /mnt: Operation not supported' } }]);
});
S('should throw on a line in step that is not an answer, naming it', () => {
  assert.throws(() => parseQgaStream(b('{"hello": 1}\n'), 42, 'synced'), /not an answer: \{"hello": 1\}/);
  assert.throws(() => parseQgaStream(b('garbage\n'), 42, 'synced'), /not JSON: garbage/);
});

const A = suite('parseQgaAnswer and the answers of freeze, thaw and status');
A('should read a return and an error', () => {
  assert.equal(parseQgaAnswer('{"return": "thawed"}'), { return: 'thawed' });
  assert.equal(parseQgaAnswer('{"error": {"class": "CommandNotFound", "desc": "x"}}'), { error: { class: 'CommandNotFound', desc: 'x' } });
});
A('should take a count of filesystems, and refuse anything else', () => {
  assert.is(parseFsCount('guest-fsfreeze-freeze', 3), 3);
  assert.throws(() => parseFsCount('guest-fsfreeze-freeze', '3'), /answered guest-fsfreeze-freeze with "3", not a count/);
  assert.throws(() => parseFsCount('guest-fsfreeze-thaw', -1), /with -1/);
});
A('should take "thawed" and "frozen" as the status, and refuse anything else', () => {
  assert.is(parseFreezeStatus('thawed'), 'thawed');
  assert.is(parseFreezeStatus('frozen'), 'frozen');
  assert.throws(() => parseFreezeStatus('error'), /guest-fsfreeze-status with "error"/);
});
A('should open with the sentinel, then the sync with its id', () => {
  assert.equal(qgaSyncRequest(7), b(FF, '{"execute":"guest-sync-delimited","arguments":{"id":7}}\n'));
});

type Cmd = { execute: string; arguments?: { id?: number } };
/** What the stand-in does with a command: the bytes it writes back (null: nothing). */
type Reply = (cmd: Cmd) => string | Buffer | null;

let dir: string;
let path: string;
let server: Server | undefined;
let received: string[] = [];
const socks = new Set<Socket>();

/** A stand-in agent: `stale` bytes to each client first, then each command answered by `reply`; the sync as qemu-ga answers it. */
function serve(reply: Reply, stale = ''): Promise<void> {
  received = [];
  return new Promise((res) => {
    server = createServer((sock) => {
      socks.add(sock);
      sock.on('error', () => {});
      let buf = Buffer.alloc(0);
      let first = true;
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (first && buf[0] === 0xff) buf = buf.subarray(1);
        first = false;
        for (let nl; (nl = buf.indexOf(0x0a)) >= 0; ) {
          const cmd = JSON.parse(buf.subarray(0, nl).toString()) as Cmd;
          buf = buf.subarray(nl + 1);
          received.push(cmd.execute);
          const out = cmd.execute === 'guest-sync-delimited' ? b(stale, FF, `{"return": ${cmd.arguments!.id}}\n`) : reply(cmd);
          if (out !== null) sock.write(out);
        }
      });
    });
    server.listen(path, () => res());
  });
}

/** A fresh socket path for each test of `s`, and its stand-in ended after it. */
function standIn(s: ReturnType<typeof suite>): void {
  s.before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ramvm-qga-'));
  });
  s.before.each(() => {
    path = join(dir, `${Math.random().toString(36).slice(2)}.qga`);
  });
  s.after.each(async () => {
    for (const x of socks) x.destroy();
    socks.clear();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });
  s.after(() => rmSync(dir, { recursive: true, force: true }));
}

const C = suite('Qga');
standIn(C);

C('should get in step past stale answers and run commands in order', async () => {
  await serve((c) => (c.execute === 'guest-fsfreeze-status' ? '{"return": "thawed"}\n' : '{"return": {}}\n'), '{"return": 1}\n{"return": {}}\n');
  const q = await Qga.connect(path, 5000);
  try {
    assert.equal(await q.execute('guest-ping', 5000), {});
    assert.is(await q.execute('guest-fsfreeze-status', 5000), 'thawed');
  } finally {
    q.close();
  }
  assert.equal(received, ['guest-sync-delimited', 'guest-ping', 'guest-fsfreeze-status']);
});
C("should reject a refusal with the agent's words", async () => {
  await serve(() => '{"error": {"class": "GenericError", "desc": "Command guest-fsfreeze-freeze has been disabled"}}\n');
  const q = await Qga.connect(path, 5000);
  try {
    const e = await q.execute('guest-fsfreeze-freeze', 5000).catch((x: Error) => x);
    assert.instance(e, QgaError);
    assert.match((e as Error).message, /refused guest-fsfreeze-freeze: Command guest-fsfreeze-freeze has been disabled/);
  } finally {
    q.close();
  }
});
C('should time out a sync nobody answers (a guest without a running agent)', async () => {
  server = createServer((sock) => { socks.add(sock); sock.on('error', () => {}); });
  await new Promise<void>((r) => server!.listen(path, () => r()));
  const e = await Qga.connect(path, 200).catch((x: Error) => x);
  assert.instance(e, HttpError);
  assert.match((e as Error).message, /did not answer guest-sync-delimited within 200 ms/);
});
C('should time out a command that gets no answer', async () => {
  await serve(() => null);
  const q = await Qga.connect(path, 5000);
  const e = await q.execute('guest-fsfreeze-thaw', 150).catch((x: Error) => x);
  q.close();
  assert.match((e as Error).message, /did not answer guest-fsfreeze-thaw within 150 ms/);
});

const P = suite('agentAnswers and freezeStatus');
standIn(P);
P('should say yes when the ping answers', async () => {
  await serve(() => '{"return": {}}\n');
  assert.equal(await agentAnswers(path), { ok: true });
});
P('should say why not when there is no channel', async () => {
  const r = await agentAnswers(join(dir, 'none.qga'));
  assert.equal(r, { ok: false, reason: 'the guest has no agent channel (not running, or started without agent)' });
});
P('should read the freeze status', async () => {
  await serve(() => '{"return": "frozen"}\n');
  assert.is(await freezeStatus(path), 'frozen');
});

const W = suite('whileFrozen');
standIn(W);

const counting: Reply = (c) => (c.execute === 'guest-fsfreeze-freeze' || c.execute === 'guest-fsfreeze-thaw' ? '{"return": 2}\n' : '{"return": {}}\n');

W('should freeze, take the copy, and thaw, logging each', async () => {
  await serve(counting);
  const lines: string[] = [];
  const order: string[] = [];
  const out = await whileFrozen(path, (l) => lines.push(l), async () => {
    order.push(`take after ${received.at(-1)}`);
    return 'copy';
  });
  assert.is(out, 'copy');
  assert.equal(order, ['take after guest-fsfreeze-freeze']);
  assert.equal(received, ['guest-sync-delimited', 'guest-fsfreeze-freeze', 'guest-fsfreeze-thaw']);
  assert.match(lines[0]!, /^filesystems frozen \(2\) by the guest agent in [0-9.]+ ms$/);
  assert.match(lines[1]!, /^filesystems thawed \(2\) in [0-9.]+ ms: frozen for [0-9.]+ ms$/);
});
W('should thaw when the copy fails, and pass its failure on', async () => {
  await serve(counting);
  const lines: string[] = [];
  const e = await whileFrozen(path, (l) => lines.push(l), async () => {
    throw new Error('transaction refused');
  }).catch((x: Error) => x);
  assert.match((e as Error).message, /transaction refused/);
  assert.equal(received, ['guest-sync-delimited', 'guest-fsfreeze-freeze', 'guest-fsfreeze-thaw']);
  assert.match(lines[1]!, /^filesystems thawed \(2\)/);
});
W('should take the copy unfrozen when the agent refuses the freeze, after a thaw of what it may have frozen', async () => {
  await serve((c) => (c.execute === 'guest-fsfreeze-freeze' ? '{"error": {"class": "GenericError", "desc": "failed to freeze /: Device or resource busy"}}\n' : '{"return": 0}\n'));
  const lines: string[] = [];
  let took = false;
  await whileFrozen(path, (l) => lines.push(l), async () => {
    took = true;
  });
  assert.ok(took);
  assert.equal(received, ['guest-sync-delimited', 'guest-fsfreeze-freeze', 'guest-sync-delimited', 'guest-fsfreeze-thaw']);
  assert.equal(lines, ['freezing the filesystems failed (the guest agent refused guest-fsfreeze-freeze: failed to freeze /: Device or resource busy): the copy is taken without a freeze']);
});
W('should say the guest may still be frozen when the thaw after a failed freeze fails too', async () => {
  await serve((c) => `{"error": {"class": "GenericError", "desc": "${c.execute === 'guest-fsfreeze-freeze' ? 'failed to freeze /mnt' : 'thaw refused'}"}}\n`);
  const lines: string[] = [];
  await whileFrozen(path, (l) => lines.push(l), async () => undefined);
  assert.match(lines[0]!, /^freezing the filesystems failed \(the guest agent refused guest-fsfreeze-freeze: failed to freeze \/mnt; the thaw after it failed too \(the guest agent refused guest-fsfreeze-thaw: thaw refused\): the guest's filesystems may still be frozen\)/);
});
W('should thaw on a new connection when the freeze connection broke', async () => {
  let n = 0;
  await serve((c) => {
    if (c.execute === 'guest-fsfreeze-freeze') return '{"return": 1}\n';
    if (c.execute === 'guest-fsfreeze-thaw' && n++ === 0) {
      for (const s of socks) s.destroy();
      return null;
    }
    return '{"return": 1}\n';
  });
  const lines: string[] = [];
  await whileFrozen(path, (l) => lines.push(l), async () => undefined);
  assert.equal(received, ['guest-sync-delimited', 'guest-fsfreeze-freeze', 'guest-fsfreeze-thaw', 'guest-sync-delimited', 'guest-fsfreeze-thaw']);
  assert.match(lines[1]!, /^filesystems thawed \(1\)/);
});

S.run();
A.run();
C.run();
P.run();
W.run();
