/**
 * Migration as data: the request, what the target refuses, the argv of the
 * NBD server on the target and of the copy on the source, and the task
 * log's last line. The edges (incoming.ts on the target, outgoing.ts on the
 * source) run what these describe.
 *
 * A disk moves over NBD with TLS and a pre-shared key made for this one
 * migration (the target gives it to the source in its signed HTTPS answer):
 *
 *   target: qemu-nbd --fork -b 10.0.0.2 -p 40123 -x disk0 -f raw --tls-creds tls0
 *             --object tls-creds-psk,id=tls0,endpoint=server,dir=<psk dir> …/vm-101-disk-0.raw
 *   source: qemu-img convert -p -n --target-is-zero -f raw …/vm-101-disk-0.raw
 *             --target-image-opts driver=raw,file.driver=nbd,file.host=10.0.0.2,file.port=40123,…
 *
 * `-n --target-is-zero`: the target image is new (all holes), so qemu-img
 * writes only the data it reads and skips zeroes: holes stay holes on the
 * target, for raw and qcow2 alike. qemu-nbd without --persistent ends when
 * the source disconnects.
 */
import { invalid } from '../lib/errors';
import { checkedNodeName } from '../cluster/model';

export interface MigrateRequest {
  target: string;
  online: boolean;
}

/** POST /api/vm/<vmid>/migrate {"target": "n2", "online": false}. */
export function parseMigrateRequest(body: Record<string, unknown>): MigrateRequest {
  for (const k of Object.keys(body)) if (k !== 'target' && k !== 'online') throw invalid(k, 'unknown field (target, online)');
  if (typeof body.target !== 'string' || body.target === '') throw invalid('target', 'the node to move the guest to is required');
  const target = checkedNodeName(body.target, 'target');
  if (body.online !== undefined && typeof body.online !== 'boolean') throw invalid('online', 'true (live) or false (stopped guest)');
  return { target, online: body.online === true };
}

/** One disk as the source describes it to the target. */
export interface MovingDisk {
  id: string;
  file: string;
  format: 'raw' | 'qcow2';
  /** Virtual size, bytes. */
  virtualBytes: number;
  /** Bytes the image occupies on the source (st_blocks × 512). */
  allocatedBytes: number;
  /** A replicated disk: the target has its own replica (nothing is copied; replicated.ts). */
  replica?: { resource: string; minor: number };
}

/** What the target knows of itself, for its refusals. */
export interface TargetFacts {
  node: string;
  vmid: number;
  online: boolean;
  /** A guest config with this VMID exists here / a disk folder does. */
  configExists: boolean;
  imagesExist: boolean;
  memory: { total: number; claimed: number; ratio: number };
  /** MiB the guest needs. */
  guestMemoryMiB: number;
  bridgesNeeded: readonly string[];
  bridgesHere: ReadonlySet<string>;
  cdrom: string | null;
  cdromHere: boolean;
  freeBytes: number;
  disks: readonly MovingDisk[];
}

/** Room a qcow2 may need beyond its source's allocation (metadata written in another order), bytes. */
export const SPACE_MARGIN_BYTES = 16 * 1024 * 1024; // 16 MiB

const MIB = 1024 * 1024;

function gib(bytes: number): string {
  return bytes >= 1024 * MIB ? `${(bytes / 1024 / MIB).toFixed(1)} GiB` : `${Math.ceil(bytes / MIB)} MiB`;
}

