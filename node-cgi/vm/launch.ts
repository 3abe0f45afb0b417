/**
 * Launching a guest's QEMU and knowing when it is up. QEMU runs sandboxed
 * (vm/qemu-args.ts), which rules out -daemonize, so its launcher (the root
 * helper on a separated node, the CGI itself on a direct one) starts it in
 * a session of its own with its stdin and stdout on a QMP monitor, and
 * talks to it there:
 *
 *   ← {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, …}, "capabilities": ["oob"]}}
 *   → {"execute": "qmp_capabilities"}
 *   ← {"return": {}}
 *
 * The greeting comes as soon as the monitor exists, before QEMU has set up
 * its devices (measured, QEMU 7.2: a `-device` that cannot find its drive
 * fails after the greeting). The answer to qmp_capabilities comes from the
 * main loop, which runs only once everything is set up: a QEMU that fails
 * to start (a disk it may not open, KVM refusing the CPU) has exited with
 * its error on stderr instead. Then the launcher lets go of the pipes
 * (QEMU closes the monitor at EOF, ignores SIGPIPE, and drops later output
 * on stderr as -daemonize dropped it) and returns QEMU's pid. Measured:
 * ready 40–60 ms after the spawn (TCG, 32 MiB).
 */
import { spawn } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { HttpError } from '../lib/errors';
import { ExecError } from '../lib/exec';
import { isoFile } from '../lib/paths';
import { diskPath, vmFiles } from './files';
import { attachTap } from './host';
import { KVM_ERROR_RE } from './kvm-probe';
import { netPlan, qemuArgs } from './qemu-args';
import type { Accelerator, NicRuntime, VmConfig } from './types';

/** Bytes of QEMU's stderr kept for the error of a failed start. */
const STDERR_TAIL_BYTES = 4096;

export interface LaunchOptions {
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  /** The process's umask while QEMU is spawned: what its sockets, serial log and screendumps get (0o007: the group shares them). */
  umask?: number;
  /** A command that runs QEMU's argv as another user and execs it (setpriv …): QEMU keeps its pid. */
  as?: readonly string[];
}

/** What a line of the ready monitor is: QMP's greeting, the answer to qmp_capabilities, or anything else. */
export function readyLine(line: string): 'greeting' | 'ready' | 'other' {
  try {
    const v = JSON.parse(line) as { QMP?: { version?: unknown }; return?: unknown };
    if (typeof v?.QMP?.version === 'object' && v.QMP.version !== null) return 'greeting';
    if (v && typeof v === 'object' && 'return' in v) return 'ready';
    return 'other';
  } catch {
    return 'other';
  }
}

/**
 * Spawn QEMU's `argv` (behind `o.as` when given) and resolve with its pid
 * once its main loop answers; throws an ExecError with QEMU's stderr when it exits
 * first or does not greet in time (then it is killed).
 */
