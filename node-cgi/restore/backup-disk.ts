/**
 * Backup disks that boot (root's work: the root helper's operations, or a
 * node started as root without separation): a blank disk laid out for a
 * device storage (prepare-backup-disk), and the boot partition of such a
 * disk brought to the rescue image on it (boot-backup). The layout is a
 * system disk's (build/image/sysdisk.ts), the backup filesystem in the
 * place of the node's data partition:
 *
 *   /dev/sdb1  ramvm-boot  ext2: grub/grub.cfg, vmlinuz, initrd.img, ramvm-release
 *   /dev/sdb2  BIOS boot   GRUB's core.img
 *   /dev/sdb3  the storage's filesystem (ext4, its label or UUID): ramvm/<vmid>/…, ramvm/rescue/<image>
 *
 *   prepare-backup-disk usb sdb   only a blank whole disk (no signature, zeros in its first MiB)
 *   boot-backup usb               while a job has storage "usb" mounted: its rescue image
 *                                 (ramvm/rescue/, a ramvm ISO) read by lib/iso9660.ts, never
 *                                 mounted, kernel and initrd copied to partition 1, grub.cfg booting backup
 *                                 mode (ramvm.backup=<UUID of partition 3>), GRUB's boot code
 *
 * Neither ever writes the backup filesystem once it exists: boot-backup
 * writes partition 1, the BIOS boot partition and LBA 0's code (never its
 * partition table). The storage, the disk and the rescue image are read by
 * the helper itself, never taken from its caller as paths.
 */
