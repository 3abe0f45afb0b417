/**
 * A QMP client over a unix socket (QEMU Machine Protocol, JSON lines):
 *
 *   ← {"QMP": {"version": …, "capabilities": […]}}      greeting
 *   → {"execute": "qmp_capabilities"}  ← {"return": {}}
 *   → {"execute": "query-status", "id": 1}  ← {"return": {"status": "running", …}, "id": 1}
 *   ← {"event": "JOB_STATUS_CHANGE", "data": {…}, "timestamp": {…}}   any time
 *
 * A QMP socket serves one client at a time (a second gets no greeting until
 * the first leaves), so connections are short: connect, do the work, close.
 * Each guest has two sockets: `<vmid>.qmp` for work and `<vmid>.status.qmp`
 * for status probes that must never wait behind a long job.
 * Reference: https://qemu-project.gitlab.io/qemu/interop/qemu-qmp-ref.html
 */
import { connect, type Socket } from 'node:net';
import { HttpError } from '../lib/errors';

/** Time to connect and receive the greeting. */
export const QMP_CONNECT_TIMEOUT_MS = 5_000;
/** Default time for one command. */
export const QMP_COMMAND_TIMEOUT_MS = 30_000;
/** Pause before connecting again to a socket whose listen queue was full. */
const QMP_QUEUE_RETRY_MS = 20;

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export class QmpError extends HttpError {
  readonly qmpClass: string;
  constructor(command: string, qmpClass: string, desc: string) {
    super('exec_failed', `QEMU refused ${command}: ${desc}`);
    this.name = 'QmpError';
    this.qmpClass = qmpClass;
  }
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; command: string };

export class Qmp {
  private buf = '';
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Set<(e: QmpEvent) => void>();
  private closedError: Error | null = null;

  private constructor(private readonly sock: Socket) {}

  /**
   * Connect, read the greeting, negotiate capabilities. While QEMU serves
   * another client, one more waits in the socket's listen queue; beyond that
   * connect() fails at once with EAGAIN, so try again until the time is up.
   */
  static async connect(path: string, timeoutMs = QMP_CONNECT_TIMEOUT_MS): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await Qmp.connectOnce(path, Math.max(deadline - Date.now(), 1), timeoutMs);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        if (Date.now() >= deadline) throw new HttpError('timeout', `QEMU monitor did not answer within ${timeoutMs} ms (busy or hung)`);
        await new Promise((r) => setTimeout(r, QMP_QUEUE_RETRY_MS));
      }
    }
  }

  private static async connectOnce(path: string, leftMs: number, timeoutMs: number): Promise<Qmp> {
    const sock = connect(path);
    const q = new Qmp(sock);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new HttpError('timeout', `QEMU monitor did not answer within ${timeoutMs} ms (busy or hung)`));
      }, leftMs);
      let greeted = false;
      sock.on('data', (chunk) => {
        q.buf += chunk.toString('utf8');
        if (!greeted) {
          const nl = q.buf.indexOf('\n');
          if (nl < 0) return;
          const first = q.buf.slice(0, nl);
          q.buf = q.buf.slice(nl + 1);
          greeted = true;
          clearTimeout(timer);
          try {
            if (!('QMP' in JSON.parse(first))) throw new Error('no greeting');
          } catch {
            sock.destroy();
            reject(new Error(`not a QMP socket: ${path} (its first line: ${first.slice(0, 200)})`));
            return;
          }
          resolve();
        }
        q.drain();
      });
      sock.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        q.fail(e);
        reject(
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
            ? new HttpError('conflict', 'the guest is not running')
            : e,
        );
      });
      sock.on('close', () => q.fail(new Error('QMP connection closed')));
    });
    await q.execute('qmp_capabilities');
    return q;
  }

  private drain(): void {
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: { id?: number; return?: unknown; error?: { class: string; desc: string }; event?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (msg.event) {
        for (const l of this.listeners) l(msg as QmpEvent);
        continue;
      }
      const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
      if (!p) continue;
      this.pending.delete(msg.id!);
      clearTimeout(p.timer);
      if (msg.error) p.reject(new QmpError(p.command, msg.error.class, msg.error.desc));
      else p.resolve(msg.return);
    }
  }

  private fail(e: Error): void {
    this.closedError ??= e;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  /** Run one command; resolves with its "return" value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = QMP_COMMAND_TIMEOUT_MS): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HttpError('timeout', `QEMU did not answer ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, command });
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  }

  /** Subscribe to events; returns the unsubscribe function. */
  onEvent(fn: (e: QmpEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Wait for the first event for which `match` is true. */
  waitEvent(match: (e: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new HttpError('timeout', `no matching QEMU event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (!match(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }
}

/** Connect, run `fn`, always close. */
export async function withQmp<T>(socketPath: string, fn: (q: Qmp) => Promise<T>): Promise<T> {
  const q = await Qmp.connect(socketPath);
  try {
    return await fn(q);
  } finally {
    q.close();
  }
}
