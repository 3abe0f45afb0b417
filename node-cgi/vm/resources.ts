/**
 * Resource figures of guests and of the node, from /proc and the disk
 * images, and the memory check that refuses a start that would overcommit.
 *
 *   /proc/<pid>/stat    "16849 (qemu-system-x86) S 1 … 412 37 … 1095381 …"
 *                       utime (field 14) + stime (15) in ticks; starttime is field 22
 *   /proc/<pid>/status  "VmRSS:     34884 kB"
 *   /proc/stat          "cpu  31950 0 35136 132034 16311 0 5615 0 0 0" (ticks: user nice system idle iowait irq softirq steal …)
 *   /proc/meminfo       "MemTotal:       24683620 kB" / "MemAvailable:   24162848 kB"
 *
 * CPU use needs two readings: the last one is kept in the run folder
 * (<vmid>.cpu.json, node.cpu.json) and each read computes the use since
 * then. Without an earlier reading a guest shows its average since start.
 */
import { readFileSync, statSync, statfsSync } from 'node:fs';
import { formatBytes } from '../lib/format';
import { paths } from '../lib/paths';
import { diskPath, readRunJson, vmFiles, writeRunJson } from './files';
import { parseSize } from '../lib/validate';
import type { DiskUsage, VmConfig, VmResources } from './types';

/** USER_HZ: /proc times are in these ticks on Linux (x86: always 100). */
export const CLOCK_TICKS_PER_S = 100;
/** A reading older than this is too old to difference against. */
export const CPU_SAMPLE_MAX_AGE_MS = 60_000;
/** A reading younger than this is too close to difference against (noise); it is kept instead. */
export const CPU_SAMPLE_MIN_AGE_MS = 250;
const MIB = 1024 * 1024;

export interface ProcStat {
  comm: string;
  state: string;
  /** utime + stime, ticks. */
  cpuTicks: number;
  /** Ticks after boot. */
  startTicks: number;
}

/** /proc/<pid>/stat; the command may contain spaces and parentheses, so fields count from the last ")". */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  const f = text.slice(close + 2).trim().split(/\s+/);
  // f[0] is field 3 (state); field n is f[n - 3].
  const num = (n: number) => {
    const v = Number(f[n - 3]);
    if (!Number.isFinite(v)) throw new Error(`/proc/<pid>/stat field ${n} is not a number: ${text.slice(0, 80)}`);
    return v;
  };
  return { comm: text.slice(open + 1, close), state: f[0] ?? '?', cpuTicks: num(14) + num(15), startTicks: num(22) };
}

/** Seconds a process has run, from /proc/<pid>/stat field 22 and /proc/uptime; 0 when unknown. */
export function processUptime(pid: number): number {
  try {
    const { startTicks } = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const up = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Math.max(0, Math.floor(up - startTicks / CLOCK_TICKS_PER_S));
  } catch {
    return 0;
  }
}

