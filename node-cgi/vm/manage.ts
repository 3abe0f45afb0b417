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
 *   QMP block_resize {"device": "drive-disk0", "size": 68719476736} (grow a disk a running guest has open)
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, HttpError, invalid, notFound } from '../lib/errors';
import { guestConfigFile, guestImagesDir, inCluster, isoFile, nodeName, paths } from '../lib/paths';
import { removeFile, withLock } from '../lib/store';
import { refuseIfMigrating } from './migration-lock';
import { updateAccess } from '../access/store';
import { audit } from '../access/audit';
import { withQmp } from '../qemu/qmp';
import { isoNames } from '../iso/library';
import { createImage, resizeImage } from '../tools/qemu-img';
import { findVmConfig, listVmConfigs, listVmids, updateVmConfig, writeVmConfig } from './config';
import { VMID_FIRST } from './defaults';
import { diskPath, runtimeFiles } from './files';
import { mustLiveHere, pidNow } from './guest';
import { directIoSupported, randomMac } from './host';
import { updateRunInfo } from './power';
import { checkVmConfig, diskFileName, validateVmConfig, type ValidationFacts, type VmCreateCheck } from './validate';
import { parseSize, VMID_MAX } from '../lib/validate';
import type { DiskAdd, DiskChange } from './requests';
import type { DiskConfig, Guest, VmConfig } from './types';

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
  throw new HttpError('insufficient_storage', 'no free VMID');
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

async function createDiskImage(vmid: number, d: DiskConfig): Promise<void> {
  await createImage(diskPath(vmid, d), d.format, parseSize(d.size));
}

/** A dry run of create: the config it would make, or the issues (for the create form). */
export function checkCreate(body: Record<string, unknown>): VmCreateCheck {
  const vmid = body.vmid ?? nextFreeVmid(usedVmids());
  const res = checkVmConfig({ ...body, vmid }, validationFacts('create'));
  if (res.config && body.vmid !== undefined && (findVmConfig(res.config.vmid) || usedVmids().has(res.config.vmid))) {
    return { issues: [{ field: 'vmid', message: `VMID ${res.config.vmid} is already in use` }] };
  }
  return res;
}

/**
 * Claim a VMID for a new guest: `wanted` (409 when a guest or a disk folder
 * has it) or the next free one from 101. The claim is the guest's disk
 * folder, made under the node-wide lock "vm-create" (mkdir is atomic, so a
 * claim survives the short lock); a free VMID claimed by another process
 * since we looked is passed over.
 */
export function claimVmid(wanted: number | undefined): number {
  return withLock('vm-create', () => {
    const used = usedVmids();
    mkdirSync(paths().images, { recursive: true });
    for (let vmid = wanted ?? nextFreeVmid(used); ; vmid = nextFreeVmid(used, vmid + 1)) {
      if (findVmConfig(vmid)) {
        if (wanted !== undefined) throw conflict(`VMID ${vmid} is already in use`);
        continue;
      }
      try {
        mkdirSync(guestImagesDir(vmid));
        return vmid;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (wanted !== undefined) throw conflict(`VMID ${vmid} is in use: its disk folder ${guestImagesDir(vmid)} exists`);
      }
    }
  });
}

/** Give a claim up: its folder and everything in it go. */
export function dropClaim(vmid: number): void {
  rmSync(guestImagesDir(vmid), { recursive: true, force: true });
}

/**
 * Create a guest: VMID, disks, config. Nothing is left behind when it fails.
 * Replicated disks are made by `replicate` (the API's, drbd/guest.ts: it
 * speaks to the peer node), after the others and before the config; it
 * removes what it made when it fails.
 */
export async function createVm(body: Record<string, unknown>, replicate?: (cfg: VmConfig) => Promise<void>): Promise<VmConfig> {
  // Validate before claiming anything (with a stand-in VMID when none is given).
  validateVmConfig({ ...body, vmid: body.vmid ?? VMID_FIRST }, validationFacts('create'));
  const vmid = claimVmid(body.vmid as number | undefined);
  try {
    const cfg = validateVmConfig({ ...body, vmid }, validationFacts('create'));
    for (const d of cfg.disks) if (!d.replicated) await createDiskImage(cfg.vmid, d);
    if (cfg.disks.some((d) => d.replicated)) {
      if (!replicate) throw conflict(NO_REPLICAS);
      await replicate(cfg);
    }
    writeVmConfig(cfg);
    return cfg;
  } catch (e) {
    dropClaim(vmid);
    removeFile(guestConfigFile(vmid));
    throw e;
  }
}

