/**
 * Power actions on a guest's QEMU process: start, ACPI shutdown, stop,
 * reset, pause, resume.
 *
 * Start: under the node-wide lock "vm-start" (short, synchronous) the guest
 * must not be running or being started, and its memory must fit beside the
 * running guests' (ratio in the node settings); a reservation file
 * run/ramvm/qemu/<vmid>.starting holds its memory until QEMU is up. Then
 * QEMU is launched (vm/launch.ts: it returns once QEMU greets on its ready
 * monitor, with its pid recorded in <vmid>.pid), taps join their bridges,
 * and <vmid>.run.json records what the guest was started with. On a
 * separated node (lib/separation.ts) the root helper launches it as the
 * QEMU user, with taps made for that user; on a direct node this process
 * does, as its own user, and a NIC on an existing bridge needs that user
 * to be root.
 *
 * Stop: SIGTERM (QEMU flushes the disks and exits), SIGKILL after
 * STOP_TIMEOUT_MS; on a separated node the root helper signals (the node's
 * user may not) and removes the taps. Shutdown: QMP system_powerdown (the ACPI power button);
 * the guest decides when to power off, and its QEMU process then ends.
 *
 * A crashed guest (status.ts `fault`) takes reset and stop only; resume,
 * pause and shutdown answer 409 saying so. Its reset is system_reset, which
 * leaves QEMU in "prelaunch", then `cont`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { internal, conflict, HttpError } from '../lib/errors';
import { guestRunFile, isoFile, nodeName, paths } from '../lib/paths';
import { pidExists } from '../lib/proc';
import { rootCall, separation } from '../lib/separation';
import { withLock } from '../lib/store';
import { refuseIfMigrating } from './migration-lock';
import { withQmp } from '../qemu/qmp';
import { listVmConfigs } from './config';
import { diskPath, readRunJson, runtimeFiles, vmFiles, writeRunJson } from './files';
import { mustLiveHere, pidNow, runningPid } from './guest';
import { chooseAccel } from './accel';
import { existingBridges, randomMac } from './host';
import { launchGuest, QEMU_START_TIMEOUT_MS, writePidRecord } from './launch';
import { startsPaused } from './qemu-args';
import { memoryRefusal, parseMeminfo } from './resources';
import { readNodeSettings } from './settings';
import { faultRefusal, guestPid, processIsGuest, vmStatus } from './status';
import { checkVmConfig } from './validate';
import type { Accelerator, Guest, NicRuntime, VmConfig, VmRunInfo, VmStatusInfo } from './types';

export { QEMU_START_TIMEOUT_MS };
/** Time QEMU gets to exit after SIGTERM before it is killed. */
export const STOP_TIMEOUT_MS = 10_000;
/** A start reservation older than this belongs to a start that died. */
export const START_RESERVATION_MAX_AGE_MS = 60_000;
const POLL_MS = 20;
const MIB = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const reservationFile = (vmid: number) => guestRunFile(vmid, 'starting');
/** The config of a guest arriving by live migration while the root helper starts its QEMU (startIncoming). */
export const incomingConfigFile = (vmid: number) => guestRunFile(vmid, 'incoming');

interface Reservation {
  pid: number;
  at: number;
  memory: number;
}

function liveReservation(file: string, now: number): Reservation | null {
  const r = readRunJson<Reservation>(file);
  if (!r || now - r.at > START_RESERVATION_MAX_AGE_MS) return null;
  return pidExists(r.pid) ? r : null;
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
    sum += liveReservation(reservationFile(Number(m[1])), now)?.memory ?? 0;
  }
  return sum;
}

/** True while a start of the guest is under way (its reservation is held by a live process). */
export function beingStarted(vmid: number): boolean {
  return liveReservation(reservationFile(vmid), Date.now()) !== null;
}

