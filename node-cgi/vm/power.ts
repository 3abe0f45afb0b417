/**
 * Power actions on a guest's QEMU process: start, ACPI shutdown, stop,
 * reset, pause, resume.
 *
 * Start: under the node-wide lock "vm-start" (short, synchronous) the guest
 * must not be running or being started, and its memory must fit beside the
 * running guests' (ratio in the node settings); a reservation file
 * run/ramvm/qemu/<vmid>.starting holds its memory until QEMU is up. Then
 * QEMU is launched with -daemonize (it returns once the pidfile and sockets
 * exist), taps join their bridges, and <vmid>.run.json records what the
 * guest was started with.
 *
 * Stop: SIGTERM (QEMU flushes the disks and exits), SIGKILL after
 * STOP_TIMEOUT_MS. Shutdown: QMP system_powerdown (the ACPI power button);
 * the guest decides when to power off, and its QEMU process then ends.
 *
 * A crashed guest (status.ts `fault`) takes reset and stop only; resume,
 * pause and shutdown answer 409 saying so. Its reset is system_reset, which
 * leaves QEMU in "prelaunch", then `cont`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, HttpError } from '../lib/errors';
import { ExecError, run } from '../lib/exec';
import { nodeName, paths } from '../lib/paths';
import { withLock } from '../lib/store';
import { withQmp } from '../qemu/qmp';
import { readVmConfig, listVmConfigs } from './config';
import { diskPath, isoPath, readRunJson, runtimeFiles, vmFiles, writeRunJson } from './files';
import { chooseAccel } from './accel';
import { attachTap, existingBridges, randomMac } from './host';
import { KVM_ERROR_RE } from './kvm-probe';
import { netPlan, qemuArgs, startsPaused } from './qemu-args';
import { memoryRefusal, parseMeminfo } from './resources';
import { readNodeSettings } from './settings';
import { faultRefusal, guestPid, processIsGuest, vmStatus } from './status';
import { checkVmConfig } from './validate';
import type { VmConfig, VmRunInfo, VmStatusInfo } from './types';

/** Time QEMU gets to set up and daemonize. */
export const QEMU_START_TIMEOUT_MS = 30_000;
/** Time QEMU gets to exit after SIGTERM before it is killed. */
export const STOP_TIMEOUT_MS = 10_000;
/** A start reservation older than this belongs to a start that died. */
export const START_RESERVATION_MAX_AGE_MS = 60_000;
const POLL_MS = 20;
const MIB = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const reservationFile = (vmid: number) => join(paths().qemuRun, `${vmid}.starting`);

interface Reservation {
  pid: number;
  at: number;
  memory: number;
}

