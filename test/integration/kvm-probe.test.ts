/**
 * The KVM probe's QEMU does not outlive a caller killed halfway. A child
 * process probes through vm/accel.ts (probeHostAccel, the argv of
 * vm/kvm-probe.ts probeArgs) and is killed with SIGKILL while the probe's
 * QEMU runs under this host's KVM, where the firmware stops at "KVM
 * internal error" and QEMU then waits for good (FACTS "This host's KVM"):
 * only the caller ended it, on that line. The QEMU must be gone within
 * PROBE_KILL_AFTER_S. Twice: with this host's GNU timeout (QEMU is the
 * child of `timeout`, which outlives the caller and kills it at the bound),
 * and with busybox's, as on a node (QEMU is the caller's own child, and
 * --pdeathsig kills it with the caller). Every QEMU found is killed by its
 * pid at the end, whatever the test said.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ROOT } from '../../build/build';
import { kvmDeviceError } from '../../node-cgi/vm/accel';
import { PROBE_KILL_AFTER_S } from '../../node-cgi/vm/kvm-probe';

const T = suite('KVM probe: a killed caller');

/** How long QEMU may take to show up under a loaded machine. */
const APPEAR_TIMEOUT_MS = 60_000;
/** The bound, with room for a loaded machine. */
const GONE_TIMEOUT_MS = PROBE_KILL_AFTER_S * 1000 + 30_000;
const POLL_MS = 50;

let dir: string;
const started: number[] = [];
const children: ChildProcess[] = [];

T.before(() => {
  assert.is(kvmDeviceError(), null, 'this test needs a KVM device that opens (it does on the build host: FACTS "This host\'s KVM")');
  dir = mkdtempSync(join(tmpdir(), 'ramvm-kvm-probe-'));
});
T.after(() => {
  for (const pid of started) {
    try {
      if (isQemuOf(pid, dir)) process.kill(pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const argvOf = (pid: number | string): string[] => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};
/** State letter and parent of a process ("Z" for a zombie); null when there is none. */
function statOf(pid: number): { state: string; ppid: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return null;
  }
}
/** `pid` is a QEMU of ours (its firmware lies under `under`), and not a zombie. */
function isQemuOf(pid: number, under: string): boolean {
  const a = argvOf(pid);
  return basename(a[0] ?? '') === 'qemu-system-x86_64' && a.some((x) => x.startsWith(under)) && statOf(pid)?.state !== 'Z';
}
/** The QEMU of a KVM run whose firmware lies under `under`, once it runs. */
function kvmQemu(under: string): number | null {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const a = argvOf(e);
    if (isQemuOf(Number(e), under) && a[a.indexOf('-accel') + 1] === 'kvm') return Number(e);
  }
  return null;
}

/** A process that runs the probe through the product's code, its verdict file in `file` (the firmware beside it). */
function prober(file: string, env: NodeJS.ProcessEnv): ChildProcess {
  const script = `require('./node-cgi/vm/accel').probeHostAccel({ file: process.env.PROBE_FILE }).then((v) => console.log(JSON.stringify(v)));`;
  const child = spawn(process.execPath, ['-r', 'esbuild-register', '-e', script], { cwd: ROOT, env: { ...env, PROBE_FILE: file }, stdio: 'ignore' });
  children.push(child);
  return child;
}

/** Start a prober, kill it once its KVM run's QEMU runs; that QEMU's pid and its parent then. */
async function killMidProbe(name: string, env: NodeJS.ProcessEnv = process.env): Promise<{ qemu: number; parent: number; caller: number }> {
  const file = join(dir, name, 'accel.json');
  const child = prober(file, env);
  const deadline = Date.now() + APPEAR_TIMEOUT_MS;
  let qemu: number | null = null;
  while (qemu === null) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the prober ended (${child.exitCode ?? child.signalCode}) before its KVM run was seen`);
    if (Date.now() > deadline) throw new Error(`no KVM run of the probe within ${APPEAR_TIMEOUT_MS} ms`);
    qemu = kvmQemu(`${file}.`);
    if (qemu === null) await sleep(POLL_MS);
  }
  started.push(qemu);
  const parent = statOf(qemu)!.ppid;
  child.kill('SIGKILL');
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
  return { qemu, parent, caller: child.pid! };
}

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isQemuOf(pid, dir)) return true;
    await sleep(200);
  }
  return !isQemuOf(pid, dir);
}

T("should end the probe's QEMU at the bound when its caller is killed halfway, with GNU timeout (a Debian host)", async () => {
  const { qemu, parent, caller } = await killMidProbe('gnu');
  assert.is.not(parent, caller, 'QEMU runs under timeout, not as the caller\'s own child');
  assert.match(argvOf(parent).join(' '), /^timeout -s KILL \d+ /);
  assert.ok(await goneWithin(qemu, GONE_TIMEOUT_MS), `QEMU ${qemu} still runs ${GONE_TIMEOUT_MS / 1000} s after its caller was killed`);
});

T("should end the probe's QEMU with its caller, with busybox's timeout (a node)", async () => {
  const bin = join(dir, 'busybox-bin');
  const busybox = ['/usr/bin/busybox', '/bin/busybox'].find(existsSync);
  assert.ok(busybox, 'busybox is installed');
  mkdirSync(bin);
  symlinkSync(busybox!, join(bin, 'timeout'));
  const { qemu, parent, caller } = await killMidProbe('busybox', { ...process.env, PATH: `${bin}:${process.env.PATH}` });
  assert.is(parent, caller, 'busybox runs QEMU in the caller\'s own child: its parent death signal is the caller\'s');
  assert.ok(await goneWithin(qemu, GONE_TIMEOUT_MS), `QEMU ${qemu} still runs ${GONE_TIMEOUT_MS / 1000} s after its caller was killed`);
});

T.run();