/** Every reason the target cannot take the guest, each naming what is missing (empty: it can). */
export function incomingRefusals(f: TargetFacts): string[] {
  const out: string[] = [];
  if (f.configExists) out.push(`node ${f.node} has a guest with VMID ${f.vmid} already`);
  else if (f.imagesExist) out.push(`node ${f.node} has a disk folder for VMID ${f.vmid} already (images/${f.vmid})`);
  const want = f.guestMemoryMiB * MIB;
  const limit = f.memory.total * f.memory.ratio;
  const claimed = f.online ? f.memory.claimed : 0;
  if (claimed + want > limit) {
    out.push(
      `not enough memory on node ${f.node}: the guest needs ${gib(want)}` +
        (f.online ? `, its running guests claim ${gib(claimed)},` : ',') +
        ` and it allows ${gib(limit)} (${f.memory.ratio} × ${gib(f.memory.total)})`,
    );
  }
  const missing = f.bridgesNeeded.filter((b) => !f.bridgesHere.has(b));
  if (missing.length) out.push(`node ${f.node} has no bridge ${missing.join(', ')}`);
  if (f.cdrom && !f.cdromHere) out.push(`node ${f.node} has no ISO image ${f.cdrom} (the guest's CD-ROM); upload it on the master or eject it`);
  const need = f.disks.reduce((s, d) => s + d.allocatedBytes, 0) + (f.disks.length ? SPACE_MARGIN_BYTES : 0);
  if (need > f.freeBytes) out.push(`not enough disk space on node ${f.node}: the disks need ${gib(need)}, ${gib(f.freeBytes)} is free`);
  return out;
}

export interface NbdEnd {
  address: string;
  port: number;
  /** Export name: the disk id. */
  name: string;
  /** Folder with keys.psk ("<user>:<hex key>"). */
  pskDir: string;
}

/** PSK user name of every migration's key. */
export const PSK_USER = 'ramvm-migrate';

/** The target's NBD server for one new image: one export, writable, TLS with the migration's key, ends with its client. */
export function nbdServerArgs(file: string, format: 'raw' | 'qcow2', end: NbdEnd, pidFile: string): string[] {
  return [
    'qemu-nbd', '--fork', `--pid-file=${pidFile}`,
    '-b', end.address, '-p', String(end.port), '-x', end.name, '-f', format,
    '--object', `tls-creds-psk,id=tls0,endpoint=server,dir=${end.pskDir}`, '--tls-creds', 'tls0',
    '--cache=none', '--aio=native', file,
  ];
}

/** The source's copy of one image into the target's export, data only (holes stay holes). */
export function nbdCopyArgs(file: string, format: 'raw' | 'qcow2', end: NbdEnd): string[] {
  return [
    'qemu-img', 'convert', '-p', '-n', '--target-is-zero', '-f', format,
    '--object', `tls-creds-psk,id=tls0,endpoint=client,dir=${end.pskDir},username=${PSK_USER}`,
    file,
    '--target-image-opts', `driver=raw,file.driver=nbd,file.host=${end.address},file.port=${end.port},file.export=${end.name},file.tls-creds=tls0`,
  ];
}

/** The task log's last line (CONTRACT.md "Migration"). */
export function migratedLine(totalMs: number, downtimeMs: number, bytes: number): string {
  return `migrated in ${Math.round(totalMs)} ms, downtime ${Math.round(downtimeMs)} ms, ${bytes} bytes of disk moved`;
}

/**
 * The data extents of an image (data, not known zero), from
 * `qemu-img map --output=json`:
 *   [{"start": 0, "length": 4096, "data": true, "zero": false}, {"start": 4096, "length": 104853504, "data": false, "zero": true}] → [{start: 0, length: 4096}]
 */
export function parseMapDataExtents(text: string): { start: number; length: number }[] {
  const map: unknown = JSON.parse(text);
  if (!Array.isArray(map)) throw new Error(`qemu-img map did not answer a list: ${text.slice(0, 200)}`);
  const out: { start: number; length: number }[] = [];
  for (const e of map as { start?: unknown; length?: unknown; data?: unknown; zero?: unknown }[]) {
    if (typeof e?.length !== 'number') throw new Error(`qemu-img map: an extent without a length: ${JSON.stringify(e).slice(0, 200)}`);
    if (e.data !== true || e.zero === true) continue;
    if (typeof e.start !== 'number') throw new Error(`qemu-img map: an extent without a start: ${JSON.stringify(e).slice(0, 200)}`);
    out.push({ start: e.start, length: e.length });
  }
  return out;
}

/** Bytes of data in an image (what a sparse copy moves): the data extents' lengths (parseMapDataExtents) added up. */
export function parseMapDataBytes(text: string): number {
  return parseMapDataExtents(text).reduce((sum, e) => sum + e.length, 0);
}