function liveReservation(file: string, now: number): Reservation | null {
  const r = readRunJson<Reservation>(file);
  if (!r || now - r.at > START_RESERVATION_MAX_AGE_MS) return null;
  try {
    process.kill(r.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return null;
  }
  return r;
}

/** Guests of this node whose QEMU runs (running or paused), with their memory in MiB. */
export function runningGuests(): { vmid: number; memory: number; pid: number }[] {
  const out: { vmid: number; memory: number; pid: number }[] = [];
  for (const cfg of listVmConfigs()) {
    if (cfg.node !== nodeName()) continue;
    const { pid } = guestPid(cfg.vmid);
    if (pid !== null) out.push({ vmid: cfg.vmid, memory: cfg.memory, pid });
  }
  return out;
}

/** Memory (MiB) of guests being started right now, other than `vmid`. */
function reservedMemory(exceptVmid: number, now: number): number {
  let sum = 0;
  let names: string[] = [];
  try {
    names = readdirSync(paths().qemuRun);
  } catch {
    return 0;
  }
  for (const n of names) {
    const m = /^([0-9]+)\.starting$/.exec(n);
    if (!m || Number(m[1]) === exceptVmid) continue;
    sum += liveReservation(join(paths().qemuRun, n), now)?.memory ?? 0;
  }
  return sum;
}

function mustLiveHere(cfg: VmConfig): void {
  if (cfg.node !== nodeName()) throw conflict(`guest ${cfg.vmid} lives on node ${cfg.node}, not on ${nodeName()}`);
}

/** Things QEMU would fail on, said clearly before it is launched. */
function checkStartable(cfg: VmConfig): void {
  if (cfg.cdrom && !existsSync(isoPath(cfg.cdrom))) {
    throw conflict(`the CD-ROM's ISO image "${cfg.cdrom}" is no longer in the library; choose another or none`);
  }
  for (const d of cfg.disks) {
    if (!existsSync(diskPath(cfg.vmid, d))) throw conflict(`disk ${d.id} (${d.file}) of guest ${cfg.vmid} is missing`);
  }
}

/**
 * The stored config validated again before it becomes a command line: a
 * config edited by hand (or copied from elsewhere) must not put paths or
 * options into QEMU's argv that validation would refuse.
 */
function checkedForStart(stored: VmConfig): VmConfig {
  const { config, issues } = checkVmConfig(stored, {
    node: stored.node,
    isos: null,
    macsTaken: new Set(),
    newMac: randomMac,
    now: Date.now(),
    mode: 'update',
  });
  if (!config) throw conflict(`the config of guest ${stored.vmid} is invalid (${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}); correct it with PUT /api/vm/${stored.vmid}`);
  return config;
}

/** Start a stopped guest; 409 when it runs, is being started, or would overcommit memory. */
export async function startVm(vmid: number): Promise<VmStatusInfo> {
  const cfg = checkedForStart(readVmConfig(vmid));
  mustLiveHere(cfg);
  checkStartable(cfg);
  const choice = await chooseAccel(cfg.accel, readNodeSettings().accel);
  if (choice.refusal) throw conflict(choice.refusal);
  const files = vmFiles(vmid);
  const reservation = reservationFile(vmid);
  withLock('vm-start', () => {
    const now = Date.now();
    if (guestPid(vmid).pid !== null) throw conflict(`guest ${vmid} is already running`);
    if (liveReservation(reservation, now)) throw conflict(`guest ${vmid} is being started`);
    const claimed = runningGuests().reduce((s, g) => s + g.memory, 0) + reservedMemory(vmid, now);
    const refusal = memoryRefusal({
      total: parseMeminfo(readFileSync('/proc/meminfo', 'utf8')).total,
      claimed: claimed * MIB,
      want: cfg.memory * MIB,
      ratio: readNodeSettings().memoryOvercommit,
    });
    if (refusal) throw conflict(refusal);
    mkdirSync(paths().qemuRun, { recursive: true });
    writeRunJson(reservation, { pid: process.pid, at: now, memory: cfg.memory } satisfies Reservation);
  });
  try {
    for (const f of runtimeFiles(vmid)) rmSync(f, { force: true });
    const accel = choice.accel;
    const bridges = existingBridges(cfg.nics.map((n) => n.bridge));
    const argv = qemuArgs(cfg, {
      accel,
      files,
      diskPath: (d) => diskPath(vmid, d),
      isoPath,
      bridges,
    });
    try {
      await run(argv, { timeoutMs: QEMU_START_TIMEOUT_MS });
    } catch (e) {
      throw accel === 'kvm' && e instanceof ExecError && KVM_ERROR_RE.test(e.stderrTail) ? kvmStartError(vmid, e) : e;
    }
    const { pid } = guestPid(vmid);
    if (pid === null) {
      throw new HttpError(500, 'exec_failed', `QEMU of guest ${vmid} exited right after its start${accel === 'kvm' ? `; it ran under KVM: ${TRY_TCG(vmid)}` : ''}`);
    }
    const net = netPlan(cfg, bridges);
    try {
      for (const n of net) if (n.mode === 'tap') await attachTap(n.ifname!, n.bridge);
      if (startsPaused(cfg)) await unplugAndRun(files.qmp, cfg);
    } catch (e) {
      await stopProcess(vmid, pid);
      throw e;
    }
    const info: VmRunInfo = { pid, accel, net, started: Date.now(), cdrom: cfg.cdrom };
    writeRunJson(files.runInfo, { ...info, config: cfg });
  } finally {
    rmSync(reservation, { force: true });
  }
  return vmStatus(vmid);
}

const TRY_TCG = (vmid: number) => `if this host's KVM cannot run it, set its accelerator to TCG (PUT /api/vm/${vmid} {"accel": "tcg"})`;

/** QEMU refused to start under KVM: say that it is the host's KVM, and what to do. */
function kvmStartError(vmid: number, e: ExecError): HttpError {
  const line = e.stderrTail.split('\n').map((l) => l.trim()).find((l) => KVM_ERROR_RE.test(l)) ?? '';
  return new HttpError(500, 'exec_failed', `QEMU could not run guest ${vmid} under KVM (${line}): ${TRY_TCG(vmid)}`, e.detail);
}

/** Set the links of NICs marked `linkDown` down, then let the vCPUs run (the guest was started with -S). */
async function unplugAndRun(qmp: string, cfg: VmConfig): Promise<void> {
  await withQmp(qmp, async (q) => {
    for (const n of cfg.nics) if (n.linkDown) await q.execute('set_link', { name: n.id, up: false });
    await q.execute('cont');
  });
}

/** What a running guest was started with (and the config it was started from). */
export function readRunInfo(vmid: number): (VmRunInfo & { config?: VmConfig }) | undefined {
  return readRunJson<VmRunInfo & { config?: VmConfig }>(vmFiles(vmid).runInfo);
}

async function waitGone(vmid: number, pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processIsGuest(pid, vmid)) {
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

/** Wait until a guest's QEMU has ended (e.g. after an ACPI shutdown); false on timeout. */
export async function waitStopped(vmid: number, timeoutMs: number): Promise<boolean> {
  const { pid } = guestPid(vmid);
  return pid === null ? true : waitGone(vmid, pid, timeoutMs);
}

async function stopProcess(vmid: number, pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  if (!(await waitGone(vmid, pid, STOP_TIMEOUT_MS))) {
    if (processIsGuest(pid, vmid)) process.kill(pid, 'SIGKILL');
    if (!(await waitGone(vmid, pid, STOP_TIMEOUT_MS))) throw new HttpError(500, 'internal', `QEMU of guest ${vmid} (pid ${pid}) does not end`);
  }
  for (const f of runtimeFiles(vmid)) rmSync(f, { force: true });
}

function runningPid(vmid: number): number {
  const { pid } = guestPid(vmid);
  if (pid === null) throw conflict(`guest ${vmid} is not running`);
  return pid;
}

/** Hard stop: QEMU ends at once (like pulling the plug, but disks are flushed). */
export async function stopVm(vmid: number): Promise<VmStatusInfo> {
  mustLiveHere(readVmConfig(vmid));
  await stopProcess(vmid, runningPid(vmid));
  return vmStatus(vmid);
}

/** Run one QMP command on the guest's work socket. */
export async function qmpCommand<T = unknown>(vmid: number, command: string, args?: Record<string, unknown>): Promise<T> {
  mustLiveHere(readVmConfig(vmid));
  runningPid(vmid);
  return withQmp(vmFiles(vmid).qmp, (q) => q.execute<T>(command, args));
}

/** Press the ACPI power button; the guest's OS decides when to power off. */
export async function shutdownVm(vmid: number): Promise<VmStatusInfo> {
  await refuseIfCrashed(vmid, 'an ACPI shutdown');
  await qmpCommand(vmid, 'system_powerdown');
  return vmStatus(vmid);
}

/** 409 when the guest has crashed: `action` cannot help it. */
export async function refuseIfCrashed(vmid: number, action: string): Promise<void> {
  const { fault } = await vmStatus(vmid);
  if (fault) throw conflict(faultRefusal(vmid, fault, action));
}

/** Reset; a crashed guest comes back from QEMU's "prelaunch" with `cont`. */
export async function resetVm(vmid: number): Promise<VmStatusInfo> {
  const { fault } = await vmStatus(vmid);
  await qmpCommand(vmid, 'system_reset');
  if (fault) {
    const after = await qmpCommand<{ status: string }>(vmid, 'query-status');
    if (after.status !== 'prelaunch') {
      throw conflict(`guest ${vmid} stayed in "${after.status}" after the reset (QEMU runs with -no-reboot?); stop it and start it again`);
    }
    await qmpCommand(vmid, 'cont');
  }
  return vmStatus(vmid);
}

export async function pauseVm(vmid: number): Promise<VmStatusInfo> {
  await refuseIfCrashed(vmid, 'pause');
  await qmpCommand(vmid, 'stop');
  return vmStatus(vmid);
}

export async function resumeVm(vmid: number): Promise<VmStatusInfo> {
  await refuseIfCrashed(vmid, 'resume');
  await qmpCommand(vmid, 'cont');
  return vmStatus(vmid);
}
