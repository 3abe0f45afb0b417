/**
 * A guest's status from three sources, cheapest first:
 *
 *   1. run/ramvm/qemu/101.pid          no pidfile            → "stopped"
 *   2. /proc/<pid>/cmdline              not this guest's QEMU → "stopped", note: crashed
 *      (NUL-separated argv; ours has "-name web,process=ramvm-101")
 *   3. QMP query-status on 101.status.qmp
 *      {"return": {"status": "running", "singlestep": false, "running": true}}
 *      running → "running"; paused, suspended, io-error, … → "paused" (qmpStatus says which)
 *
 * QEMU removes its pidfile and QMP sockets when it exits normally, so a
 * pidfile whose process is gone means QEMU was killed or crashed. A pid can
 * be reused by another program; the cmdline check guards against that.
 * QMP reference: https://qemu-project.gitlab.io/qemu/interop/qemu-qmp-ref.html#qapidoc-1209
 */
import { readFileSync } from 'node:fs';
import { Qmp } from '../qemu/qmp';
import { processArgv } from '../lib/proc';
import { vmFiles } from './files';
import { processUptime } from './resources';
import type { Guest, VmFiles, VmState, VmStatusInfo } from './types';

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

/** The pid of a guest's QEMU from its pidfile, checked against /proc: one look. */
export function guestPid(vmid: number, files: Pick<VmFiles, 'pid'> = vmFiles(vmid)): GuestPid {
  let text: string;
  try {
    text = readFileSync(files.pid, 'utf8');
  } catch {
    return { pid: null, stale: false };
  }
  const pid = parsePidfile(text);
  if (pid === null) return { pid: null, stale: true };
  return processIsGuest(pid, vmid) ? { pid, stale: false } : { pid: null, stale: true };
}

/** Whether `pid` is the QEMU of guest `vmid` (a pid may have been reused since the pidfile was written). */
export function processIsGuest(pid: number, vmid: number): boolean {
  const argv = processArgv(pid);
  return argv !== null && isGuestCmdline(argv.join('\0'), vmid);
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

/** The status of one guest, from the pid its handle saw (then its monitor is asked). */
export async function vmStatus(g: Pick<Guest, 'vmid' | 'files' | 'pid' | 'stale'>): Promise<VmStatusInfo> {
  const { vmid, pid, stale } = g;
  if (pid === null) {
    return { vmid, status: 'stopped', qmpStatus: null, pid: null, uptime: 0, ...(stale ? { note: CRASH_NOTE } : {}) };
  }
  const qmpStatus = await probeQmpStatus(g.files.statusQmp);
  const uptime = processUptime(pid);
  if (qmpStatus === null) {
    // Alive but the monitor is silent: starting, ending or hung. Re-check the process.
    if (!processIsGuest(pid, vmid)) return { vmid, status: 'stopped', qmpStatus: null, pid: null, uptime: 0 };
    return { vmid, status: 'running', qmpStatus: null, pid, uptime, note: 'the QEMU monitor does not answer' };
  }
  const status = stateOf(qmpStatus);
  return { vmid, status, qmpStatus, pid: status === 'stopped' ? null : pid, uptime: status === 'stopped' ? 0 : uptime };
}
