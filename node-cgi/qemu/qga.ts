/**
 * A client of the QEMU guest agent (qemu-ga in the guest), over the unix
 * socket QEMU backs the guest's virtio-serial port org.qemu.guest_agent.0
 * with (vm/qemu-args.ts). JSON lines, one command at a time, answers in
 * order and without ids. The channel keeps whatever an earlier client left
 * unread (an answer that came after its timeout, a half-sent command), so
 * every connection first synchronises:
 *
 *   → 0xFF                                       the agent drops any half-read command
 *   → {"execute":"guest-sync-delimited","arguments":{"id":718233}}
 *   ← {"return": {}}\n … stale answers …          skipped
 *   ← 0xFF {"return": 718233}\n                   the sentinel, then our id: in step from here
 *   → {"execute":"guest-ping"}                    ← {"return": {}}
 *   → {"execute":"guest-fsfreeze-freeze"}         ← {"return": 2}        filesystems frozen
 *   → {"execute":"guest-fsfreeze-status"}         ← {"return": "frozen"}
 *   → {"execute":"guest-fsfreeze-thaw"}           ← {"return": 2}
 *   ← {"error": {"class": "GenericError", "desc": "…"}}                   a refusal
 *
 * A guest whose agent does not run never answers: every call has a
 * timeout (the ping's short, the freeze's long: it syncs every filesystem
 * first). parseQgaStream is the pure part; the class is the socket.
 * Reference: https://qemu-project.gitlab.io/qemu/interop/qemu-ga-ref.html
 */
import { connect, type Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { AnswerQueue } from '../lib/answers';
import { HttpError } from '../lib/errors';

/** How long a ping (with the sync before it) may take: an agent that answers at all answers at once. */
export const QGA_PING_TIMEOUT_MS = 2_000;
/** How long a freeze may take: the guest syncs every filesystem first (Proxmox VE waits as long). */
export const QGA_FREEZE_TIMEOUT_MS = 60_000;
/** How long a thaw or a status may take. */
export const QGA_COMMAND_TIMEOUT_MS = 10_000;
/** The byte the agent puts before the answer to guest-sync-delimited; never part of JSON text. */
export const QGA_SENTINEL = 0xff;

export type QgaAnswer = { return: unknown } | { error: { class: string; desc: string } };

/** Where a stream is: before the sentinel (stale bytes), right after it (the sync's answer next), in step. */
export type QgaPhase = 'stale' | 'sync' | 'synced';

/** The agent's refusal of a command, with its words. */
export class QgaError extends HttpError {
  readonly qgaClass: string;
  constructor(command: string, qgaClass: string, desc: string) {
    super('exec_failed', `the guest agent refused ${command}: ${desc.slice(0, 200)}`);
    this.name = 'QgaError';
    this.qgaClass = qgaClass;
  }
}

/**
 * What the bytes `buf` from the agent hold, for a sync with `id`, from
 * `phase`: the answers after the sync's own (in order), the phase after
 * them, and the bytes of an unfinished line (to prepend to the next read).
 * Before the sync's answer everything is skipped: bytes up to a sentinel,
 * and a line after one that is not {"return": id} (an earlier client's
 * sync). A line in step that is not an answer throws, naming it.
 *
 *   parseQgaStream(Buffer.from('{"return": 5}\n\xff{"return": 42}\n{"return": {}}\n{"ret'), 42, 'stale')
 *   → { phase: 'synced', answers: [{ return: {} }], rest: Buffer.from('{"ret') }
 */
export function parseQgaStream(buf: Buffer, id: number, phase: QgaPhase): { phase: QgaPhase; answers: QgaAnswer[]; rest: Buffer } {
  const answers: QgaAnswer[] = [];
  let at = 0;
  for (;;) {
    if (phase === 'stale') {
      const s = buf.indexOf(QGA_SENTINEL, at);
      if (s < 0) return { phase, answers, rest: Buffer.alloc(0) };
      at = s + 1;
      phase = 'sync';
      continue;
    }
    const nl = buf.indexOf(0x0a, at);
    if (phase === 'sync') {
      const s = buf.indexOf(QGA_SENTINEL, at);
      // Another sentinel before the line ends: what came between was a stale sync's.
      if (s >= 0 && (nl < 0 || s < nl)) {
        at = s + 1;
        continue;
      }
    }
    if (nl < 0) return { phase, answers, rest: buf.subarray(at) };
    const line = buf.subarray(at, nl).toString('utf8').trim();
    at = nl + 1;
    if (!line) continue;
    if (phase === 'sync') {
      phase = syncedBy(line, id) ? 'synced' : 'stale';
      continue;
    }
    answers.push(parseQgaAnswer(line));
  }
}

function syncedBy(line: string, id: number): boolean {
  try {
    return (JSON.parse(line) as { return?: unknown }).return === id;
  } catch {
    return false;
  }
}

/** One line of the agent in step: {"return": …} or {"error": {class, desc}}; anything else throws with the line. */
export function parseQgaAnswer(line: string): QgaAnswer {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new HttpError('exec_failed', `the guest agent sent what is not JSON: ${line.slice(0, 200)}`);
  }
  const o = v as Record<string, unknown> | null;
  if (o && typeof o === 'object' && 'return' in o) return { return: o.return };
  const err = o && typeof o === 'object' ? (o.error as { class?: unknown; desc?: unknown } | undefined) : undefined;
  if (err && typeof err.class === 'string' && typeof err.desc === 'string') return { error: { class: err.class, desc: err.desc } };
  throw new HttpError('exec_failed', `the guest agent sent what is not an answer: ${line.slice(0, 200)}`);
}

