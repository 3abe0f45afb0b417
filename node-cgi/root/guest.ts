/**
 * The root helper's guest operations. start-guest reads the guest's config
 * as the node's user, checks it as a start does (vm/power.ts
 * checkedForStart), builds QEMU's argv with the same qemuArgs, makes a tap
 * for each NIC on an existing bridge owned by the QEMU user, and starts
 * QEMU as that user through setpriv:
 *
 *   ip tuntap add dev tap101i0 mode tap user 997
 *   setpriv --reuid=997 --regid=998 --groups=104 --inh-caps=-all --bounding-set=-all --no-new-privs -- qemu-system-x86_64 …
 *   ip link set dev tap101i0 master vmbr0; ip link set dev tap101i0 up
 *
 * A guest arriving by live migration starts the same way, from the config
 * its target wrote for it (vm/power.ts startIncoming), with -S -incoming defer.
 *
 * QEMU then holds no capability, cannot gain one (no_new_privs), and runs
 * under its own seccomp sandbox. stop-guest signals only a process that is
 * this node's QEMU of that guest and runs as the QEMU user, then removes
 * the guest's taps (taps made with `ip tuntap` outlive QEMU).
 */
import { existsSync, readFileSync } from 'node:fs';
import { conflict, HttpError, notFound } from '../lib/errors';
import { guestConfigFile } from '../lib/paths';
import { processArgv } from '../lib/proc';
import { run } from '../lib/exec';
import type { NodeRecord } from '../lib/separation';
import {
  checkedForStart, endGuestProcess, existingBridges, incomingConfigFile, isGuestOfNode, launchGuest, NICS_MAX, parsePidfile, tapName, vmFiles, writePidRecord,
  type Accelerator, type NicRuntime, type VmConfig,
} from '../vm';
import { asUser } from './trust';

/** The PATH of everything the helper runs: root's own folders only. */
export const HELPER_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** setpriv's argv that execs a command as the QEMU user: its ids, its groups, no capabilities, no way to gain any. */
export function asQemuArgs(q: NodeRecord['qemu']): string[] {
  return [
    'setpriv', `--reuid=${q.uid}`, `--regid=${q.gid}`, q.groups.length ? `--groups=${q.groups.join(',')}` : '--clear-groups',
    '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--',
  ];
}

/** The uid a process runs as (/proc/<pid>/status "Uid:" real, effective, saved, fs: all must match); null when gone. */
export function processUid(status: string): number | null {
  const m = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(status);
  if (!m) return null;
  const ids = m.slice(1).map(Number);
  return ids.every((i) => i === ids[0]) ? ids[0]! : null;
}

/** Whether `pid` is guest `vmid`'s QEMU of this node, running as the QEMU user: the only process the helper signals. */
export function isNodesQemu(rec: NodeRecord, pid: number, vmid: number): boolean {
  const argv = processArgv(pid);
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false;
  }
  return argv !== null && processUid(status) === rec.qemu.uid && isGuestOfNode(argv, vmid, vmFiles(vmid).qmp);
}

/** The pid in the guest's pid record, read as the node's user; null when there is none. */
function recordedPid(rec: NodeRecord, vmid: number): number | null {
  const text = asUser(rec.cgi, () => {
    try {
      return readFileSync(vmFiles(vmid).pid, 'utf8');
    } catch {
      return '';
    }
  });
  return parsePidfile(text);
}

/** The taps of guest `vmid` that exist now and belong to the QEMU user (/sys/class/net/<tap>/owner). */
function guestTaps(rec: NodeRecord, vmid: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < NICS_MAX; i++) {
    const t = tapName(vmid, i);
    if (!existsSync(`/sys/class/net/${t}`)) continue;
    let owner = -1;
    try {
      owner = Number(readFileSync(`/sys/class/net/${t}/owner`, 'utf8').trim());
    } catch {
      // Not a tun device: not ours.
    }
    if (owner === rec.qemu.uid) out.push(t);
  }
  return out;
}

async function deleteLinks(names: readonly string[]): Promise<void> {
  for (const n of names) await run(['ip', 'link', 'del', 'dev', n], { timeoutMs: 10_000 });
}

/**
 * Read the guest's config as the node's user (a guest arriving by live
 * migration: the one its target wrote for this start); 404 when there is
 * none, 409 when it would not be started.
 */
function storedConfig(rec: NodeRecord, vmid: number, incoming: boolean): VmConfig {
  const text = asUser(rec.cgi, () => {
    try {
      return readFileSync(incoming ? incomingConfigFile(vmid) : guestConfigFile(vmid), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  });
  if (text === null) throw notFound(`no guest with VMID ${vmid}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw conflict(`the config of guest ${vmid} is not JSON`);
  }
  const cfg = checkedForStart(raw as VmConfig);
  if (cfg.vmid !== vmid) throw conflict(`the config file of guest ${vmid} is for guest ${cfg.vmid}`);
  return cfg;
}

export async function startGuest(rec: NodeRecord, vmid: number, accel: Accelerator, incoming = false): Promise<{ pid: number; net: NicRuntime[] }> {
  const cfg = storedConfig(rec, vmid, incoming);
  const running = recordedPid(rec, vmid);
  if (running !== null && isNodesQemu(rec, running, vmid)) throw conflict(`guest ${vmid} is already running`);
  const bridges = existingBridges(cfg.nics.map((n) => n.bridge));
  return launchGuest(cfg, {
    accel,
    bridges,
    taps: {
      create: async (names) => {
        // A tap left by a QEMU that ended on its own is the QEMU user's: made again. Another one is someone else's.
        const stale = new Set(guestTaps(rec, vmid));
        for (const n of names) {
          if (stale.has(n)) await deleteLinks([n]);
          else if (existsSync(`/sys/class/net/${n}`)) throw conflict(`network interface ${n} exists and is not a tap of the QEMU user; remove it`);
          await run(['ip', 'tuntap', 'add', 'dev', n, 'mode', 'tap', 'user', String(rec.qemu.uid)], { timeoutMs: 10_000 });
        }
      },
      remove: deleteLinks,
    },
    as: asQemuArgs(rec.qemu),
    // Sockets, serial log and screendumps for the node's user too (the group both share).
    umask: 0o007,
    env: { PATH: HELPER_PATH },
    recordPid: (pid) => asUser(rec.cgi, () => writePidRecord(vmFiles(vmid).pid, pid)),
    kill: (pid) => process.kill(pid, 'SIGKILL'),
    incoming,
  });
}

export async function stopGuest(rec: NodeRecord, vmid: number): Promise<{ wasRunning: boolean; killed: boolean }> {
  const pid = recordedPid(rec, vmid);
  let killed = false;
  const wasRunning = pid !== null && isNodesQemu(rec, pid, vmid);
  if (wasRunning) {
    killed = await endGuestProcess(vmid, pid, (sig) => {
      if (!isNodesQemu(rec, pid, vmid)) throw new HttpError('conflict', `pid ${pid} is no longer guest ${vmid}'s QEMU`);
      process.kill(pid, sig);
    });
  }
  await deleteLinks(guestTaps(rec, vmid));
  return { wasRunning, killed };
}
