/**
 * The system on a node's disks, at boot (root, part of node-setup.ts):
 * the edge that reads devices, writes the partition table of a blank disk,
 * and keeps each system disk's boot partition at the running release. What
 * it writes is decided in sysdisk.ts; every step is logged to /ram.log.
 *
 *   [  9.12] system on disk: /dev/vda is blank: GPT with ramvm-boot (512 MiB), BIOS boot, ramvm-data (3583 MiB)
 *   [ 14.80] system on disk /dev/vda: release (none) → 0.1.0-3f2a9c1d0b7e6a54: kernel, initrd, grub.cfg and GRUB written
 *
 * The data partition, once made, is never written here; a disk without
 * room for the system is only named in the log.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, realpathSync, renameSync, writeFileSync, writeSync, copyFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { BootParams } from './boot-params';
import { NODE_PATH } from './node-paths';
import { DATA_MOUNT } from './setup-plan';
import {
  BOOT_LABEL, BOOT_MOUNT, NODE_BOOT_IMG, NODE_CORE_IMG, NODE_RELEASE, RELEASE_FILE, SECTOR_BYTES, SYS_PARTS,
  bootCode, gptWrites, parseProbe, partitionPath, randomGptIds, sysdiskGrubConfig, sysdiskLayout, sysdiskParams, sysdiskVerdict,
  type Probe,
} from './sysdisk';

export interface SetupIo {
  log(line: string): void;
  /** Runs argv, logs it; false when it failed. */
  run(what: string, argv: string[]): boolean;
}

/**
 * The node setting on the data disk: { "sysdisk": true, "release": "…" }.
 * At the disk's top, beside the folders bound into the node: root's, out
 * of reach of the node's user (who owns etc/ramvm) and of its CGIs.
 */
export const SYSDISK_SETTING = `${DATA_MOUNT}/ramvm-boot.json`;
/** The ISO's volume label (image.ts, grub-mkrescue -volid): a boot medium of some release. */
const MEDIUM_LABEL = 'RAMVM';
const MEDIUM_MOUNT = '/mnt/medium';

function sh(argv: string[]): { status: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: NODE_PATH }, timeout: 60_000 });
  return { status: r.status, out: r.stdout ?? '' };
}

function probe(device: string): Probe {
  return parseProbe(sh(['blkid', '-p', '-o', 'export', device]).out);
}

export function blockName(device: string): string {
  return basename(realpathSync(device));
}

function isPartition(device: string): boolean {
  return existsSync(`/sys/class/block/${blockName(device)}/partition`);
}

export function readSector(device: string, lba: number): Buffer {
  const fd = openSync(device, 'r');
  try {
    const b = Buffer.alloc(SECTOR_BYTES);
    readSync(fd, b, 0, SECTOR_BYTES, lba * SECTOR_BYTES);
    return b;
  } finally {
    closeSync(fd);
  }
}

export function writeSectors(device: string, writes: readonly { lba: number; data: Buffer }[]): void {
  const fd = openSync(device, 'r+');
  try {
    for (const w of writes) writeSync(fd, w.data, 0, w.data.length, w.lba * SECTOR_BYTES);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function waitFor(path: string, ms: number): boolean {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) return false;
    spawnSync('sleep', ['0.2'], { env: { PATH: NODE_PATH } });
  }
  return true;
}

/** Filesystem labels of a disk's partitions, by number. */
function partitionLabels(disk: string): Map<number, string> {
  const labels = new Map<number, string>();
  const name = blockName(disk);
  let entries: string[] = [];
  try {
    entries = readdirSync(`/sys/class/block/${name}`).filter((e) => e.startsWith(name));
  } catch {
    return labels;
  }
  for (const e of entries) {
    try {
      const n = Number(readFileSync(`/sys/class/block/${name}/${e}/partition`, 'utf8').trim());
      const label = /^LABEL=(.*)$/m.exec(sh(['blkid', '-p', '-o', 'export', `/dev/${e}`]).out)?.[1];
      if (label) labels.set(n, label);
    } catch {
      /* not a partition */
    }
  }
  return labels;
}