/** The bytes that open a connection: the sentinel (the agent drops a half-read command) and the sync. */
export function qgaSyncRequest(id: number): Buffer {
  return Buffer.concat([Buffer.from([QGA_SENTINEL]), Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }) + '\n')]);
}

/** The number of filesystems a freeze or thaw answered; throws on anything else. */
export function parseFsCount(command: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new HttpError('exec_failed', `the guest agent answered ${command} with ${JSON.stringify(v)?.slice(0, 100)}, not a count of filesystems`);
  return v;
}

/** guest-fsfreeze-status's answer: "thawed" or "frozen". */
export function parseFreezeStatus(v: unknown): 'thawed' | 'frozen' {
  if (v !== 'thawed' && v !== 'frozen') throw new HttpError('exec_failed', `the guest agent answered guest-fsfreeze-status with ${JSON.stringify(v)?.slice(0, 100)}`);
  return v;
}

export class Qga {
  private phase: QgaPhase = 'stale';
  private rest: Buffer = Buffer.alloc(0);
  private readonly answers = new AnswerQueue<QgaAnswer>();

  private constructor(private readonly sock: Socket, private readonly id: number) {
    sock.on('data', (chunk: Buffer) => {
      try {
        const r = parseQgaStream(Buffer.concat([this.rest, chunk]), this.id, this.phase);
        const wasSynced = this.phase === 'synced';
        this.phase = r.phase;
        this.rest = r.rest;
        // Getting in step answers the sync, before anything after it (nothing comes before: stale bytes are dropped).
        this.answers.push(...(!wasSynced && this.phase === 'synced' ? [{ return: this.id }] : []), ...r.answers);
      } catch (e) {
        this.fail(e as Error);
      }
    });
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new HttpError('exec_failed', 'the guest agent channel closed')));
  }

  /** Connect to the agent's socket and get in step with it (guest-sync-delimited), all within `timeoutMs`. */
  static async connect(path: string, timeoutMs: number): Promise<Qga> {
    const id = randomInt(1, 2 ** 31);
    const sock = connect(path);
    const q = new Qga(sock, id);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', (e: NodeJS.ErrnoException) =>
          reject(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? new HttpError('conflict', 'the guest has no agent channel (not running, or started without agent)') : e));
      });
      sock.write(qgaSyncRequest(id));
      const a = await q.next('guest-sync-delimited', timeoutMs);
      if (!('return' in a) || a.return !== id) throw new HttpError('exec_failed', `the guest agent did not get in step (answered ${JSON.stringify(a).slice(0, 100)})`);
      return q;
    } catch (e) {
      q.close();
      throw e;
    }
  }

  private fail(e: Error): Error {
    const failure = this.answers.fail(e);
    this.sock.destroy();
    return failure;
  }

  private next(command: string, timeoutMs: number): Promise<QgaAnswer> {
    // An answer after the timeout would be out of step: the connection is done.
    return this.answers.next(timeoutMs, () => this.fail(new HttpError('timeout', `the guest agent did not answer ${command} within ${timeoutMs} ms`)));
  }

  /** Run one command; resolves with its "return" value, rejects with QgaError on its "error". */
  async execute<T = unknown>(command: string, timeoutMs: number, args?: Record<string, unknown>): Promise<T> {
    if (this.answers.failed) throw this.answers.failed;
    this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    const a = await this.next(command, timeoutMs);
    if ('error' in a) throw new QgaError(command, a.error.class, a.error.desc);
    return a.return as T;
  }

  close(): void {
    this.fail(new HttpError('exec_failed', 'the guest agent connection was closed'));
  }
}

