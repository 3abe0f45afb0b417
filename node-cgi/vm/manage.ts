/**
 * Creating, changing and deleting guests: configs, disk images (qemu-img)
 * and the CD-ROM.
 *
 * Create allocates the VMID under the node-wide lock "vm-create": the next
 * VMID from 101 without a config or a disk folder, claimed by creating its
 * disk folder var/lib/vz/images/<vmid>/ (mkdir is atomic, so a claim
 * survives the short lock). Then the disks are created, then the config is
 * written; if anything fails, the folder and everything in it go again, so
 * a failed create leaves nothing behind.
 *
 *   qemu-img create -q -f qcow2 -o preallocation=off …/vm-101-disk-0.qcow2 34359738368
 *   qemu-img create -q -f raw …/vm-101-disk-1.raw 67108864        (sparse: nothing allocated)
 *   qemu-img resize -q -f qcow2 …/vm-101-disk-0.qcow2 68719476736  (grow a stopped guest's disk)
 *   QMP block_resize {"device": "drive-disk0", "size": 68719476736} (grow a running guest's)
 */
import { closeSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { conflict, HttpError, invalid, notFound } from '../lib/errors';
import { run } from '../lib/exec';
import { nodeName, paths } from '../lib/paths';
import { removeFile, withLock } from '../lib/store';
import { updateAccess } from '../access/store';
import { audit } from '../access/audit';
import { withQmp } from '../qemu/qmp';
import { findVmConfig, listVmConfigs, listVmids, readVmConfig, updateVmConfig, writeVmConfig } from './config';
import { VMID_FIRST } from './defaults';
import { diskPath, isoPath, runtimeFiles, vmFiles, writeRunJson } from './files';
import { directIoSupported, randomMac } from './host';
import { readRunInfo } from './power';
import { guestPid } from './status';
import { checkVmConfig, diskFileName, parseSize, validateVmConfig, type Issue, type ValidationFacts } from './validate';
import { VMID_MAX } from '../lib/validate';
import type { DiskConfig, VmConfig } from './types';

/** Time qemu-img gets for one create or resize (sparse: instant; qcow2 metadata: ms). */
export const QEMU_IMG_TIMEOUT_MS = 120_000;

/** ISO images in the library (regular files with a valid name). */
export function isoNames(): Set<string> {
  try {
    return new Set(readdirSync(paths().iso, { withFileTypes: true }).filter((e) => e.isFile() && /^[A-Za-z0-9]/.test(e.name)).map((e) => e.name));
  } catch {
    return new Set();
  }
}

/** The facts about this node that validation needs; `self` is left out of the MAC check. */
export function validationFacts(mode: ValidationFacts['mode'], self?: number): ValidationFacts {
  const macsTaken = new Set(listVmConfigs().filter((c) => c.vmid !== self).flatMap((c) => c.nics.map((n) => n.mac)));
  let directIo: boolean | undefined;
  return {
    node: nodeName(),
    isos: isoNames(),
    macsTaken,
    newMac: randomMac,
    get directIo() {
      directIo ??= directIoSupported(paths().images);
      return directIo;
    },
    now: Date.now(),
    mode,
  };
}

/** The first VMID from 101 without a config or disk folder; `used` lists both. */
export function nextFreeVmid(used: ReadonlySet<number>, from = VMID_FIRST): number {
  for (let v = from; v <= VMID_MAX; v++) if (!used.has(v)) return v;
  throw new HttpError(507, 'insufficient_storage', 'no free VMID');
}

/** VMIDs with a config or a disk folder on this node. */
export function usedVmids(): Set<number> {
  const used = new Set(listVmids());
  try {
    for (const n of readdirSync(paths().images)) if (/^[0-9]+$/.test(n)) used.add(Number(n));
  } catch {
    /* no images folder yet */
  }
  return used;
}

export function qemuImgCreateArgs(file: string, format: DiskConfig['format'], bytes: number): string[] {
  return format === 'qcow2'
    ? ['qemu-img', 'create', '-q', '-f', 'qcow2', '-o', 'preallocation=off', file, String(bytes)]
    : ['qemu-img', 'create', '-q', '-f', 'raw', file, String(bytes)];
}

export function qemuImgResizeArgs(file: string, format: DiskConfig['format'], bytes: number): string[] {
  return ['qemu-img', 'resize', '-q', '-f', format, file, String(bytes)];
}

async function createDiskImage(vmid: number, d: DiskConfig): Promise<void> {
  await run(qemuImgCreateArgs(diskPath(vmid, d), d.format, parseSize(d.size)), { timeoutMs: QEMU_IMG_TIMEOUT_MS });
}

/** A dry run of create: the config it would make, or the issues (for the create form). */
export function checkCreate(body: Record<string, unknown>): { config?: VmConfig; issues: Issue[] } {
  const vmid = body.vmid ?? nextFreeVmid(usedVmids());
  const res = checkVmConfig({ ...body, vmid }, validationFacts('create'));
  if (res.config && body.vmid !== undefined && (findVmConfig(res.config.vmid) || usedVmids().has(res.config.vmid))) {
    return { issues: [{ field: 'vmid', message: `VMID ${res.config.vmid} is already in use` }] };
  }
  return res;
}

/** Create a guest: VMID, disks, config. Nothing is left behind when it fails. */
export async function createVm(body: Record<string, unknown>): Promise<VmConfig> {
  // Validate before claiming anything (with a stand-in VMID when none is given).
  validateVmConfig({ ...body, vmid: body.vmid ?? VMID_FIRST }, validationFacts('create'));
  const cfg = withLock('vm-create', () => {
    const used = usedVmids();
    const explicit = body.vmid !== undefined;
    mkdirSync(paths().images, { recursive: true });
    for (let vmid = explicit ? (body.vmid as number) : nextFreeVmid(used); ; vmid = nextFreeVmid(used, vmid + 1)) {
      if (findVmConfig(vmid)) {
        if (explicit) throw conflict(`VMID ${vmid} is already in use`);
        continue;
      }
      const c = validateVmConfig({ ...body, vmid }, validationFacts('create'));
      try {
        mkdirSync(vmFiles(vmid).imagesDir);
        return c;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (explicit) throw conflict(`VMID ${vmid} is in use: its disk folder ${vmFiles(vmid).imagesDir} exists`);
        // Claimed since we looked: take the next one.
      }
    }
  });
  try {
    for (const d of cfg.disks) await createDiskImage(cfg.vmid, d);
    writeVmConfig(cfg);
  } catch (e) {
    rmSync(vmFiles(cfg.vmid).imagesDir, { recursive: true, force: true });
    removeFile(vmFiles(cfg.vmid).config);
    throw e;
  }
  return cfg;
}

function mustBeStopped(vmid: number, what: string): void {
  if (guestPid(vmid).pid !== null) throw conflict(`guest ${vmid} is running; stop it before you ${what}`);
}

/**
 * Delete a stopped guest: disks, config, runtime files and the ACL entries
 * on /vms/<vmid> (in the access store's transaction, and audited as done by `by`).
 */
export function deleteVm(vmid: number, by = 'root'): void {
  const cfg = readVmConfig(vmid);
  if (cfg.node !== nodeName()) throw conflict(`guest ${vmid} lives on node ${cfg.node}, not on ${nodeName()}`);
  mustBeStopped(vmid, 'delete it');
  // Disks first: if that fails the config stays and the delete can be repeated.
  rmSync(vmFiles(vmid).imagesDir, { recursive: true, force: true });
  removeFile(vmFiles(vmid).config);
  for (const f of [...runtimeFiles(vmid), vmFiles(vmid).serialLog]) rmSync(f, { force: true });
  // A later guest with this VMID must not inherit its permissions.
  const path = `/vms/${vmid}`;
  const removed = updateAccess((d) => {
    const before = d.acl.acl.length;
    d.acl.acl = d.acl.acl.filter((e) => e.path !== path);
    return before - d.acl.acl.length;
  });
  if (removed > 0) audit({ user: by, action: 'acl.delete', object: path, ok: true, detail: { reason: 'guest deleted', entries: removed } });
}

/** Fields of GET /api/vm/<vmid> that are not config: ignored when a client sends them back. */
const READ_ONLY_EXTRAS = new Set(['status', 'qmpStatus', 'note', 'fault', 'runtime', 'pending']);

/**
 * The config after a PUT: the body's fields over the current ones. VMID,
 * node, type and disks can be sent back unchanged but not changed here
 * (disks have their own endpoints). A NIC without a MAC keeps the MAC of
 * the NIC it replaces.
 */
export function mergeUpdate(cur: VmConfig, body: Record<string, unknown>): Record<string, unknown> {
  const next: Record<string, unknown> = { ...cur };
  for (const [k, v] of Object.entries(body)) {
    if (READ_ONLY_EXTRAS.has(k)) continue;
    if (k === 'vmid' || k === 'node' || k === 'type' || k === 'created') {
      if (v !== cur[k]) throw invalid(k, k === 'node' ? 'cannot be changed here; migrate the guest instead' : 'cannot be changed');
      continue;
    }
    if (k === 'temporary') {
      if (JSON.stringify(v) !== JSON.stringify(cur.temporary)) throw invalid(k, 'is set by the node for a guest run from a backup; keep it with a live restore');
      continue;
    }
    if (k === 'disks') {
      if (JSON.stringify(v) !== JSON.stringify(cur.disks)) {
        throw invalid('disks', `change disks with POST /api/vm/${cur.vmid}/disks, PUT or DELETE /api/vm/${cur.vmid}/disks/<id>`);
      }
      continue;
    }
    if (k === 'nics' && Array.isArray(v)) {
      next.nics = v.map((n: unknown, i: number) => {
        if (typeof n !== 'object' || n === null || Array.isArray(n)) return n;
        const o = n as Record<string, unknown>;
        return o.mac === undefined && cur.nics[i] ? { ...o, mac: cur.nics[i]!.mac } : o;
      });
      continue;
    }
    next[k] = v;
  }
  return next;
}

/** Change a guest's config; a changed CD in a running guest changes at once. */
export async function updateVm(vmid: number, body: Record<string, unknown>): Promise<VmConfig> {
  const cur = readVmConfig(vmid);
  const next = validateVmConfig(mergeUpdate(cur, body), validationFacts('update', vmid));
  if (next.cdrom !== cur.cdrom && guestPid(vmid).pid !== null) await changeMedium(vmid, next.cdrom);
  return updateVmConfig(vmid, (c) => {
    if (JSON.stringify(c) !== JSON.stringify(cur)) throw conflict(`guest ${vmid} was changed at the same time; try again`);
    return next;
  });
}

/** Insert an ISO into a running guest's CD-ROM drive, or eject (null). */
async function changeMedium(vmid: number, iso: string | null): Promise<void> {
  await withQmp(vmFiles(vmid).qmp, async (q) => {
    if (iso === null) await q.execute('eject', { id: 'cdrom', force: true });
    else await q.execute('blockdev-change-medium', { id: 'cdrom', filename: isoPath(iso), format: 'raw', 'read-only-mode': 'read-only' });
  });
  const info = readRunInfo(vmid);
  if (info) writeRunJson(vmFiles(vmid).runInfo, { ...info, cdrom: iso, ...(info.config ? { config: { ...info.config, cdrom: iso } } : {}) });
}

/** Change the CD: an ISO of the library or null (empty drive). */
export function changeCdrom(vmid: number, cdrom: unknown): Promise<VmConfig> {
  return updateVm(vmid, { cdrom });
}

/** Add a disk (created now; a running guest sees it after its next start). */
export async function addDisk(vmid: number, body: Record<string, unknown>): Promise<VmConfig> {
  const cur = readVmConfig(vmid);
  const taken = new Set(cur.disks.map((d) => Number(d.id.slice(4))));
  const format = body.format ?? 'qcow2';
  // The format becomes part of a file name: check it before anything else.
  if (format !== 'qcow2' && format !== 'raw') throw invalid('format', 'must be one of qcow2, raw');
  // Claim the file name first (O_EXCL): two concurrent adds never pick the same image.
  let index = 0;
  let file = '';
  for (;; index++) {
    if (taken.has(index)) continue;
    file = diskFileName(vmid, index, String(format));
    try {
      mkdirSync(vmFiles(vmid).imagesDir, { recursive: true });
      closeSync(openSync(diskPath(vmid, { file }), 'wx'));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const id = `disk${index}`;
  const disk = { ...body, id, file };
  let next: VmConfig;
  try {
    next = validateVmConfig({ ...cur, disks: [...cur.disks, disk] }, validationFacts('update', vmid));
  } catch (e) {
    removeFile(diskPath(vmid, { file }));
    throw e;
  }
  const added = next.disks[next.disks.length - 1]!;
  try {
    await createDiskImage(vmid, added);
    return updateVmConfig(vmid, (c) => ({ ...c, disks: [...c.disks, added] }));
  } catch (e) {
    removeFile(diskPath(vmid, added));
    throw e;
  }
}

function findDisk(cfg: VmConfig, id: string): DiskConfig {
  const d = cfg.disks.find((x) => x.id === id);
  if (!d) throw notFound(`guest ${cfg.vmid} has no disk ${id.slice(0, 20)}`);
  return d;
}

/**
 * Change a disk: grow it ({"size": "64G"}, also while running), or change
 * its bus or cache (at the next start). Shrinking is refused: it destroys data.
 */
export async function updateDisk(vmid: number, id: string, body: Record<string, unknown>): Promise<VmConfig> {
  const cur = readVmConfig(vmid);
  const disk = findDisk(cur, id);
  for (const k of Object.keys(body)) if (!['size', 'bus', 'cache'].includes(k)) throw invalid(k, k === 'format' ? 'cannot be changed' : 'unknown field');
  const changed = { ...disk, ...body };
  const next = validateVmConfig({ ...cur, disks: cur.disks.map((d) => (d.id === id ? changed : d)) }, validationFacts('update', vmid));
  const after = findDisk(next, id);
  const from = parseSize(disk.size);
  const to = parseSize(after.size);
  if (to < from) throw invalid('size', `can only grow (now ${disk.size}); shrinking a disk destroys data`);
  if (to > from) {
    if (guestPid(vmid).pid !== null) {
      await withQmp(vmFiles(vmid).qmp, (q) => q.execute('block_resize', { device: `drive-${id}`, size: to }));
      const info = readRunInfo(vmid);
      if (info?.config) {
        const disks = info.config.disks.map((d) => (d.id === id ? { ...d, size: after.size } : d));
        writeRunJson(vmFiles(vmid).runInfo, { ...info, config: { ...info.config, disks } });
      }
    } else {
      await run(qemuImgResizeArgs(diskPath(vmid, disk), disk.format, to), { timeoutMs: QEMU_IMG_TIMEOUT_MS });
    }
  }
  return updateVmConfig(vmid, (c) => ({ ...c, disks: c.disks.map((d) => (d.id === id ? after : d)) }));
}

/** Remove a disk of a stopped guest and delete its image. */
export function removeDisk(vmid: number, id: string): VmConfig {
  const cur = readVmConfig(vmid);
  const disk = findDisk(cur, id);
  mustBeStopped(vmid, 'remove a disk');
  const next = updateVmConfig(vmid, (c) => ({ ...c, disks: c.disks.filter((d) => d.id !== id), boot: c.boot.filter((b) => b !== id) }));
  removeFile(diskPath(vmid, disk));
  return next;
}