/** 409 while the guest runs: looked at now, for what cannot be undone. */
function mustBeStopped(g: Guest, what: string): void {
  if (pidNow(g) !== null) throw conflict(`guest ${g.vmid} is running; stop it before you ${what}`);
}

/**
 * Remove a stopped guest's files from this node: disks first (if that
 * fails the config stays and the removal can be repeated), then its config
 * and runtime files. A delete, and the source's part of a migration once the
 * guest lives on its new node; `keep` names files of its images folder that
 * stay (a replicated guest's move leaves this node its replicas: the peer's
 * side now, backing file and record).
 */
export function dropGuestFiles(g: Guest, keep: readonly string[] = []): void {
  const { files } = g;
  mustBeStopped(g, 'remove it');
  if (keep.length === 0) rmSync(files.imagesDir, { recursive: true, force: true });
  else for (const f of existsSync(files.imagesDir) ? readdirSync(files.imagesDir) : []) if (!keep.includes(f)) rmSync(join(files.imagesDir, f), { recursive: true, force: true });
  removeFile(files.config);
  for (const f of [...runtimeFiles(files), files.serialLog]) rmSync(f, { force: true });
}

/**
 * Delete a stopped guest: disks, config, runtime files and the ACL entries
 * on /vms/<vmid> (in the access store's transaction, and audited as done by `by`).
 */
export function deleteVm(g: Guest, by = 'root'): void {
  const { vmid } = g;
  checkDeletable(g);
  dropGuestFiles(g);
  // A later guest with this VMID must not inherit its permissions. In a
  // cluster the ACL is cluster-wide: the master drops the entries when the
  // VMID is released (cluster/placement.ts), before it can be given again.
  if (inCluster()) return;
  const path = `/vms/${vmid}`;
  const removed = updateAccess((d) => {
    const before = d.acl.acl.length;
    d.acl.acl = d.acl.acl.filter((e) => e.path !== path);
    return before - d.acl.acl.length;
  });
  if (removed > 0) audit({ user: by, action: 'acl.delete', object: path, ok: true, detail: { reason: 'guest deleted', entries: removed } });
}