/** Connect (the sync within `syncTimeoutMs`), run `fn`, always close. */
export async function withQga<T>(path: string, syncTimeoutMs: number, fn: (q: Qga) => Promise<T>): Promise<T> {
  const q = await Qga.connect(path, syncTimeoutMs);
  try {
    return await fn(q);
  } finally {
    q.close();
  }
}

/** Whether the agent answers a ping within QGA_PING_TIMEOUT_MS (sync included); the reason when it does not. */
export async function agentAnswers(path: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await withQga(path, QGA_PING_TIMEOUT_MS, (q) => q.execute('guest-ping', QGA_PING_TIMEOUT_MS));
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/** Freeze every filesystem of the guest: how many, and the connection (to thaw through). */
export async function freezeFilesystems(path: string): Promise<{ qga: Qga; count: number }> {
  const qga = await Qga.connect(path, QGA_PING_TIMEOUT_MS);
  try {
    return { qga, count: parseFsCount('guest-fsfreeze-freeze', await qga.execute('guest-fsfreeze-freeze', QGA_FREEZE_TIMEOUT_MS)) };
  } catch (e) {
    qga.close();
    // A freeze that timed out or failed half-way may have frozen some: thaw on a fresh connection.
    const thawFailed = await thawFilesystems(path).then(() => null, (t: Error) => t.message);
    if (thawFailed) (e as Error).message += `; the thaw after it failed too (${thawFailed}): the guest's filesystems may still be frozen`;
    throw e;
  }
}

/** Thaw every filesystem (a guest not frozen answers 0); on `qga` if it is still open, else on a new connection. */
export async function thawFilesystems(path: string, qga?: Qga): Promise<number> {
  try {
    if (qga) return parseFsCount('guest-fsfreeze-thaw', await qga.execute('guest-fsfreeze-thaw', QGA_COMMAND_TIMEOUT_MS));
  } catch {
    // The connection broke: a new one may still get through.
  } finally {
    qga?.close();
  }
  return withQga(path, QGA_PING_TIMEOUT_MS, async (q) => parseFsCount('guest-fsfreeze-thaw', await q.execute('guest-fsfreeze-thaw', QGA_COMMAND_TIMEOUT_MS)));
}

/** guest-fsfreeze-status: "thawed" or "frozen". */
export function freezeStatus(path: string): Promise<'thawed' | 'frozen'> {
  return withQga(path, QGA_PING_TIMEOUT_MS, async (q) => parseFreezeStatus(await q.execute('guest-fsfreeze-status', QGA_COMMAND_TIMEOUT_MS)));
}

/**
 * Run `take` (the instant a copy is taken) with the guest's filesystems
 * frozen, and thaw right after, whatever `take` did; the log tells how
 * many filesystems and how long each part took. A freeze the agent
 * refuses or does not finish is logged and `take` runs unfrozen (as
 * vzdump does): the copy is then what a power cut would leave.
 */
export async function whileFrozen<T>(path: string, log: (l: string) => void, take: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  let frozen: { qga: Qga; count: number };
  try {
    frozen = await freezeFilesystems(path);
  } catch (e) {
    log(`freezing the filesystems failed (${(e as Error).message}): the copy is taken without a freeze`);
    return take();
  }
  const frozenAt = performance.now();
  log(`filesystems frozen (${frozen.count}) by the guest agent in ${(frozenAt - t0).toFixed(1)} ms`);
  let tookAt = frozenAt;
  try {
    const out = await take();
    tookAt = performance.now();
    return out;
  } finally {
    const n = await thawFilesystems(path, frozen.qga).catch((e: Error) => {
      log(`THAWING THE FILESYSTEMS FAILED: ${e.message}`);
      throw e;
    });
    const end = performance.now();
    log(`filesystems thawed (${n}) in ${(end - tookAt).toFixed(1)} ms: frozen for ${(end - frozenAt).toFixed(1)} ms`);
  }
}
