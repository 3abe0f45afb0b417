/**
 * Restore plans: pure functions from a backup (its manifest and the guest
 * config stored in it) and a few facts about the node to what a restore,
 * a run from backup and a live restore do, as data.
 *
 * Full restore of local:101:20261125T220000Z as guest 105, while 101 still exists:
 *   restorePlan(backup, { vmid: 105, force: false }, facts)
 *   → { config: { vmid: 105, disks: [{ id: "disk0", file: "vm-105-disk-0.raw", format: "raw", … }],
 *                 nics: [{ id: "net0", mac: <new: 101 holds the old one>, … }], onboot: false, … },
 *       disks: [{ id: "disk0", from: "<backup>/vm-101-disk-0.qcow2", file: "vm-105-disk-0.raw", format: "raw", virtualSize }],
 *       replaced: [], warnings: ["new MAC address for net0: …", …] }
 *
 * Run from backup as guest 106:
 *   overlayPlan(backup, 106, "run", facts)
 *   → config: disks "vm-106-disk-0.qcow2" (qcow2 overlays), NICs with linkDown, onboot false,
 *             temporary: { backup, source: 101, purpose: "run", since, formats: { disk0: "raw" } }
 *     overlays: [{ id: "disk0", backing: "<backup>/vm-101-disk-0.qcow2", file: "vm-106-disk-0.qcow2" }]
 *
 * Live restore of guest 106: per disk, by the format of the original
 *   liveRestoreSteps(config, blocks)
 *   → [{ id: "disk0", action: "mirror", device: "drive-disk0", job: "ramvm-restore-106-disk0",
 *        target: { file: "vm-106-disk-0.raw", node: "ramvm-restore-106-disk0" } }]
 *   qcow2: block-stream pulls the backup's data into the overlay, which then drops its backing file;
 *   raw:   blockdev-mirror to a new raw file, job-complete switches the drive over to it.
 */
import { internal, conflict } from '../lib/errors';
import { parseSize } from '../lib/validate';
import { checkVmConfig, diskFileName, type DiskFormat, type TemporaryMark, type ValidationFacts, type VmConfig } from '../vm';
import type { BackupManifest } from '../backup/types';

/** QEMU job ids and node names of restores start with this. */
export const RESTORE_JOB_PREFIX = 'ramvm-restore-';

/** A backup as the plans see it. */
export interface BackupSource {
  /** "local:101:20261125T220000Z". */
  id: string;
  /** Absolute path of the backup's folder. */
  dir: string;
  manifest: BackupManifest;
  /** config.json of the backup. */
  config: VmConfig;
}

/** What the plans need to know about the node. */
export interface NodeFacts {
  node: string;
  /** Guests of this node by VMID. */
  guests: ReadonlyMap<number, { name: string; macs: readonly string[]; running: boolean; disks: readonly string[] }>;
  /** ISO images in the library. */
  isos: ReadonlySet<string>;
  /** Whether the disk folder takes O_DIRECT (cache=none). */
  directIo: boolean;
  newMac(): string;
  now: number;
}

export interface RestoreDisk {
  id: string;
  /** The backup's image (qcow2). */
  from: string;
  /** File name in the target's disk folder. */
  file: string;
  format: DiskFormat;
  virtualSize: number;
}

export interface RestorePlan {
  config: VmConfig;
  disks: RestoreDisk[];
  /** Disk files of the guest restored over that the restored config no longer has. */
  replaced: string[];
  warnings: string[];
}

export interface OverlayPlan {
  config: VmConfig;
  overlays: { id: string; backing: string; file: string }[];
  warnings: string[];
}

/** config.json of a backup as a guest config; throws naming what is missing. */
export function parseBackupConfig(text: string): VmConfig {
  let c: VmConfig;
  try {
    c = JSON.parse(text) as VmConfig;
  } catch {
    throw internal('config.json of the backup is not JSON');
  }
  const ok =
    typeof c === 'object' && c !== null && typeof c.vmid === 'number' && Array.isArray(c.disks) && Array.isArray(c.nics) &&
    c.disks.every((d) => typeof d?.id === 'string' && /^disk[0-9]{1,3}$/.test(d.id) && typeof d.file === 'string' && typeof d.format === 'string');
  if (!ok) throw internal('config.json of the backup is not a guest config (vmid, disks, nics)');
  return c;
}