/** Whether the first MiB of a device is all zeros (a disk with data but no signature blkid knows is not blank). */
export function zeroStart(device: string): boolean {
  const fd = openSync(device, 'r');
  try {
    const b = Buffer.alloc(1024 * 1024);
    const n = readSync(fd, b, 0, b.length, 0);
    return b.subarray(0, n).every((x) => x === 0);
  } finally {
    closeSync(fd);
  }
}

/**
 * With ramvm.sysdisk=1 and no data disk named or labelled: the first whole
 * disk that carries no signature at all and only zeros in its first MiB
 * (nothing on it to lose).
 */
export function blankDisk(io: SetupIo): string | null {
  for (const name of readdirSync('/sys/class/block').sort()) {
    if (existsSync(`/sys/class/block/${name}/partition`) || /^(loop|ram|sr|zram|dm-|md)/.test(name)) continue;
    if (readFileSync(`/sys/class/block/${name}/size`, 'utf8').trim() === '0') continue;
    const dev = `/dev/${name}`;
    if (!existsSync(dev)) continue;
    const r = sh(['blkid', '-p', '-o', 'export', dev]);
    if (r.status !== 2) continue;
    if (zeroStart(dev)) return dev;
    io.log(`system on disk: ${dev} has no signature but data in its first MiB: not used`);
  }
  return null;
}

export interface DataDevice {
  /** What to format (when blank) or check and mount. */
  device: string;
  /** The boot partition of its disk, when the disk carries the system. */
  boot?: string;
  /** The whole disk, when it carries the system. */
  disk?: string;
}

/**
 * The chosen device as a data device: a system disk's data partition; a
 * blank whole disk partitioned first when the system is asked for; else
 * the device itself. null: a partition table that is not ramvm's on a
 * whole disk (never formatted over).
 */
export function resolveDataDevice(device: string, p: BootParams, io: SetupIo): DataDevice | null {
  const part = isPartition(device);
  const pr = probe(device);
  if (part) {
    const bootOf = siblingBoot(device);
    if (p.sysdisk && !bootOf) io.log(`system on disk: ${device} is a partition, not a whole disk: no room for the system`);
    return { device, ...(bootOf ?? {}) };
  }
  const sectorBytes = Number(readFileSync(`/sys/class/block/${blockName(device)}/queue/logical_block_size`, 'utf8').trim());
  const v = sysdiskVerdict(device, false, pr, pr.ptType ? partitionLabels(device) : new Map(), sectorBytes);
  if (v.kind === 'system') return { device: v.data, boot: v.boot, disk: device };
  if (v.kind === 'partition') {
    if (!p.sysdisk) return { device };
    return partition(device, io);
  }
  if (pr.ptType && !pr.type) {
    io.log(`data disk ${device}: ${v.why}; everything stays in RAM (name a partition with datadisk=)`);
    return null;
  }
  if (p.sysdisk) io.log(`system on disk: ${v.why}`);
  return { device };
}

/** A data partition's disk, when it is partition 3 of a system disk: its boot partition. */
function siblingBoot(device: string): { boot: string; disk: string } | null {
  const name = blockName(device);
  const n = Number(readFileSync(`/sys/class/block/${name}/partition`, 'utf8').trim());
  if (n !== SYS_PARTS.data) return null;
  const disk = `/dev/${basename(dirname(realpathSync(`/sys/class/block/${name}`)))}`;
  const boot = partitionPath(disk, SYS_PARTS.boot);
  if (!existsSync(boot)) return null;
  const label = /^LABEL=(.*)$/m.exec(sh(['blkid', '-p', '-o', 'export', boot]).out)?.[1];
  return label === BOOT_LABEL ? { boot, disk } : null;
}

function partition(disk: string, io: SetupIo): DataDevice | null {
  let made;
  try {
    made = layOutDisk(disk, io);
  } catch (e) {
    io.log(`system on disk: ${disk}: ${(e as Error).message}; used as a data disk as a whole`);
    return { device: disk };
  }
  if (typeof made === 'string') {
    io.log(`system on disk: ${made}; everything stays in RAM`);
    return null;
  }
  return made.bootFormatted ? { device: made.data, boot: made.boot, disk } : { device: made.data, disk };
}

