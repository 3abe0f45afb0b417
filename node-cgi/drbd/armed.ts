/**
 * The armed disconnect: how a cluster backup holds its guest for the
 * disconnect alone, not for the root helper's start (sudo and a Node start
 * take seconds under TCG, the disconnect a fraction of one). Both ends of
 * one root helper call, `disconnect-on-go <vmid> <disk>…` (root/drbd.ts):
 *
 *   the CGI's task                          the root helper (root)
 *   armDisconnect(101, [0, 1])  ─ spawn ──▶ argv checked, records read and checked, each one's
 *                                           drbdsetup-84 argv made, each Connected (cstate),
 *                                           its stdin already read
 *                               ◀─ line ─── {"ready":{"resources":["vm-101-disk-0","vm-101-disk-1"]}}
 *   QMP stop; armed.go()        ─ "go" ───▶ drbdsetup-84 disconnect, all resources at once
 *                               ◀─ line ─── {"ok":{"resources":[…],"at":…,"ms":…}}  or  {"error":{…}}; it exits
 *   QMP cont                                (at, ms: when it read the go, how long it took: goParts)
 *
 * The go is one line on the helper's stdin and carries nothing but itself:
 * what the helper does was fixed by its argv and checked before it said
 * ready. A helper that gets anything else, an end of its stdin
 * (armed.dismiss(), or its caller gone), or nothing within GO_WAIT_MS
 * exits without touching a resource. The CGI side waits for each line
 * with a timeout of its own and then gives up on the helper (its caller
 * releases the guest and connects the resources again).
 */
import { spawn } from 'node:child_process';
import { HttpError } from '../lib/errors';
import { parseHelperAnswer, rootCallArgv, ROOT_CALL_TIMEOUT_MS, separation } from '../lib/separation';
import { DRBD_STEP_TIMEOUT_MS } from './commands';
import { GO_LINE, wallMs, type ArmedAnswer } from './go';

export { GO_LINE, GO_WAIT_MS, readyLine, waitForGo, type ArmedAnswer } from './go';

/** A go done, in parts, ms: the go on its way to the helper, the helper's disconnects, its answer on the way back (NaN where the helper told no times). */
export interface GoDone {
  resources: string[];
  toHelperMs: number;
  helperMs: number;
  backMs: number;
}

/**
 * The parts of a go from the wall-clock times the CGI wrote it (`sentAt`) and
 * read the answer (`answeredAt`), and the helper's own `at` and `ms`:
 *
 *   goParts(1000, { resources, at: 1002.5, ms: 30 }, 1040) → { toHelperMs: 2.5, helperMs: 30, backMs: 7.5 }
 */
export function goParts(sentAt: number, a: { resources: string[]; at?: unknown; ms?: unknown }, answeredAt: number): GoDone {
  const told = typeof a.at === 'number' && typeof a.ms === 'number';
  const at = told ? (a.at as number) : NaN;
  const ms = told ? (a.ms as number) : NaN;
  return { resources: a.resources, toHelperMs: at - sentAt, helperMs: ms, backMs: answeredAt - at - ms };
}

/** How long the CGI waits for the helper's answer after the go, ms: a disconnect per resource, each bounded by drbdadm's timeout. */
export const GO_ANSWER_TIMEOUT_MS = DRBD_STEP_TIMEOUT_MS;
/** Longest stdout or stderr of the helper kept, characters. */
const OUTPUT_MAX_CHARS = 256 * 1024;

/** A stdout line → the resources of a ready line; null for any other line (the final answer). */
export function parseReadyLine(line: string): string[] | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  const r = (v as { ready?: { resources?: unknown } } | null)?.ready?.resources;
  return Array.isArray(r) && r.every((x) => typeof x === 'string') ? (r as string[]) : null;
}

/** An armed helper, from the CGI's side. */
export interface ArmedDisconnect {
  /** The resources it will disconnect. */
  resources: string[];
  /** Send the go and wait for the answer: resolves when all are disconnected, with the go's parts (goParts); rejects with the helper's error, or a timeout. */
  go(): Promise<GoDone>;
  /** No go after all: its stdin ended, so it exits having done nothing. Harmless after the go or twice. */
  dismiss(): void;
}