/** The backup's image of each disk of its config, by the disk's file name; throws for a disk it lacks. */
export function backupImages(b: BackupSource): Map<string, { path: string; virtualSize: number }> {
  const out = new Map<string, { path: string; virtualSize: number }>();
  for (const d of b.config.disks) {
    const m = b.manifest.disks.find((x) => x.source === d.file);
    if (!m) throw internal(`backup ${b.id} holds no image of ${d.id} (${d.file})`);
    out.set(d.id, { path: `${b.dir}/${m.file}`, virtualSize: m.virtualSize });
  }
  return out;
}

function validationFacts(f: NodeFacts, self: number): ValidationFacts {
  const macsTaken = new Set([...f.guests].filter(([v]) => v !== self).flatMap(([, g]) => g.macs));
  return { node: f.node, isos: f.isos, macsTaken, newMac: f.newMac, directIo: f.directIo, now: f.now, mode: 'update' };
}

type Adapted = { input: Record<string, unknown>; warnings: string[] };

/**
 * The backup's config made fit for this node as guest `vmid`: disk files
 * renamed, MACs another guest holds replaced, an ISO no longer in the
 * library taken out, cache=none turned to writeback where O_DIRECT fails.
 */
function adapt(b: BackupSource, vmid: number, format: (d: VmConfig['disks'][number]) => DiskFormat, f: NodeFacts): Adapted {
  const src = b.config;
  const warnings: string[] = [];
  const taken = validationFacts(f, vmid).macsTaken;
  const disks = src.disks.map((d) => {
    const n = Number(d.id.slice(4));
    const fmt = format(d);
    let cache = d.cache;
    if ((cache === 'none' || cache === 'directsync') && !f.directIo) {
      warnings.push(`${d.id}: cache "${cache}" needs O_DIRECT, which this node's disk folder lacks; it uses writeback`);
      cache = 'writeback';
    }
    return { id: d.id, file: diskFileName(vmid, n, fmt), size: d.size, bus: d.bus, format: fmt, cache };
  });
  const mine = new Set<string>();
  const nics = src.nics.map((n) => {
    let mac = n.mac;
    if (taken.has(mac) || mine.has(mac)) {
      const holder = [...f.guests].find(([, g]) => g.macs.includes(mac))?.[0];
      for (let i = 0; i < 100 && (taken.has(mac) || mine.has(mac)); i++) mac = f.newMac();
      warnings.push(`${n.id}: new MAC address ${mac}: guest ${holder ?? vmid} uses the backup's ${n.mac}`);
    }
    mine.add(mac);
    return { id: n.id, model: n.model, bridge: n.bridge, mac, ...(n.linkDown ? { linkDown: true } : {}) };
  });
  let cdrom = src.cdrom ?? null;
  if (cdrom !== null && !f.isos.has(cdrom)) {
    warnings.push(`the CD-ROM's ISO image "${cdrom}" is not in this node's library; the drive is left empty`);
    cdrom = null;
  }
  const input: Record<string, unknown> = {
    vmid, name: src.name, node: f.node, type: 'kvm', memory: src.memory, sockets: src.sockets, cores: src.cores, ostype: src.ostype,
    onboot: src.onboot, cdrom, disks, nics, boot: src.boot, description: src.description ?? '', created: f.now,
    // The restored system has the same guest agent inside.
    ...(src.agent === true ? { agent: true } : {}),
  };
  return { input, warnings };
}

