/**
 * The one place that runs external programs. Always an argv array, never a
 * shell string; a timeout; stdout collected; stderr's tail kept for the
 * error. An ExecError carries argv, exit code and stderr tail for the log,
 * and a short message for the user.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { HttpError } from './errors';

/** Default time limit of one command. */
export const EXEC_TIMEOUT_MS = 60_000;
/** Bytes of stderr kept for the error message. */
const STDERR_TAIL_BYTES = 4096;

export interface ExecOptions {
  timeoutMs?: number;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Maximum stdout kept, in bytes (default 16 MiB). */
  maxStdout?: number;
  /** Each chunk of stdout as it arrives (progress output). */
  onStdout?: (chunk: string) => void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class ExecError extends HttpError {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderrTail: string;

  constructor(argv: readonly string[], exitCode: number | null, stderrTail: string, what: string) {
    const tool = argv[0]?.split('/').pop() ?? '?';
    const lastLine = stderrTail.trim().split('\n').pop() ?? '';
    super(
      'exec_failed',
      `${tool} ${what}${lastLine ? `: ${lastLine}` : ''}`,
      `argv=${JSON.stringify(argv)} exit=${exitCode} stderr=${stderrTail}`,
    );
    this.name = 'ExecError';
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderrTail = stderrTail;
  }
}

/** Run argv to completion; throws ExecError on a non-zero exit or timeout. */
export async function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const res = await runAllowFail(argv, opts);
  if (res.code !== 0) throw new ExecError(argv, res.code, res.stderr, `failed (exit ${res.code})`);
  return res;
}

/** Run argv to completion and return its exit code instead of throwing. */
export async function runAllowFail(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const res = await collect(argv, opts);
  if (res.timedOut) throw new ExecError(argv, null, res.stderr, `timed out after ${opts.timeoutMs ?? EXEC_TIMEOUT_MS} ms`);
  return { stdout: res.stdout, stderr: res.stderr, code: res.code };
}

export interface WatchedResult extends ExecResult {
  /** The time limit ended it (SIGKILL). */
  timedOut: boolean;
  /** Its stderr matched `stopOn`, which ended it (SIGKILL). */
  stopped: boolean;
  /** Wall time from spawn to exit. */
  ms: number;
}

/**
 * Run argv and end it early (SIGKILL) when its stderr matches `stopOn` or
 * the time is up; either is reported, never thrown, with the output so far.
 * For probes whose failure shows on stderr while the process would stay.
 */
export function runWatched(argv: readonly string[], opts: ExecOptions & { stopOn?: RegExp } = {}): Promise<WatchedResult> {
  return collect(argv, opts);
}

function collect(argv: readonly string[], opts: ExecOptions & { stopOn?: RegExp }): Promise<WatchedResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('empty argv');
  const timeoutMs = opts.timeoutMs ?? EXEC_TIMEOUT_MS;
  const maxStdout = opts.maxStdout ?? 16 * 1024 * 1024; // 16 MiB
  const spawnOpts: SpawnOptions = {
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  };
  if (opts.cwd) spawnOpts.cwd = opts.cwd;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, spawnOpts);
    const out: Buffer[] = [];
    let outLen = 0;
    let errTail = '';
    let timedOut = false;
    let stopped = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      if (outLen < maxStdout) out.push(b);
      outLen += b.length;
      opts.onStdout?.(b.toString());
    });
    child.stderr!.on('data', (b: Buffer) => {
      errTail = (errTail + b.toString()).slice(-STDERR_TAIL_BYTES);
      if (opts.stopOn && !stopped && opts.stopOn.test(errTail)) {
        stopped = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ExecError(argv, null, e.message, e.code === 'ENOENT' ? 'is not installed' : 'could not be started'));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr: errTail,
        code: code ?? (signal ? 128 : 1),
        timedOut,
        stopped,
        ms: Date.now() - started,
      });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/**
 * Run argv to completion synchronously; throws ExecError on a non-zero exit
 * or timeout. Only for set-up steps that run before anything is served
 * (`ramvm init`), where the caller is synchronous.
 */
export function runSync(argv: readonly string[], opts: Pick<ExecOptions, 'timeoutMs' | 'env'> = {}): ExecResult {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('empty argv');
  const timeoutMs = opts.timeoutMs ?? EXEC_TIMEOUT_MS;
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = (r.stderr ?? '').slice(-STDERR_TAIL_BYTES);
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new ExecError(argv, null, r.error.message, code === 'ENOENT' ? 'is not installed' : code === 'ETIMEDOUT' ? `timed out after ${timeoutMs} ms` : 'could not be started');
  }
  if (r.status !== 0) throw new ExecError(argv, r.status, stderr, `failed (exit ${r.status ?? 'signal ' + r.signal})`);
  return { stdout: r.stdout, stderr, code: 0 };
}