/** 409 unless the guest can be deleted now: it lives here, is not moving, is stopped. */
export function checkDeletable(g: Guest): void {
  mustLiveHere(g);
  refuseIfMigrating(g.vmid, 'delete it');
  mustBeStopped(g, 'delete it');
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
      // A disk's replication (GET's, not config) may come back with it.
      const sent = Array.isArray(v) ? v.map((d: unknown) => (d && typeof d === 'object' && !Array.isArray(d) ? { ...d, replication: undefined } : d)) : v;
      if (JSON.stringify(sent) !== JSON.stringify(cur.disks)) {
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
export async function updateVm(g: Guest, body: Record<string, unknown>): Promise<VmConfig> {
  const { vmid, config: cur } = g;
  refuseIfMigrating(vmid, 'change it');
  const next = validateVmConfig(mergeUpdate(cur, body), validationFacts('update', vmid));
  if (next.cdrom !== cur.cdrom && g.pid !== null) await changeMedium(g, next.cdrom);
  return updateVmConfig(vmid, (c) => {
    if (JSON.stringify(c) !== JSON.stringify(cur)) throw conflict(`guest ${vmid} was changed at the same time; try again`);
    return next;
  });
}

/** Insert an ISO into a running guest's CD-ROM drive, or eject (null). */
async function changeMedium(g: Guest, iso: string | null): Promise<void> {
  await withQmp(g.files.qmp, async (q) => {
    if (iso === null) await q.execute('eject', { id: 'cdrom', force: true });
    else await q.execute('blockdev-change-medium', { id: 'cdrom', filename: isoFile(iso), format: 'raw', 'read-only-mode': 'read-only' });
  });
  updateRunInfo(g, (info) => ({ ...info, cdrom: iso, ...(info.config ? { config: { ...info.config, cdrom: iso } } : {}) }));
}

/** Change the CD: an ISO of the library or null (empty drive). */
export function changeCdrom(g: Guest, cdrom: unknown): Promise<VmConfig> {
  return updateVm(g, { cdrom });
}

/**
 * Both sides of replicated disks (drbd/guest.ts GUEST_REPLICAS: it speaks to
 * the peer node, a layer above this one). `make` is all or nothing.
 */
export interface Replicas {
  make(cfg: { vmid: number; disks: readonly DiskConfig[] }): Promise<void>;
  drop(vmid: number, disks: readonly number[]): Promise<void>;
  /** An existing raw disk made replicated with its data (all or nothing), and that undone. */
  convert(vmid: number, disk: DiskConfig): Promise<void>;
  unconvert(vmid: number, disk: DiskConfig): Promise<void>;
}

const NO_REPLICAS = 'replicated disks are made through the API (POST /api/vm), which speaks to the peer node';

/**
 * The first disk index of a guest that its config and its folder leave
 * free: no disk of that index in `taken`, no file of it in `files`
 * (vm-101-disk-1.qcow2, vm-101-disk-1.drbd.json, …).
 *
 *   freeDiskIndex(101, {0}, ['vm-101-disk-0.raw', 'vm-101-disk-1.drbd.json']) → 2
 */
export function freeDiskIndex(vmid: number, taken: ReadonlySet<number>, files: readonly string[], from = 0): number {
  const onDisk = new Set<number>();
  const re = new RegExp(`^vm-${vmid}-disk-([0-9]+)\\.`);
  for (const f of files) {
    const m = re.exec(f);
    if (m) onDisk.add(Number(m[1]));
  }
  let i = from;
  while (taken.has(i) || onDisk.has(i)) i++;
  return i;
}

const imageFiles = (g: Guest): string[] => (existsSync(g.files.imagesDir) ? readdirSync(g.files.imagesDir) : []);

/**
 * Add a disk (created now; a running guest sees it after its next start).
 * A replicated one ({"replicated": true}) is made on both nodes by
 * `replicas.make`, as at a guest's create, before it enters the config;
 * its record, claimed exclusively, keeps two adds apart.
 */
export async function addDisk(g: Guest, body: DiskAdd, replicas?: Replicas): Promise<VmConfig> {
  const { vmid, config: cur } = g;
  const taken = new Set(cur.disks.map((d) => Number(d.id.slice(4))));
  if (body.replicated === true) return addReplicated(g, body, taken, replicas);
  const { format } = body;
  // Claim the file name first (O_EXCL): two concurrent adds never pick the same image.
  let index = -1;
  let file = '';
  for (;;) {
    index = freeDiskIndex(vmid, taken, imageFiles(g), index + 1);
    file = diskFileName(vmid, index, format);
    try {
      mkdirSync(g.files.imagesDir, { recursive: true });
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

/** addDisk's replicated case; `taken`: the disk indexes of the guest's config. */
async function addReplicated(g: Guest, body: DiskAdd, taken: ReadonlySet<number>, replicas: Replicas | undefined): Promise<VmConfig> {
  const { vmid, config: cur } = g;
  refuseIfMigrating(vmid, 'add a replicated disk');
  const index = freeDiskIndex(vmid, taken, imageFiles(g));
  const disk = { ...body, id: `disk${index}`, file: diskFileName(vmid, index, 'drbd') };
  const next = validateVmConfig({ ...cur, disks: [...cur.disks, disk] }, validationFacts('update', vmid));
  const added = next.disks[next.disks.length - 1]!;
  if (!replicas) throw conflict(NO_REPLICAS);
  await replicas.make({ vmid, disks: [added] });
  try {
    return updateVmConfig(vmid, (c) => {
      if (c.disks.some((d) => d.id === added.id)) throw conflict(`guest ${vmid} has a ${added.id} already; try again`);
      return { ...c, disks: [...c.disks, added] };
    });
  } catch (e) {
    await replicas.drop(vmid, [index]);
    throw e;
  }
}

/**
 * Make a raw disk of a stopped guest replicated, keeping its data
 * (POST /api/vm/<vmid>/disks/<id>/replicate): its image becomes the backing
 * file of a DRBD resource with the peer (`replicas.convert`), and the
 * config says so (the file vm-101-disk-1.raw → vm-101-disk-1.drbd). 409 for
 * a running guest, a disk replicated already and a disk that is not raw.
 */
export async function replicateDisk(g: Guest, id: string, replicas?: Replicas): Promise<VmConfig> {
  const { vmid, config: cur } = g;
  const disk = findDisk(cur, id);
  mustBeStopped(g, 'make a disk replicated');
  refuseIfMigrating(vmid, 'make a disk replicated');
  if (disk.replicated) throw conflict(`${id} of guest ${vmid} is replicated already`);
  if (disk.format !== 'raw') throw conflict(`${id} is ${disk.format}: only a raw disk can be made replicated (DRBD replicates blocks, not an image format)`);
  const changed: DiskConfig = { ...disk, file: diskFileName(vmid, Number(id.slice(4)), 'drbd'), replicated: true };
  const next = validateVmConfig({ ...cur, disks: cur.disks.map((d) => (d.id === id ? changed : d)) }, validationFacts('update', vmid));
  const after = findDisk(next, id);
  if (!replicas) throw conflict(NO_REPLICAS);
  await replicas.convert(vmid, disk);
  try {
    return updateVmConfig(vmid, (c) => {
      if (JSON.stringify(findDisk(c, id)) !== JSON.stringify(disk)) throw conflict(`${id} of guest ${vmid} was changed at the same time; try again`);
      return { ...c, disks: c.disks.map((d) => (d.id === id ? after : d)) };
    });
  } catch (e) {
    await replicas.unconvert(vmid, disk);
    throw e;
  }
}

/**
 * The drives of QMP query-block that have an image open:
 *   [{ "device": "drive-disk0", "inserted": { "image": { … } } }, { "device": "drive-cdrom" }] → {"drive-disk0"}
 */
export function parseOpenDrives(queryBlock: unknown): Set<string> {
  if (!Array.isArray(queryBlock)) throw new Error('query-block did not answer a list');
  return new Set(queryBlock.filter((b) => b && typeof b.device === 'string' && b.inserted).map((b) => b.device as string));
}

/** The drives the running QEMU of a guest has open. */
async function openDrives(g: Guest): Promise<Set<string>> {
  return parseOpenDrives(await withQmp(g.files.qmp, (q) => q.execute('query-block')));
}

function findDisk(cfg: VmConfig, id: string): DiskConfig {
  const d = cfg.disks.find((x) => x.id === id);
  if (!d) throw notFound(`guest ${cfg.vmid} has no disk ${id.slice(0, 20)}`);
  return d;
}

/**
 * Change a disk: grow it ({"size": "64G"}, also while running), or change
 * its bus or cache (at the next start). Shrinking is refused: it destroys data.
 * A running guest's disk grows live when its QEMU has it open; a disk
 * added since the start grows as an image (the guest sees it at its next
 * start anyway).
 */
export async function updateDisk(g: Guest, id: string, change: DiskChange): Promise<VmConfig> {
  const { vmid, config: cur } = g;
  const disk = findDisk(cur, id);
  const changed = { ...disk, ...change };
  const next = validateVmConfig({ ...cur, disks: cur.disks.map((d) => (d.id === id ? changed : d)) }, validationFacts('update', vmid));
  const after = findDisk(next, id);
  const from = parseSize(disk.size);
  const to = parseSize(after.size);
  if (to < from) throw invalid('size', `can only grow (now ${disk.size}); shrinking a disk destroys data`);
  // Its file ends in DRBD's meta-data, and the peer's must grow with it.
  if (to > from && disk.replicated) throw conflict(`${id} is replicated: a replicated disk cannot grow; add another disk`);
  if (to > from) {
    // A disk added while the guest runs is not in its QEMU (it appears at the next start): its image grows offline.
    if (g.pid !== null && (await openDrives(g)).has(`drive-${id}`)) {
      await withQmp(g.files.qmp, (q) => q.execute('block_resize', { device: `drive-${id}`, size: to }));
      updateRunInfo(g, (info) =>
        info.config ? { ...info, config: { ...info.config, disks: info.config.disks.map((d) => (d.id === id ? { ...d, size: after.size } : d)) } } : info);
    } else {
      await resizeImage(diskPath(vmid, disk), disk.format, to);
    }
  }
  return updateVmConfig(vmid, (c) => ({ ...c, disks: c.disks.map((d) => (d.id === id ? after : d)) }));
}

/**
 * Remove a disk of a stopped guest and delete its image; a replicated one
 * leaves the config first, then both its sides go (`replicas.drop`, the
 * peer's first, as a guest's delete does).
 */
export async function removeDisk(g: Guest, id: string, replicas?: Replicas): Promise<VmConfig> {
  const disk = findDisk(g.config, id);
  mustBeStopped(g, 'remove a disk');
  if (disk.replicated) {
    if (!replicas) throw conflict(NO_REPLICAS);
    refuseIfMigrating(g.vmid, 'remove a replicated disk');
  }
  const next = updateVmConfig(g.vmid, (c) => ({ ...c, disks: c.disks.filter((d) => d.id !== id), boot: c.boot.filter((b) => b !== id) }));
  if (disk.replicated) await replicas!.drop(g.vmid, [Number(id.slice(4))]);
  else removeFile(diskPath(g.vmid, disk));
  return next;
}
