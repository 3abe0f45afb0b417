/**
 * A guest's status from three sources, cheapest first:
 *
 *   1. run/ramvm/qemu/101.pid          no pid record         → "stopped"
 *   2. /proc/<pid>/cmdline              not this guest's QEMU → "stopped"; its QMP
 *      (NUL-separated argv; ours has      socket still there: note, crashed
 *      "-name web,process=ramvm-101")
 *   3. QMP query-status on 101.status.qmp
 *      {"return": {"status": "running", "singlestep": false, "running": true}}
 *      running → "running"; paused, suspended, io-error, … → "paused" (qmpStatus says which)
 *
 * A crashed guest is "paused" too (its vCPUs stopped), with a `fault` that
 * says so, because only reset and stop help (QEMU 7.2, measured):
 *
 *   internal-error   KVM gave up on the vCPU; `cont` answers "Resetting the
 *                    Virtual Machine is required"
 *   guest-panicked   the guest reported a panic (pvpanic, -action panic=pause);
 *                    `cont` would run the dead kernel on
 *   shutdown         powered off, process kept (-no-shutdown only; without it
 *                    the process is ending: "stopped"); `cont` is refused
 *
 *   system_reset in any of them → "prelaunch", then `cont` → "running".
 *
 * The pid record is written by QEMU's launcher (vm/launch.ts; QEMU's own
 * -pidfile would be readable by its user only). QEMU removes its QMP
 * sockets when it exits normally, so a record whose process is gone while
 * the work socket is still there means QEMU was killed or crashed. A pid
 * can be reused by another program; the cmdline check guards against that.
 * QMP reference: https://qemu-project.gitlab.io/qemu/interop/qemu-qmp-ref.html#qapidoc-1209
 */
import { existsSync, readFileSync } from 'node:fs';
import { Qmp } from '../qemu/qmp';
import { processArgv } from '../lib/proc';
import { readRunJson, vmFiles } from './files';
import { qemuOpt } from './qemu-args';
import { processUptime } from './resources';
import { FAULT_STATES, type Accelerator, type FaultState, type Guest, type VmFault, type VmFiles, type VmRunInfo, type VmState, type VmStatusInfo } from './types';

/** How long a status probe waits for QEMU's monitor. */
export const STATUS_PROBE_TIMEOUT_MS = 2_000;

/** "12345\n" → 12345; null for anything else. */
export function parsePidfile(text: string): number | null {
  const m = /^\s*([0-9]{1,10})\s*$/.exec(text);
  if (!m) return null;
  const pid = Number(m[1]);
  return pid > 1 ? pid : null;
}

/** Whether a NUL-separated /proc/<pid>/cmdline is the QEMU of guest `vmid`. */
export function isGuestCmdline(cmdline: string, vmid: number): boolean {
  const argv = cmdline.split('\0');
  if (!/(^|\/)qemu-system-[a-z0-9_]+$/.test(argv[0] ?? '')) return false;
  const i = argv.indexOf('-name');
  return i >= 0 && (argv[i + 1] ?? '').split(',').includes(`process=ramvm-${vmid}`);
}

/** The `return` of query-status → QEMU's run state; throws on anything else. */
export function parseQueryStatus(ret: unknown): string {
  const s = (ret as { status?: unknown } | null)?.status;
  if (typeof s !== 'string' || !/^[a-z-]+$/.test(s)) throw new Error(`unexpected query-status answer: ${JSON.stringify(ret)?.slice(0, 200)}`);
  return s;
}

/** Whether a QEMU argv keeps the process after the guest powers off (-no-shutdown, -action shutdown=pause). */
export function keepsProcessOnShutdown(argv: readonly string[]): boolean {
  return argv.some((a, i) => a === '-no-shutdown' || (a === '-action' && /(^|,)shutdown=pause(,|$)/.test(argv[i + 1] ?? '')));
}

/** What to do with a crashed guest, for messages. */
const crashActions = (vmid: number) => `reset it (POST /api/vm/${vmid}/reset) or stop it (POST /api/vm/${vmid}/stop)`;

/**
 * The fault of a QEMU run state, or undefined when the guest can go on.
 * `keepsProcess`: QEMU runs with -no-shutdown (else "shutdown" is a process
 * that is ending, not a fault).
 */
export function faultOf(qmpStatus: string, g: { vmid: number; accel?: Accelerator; keepsProcess: boolean }): VmFault | undefined {
  if (!(FAULT_STATES as readonly string[]).includes(qmpStatus)) return undefined;
  const state = qmpStatus as FaultState;
  if (state === 'shutdown' && !g.keepsProcess) return undefined;
  const act = crashActions(g.vmid);
  const fault = (message: string, kvmSuspect = false): VmFault => ({ state, message, actions: ['reset', 'stop'], kvmSuspect });
  switch (state) {
    case 'internal-error':
      if (g.accel === 'kvm') {
        return fault(
          `KVM stopped guest ${g.vmid} with an internal error: the host's KVM could not run what the guest did. ` +
            `This points at the host's KVM, not at the guest: set the guest's accelerator to TCG ` +
            `(PUT /api/vm/${g.vmid} {"accel": "tcg"}), then stop and start it. Until then, ${act}.`,
          true,
        );
      }
      return fault(`QEMU stopped guest ${g.vmid} with an internal error; ${act}.`);
    case 'guest-panicked':
      return fault(`The operating system of guest ${g.vmid} crashed (it reported a panic); its console shows the last screen. ${act[0]!.toUpperCase()}${act.slice(1)}.`);
    case 'shutdown':
      return fault(`Guest ${g.vmid} powered off, but its QEMU process was kept (-no-shutdown); ${act}.`);
  }
}