import { closeSync, constants, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { conflict, HttpError, internal } from '../lib/errors';
import { paths, deviceMountPoint } from '../lib/paths';
import { fileReader, isoCopy, isoLookup } from '../lib/iso9660';
import { findDeviceArgs, mountedAt, parseBlkidExport } from '../backup/target';
import { DISK_NAME_RE } from '../backup/validate';
import { RESCUE_STATE, rescueDir, type RescueState } from './medium';
import type { StorageConfig } from '../backup/types';
import {
  NODE_BOOT_IMG, NODE_CORE_IMG, RELEASE_FILE, SECTOR_BYTES, SYS_PARTS, backupDiskGrubConfig, backupDiskVerdict, parseProbe, partitionPath,
} from '../../build/image/sysdisk';
import { layOutDisk, readRelease, writeBootPartition, zeroStart, type SetupIo } from '../../build/image/sysdisk-node';

/** A rescue image's name on the storage (as the ISO library names them). */
const IMAGE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;
const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
/** What a boot partition takes from a rescue image's boot/. */
const RESCUE_FILES = ['vmlinuz', 'initrd.img', RELEASE_FILE] as const;
/** Largest of them read: a ramvm initrd is ~55 MB. */
const RESCUE_FILE_MAX_BYTES = 512 * 1024 * 1024;

export interface BackupDiskAnswer {
  disk: string;
  /** What was done, line by line, for the task's log. */
  notes: string[];
}

export interface BootBackupAnswer extends BackupDiskAnswer {
  release: string;
  /** false: the boot partition held this release and grub.cfg already. */
  written: boolean;
}

type DeviceConfig = Extract<StorageConfig, { type: 'device' }>;

/** argv run with PATH alone. */
function sh(argv: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH }, timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

function io(notes: string[]): SetupIo {
  return {
    log: (l) => notes.push(l),
    run: (what, argv) => {
      const r = sh(argv);
      if (r.status !== 0) notes.push(`${what}: ${argv.join(' ')} → exit ${r.status}: ${r.err.trim().split('\n').pop() ?? ''}`);
      return r.status === 0;
    },
  };
}

const probeOf = (dev: string) => sh(['blkid', '-p', '-o', 'export', dev]);

/** Lay out the blank whole disk `disk` (sdb) for storage `name`: boot partitions and the backup filesystem with the storage's label or UUID. */
export function prepareBackupDisk(name: string, c: DeviceConfig, disk: string): BackupDiskAnswer {
  if (c.fstype && c.fstype !== 'ext4') throw conflict(`storage ${name} names filesystem ${c.fstype}; a backup disk that boots is made ext4`);
  if (!DISK_NAME_RE.test(disk)) throw conflict(`${disk} is not a whole disk's name (sdb, vdc, nvme0n1)`);
  const dev = `/dev/${disk}`;
  const sys = `/sys/class/block/${disk}`;
  if (!existsSync(sys) || !existsSync(dev) || readFileSync(`${sys}/size`, 'utf8').trim() === '0') throw new HttpError('not_found', `no disk ${disk} on this node`);
  if (existsSync(`${sys}/partition`)) throw conflict(`${disk} is a partition, not a whole disk`);
  if (readFileSync(`${sys}/queue/logical_block_size`, 'utf8').trim() !== String(SECTOR_BYTES)) throw conflict(`${disk} does not have ${SECTOR_BYTES}-byte sectors`);
  // Never over anything: blkid finds no signature (exit 2) and the first MiB is zeros.
  const p = probeOf(dev);
  if (p.status !== 2) throw conflict(`${disk} is not blank (blkid: ${p.out.trim().split('\n').join(', ') || `exit ${p.status}`}); nothing was written`);
  if (!zeroStart(dev)) throw conflict(`${disk} has data in its first MiB; nothing was written`);
  if (parseBlkidExport(sh(findDeviceArgs(c)).out).length > 0) throw conflict(`a filesystem ${c.uuid ? `with UUID ${c.uuid}` : `labelled ${c.label}`} is connected already; nothing was written`);
  const notes: string[] = [];
  let made;
  try {
    made = layOutDisk(dev, io(notes));
  } catch (e) {
    throw conflict(`${disk}: ${(e as Error).message}; nothing was written`);
  }
  if (typeof made === 'string' || !made.bootFormatted) throw internal(`${typeof made === 'string' ? made : `${dev}: the boot partition was not made`}: ${notes.join('; ')}`);
  const mk = sh(['mke2fs', '-q', '-F', '-t', 'ext4', ...(c.label ? ['-L', c.label] : ['-U', c.uuid!]), made.data]);
  if (mk.status !== 0) throw internal(`mke2fs ${made.data} failed: ${mk.err.trim()}`);
  notes.push(`${made.data}: ext4 ${c.label ? `labelled ${c.label}` : `with UUID ${c.uuid}`}, the backups' filesystem`);
  return { disk: dev, notes };
}

/** Mount `dev` on `mp` with options; throws with mount's complaint. */
function mount(dev: string, mp: string, argv: string[]): void {
  mkdirSync(mp, { recursive: true, mode: 0o700 });
  if (mountedAt(mp)) sh(['umount', mp]);
  const r = sh(['mount', ...argv, dev, mp]);
  if (r.status !== 0) throw internal(`mount ${dev} failed: ${r.err.trim()}`);
}

function unmount(mp: string): void {
  if (mountedAt(mp)) sh(['umount', mp]);
  try {
    rmdirSync(mp);
  } catch {
    // left empty for the next run
  }
}

/**
 * While a job has storage `name` mounted: its disk's boot partition brought
 * to the rescue image on it, booting backup mode. Nothing is written when it
 * holds that release and grub.cfg already.
 */
export function bootBackupDisk(name: string): BootBackupAnswer {
  const mp = deviceMountPoint(name);
  const m = mountedAt(mp);
  if (!m) throw conflict(`storage ${name} is not mounted: a backup job makes its disk bootable while it has it mounted`);
  const part = realpathSync(m.source);
  const pname = basename(part);
  const pnum = existsSync(`/sys/class/block/${pname}/partition`) ? Number(readFileSync(`/sys/class/block/${pname}/partition`, 'utf8').trim()) : null;
  const disk = pnum === null ? part : `/dev/${basename(dirname(realpathSync(`/sys/class/block/${pname}`)))}`;
  const boot = partitionPath(disk, SYS_PARTS.boot);
  const bootLabel = existsSync(boot) ? (/^LABEL=(.*)$/m.exec(probeOf(boot).out)?.[1] ?? null) : null;
  const v = backupDiskVerdict(part, pnum, parseProbe(probeOf(disk).out).ptType, bootLabel);
  if (!v.ok) throw conflict(`storage ${name}: ${v.why}; lay out a blank disk for it with POST /api/storage/${name}/disk`);
  const fsUuid = /^UUID=(.*)$/m.exec(probeOf(part).out)?.[1];
  if (!fsUuid) throw internal(`${part} has no filesystem UUID`);
  for (const f of [NODE_BOOT_IMG, NODE_CORE_IMG]) if (!existsSync(f)) throw conflict(`this node has no GRUB boot code (${f}): only nodes booted from the ramvm image make backup disks bootable`);

  // The rescue image: rescue.json and the file it names, on the mounted storage (the node's user writes them: checked here).
  const rdir = rescueDir(mp);
  let state: RescueState;
  try {
    state = JSON.parse(readFileSync(join(rdir, RESCUE_STATE), 'utf8')) as RescueState;
  } catch {
    throw conflict(`storage ${name} holds no rescue image (set one with PUT /api/restore/medium)`);
  }
  if (typeof state?.name !== 'string' || !IMAGE_NAME_RE.test(state.name)) throw conflict(`storage ${name}: ${RESCUE_STATE} names no image`);
  const image = join(rdir, state.name);
  // Opened without following a link (the node's user owns the folder), and read here: never mounted, so
  // none of that user's bytes reach the kernel's isofs driver. Kernel, initrd and release go to root's own folder.
  let fd: number;
  try {
    fd = openSync(image, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    throw conflict(`storage ${name}: the rescue image ${state.name} is not a file there`);
  }
  const medium = mkdtempSync(join(tmpdir(), 'ramvm-rescue-'));
  const notes: string[] = [];
  const bootMp = join(paths().backupMounts, `.boot-${name}`);
  try {
    const notRamvm = (why: string) => conflict(`the rescue image ${state.name} is not a ramvm image (${why}): the disk is not made bootable`);
    try {
      if (!fstatSync(fd).isFile()) throw conflict(`storage ${name}: the rescue image ${state.name} is not a file there`);
      const r = fileReader(fd);
      const files = RESCUE_FILES.map((f) => [f, isoLookup(r, `boot/${f}`)] as const);
      const missing = files.filter(([, e]) => !e || e.dir).map(([f]) => `boot/${f}`);
      if (missing.length) throw notRamvm(`no ${missing.join(', ')}`);
      for (const [f, e] of files) {
        if (e!.size > RESCUE_FILE_MAX_BYTES) throw notRamvm(`boot/${f} is larger than ${RESCUE_FILE_MAX_BYTES} bytes`);
        isoCopy(r, e!, join(medium, f));
      }
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw notRamvm((e as Error).message);
    } finally {
      closeSync(fd);
    }
    const release = readRelease(medium) ?? '';
    if (!/^[A-Za-z0-9._+-]{1,80}$/.test(release)) throw notRamvm(`boot/${RELEASE_FILE} names no release`);
    const cfg = backupDiskGrubConfig(fsUuid, release, name);
    const fsck = sh(['e2fsck', '-p', boot]);
    if (fsck.status !== null && fsck.status > 1) notes.push(`e2fsck ${boot}: exit ${fsck.status}`);
    mount(boot, bootMp, ['-t', 'ext2', '-o', 'noatime,nosuid,nodev,noexec']);
    try {
      let had: string | null = readRelease(bootMp);
      let oldCfg = '';
      try {
        oldCfg = readFileSync(join(bootMp, 'grub/grub.cfg'), 'utf8');
      } catch {
        had = null;
      }
      if (had === release && oldCfg === cfg) {
        notes.push(`boot partition ${boot}: release ${release}, up to date`);
        return { disk, release, written: false, notes };
      }
      writeBootPartition(disk, bootMp, medium, cfg, release);
      notes.push(`boot partition ${boot}: release ${had ?? '(none)'} → ${release} from rescue image ${state.name}: kernel, initrd, grub.cfg (backup mode, ramvm.backup=${fsUuid}) and GRUB written; ${part} untouched`);
      return { disk, release, written: true, notes };
    } finally {
      unmount(bootMp);
    }
  } finally {
    rmSync(medium, { recursive: true, force: true });
  }
}