/**
 * A blank whole disk laid out as a system disk: the GPT of sysdiskLayout
 * written, the kernel's view of it reread, the boot partition made ext2
 * (ramvm-boot); the data partition is left for the caller to format. Throws
 * when the disk is too small; a string says what went wrong after the GPT.
 * Node set-up (ramvm.sysdisk=1) and backup disks (root/backup-disk.ts) alike.
 */
export function layOutDisk(disk: string, io: SetupIo): { boot: string; data: string; bootFormatted: boolean } | string {
  const sectors = Number(readFileSync(`/sys/class/block/${blockName(disk)}/size`, 'utf8').trim());
  const layout = sysdiskLayout(sectors);
  const mib = (n: number) => Math.round((n * SECTOR_BYTES) / (1024 * 1024));
  io.log(`system on disk: ${disk} is blank: GPT with ${layout.map((l) => `${l.name} (${mib(l.lastLba - l.firstLba + 1)} MiB)`).join(', ')}`);
  writeSectors(disk, gptWrites(sectors, layout, randomGptIds(layout.length)));
  io.run('system on disk', ['blockdev', '--rereadpt', disk]);
  const boot = partitionPath(disk, SYS_PARTS.boot);
  const data = partitionPath(disk, SYS_PARTS.data);
  if (!waitFor(boot, 10_000) || !waitFor(data, 10_000)) return `${disk}: the kernel shows no partitions ${boot}, ${data}`;
  const bootFormatted = io.run('system on disk', ['mke2fs', '-q', '-F', '-t', 'ext2', '-L', BOOT_LABEL, '-m', '0', boot]);
  return { boot, data, bootFormatted };
}

interface Setting {
  sysdisk?: boolean;
  release?: string;
}

function readSetting(): Setting {
  try {
    return JSON.parse(readFileSync(SYSDISK_SETTING, 'utf8')) as Setting;
  } catch {
    return {};
  }
}

function writeSetting(s: Setting): void {
  writeFileSync(SYSDISK_SETTING + '.tmp', JSON.stringify(s, null, 2) + '\n', { mode: 0o644 });
  renameSync(SYSDISK_SETTING + '.tmp', SYSDISK_SETTING);
}