function validated(input: Record<string, unknown>, f: NodeFacts, vmid: number, what: string): VmConfig {
  const { config, issues } = checkVmConfig(input, validationFacts(f, vmid));
  if (!config) {
    throw internal(`the guest config in the backup does not fit this node (${what}): ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
  }
  return config;
}

/**
 * A full restore as guest `vmid`: a new VMID, or over the backup's own guest
 * (stopped, with force). Disks keep the format they had.
 */
/**
 * 409 unless a restore may write guest `target.vmid`: a free VMID, or the
 * guest the backup was taken of (`source`), stopped, not running from a
 * backup, and only with force.
 */
export function checkRestoreTarget(target: { vmid: number; force: boolean }, source: number, existing: { running: boolean; temporary?: boolean } | undefined): void {
  const { vmid } = target;
  if (!existing) return;
  if (vmid !== source) throw conflict(`guest ${vmid} exists; a restore replaces only the guest a backup was taken of (${source}); choose a free VMID`);
  if (!target.force) throw conflict(`guest ${vmid} exists; send "force": true to replace its disks and config with the backup's`);
  if (existing.temporary) throw conflict(`guest ${vmid} runs from a backup; keep it or stop it first`);
  if (existing.running) throw conflict(`guest ${vmid} is running; stop it before restoring over it`);
}

export function restorePlan(b: BackupSource, target: { vmid: number; force: boolean }, f: NodeFacts): RestorePlan {
  const { vmid } = target;
  const existing = f.guests.get(vmid);
  const source = b.manifest.vmid;
  checkRestoreTarget(target, source, existing);
  const images = backupImages(b);
  const { input, warnings } = adapt(b, vmid, (d) => (d.format === 'raw' ? 'raw' : 'qcow2'), f);
  if (vmid !== source && b.config.onboot && f.guests.has(source)) {
    input.onboot = false;
    warnings.push(`start at boot is off: guest ${source} still exists and starts at boot itself`);
  }
  const config = validated(input, f, vmid, `as guest ${vmid}`);
  const disks = config.disks.map((d) => ({ id: d.id, from: images.get(d.id)!.path, file: d.file, format: d.format, virtualSize: images.get(d.id)!.virtualSize }));
  for (const d of disks) {
    const want = parseSize(config.disks.find((x) => x.id === d.id)!.size);
    if (want !== d.virtualSize) warnings.push(`${d.id}: the backup's image holds ${d.virtualSize} bytes, the config says ${want}; the image's size is kept`);
  }
  const keep = new Set(config.disks.map((d) => d.file));
  const replaced = (existing?.disks ?? []).filter((file) => !keep.has(file));
  return { config, disks, replaced, warnings };
}

/**
 * A guest that runs straight off the backup: each disk a qcow2 overlay with
 * the backup's image as its read-only backing file. "run": the NICs start
 * unplugged; "bootcheck": a sandbox without any NIC.
 */
export function overlayPlan(b: BackupSource, vmid: number, purpose: TemporaryMark['purpose'], f: NodeFacts): OverlayPlan {
  const images = backupImages(b);
  const { input, warnings } = adapt(b, vmid, () => 'qcow2', f);
  input.onboot = false;
  const formats = Object.fromEntries(b.config.disks.map((d) => [d.id, d.format === 'raw' ? 'raw' : 'qcow2'])) as Record<string, DiskFormat>;
  input.temporary = { backup: b.id, source: b.manifest.vmid, purpose, since: f.now, formats } satisfies TemporaryMark;
  const nics = input.nics as { id: string; linkDown?: boolean }[];
  if (purpose === 'bootcheck') {
    input.nics = [];
    input.boot = (b.config.boot ?? []).filter((d) => !d.startsWith('net'));
  } else {
    for (const n of nics) n.linkDown = true;
  }
  const config = validated(input, f, vmid, `as temporary guest ${vmid}`);
  const overlays = config.disks.map((d) => ({ id: d.id, backing: images.get(d.id)!.path, file: d.file }));
  return { config, overlays, warnings: [...warnings, ...(purpose === 'run' ? runWarnings(b, config, f) : [])] };
}

/** What the user must know about a guest run from a backup (the original's warning, and ours). */
export function runWarnings(b: BackupSource, config: VmConfig, f: NodeFacts): string[] {
  const out: string[] = [];
  const src = b.manifest.vmid;
  const original = f.guests.get(src);
  if (config.nics.length > 0) {
    const sameMacs = config.nics.every((n) => b.config.nics.some((o) => o.mac === n.mac));
    out.push(
      `network disconnected: ${config.nics.map((n) => n.id).join(', ')} start${config.nics.length === 1 ? 's' : ''} with the link down. ` +
        `This copy has the IP addresses${sameMacs ? ' and MAC addresses' : ''} of guest ${src}: if that guest runs anywhere at the same time, ` +
        `connecting the copy gives IP${sameMacs ? ' and MAC' : ''} conflicts. Connect it with POST /api/restore/${config.vmid}/link {"up": true}.`,
    );
  }
  if (original?.running) out.push(`guest ${src} (${original.name}), the original of this backup, is running on this node now`);
  out.push(
    `changes are discarded when guest ${config.vmid} stops; keep it as a normal guest with a live restore (POST /api/restore/${config.vmid}/keep). ` +
      `Settings changed now are not written back to the backup.`,
  );
  if (b.manifest.verification?.ok !== true) {
    out.push(`backup ${b.id} ${b.manifest.verification ? `failed its last verification: ${b.manifest.verification.problems.join('; ')}` : 'was never verified'}`);
  }
  return out;
}

/** One QEMU drive as query-block shows it. */
export interface DriveState {
  device: string;
  file: string;
  /** The backing file of the drive's image, null when it has none. */
  backing: string | null;
}

/**
 * query-block (QMP) → drives by device name.
 *   [{"device": "drive-disk0", "inserted": {"file": "/…/vm-106-disk-0.qcow2", "backing_file": "/…/vm-101-disk-0.qcow2", …}}, {"device": "drive-cdrom"}]
 *   → { "drive-disk0": { device, file, backing } }   (empty drives left out)
 * https://qemu-project.gitlab.io/qemu/interop/qemu-qmp-ref.html#qapidoc-2396
 */
export function parseQueryBlock(ret: unknown): Map<string, DriveState> {
  if (!Array.isArray(ret)) throw new Error(`unexpected query-block answer: ${JSON.stringify(ret)?.slice(0, 200)}`);
  const out = new Map<string, DriveState>();
  for (const b of ret as { device?: unknown; inserted?: { file?: unknown; backing_file?: unknown } }[]) {
    if (typeof b?.device !== 'string' || !b.inserted || typeof b.inserted.file !== 'string') continue;
    out.set(b.device, { device: b.device, file: b.inserted.file, backing: typeof b.inserted.backing_file === 'string' ? b.inserted.backing_file : null });
  }
  return out;
}

export type LiveStep =
  | { id: string; action: 'done' }
  | { id: string; action: 'stream'; device: string; job: string }
  | { id: string; action: 'mirror'; device: string; job: string; target: { file: string; format: 'raw'; node: string } };

/**
 * What a live restore does to each disk of a guest run from a backup.
 * A disk already in its original format without a backing file is done (a
 * second live restore after a failure picks up where the first stopped).
 */
export function liveRestoreSteps(config: VmConfig, drives: ReadonlyMap<string, DriveState>): LiveStep[] {
  if (!config.temporary) throw conflict(`guest ${config.vmid} does not run from a backup`);
  const formats = config.temporary.formats;
  return config.disks.map((d): LiveStep => {
    const device = `drive-${d.id}`;
    const drive = drives.get(device);
    if (!drive) throw conflict(`guest ${config.vmid} has no drive ${device} (was it started from this config?)`);
    const want = formats[d.id] ?? d.format;
    const job = `${RESTORE_JOB_PREFIX}${config.vmid}-${d.id}`;
    if (d.format === want && drive.backing === null) return { id: d.id, action: 'done' };
    if (want === 'qcow2') return { id: d.id, action: 'stream', device, job };
    return { id: d.id, action: 'mirror', device, job, target: { file: diskFileName(config.vmid, Number(d.id.slice(4)), 'raw'), format: 'raw', node: job } };
  });
}

/** block-stream: copy the backing chain's data into the overlay, then drop the backing file. */
export function streamArgs(job: string, device: string, speed: number): Record<string, unknown> {
  return { 'job-id': job, device, 'auto-dismiss': false, ...(speed > 0 ? { speed } : {}) };
}

/** blockdev-add of a mirror's raw target file. */
export function mirrorTargetArgs(node: string, file: string): Record<string, unknown> {
  return { driver: 'raw', 'node-name': node, discard: 'unmap', file: { driver: 'file', filename: file } };
}

/** blockdev-mirror of the whole drive (overlay and backing) onto the target node. */
export function mirrorArgs(job: string, device: string, target: string, speed: number): Record<string, unknown> {
  return { 'job-id': job, device, target, sync: 'full', 'auto-dismiss': false, ...(speed > 0 ? { speed } : {}) };
}