export function launchQemu(argv: readonly string[], o: LaunchOptions): Promise<number> {
  const [cmd, ...args] = [...(o.as ?? []), ...argv];
  if (!cmd) throw new Error('empty argv');
  const before = o.umask === undefined ? undefined : process.umask(o.umask);
  let child;
  try {
    child = spawn(cmd, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: o.env, cwd: '/' });
  } finally {
    if (before !== undefined) process.umask(before);
  }
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let done = false;
    const finish = (e: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      if (e) {
        reject(e);
        return;
      }
      child.stdin.end();
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      resolve(child.pid!);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new ExecError(argv, null, err, `did not come up within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    let greeted = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      for (let nl = out.indexOf('\n'); nl >= 0 && !done; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const kind = readyLine(line);
        if (kind === 'greeting' && !greeted) {
          greeted = true;
          child.stdin.write('{"execute": "qmp_capabilities"}\n');
        } else if (kind === 'ready' && greeted) {
          finish(null);
        } else {
          child.kill('SIGKILL');
          finish(new ExecError(argv, null, err, `said ${JSON.stringify(line.slice(0, 80))} on its ready monitor`));
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      err = (err + chunk).slice(-STDERR_TAIL_BYTES);
    });
    child.on('error', (e: NodeJS.ErrnoException) => finish(new ExecError(argv, null, e.message, e.code === 'ENOENT' ? 'is not installed' : 'could not be started')));
    // 'close' comes after stderr is read to its end: the reason is in it.
    child.on('close', (code, signal) => finish(new ExecError(argv, code, err, signal ? `was killed by ${signal} before it came up` : `failed (exit ${code})`)));
  });
}

/** How taps come to be on this node: made for the QEMU user by root beforehand, or by QEMU itself (direct, as root). */
export interface TapHooks {
  /** Make the taps before QEMU opens them (none: QEMU makes its own). */
  create(ifnames: readonly string[]): Promise<void>;
  /** Remove them again (a start that failed, a stop). */
  remove(ifnames: readonly string[]): Promise<void>;
}

export interface GuestLaunchOptions {
  accel: Accelerator;
  /** The bridges that exist (host.ts existingBridges). */
  bridges: ReadonlySet<string>;
  taps: TapHooks;
  /** See LaunchOptions. */
  as?: readonly string[];
  umask?: number;
  env: NodeJS.ProcessEnv;
  /** Record QEMU's pid where the node reads it (files.pid); the helper writes it as the node's user. */
  recordPid(pid: number): void;
  /** End the QEMU of a start that failed after its launch. */
  kill(pid: number): void;
  /** A guest arriving by live migration (qemu-args.ts QemuEnv.incoming). */
  incoming?: boolean;
}

/**
 * Start a checked config's QEMU: its taps first, QEMU until it greets, its
 * pid recorded, then each tap put into its bridge and brought up. A start
 * that fails leaves no QEMU and no tap. The shared core of the root
 * helper's start-guest and of a direct node's start.
 */
export async function launchGuest(cfg: VmConfig, o: GuestLaunchOptions): Promise<{ pid: number; net: NicRuntime[] }> {
  const files = vmFiles(cfg.vmid);
  const argv = qemuArgs(cfg, { accel: o.accel, files, diskPath: (d) => diskPath(cfg.vmid, d), isoPath: isoFile, bridges: o.bridges, incoming: o.incoming === true });
  const net = netPlan(cfg, o.bridges);
  const taps = net.filter((n) => n.mode === 'tap').map((n) => ({ ifname: n.ifname!, bridge: n.bridge }));
  const ifnames = taps.map((t) => t.ifname);
  await o.taps.create(ifnames);
  let pid: number;
  try {
    pid = await launchQemu(argv, { timeoutMs: QEMU_START_TIMEOUT_MS, env: o.env, ...(o.as ? { as: o.as } : {}), ...(o.umask !== undefined ? { umask: o.umask } : {}) });
  } catch (e) {
    await o.taps.remove(ifnames).catch(() => undefined);
    throw e instanceof ExecError ? launchError(cfg.vmid, o.accel, e) : e;
  }
  try {
    o.recordPid(pid);
    for (const t of taps) await attachTap(t.ifname, t.bridge);
  } catch (e) {
    o.kill(pid);
    await o.taps.remove(ifnames).catch(() => undefined);
    throw e;
  }
  return { pid, net };
}

/** Time QEMU gets to come up (its greeting). */
export const QEMU_START_TIMEOUT_MS = 30_000;

const TRY_TCG = (vmid: number) => `if this host's KVM cannot run it, set its accelerator to TCG (PUT /api/vm/${vmid} {"accel": "tcg"})`;

/**
 * A QEMU that did not come up → the error to answer: under KVM, that it is
 * the host's KVM and what to do about it. KVM's complaint itself goes to
 * the task's log (`said`), never into the answer.
 */
export function launchError(vmid: number, accel: Accelerator, e: ExecError): HttpError {
  if (accel !== 'kvm' || !KVM_ERROR_RE.test(e.stderrTail)) return e;
  const line = e.stderrTail.split('\n').map((l) => l.trim()).find((l) => KVM_ERROR_RE.test(l)) ?? '';
  const err = new HttpError('exec_failed', `QEMU could not run guest ${vmid} under KVM: ${TRY_TCG(vmid)}`, e.detail);
  if (line) err.said = line;
  return err;
}

/** "4242\n" into run/ramvm/qemu/<vmid>.pid, whole or not at all. */
export function writePidRecord(file: string, pid: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