export function runningRelease(): string {
  try {
    return readFileSync(NODE_RELEASE, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

export function readRelease(dir: string): string | null {
  try {
    return readFileSync(join(dir, RELEASE_FILE), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** A mounted boot medium (the ISO, a stick) of the running release: where kernel and initrd are copied from. */
function mountMedium(release: string, io: SetupIo): string | null {
  const r = sh(['blkid', '-t', `LABEL=${MEDIUM_LABEL}`, '-o', 'device']);
  if (r.out.trim()) sh(['modprobe', '-b', 'isofs']);
  for (const dev of r.out.split('\n').filter(Boolean)) {
    mkdirSync(MEDIUM_MOUNT, { recursive: true });
    // -t: the kernel loads isofs for a named type; an unnamed one is only tried among those loaded.
    if (!io.run('system on disk', ['mount', '-t', 'iso9660', '-o', 'ro', dev, MEDIUM_MOUNT])) continue;
    if (readRelease(join(MEDIUM_MOUNT, 'boot')) === release && existsSync(join(MEDIUM_MOUNT, 'boot/vmlinuz')) && existsSync(join(MEDIUM_MOUNT, 'boot/initrd.img'))) {
      return join(MEDIUM_MOUNT, 'boot');
    }
    sh(['umount', MEDIUM_MOUNT]);
  }
  return null;
}

/**
 * A boot partition (mounted at `mount`) brought to a release: kernel and
 * initrd from `medium` (a boot folder holding vmlinuz and initrd.img),
 * grub.cfg, and GRUB's boot code (this node's, /opt/ramvm/boot) in LBA 0
 * and the BIOS boot partition of `disk`, laid out as sysdiskLayout says.
 * The release file goes last: a boot partition cut off half way names its
 * old release and is written again. System disks and backup disks alike.
 */
export function writeBootPartition(disk: string, mount: string, medium: string, cfg: string, release: string): void {
  mkdirSync(join(mount, 'grub'), { recursive: true });
  copyAtomic(join(medium, 'vmlinuz'), join(mount, 'vmlinuz'));
  copyAtomic(join(medium, 'initrd.img'), join(mount, 'initrd.img'));
  writeFileSync(join(mount, 'grub/grub.cfg'), cfg);
  const layout = sysdiskLayout(Number(readFileSync(`/sys/class/block/${blockName(disk)}/size`, 'utf8').trim()));
  const bios = layout.find((l) => l.n === SYS_PARTS.bios)!;
  const code = bootCode(readFileSync(NODE_BOOT_IMG), readFileSync(NODE_CORE_IMG), readSector(disk, 0), bios.firstLba);
  writeSectors(disk, [{ lba: bios.firstLba, data: code.core }, { lba: 0, data: code.mbr }]);
  writeFileSync(join(mount, RELEASE_FILE), release + '\n');
  sh(['sync']);
}

function copyAtomic(src: string, dest: string): void {
  copyFileSync(src, dest + '.new');
  const fd = openSync(dest + '.new', 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(dest + '.new', dest);
}

/**
 * After the data disk is mounted: the setting (ramvm.sysdisk= changes it,
 * else the one on the disk holds), then the boot partition brought to the
 * running release: kernel and initrd from a medium of this release, the
 * disk's grub.cfg with this node's parameters, GRUB's boot code.
 */
export function keepSystemOnDisk(dd: DataDevice | null, p: BootParams, node: string, io: SetupIo): void {
  const setting = dd ? readSetting() : {};
  const want = p.sysdisk ?? setting.sysdisk ?? false;
  if (dd && p.sysdisk !== undefined && p.sysdisk !== setting.sysdisk) {
    writeSetting({ ...setting, sysdisk: p.sysdisk });
    io.log(`system on disk: setting ${p.sysdisk ? 'on' : 'off'} (ramvm.sysdisk=${p.sysdisk ? 1 : 0}), kept on the data disk`);
  }
  if (!want) return;
  if (!dd) {
    io.log('system on disk: no data disk, nothing to write');
    return;
  }
  if (!dd.boot || !dd.disk) {
    io.log(`system on disk: the data disk ${dd.device} has no boot partition; it stays a data disk only`);
    return;
  }
  const release = runningRelease();
  mkdirSync(BOOT_MOUNT, { recursive: true });
  io.run('system on disk', ['e2fsck', '-p', dd.boot]);
  if (!io.run('system on disk', ['mount', '-o', 'noatime', dd.boot, BOOT_MOUNT])) return;
  try {
    const had = readRelease(BOOT_MOUNT);
    const cfg = sysdiskGrubConfig(sysdiskParams(p, node), release);
    mkdirSync(join(BOOT_MOUNT, 'grub'), { recursive: true });
    if (had === release) {
      let old = '';
      try {
        old = readFileSync(join(BOOT_MOUNT, 'grub/grub.cfg'), 'utf8');
      } catch {
        /* none */
      }
      if (old !== cfg) {
        writeFileSync(join(BOOT_MOUNT, 'grub/grub.cfg'), cfg);
        io.log(`system on disk ${dd.disk}: release ${release}, grub.cfg written with this boot's parameters`);
      } else {
        io.log(`system on disk ${dd.disk}: release ${release}, up to date`);
      }
      return;
    }
    const medium = mountMedium(release, io);
    if (!medium) {
      io.log(`system on disk ${dd.disk}: holds release ${had ?? '(none)'}, this is ${release}, and no boot medium of ${release} is attached (a network or -kernel boot): left as it is`);
      return;
    }
    try {
      writeBootPartition(dd.disk, BOOT_MOUNT, medium, cfg, release);
      writeSetting({ ...readSetting(), sysdisk: true, release });
      io.log(`system on disk ${dd.disk}: release ${had ?? '(none)'} → ${release}: kernel, initrd, grub.cfg and GRUB written to ${dd.boot}`);
    } finally {
      sh(['umount', MEDIUM_MOUNT]);
    }
  } finally {
    sh(['umount', BOOT_MOUNT]);
  }
}
