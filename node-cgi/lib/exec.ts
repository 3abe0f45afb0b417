/**
 * The one place that runs external programs. Always an argv array, never a
 * shell string; a timeout; stdout collected; stderr's tail kept for the
 * error. An ExecError carries argv, exit code and stderr tail for the log,
 * and a short message for the user.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
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
export function runAllowFail(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('empty argv');
  const timeoutMs = opts.timeoutMs ?? EXEC_TIMEOUT_MS;
  const maxStdout = opts.maxStdout ?? 16 * 1024 * 1024; // 16 MiB
  const spawnOpts: SpawnOptions = {
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  };
  if (opts.cwd) spawnOpts.cwd = opts.cwd;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, spawnOpts);
    const out: Buffer[] = [];
    let outLen = 0;
    let errTail = '';
    let timedOut = false;
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
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ExecError(argv, null, e.message, e.code === 'ENOENT' ? 'is not installed' : 'could not be started'));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new ExecError(argv, null, errTail, `timed out after ${timeoutMs} ms`));
        return;
      }
      resolve({ stdout: Buffer.concat(out).toString(), stderr: errTail, code: code ?? (signal ? 128 : 1) });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}