/** "VmRSS:     34884 kB" from /proc/<pid>/status → bytes (0 when absent, e.g. a zombie). */
export function parseRssBytes(status: string): number {
  const m = /^VmRSS:\s+([0-9]+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** /proc/meminfo → bytes of MemTotal and MemAvailable. */
export function parseMeminfo(text: string): { total: number; available: number } {
  const kb = (k: string) => {
    const m = new RegExp(`^${k}:\\s+([0-9]+) kB$`, 'm').exec(text);
    if (!m) throw new Error(`/proc/meminfo has no ${k}`);
    return Number(m[1]) * 1024;
  };
  return { total: kb('MemTotal'), available: kb('MemAvailable') };
}

/** The "cpu" line of /proc/stat → busy and total ticks (iowait counts as idle). */
export function parseCpuTotals(text: string): { busy: number; total: number } {
  const m = /^cpu\s+([0-9 ]+)$/m.exec(text);
  if (!m) throw new Error('/proc/stat has no cpu line');
  const v = m[1]!.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export interface CpuSample {
  at: number;
  ticks: number;
  /** What the sample belongs to (a pid): a new process starts over. */
  of: number;
}

/**
 * Share of `capacity` CPUs used between two readings (ticks are 1/100 s).
 * Without a usable earlier reading, `fallback` answers instead.
 */
export function cpuShare(prev: CpuSample | undefined, now: CpuSample, capacity: number, fallback: () => number): number {
  const age = prev ? now.at - prev.at : -1;
  if (!prev || prev.of !== now.of || age < CPU_SAMPLE_MIN_AGE_MS || age > CPU_SAMPLE_MAX_AGE_MS || now.ticks < prev.ticks) return fallback();
  const seconds = (now.ticks - prev.ticks) / CLOCK_TICKS_PER_S;
  return round3(seconds / (age / 1000) / capacity);
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Remember a reading unless the previous one is still too young to difference against. */
function keepSample(file: string, prev: CpuSample | undefined, now: CpuSample): void {
  if (prev && prev.of === now.of && now.at - prev.at < CPU_SAMPLE_MIN_AGE_MS) return;
  writeSample(file, now);
}

/** Readings are best effort: a read-only run folder must not fail a list. */
function writeSample(file: string, value: object): void {
  try {
    writeRunJson(file, value);
  } catch {
    /* best effort */
  }
}

/** Virtual size and allocated bytes of each disk of a guest. */
export function diskUsage(vm: VmConfig): DiskUsage[] {
  return vm.disks.map((d) => {
    let allocated = 0;
    try {
      allocated = statSync(diskPath(vm.vmid, d)).blocks * 512;
    } catch {
      // A missing image counts as nothing allocated; start will say it is missing.
    }
    return { id: d.id, size: parseSize(d.size), allocated };
  });
}

/** Figures of one guest; `pid` null when it is stopped. */
export function guestResources(vm: VmConfig, pid: number | null, uptime: number, now = Date.now()): VmResources {
  const disks = diskUsage(vm);
  const cpus = vm.sockets * vm.cores;
  const base: VmResources = {
    cpu: 0,
    cpus,
    mem: 0,
    maxmem: vm.memory * MIB,
    disk: disks.reduce((s, d) => s + d.allocated, 0),
    maxdisk: disks.reduce((s, d) => s + d.size, 0),
    uptime,
  };
  if (pid === null) return base;
  try {
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    base.mem = parseRssBytes(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const file = vmFiles(vm.vmid).cpuSample;
    const prev = readRunJson<CpuSample>(file);
    const sample: CpuSample = { at: now, ticks: stat.cpuTicks, of: pid };
    base.cpu = cpuShare(prev, sample, cpus, () => (uptime > 0 ? round3(stat.cpuTicks / CLOCK_TICKS_PER_S / uptime / cpus) : 0));
    keepSample(file, prev, sample);
  } catch {
    // The process ended while we looked: the figures of a stopped guest.
  }
  return base;
}

/** Bytes of memory and the CPU use of the node. */
export function nodeCpuAndMemory(now = Date.now()): { usage: number; count: number; memory: { total: number; available: number } } {
  const count = cpuCount();
  const totals = parseCpuTotals(readFileSync('/proc/stat', 'utf8'));
  const file = paths().nodeCpuSample;
  const prev = readRunJson<CpuSample & { total: number }>(file);
  let usage = 0;
  if (prev && now - prev.at <= CPU_SAMPLE_MAX_AGE_MS && totals.total > prev.total) {
    usage = round3((totals.busy - prev.ticks) / (totals.total - prev.total));
  }
  if (!prev || now - prev.at >= CPU_SAMPLE_MIN_AGE_MS) writeSample(file, { at: now, ticks: totals.busy, total: totals.total, of: 0 });
  return { usage, count, memory: parseMeminfo(readFileSync('/proc/meminfo', 'utf8')) };
}

function cpuCount(): number {
  const stat = readFileSync('/proc/stat', 'utf8');
  return (stat.match(/^cpu[0-9]+ /gm) ?? []).length || 1;
}

/** Total and free bytes of the filesystem holding `dir`. */
export function diskSpace(dir: string): { total: number; free: number } {
  const s = statfsSync(dir);
  return { total: s.blocks * s.bsize, free: s.bavail * s.bsize };
}

export interface MemoryClaim {
  /** Physical memory of the node, bytes. */
  total: number;
  /** Memory of guests already running (or being started), bytes. */
  claimed: number;
  /** Memory of the guest to start, bytes. */
  want: number;
  ratio: number;
}

/** Null when the guest fits, else why not (for a 409). */
export function memoryRefusal(c: MemoryClaim): string | null {
  const limit = c.total * c.ratio;
  if (c.claimed + c.want <= limit) return null;
  return (
    `not enough memory: the guest needs ${formatBytes(c.want)}, running guests claim ${formatBytes(c.claimed)}, ` +
    `and this node allows ${formatBytes(limit)} (${c.ratio} × ${formatBytes(c.total)} of memory); ` +
    'stop a guest, give this one less memory, or raise the node\'s memory overcommit ratio'
  );
}

