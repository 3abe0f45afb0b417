/**
 * Which accelerator a guest runs under. The setting is the guest's `accel`,
 * else its node's (etc/ramvm/nodes/<node>.json, default "auto"):
 *
 *   "tcg"   TCG (emulation: slow, but runs anything)
 *   "kvm"   KVM; a start is refused while the node has no usable KVM device
 *   "auto"  KVM where the probe (vm/kvm-probe.ts) shows it really runs a
 *           kernel, else TCG
 *
 * The probe runs once per boot of the host and its verdict is kept in
 * run/ramvm/accel.json, keyed by the kernel's boot id:
 *
 *   { "bootId": "89cf766f-…", "device": "/dev/kvm", "cpu": "kvm64,…",
 *     "kvmDevice": true, "accel": "tcg",
 *     "reason": "KVM failed the probe: KVM internal error. Suberror: 1 (in long mode)",
 *     "kvmCycles": 55902208, "tcgCycles": 2265004, "ms": 412, "at": 1796000000000 }
 *
 * One process probes at a time (a claim folder beside the file); others
 * wait for its verdict. RAMVM_KVM_DEVICE names the device to check instead
 * of /dev/kvm (a path that does not open simulates a host without KVM).
 */
import { closeSync, constants, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runWatched } from '../lib/exec';
import { paths } from '../lib/paths';
import { pidExists } from '../lib/proc';
import { readRunJson, writeRunJson } from './files';
import { KVM_ERROR_RE, probeArgs, probeFirmware, probeVerdict, type ProbeRun } from './kvm-probe';
import { KVM_CPU } from './qemu-args';
import type { Accelerator, AccelSetting, HostAccel } from './types';

export const KVM_DEVICE = '/dev/kvm';
/** Longest one run of the probe may take before it counts as failed (it never hangs). */
export const PROBE_TIMEOUT_MS = 20_000;
/** A claim older than this belongs to a prober that died. */
const CLAIM_STALE_MS = 2 * PROBE_TIMEOUT_MS + 10_000;
const CLAIM_POLL_MS = 100;

/** The KVM device this node checks: RAMVM_KVM_DEVICE, else /dev/kvm. */
export const kvmDevice = (): string => process.env.RAMVM_KVM_DEVICE || KVM_DEVICE;