/** The 409 message for an action that cannot help a crashed guest. */
export function faultRefusal(vmid: number, fault: VmFault, action: string): string {
  return `guest ${vmid} has crashed (${fault.state}): ${action} cannot help; ${crashActions(vmid)}`;
}

/** QEMU run state → the API's three states. */
export function stateOf(qmpStatus: string): VmState {
  // "shutdown": powered off, the process is ending (no -no-shutdown).
  if (qmpStatus === 'shutdown') return 'stopped';
  if (qmpStatus === 'running') return 'running';
  // Every other state has the vCPUs stopped: paused, suspended, io-error, prelaunch, postmigrate, …
  return 'paused';
}

export interface GuestPid {
  pid: number | null;
  /** A pidfile exists but its process is not this guest's QEMU. */
  stale: boolean;
}

/** The pid of a guest's QEMU from its pid record, checked against /proc: one look. */
export function guestPid(vmid: number, files: Pick<VmFiles, 'pid' | 'qmp'> = vmFiles(vmid)): GuestPid {
  let text: string;
  try {
    text = readFileSync(files.pid, 'utf8');
  } catch {
    return { pid: null, stale: false };
  }
  const pid = parsePidfile(text);
  if (pid !== null && processIsGuest(pid, vmid)) return { pid, stale: false };
  return { pid: null, stale: pid === null || existsSync(files.qmp) };
}

/** Whether `pid` is the QEMU of guest `vmid` (a pid may have been reused since the pidfile was written). */
export function processIsGuest(pid: number, vmid: number): boolean {
  const argv = processArgv(pid);
  return argv !== null && isGuestCmdline(argv.join('\0'), vmid);
}

/**
 * Whether a QEMU argv is guest `vmid`'s of the node whose work socket is
 * `qmp` (several nodes on one machine, in tests, have a guest 101 each):
 * its -chardev of that socket is there as qemuArgs writes it.
 */
export function isGuestOfNode(argv: readonly string[], vmid: number, qmp: string): boolean {
  return isGuestCmdline(argv.join('\0'), vmid) && argv.includes(`socket,id=qmp,path=${qemuOpt(qmp)},server=on,wait=off`);
}

/** QEMU's run state from the status socket; null when the monitor does not answer in time. */
export async function probeQmpStatus(statusQmp: string, timeoutMs = STATUS_PROBE_TIMEOUT_MS): Promise<string | null> {
  let q: Qmp | undefined;
  try {
    q = await Qmp.connect(statusQmp, timeoutMs);
    return parseQueryStatus(await q.execute('query-status', undefined, timeoutMs));
  } catch {
    return null;
  } finally {
    q?.close();
  }
}

const CRASH_NOTE = 'the QEMU process ended without a shutdown (killed or crashed); the next start cleans up';
const KVM_CRASH_NOTE = `${CRASH_NOTE}. It ran under KVM: if it ends like this again, this host's KVM may not run it; set its accelerator to TCG (accel "tcg")`;


/** The status of one guest, from the pid its handle saw (then its monitor is asked). */
export async function vmStatus(g: Pick<Guest, 'vmid' | 'files' | 'pid' | 'stale'>): Promise<VmStatusInfo> {
  const { vmid, pid, stale } = g;
  if (pid === null) {
    const note = stale ? (readRunJson<VmRunInfo>(g.files.runInfo)?.accel === 'kvm' ? KVM_CRASH_NOTE : CRASH_NOTE) : undefined;
    return { vmid, status: 'stopped', qmpStatus: null, pid: null, uptime: 0, ...(note ? { note } : {}) };
  }
  const qmpStatus = await probeQmpStatus(g.files.statusQmp);
  const uptime = processUptime(pid);
  if (qmpStatus === null) {
    // Alive but the monitor is silent: starting, ending or hung. Re-check the process.
    if (!processIsGuest(pid, vmid)) return { vmid, status: 'stopped', qmpStatus: null, pid: null, uptime: 0 };
    return { vmid, status: 'running', qmpStatus: null, pid, uptime, note: 'the QEMU monitor does not answer' };
  }
  const accel = readRunJson<VmRunInfo>(g.files.runInfo)?.accel;
  const fault = faultOf(qmpStatus, { vmid, ...(accel ? { accel } : {}), keepsProcess: qmpStatus === 'shutdown' && keepsProcessOnShutdown(processArgv(pid) ?? []) });
  if (fault) return { vmid, status: 'paused', qmpStatus, pid, uptime, fault };
  const status = stateOf(qmpStatus);
  return { vmid, status, qmpStatus, pid: status === 'stopped' ? null : pid, uptime: status === 'stopped' ? 0 : uptime };
}