/** Things QEMU would fail on, said clearly before it is launched. */
function checkStartable(cfg: VmConfig): void {
  if (cfg.cdrom && !existsSync(isoFile(cfg.cdrom))) {
    throw conflict(`the CD-ROM's ISO image "${cfg.cdrom}" is no longer in the library; choose another or none`);
  }
  for (const d of cfg.disks) {
    if (!existsSync(diskPath(cfg.vmid, d))) throw conflict(`disk ${d.id} (${d.file}) of guest ${cfg.vmid} is missing`);
  }
}

/**
 * The stored config validated again before it becomes a command line: a
 * config edited by hand (or copied from elsewhere) must not put paths or
 * options into QEMU's argv that validation would refuse. The root helper
 * checks the file it reads itself the same way.
 */
export function checkedForStart(stored: VmConfig): VmConfig {
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

/**
 * Start a stopped guest; 409 when it runs, is being started, or would
 * overcommit memory. Whether it runs is looked at under the start lock
 * (another start may have come first), and its new pid once QEMU is up.
 */
export async function startVm(g: Guest): Promise<VmStatusInfo> {
  const { vmid, files } = g;
  const cfg = checkedForStart(g.config);
  mustLiveHere(g);
  refuseIfMigrating(vmid, 'start it');
  checkStartable(cfg);
  const choice = await chooseAccel(cfg.accel, readNodeSettings().accel);
  if (choice.refusal) throw conflict(choice.refusal);
  const reservation = reservationFile(vmid);
  withLock('vm-start', () => {
    const now = Date.now();
    if (pidNow(g) !== null) throw conflict(`guest ${vmid} is already running`);
    if (liveReservation(reservation, now)) throw conflict(`guest ${vmid} is being started`);
    const claimed = runningGuests().reduce((s, r) => s + r.memory, 0) + reservedMemory(vmid, now);
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
  let pid: number;
  try {
    for (const f of runtimeFiles(files)) rmSync(f, { force: true });
    const accel = choice.accel;
    const sep = separation();
    const launched = sep
      ? await rootCall<{ pid: number; net: NicRuntime[] }>(sep, 'start-guest', [String(vmid), accel])
      : await launchDirect(cfg, accel);
    const started = pidNow(g);
    if (started === null) {
      throw new HttpError('exec_failed', `QEMU of guest ${vmid} exited right after its start${accel === 'kvm' ? `; it ran under KVM: ${TRY_TCG(vmid)}` : ''}`);
    }
    pid = started;
    const net = launched.net;
    try {
      if (startsPaused(cfg)) await unplugAndRun(files.qmp, cfg);
    } catch (e) {
      await stopProcess(g, pid);
      throw e;
    }
    const info: VmRunInfo = { pid, accel, net, started: Date.now(), cdrom: cfg.cdrom };
    writeRunJson(files.runInfo, { ...info, config: cfg });
  } finally {
    rmSync(reservation, { force: true });
  }
  return vmStatus({ vmid, files, pid, stale: false });
}

const TRY_TCG = (vmid: number) => `if this host's KVM cannot run it, set its accelerator to TCG (PUT /api/vm/${vmid} {"accel": "tcg"})`;

/**
 * A direct node's start: QEMU as this process's user. As root QEMU makes
 * its taps itself (they end with it); any other user cannot make a tap,
 * so a NIC on an existing bridge is refused, saying why.
 */
async function launchDirect(cfg: VmConfig, accel: Accelerator, incoming = false): Promise<{ pid: number; net: NicRuntime[] }> {
  const bridges = existingBridges(cfg.nics.map((n) => n.bridge));
  if (bridges.size > 0 && process.getuid?.() !== 0) {
    const nic = cfg.nics.find((n) => bridges.has(n.bridge))!;
    throw conflict(`guest ${cfg.vmid}: NIC ${nic.id} is on bridge ${nic.bridge}, and a tap on it needs a node started as root (npm start as root makes one)`);
  }
  return launchGuest(cfg, {
    accel,
    bridges,
    taps: { create: async () => undefined, remove: async () => undefined },
    env: process.env,
    recordPid: (pid) => writePidRecord(vmFiles(cfg.vmid).pid, pid),
    kill: (pid) => process.kill(pid, 'SIGKILL'),
    incoming,
  });
}

/** Set the links of NICs marked `linkDown` down, then let the vCPUs run (the guest was started with -S). */
async function unplugAndRun(qmp: string, cfg: VmConfig): Promise<void> {
  await withQmp(qmp, async (q) => {
    for (const n of cfg.nics) if (n.linkDown) await q.execute('set_link', { name: n.id, up: false });
    await q.execute('cont');
  });
}

export type RunInfo = VmRunInfo & { config?: VmConfig };

/** What a running guest was started with (and the config it was started from). */
export function readRunInfo(g: Pick<Guest, 'files'>): RunInfo | undefined {
  return readRunJson<RunInfo>(g.files.runInfo);
}

/**
 * Change what a running guest runs with, when it runs: a CD changed live,
 * a disk grown or switched live, links set. Nothing happens without a run
 * record (the guest is stopped).
 */
export function updateRunInfo(g: Pick<Guest, 'files'>, fn: (info: RunInfo) => RunInfo): void {
  const info = readRunInfo(g);
  if (info) writeRunJson(g.files.runInfo, fn(info));
}

/** Lay `patch` over the config a running guest was started from (for pendingChanges). */
export function patchStartedConfig(g: Pick<Guest, 'files'>, patch: Partial<VmConfig>): void {
  updateRunInfo(g, (info) => (info.config ? { ...info, config: { ...info.config, ...patch } } : info));
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
export async function waitStopped(g: Guest, timeoutMs: number): Promise<boolean> {
  return g.pid === null ? true : waitGone(g.vmid, g.pid, timeoutMs);
}

/** End the guest's QEMU (none: `pid` null) and remove its runtime files; on a separated node the root helper ends it and removes its taps. */
async function stopProcess(g: Pick<Guest, 'vmid' | 'files'>, pid: number | null): Promise<void> {
  const { vmid } = g;
  const sep = separation();
  if (sep) await rootCall(sep, 'stop-guest', [String(vmid)]);
  else if (pid !== null) await endGuestProcess(vmid, pid, (sig) => process.kill(pid, sig));
  for (const f of runtimeFiles(g.files)) rmSync(f, { force: true });
}

/** SIGTERM, up to STOP_TIMEOUT_MS for QEMU to flush and exit, then SIGKILL; `signal` sends. Whether it had to be killed. */
export async function endGuestProcess(vmid: number, pid: number, signal: (sig: 'SIGTERM' | 'SIGKILL') => void): Promise<boolean> {
  signal('SIGTERM');
  if (await waitGone(vmid, pid, STOP_TIMEOUT_MS)) return false;
  if (processIsGuest(pid, vmid)) signal('SIGKILL');
  if (!(await waitGone(vmid, pid, STOP_TIMEOUT_MS))) throw internal(`QEMU of guest ${vmid} (pid ${pid}) does not end`);
  return true;
}

/**
 * Start QEMU for a guest that arrives by live migration: the config it will
 * have here (not yet written), its vCPUs stopped (-S) and waiting for the
 * migration stream (-incoming defer: the migration's QMP commands say
 * where). Memory was checked by the target's refusals. It is launched as a
 * start launches it: on a separated node by the root helper as the QEMU
 * user (taps made for it), which reads the config from
 * run/ramvm/qemu/<vmid>.incoming (incomingConfigFile) as the node's user.
 * Returns the pid.
 */
export async function startIncoming(cfg: VmConfig): Promise<number> {
  const { vmid } = cfg;
  const files = vmFiles(vmid);
  if (pidNow({ vmid, files }) !== null) throw conflict(`a QEMU of guest ${vmid} runs on node ${nodeName()} already`);
  const choice = await chooseAccel(cfg.accel, readNodeSettings().accel);
  if (choice.refusal) throw conflict(choice.refusal);
  mkdirSync(paths().qemuRun, { recursive: true });
  for (const f of runtimeFiles(files)) rmSync(f, { force: true });
  const sep = separation();
  let launched: { pid: number; net: NicRuntime[] };
  if (sep) {
    const file = incomingConfigFile(vmid);
    writeRunJson(file, cfg);
    try {
      launched = await rootCall<{ pid: number; net: NicRuntime[] }>(sep, 'start-guest', [String(vmid), choice.accel, 'incoming']);
    } finally {
      rmSync(file, { force: true });
    }
  } else {
    launched = await launchDirect(cfg, choice.accel, true);
  }
  const pid = pidNow({ vmid, files });
  if (pid === null) throw new HttpError('exec_failed', `QEMU of guest ${vmid} exited right after its start for the migration`);
  writeRunJson(files.runInfo, { pid, accel: choice.accel, net: launched.net, started: Date.now(), cdrom: cfg.cdrom, config: cfg } satisfies RunInfo);
  return pid;
}

/** End the QEMU of an arriving guest that will not arrive (a failed migration), and its taps; nothing when none runs. */
export async function endIncoming(vmid: number): Promise<void> {
  const files = vmFiles(vmid);
  await stopProcess({ vmid, files }, pidNow({ vmid, files }));
  for (const f of [...runtimeFiles(files), files.serialLog]) rmSync(f, { force: true });
}

/**
 * A guest whose QEMU ended by itself (it quit after moving to another
 * node): what its start made goes with it. On a separated node the root
 * helper removes its taps (made with `ip tuntap`, they outlive QEMU).
 */
export async function clearEnded(g: Pick<Guest, 'vmid' | 'files'>): Promise<void> {
  await stopProcess(g, pidNow(g));
}

/** Hard stop: QEMU ends at once (like pulling the plug, but disks are flushed). Looks at the process now. */
export async function stopVm(g: Guest): Promise<VmStatusInfo> {
  mustLiveHere(g);
  const pid = pidNow(g);
  if (pid === null) throw conflict(`guest ${g.vmid} is not running`);
  await stopProcess(g, pid);
  return vmStatus({ vmid: g.vmid, files: g.files, pid: null, stale: false });
}

/** Run one QMP command on the guest's work socket. */
export async function qmpCommand<T = unknown>(g: Guest, command: string, args?: Record<string, unknown>): Promise<T> {
  mustLiveHere(g);
  runningPid(g);
  return withQmp(g.files.qmp, (q) => q.execute<T>(command, args));
}

/** Press the ACPI power button; the guest's OS decides when to power off. */
export async function shutdownVm(g: Guest): Promise<VmStatusInfo> {
  await refuseIfCrashed(g, 'an ACPI shutdown');
  await qmpCommand(g, 'system_powerdown');
  return vmStatus(g);
}

/** 409 when the guest has crashed: `action` cannot help it. */
export async function refuseIfCrashed(g: Guest, action: string): Promise<void> {
  const { fault } = await vmStatus(g);
  if (fault) throw conflict(faultRefusal(g.vmid, fault, action));
}

/** Reset; a crashed guest comes back from QEMU's "prelaunch" with `cont`. */
export async function resetVm(g: Guest): Promise<VmStatusInfo> {
  const { fault } = await vmStatus(g);
  await qmpCommand(g, 'system_reset');
  if (fault) {
    const after = await qmpCommand<{ status: string }>(g, 'query-status');
    if (after.status !== 'prelaunch') {
      throw conflict(`guest ${g.vmid} stayed in "${after.status}" after the reset (QEMU runs with -no-reboot?); stop it and start it again`);
    }
    await qmpCommand(g, 'cont');
  }
  return vmStatus(g);
}

export async function pauseVm(g: Guest): Promise<VmStatusInfo> {
  await refuseIfCrashed(g, 'pause');
  await qmpCommand(g, 'stop');
  return vmStatus(g);
}

export async function resumeVm(g: Guest): Promise<VmStatusInfo> {
  await refuseIfCrashed(g, 'resume');
  await qmpCommand(g, 'cont');
  return vmStatus(g);
}