/** Why the KVM device does not open read-write (what QEMU needs), e.g. "ENOENT"; null when it opens. */
export function kvmDeviceError(device = kvmDevice()): string | null {
  try {
    closeSync(openSync(device, constants.O_RDWR));
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}

/** The kernel's id of this boot: a cache keyed by it is void after a reboot. */
export function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

export interface ProbeOptions {
  /** Where the verdict is kept (default run/ramvm/accel.json). */
  file?: string;
  /** KVM device to check (default kvmDevice()). */
  device?: string;
  /** CPU model under KVM (default the guests' KVM_CPU; the lab's nodes use "max"). */
  kvmCpu?: string;
  /** Probe again even when this boot has a verdict. */
  force?: boolean;
}

const cacheFile = (o: ProbeOptions) => o.file ?? paths().accelCache;

/** A kept verdict that still holds: this boot, this device, this CPU model. */
export function currentVerdict(v: HostAccel | undefined, want: { bootId: string; device: string; cpu: string }): HostAccel | undefined {
  if (!v || v.bootId !== want.bootId || v.device !== want.device || v.cpu !== want.cpu) return undefined;
  return v.accel === 'kvm' || v.accel === 'tcg' ? v : undefined;
}

/** Run the firmware once under `accel`. */
async function runFirmware(accel: Accelerator, firmware: string, cpu: string): Promise<ProbeRun> {
  const r = await runWatched(probeArgs(accel, firmware, accel === 'kvm' ? cpu : undefined), {
    timeoutMs: PROBE_TIMEOUT_MS,
    stopOn: KVM_ERROR_RE,
  });
  return { serial: r.stdout, code: r.stopped || r.timedOut ? null : r.code, stderr: r.stderr, timedOut: r.timedOut, ms: r.ms };
}

/** Probe now (no cache): device check, then the firmware under KVM and under TCG. */
export async function probeHostAccel(o: ProbeOptions = {}): Promise<HostAccel> {
  const device = o.device ?? kvmDevice();
  const cpu = o.kvmCpu ?? KVM_CPU;
  const base = { bootId: bootId(), device, cpu, at: Date.now() };
  const started = Date.now();
  const err = kvmDeviceError(device);
  if (err) {
    return { ...base, kvmDevice: false, accel: 'tcg', reason: `no usable KVM device (${device}: ${err})`, kvmCycles: null, tcgCycles: null, ms: Date.now() - started };
  }
  const file = cacheFile(o);
  const firmware = `${file}.${process.pid}.bios`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(firmware, probeFirmware());
  try {
    const kvm = await runFirmware('kvm', firmware, cpu);
    const tcg = await runFirmware('tcg', firmware, cpu);
    const v = probeVerdict(kvm, tcg, PROBE_TIMEOUT_MS);
    return { ...base, kvmDevice: true, ...v, ms: Date.now() - started };
  } finally {
    rmSync(firmware, { force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function claimIsStale(claim: string): boolean {
  try {
    const pid = Number(readFileSync(join(claim, 'pid'), 'utf8'));
    if (pid > 1 && !pidExists(pid)) return true;
  } catch {
    // No pid yet: being claimed right now, or its claimer died first (the age says).
  }
  try {
    return Date.now() - statSync(claim).mtimeMs > CLAIM_STALE_MS;
  } catch {
    return false;
  }
}

/**
 * This boot's verdict: from the file, else probed now and kept. While
 * another process probes, wait for its verdict instead of probing twice.
 */
export async function hostAccel(o: ProbeOptions = {}): Promise<HostAccel> {
  const file = cacheFile(o);
  const want = { bootId: bootId(), device: o.device ?? kvmDevice(), cpu: o.kvmCpu ?? KVM_CPU };
  if (!o.force) {
    const kept = currentVerdict(readRunJson<HostAccel>(file), want);
    if (kept) return kept;
  }
  const claim = `${file}.probing`;
  mkdirSync(dirname(file), { recursive: true });
  const deadline = Date.now() + CLAIM_STALE_MS;
  for (;;) {
    try {
      mkdirSync(claim);
      writeFileSync(join(claim, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (claimIsStale(claim)) {
      rmSync(claim, { recursive: true, force: true });
      continue;
    }
    await sleep(CLAIM_POLL_MS);
    const kept = currentVerdict(readRunJson<HostAccel>(file), want);
    if (kept && !o.force) return kept;
    if (Date.now() > deadline) break; // probe without the claim rather than wait forever
  }
  try {
    // A prober that finished just before the claim leaves its verdict.
    const kept = o.force ? undefined : currentVerdict(readRunJson<HostAccel>(file), want);
    if (kept) return kept;
    const v = await probeHostAccel(o);
    writeRunJson(file, v);
    return v;
  } finally {
    rmSync(claim, { recursive: true, force: true });
  }
}

/** How a guest's accelerator was chosen. */
export interface AccelChoice {
  /** What a start uses. */
  accel: Accelerator;
  /** The setting in force: the guest's own, else its node's. */
  setting: AccelSetting;
  source: 'guest' | 'node';
  /** Why, in a sentence. */
  reason: string;
  /** Set when a start must be refused (KVM wanted, no KVM device): what to do. */
  refusal?: string;
}

/**
 * The accelerator from the guest's and the node's setting and what the node
 * knows: `deviceError` (null: the KVM device opens) and, for "auto", the probe.
 */
export function accelChoice(
  guest: AccelSetting | undefined,
  node: AccelSetting,
  facts: { deviceError: string | null; device: string; probe?: Pick<HostAccel, 'accel' | 'reason'> },
): AccelChoice {
  const setting = guest ?? node;
  const source = guest ? 'guest' : 'node';
  const where = guest ? 'set on the guest' : "the node's setting";
  if (setting === 'tcg') return { accel: 'tcg', setting, source, reason: `TCG: ${where}` };
  if (setting === 'kvm') {
    const c: AccelChoice = { accel: 'kvm', setting, source, reason: `KVM: ${where}` };
    if (facts.deviceError) {
      c.refusal = `KVM is ${where}, but this node has no usable KVM device (${facts.device}: ${facts.deviceError}); set accel to "auto" or "tcg"`;
    }
    return c;
  }
  if (!facts.probe) throw new Error('accel "auto" needs the probe');
  return { accel: facts.probe.accel, setting, source, reason: `auto (${where}): ${facts.probe.reason}` };
}

/** The choice for a guest of this node, probing first when the setting is "auto". */
export async function chooseAccel(guest: AccelSetting | undefined, node: AccelSetting): Promise<AccelChoice> {
  const device = kvmDevice();
  const setting = guest ?? node;
  const probe = setting === 'auto' ? await hostAccel() : undefined;
  return accelChoice(guest, node, { deviceError: setting === 'kvm' ? kvmDeviceError(device) : null, device, ...(probe ? { probe } : {}) });
}