export interface ArmOptions {
  /** How long the helper may take to say it is ready, ms. */
  readyTimeoutMs?: number;
  /** How long it may take to answer the go, ms. */
  answerTimeoutMs?: number;
}

/**
 * The CGI's side, for any argv that speaks the protocol: spawn it, wait
 * for its ready line (or its error: the answer it ends with). The process
 * gets PATH only, like every root helper call.
 */
export function armHelper(argv: readonly string[], o: ArmOptions = {}): Promise<ArmedDisconnect> {
  const readyTimeoutMs = o.readyTimeoutMs ?? ROOT_CALL_TIMEOUT_MS;
  const answerTimeoutMs = o.answerTimeoutMs ?? GO_ANSWER_TIMEOUT_MS;
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  let out = '';
  let err = '';
  let exited = false;
  let exitCode: number | null = null;
  // Each waiter gets the stdout lines as they come, and the exit.
  let onLine: ((line: string) => void) | null = null;
  let onExit: (() => void) | null = null;
  let seen = 0;
  const lines: string[] = [];
  p.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    if (out.length > OUTPUT_MAX_CHARS) p.stdout!.destroy();
    for (let nl = out.indexOf('\n', seen); nl >= 0; nl = out.indexOf('\n', seen)) {
      lines.push(out.slice(seen, nl));
      seen = nl + 1;
      onLine?.(lines[lines.length - 1]!);
    }
  });
  p.stderr!.on('data', (b: Buffer) => {
    if (err.length < OUTPUT_MAX_CHARS) err += b.toString();
  });
  p.stdin!.on('error', () => undefined); // a helper gone before its go: its answer says why
  p.once('close', (code) => {
    exited = true;
    exitCode = code;
    onExit?.();
  });
  p.once('error', (e) => {
    err += e.message;
    exited = true;
    onExit?.();
  });
  const failure = (what: string) => {
    const a = parseHelperAnswer<unknown>(out);
    const detail = [`exit ${exitCode}`, err.trim() && `stderr: ${err.trim().slice(0, 2000)}`].filter(Boolean).join('; ');
    return 'error' in a ? new HttpError(a.error.code, a.error.message, `${what} (${detail})`) : new HttpError('internal', `${what}: the root helper gave no answer`, detail);
  };
  /** The first line `pick` accepts, or the helper's error once it exits, or a timeout. */
  const next = <T>(pick: (line: string) => T | null, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const finish = (e: Error | null, v?: T) => {
        clearTimeout(timer);
        onLine = null;
        onExit = null;
        if (e) reject(e);
        else resolve(v as T);
      };
      const timer = setTimeout(() => finish(new HttpError('timeout', `${what}: no answer from the root helper within ${timeoutMs / 1000} s`)), timeoutMs);
      onLine = (line) => {
        const v = pick(line);
        if (v !== null) finish(null, v);
      };
      onExit = () => finish(failure(what));
      for (const l of lines) {
        const v = pick(l);
        if (v !== null) return finish(null, v);
      }
      if (exited) finish(failure(what));
    });
  const dismiss = () => {
    if (!p.stdin!.writableEnded) p.stdin!.end();
  };
  return next(parseReadyLine, readyTimeoutMs, 'arming the disconnect').then(
    (resources) => ({
      resources,
      dismiss,
      go: async () => {
        const answer = (line: string): GoDone | null => {
          if (parseReadyLine(line)) return null;
          const a = parseHelperAnswer<Partial<ArmedAnswer> | null>(line);
          return 'ok' in a ? goParts(sentAt, { ...a.ok, resources }, wallMs()) : null;
        };
        const sentAt = wallMs();
        p.stdin!.end(`${GO_LINE}\n`);
        return next(answer, answerTimeoutMs, `disconnecting ${resources.join(', ')}`);
      },
    }),
    (e) => {
      dismiss();
      throw e;
    },
  );
}

/** The root helper armed to disconnect replicated disks `disks` of guest `vmid` on the go; 409 on a node that runs direct. */
export function armDisconnect(vmid: number, disks: readonly number[], o: ArmOptions = {}): Promise<ArmedDisconnect> {
  const rec = separation();
  if (!rec) throw new HttpError('conflict', 'replicated disks need a node started as root (the root helper runs DRBD)');
  return armHelper(rootCallArgv(rec, 'disconnect-on-go', [String(vmid), ...disks.map(String)]), o);
}
