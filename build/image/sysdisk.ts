/**
 * The system on a node's disks, as data: the partition table a blank disk
 * gets when the node is asked to keep its system on it (`ramvm.sysdisk=1`),
 * the GRUB boot code written into it, and the boot menu of such a disk.
 * node-setup.ts writes what these functions return; the unit tests check
 * them byte by byte, and the lab boots the result.
 *
 * A disk that carries the system (GPT, 512-byte sectors):
 *
 *   LBA 0          protective MBR, with GRUB's boot.img as its code
 *   LBA 1–33       GPT header and entries
 *   1 MiB          p1 ramvm-boot  ext2, 512 MiB: grub/grub.cfg, vmlinuz, initrd.img, ramvm-release
 *   513 MiB        p2 BIOS boot   1 MiB: GRUB's core.img (no filesystem)
 *   514 MiB        p3 ramvm-data  ext4, the rest: the node's data, as on any data disk
 *   last 33 LBAs   the backup GPT
 *
 * The data partition is made once, on a blank disk, and never touched
 * again: a later boot writes only p1 and p2 (and LBA 0's code, never its
 * partition table). A disk an older image made ext4 as a whole has no room
 * for the system and is left as it is.
 *
 * GRUB's core.img is made at build time (grub-mkimage, i386-pc) with its
 * prefix "(,gpt1)/grub": the first partition of whichever disk the BIOS
 * booted, so the same bytes serve every disk. The patches below are those
 * grub-bios-setup makes for an embedded core.img (GRUB 2.06,
 * include/grub/i386/pc/boot.h).
 */
import { createHash, randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { BootParams } from './boot-params';
import { BASE_CMDLINE, grubPreamble } from './layout';

export const SECTOR_BYTES = 512;
export const BOOT_LABEL = 'ramvm-boot';
/** Room for two releases' kernel and initrd side by side (one is ~63 MB) while an update writes the new one. */
export const BOOT_PART_MIB = 512;
export const BIOS_PART_MIB = 1;
/** The data partition is at least this big, or the disk is too small for the system. */
export const MIN_DATA_MIB = 1024;
/** Where the boot partition is mounted while the set-up writes it. */
export const BOOT_MOUNT = '/mnt/boot';
/** File on the boot partition (and the ISO's /boot) naming the release its kernel and initrd are. */
export const RELEASE_FILE = 'ramvm-release';
/** The running node's release, written by the image build. */
export const NODE_RELEASE = '/opt/ramvm/release';
/** GRUB's boot code in the image, written to a system disk by the set-up. */
export const NODE_BOOT_IMG = '/opt/ramvm/boot/boot.img';
export const NODE_CORE_IMG = '/opt/ramvm/boot/core.img';
/** core.img's prefix: partition 1 of the disk the BIOS booted (GRUB fills in the drive). */
export const GRUB_CORE_PREFIX = '(,gpt1)/grub';
/** Built into core.img, so nothing is loaded from the disk but grub.cfg, the kernel and the initrd. */
export const GRUB_CORE_MODULES = ['biosdisk', 'part_gpt', 'ext2', 'normal', 'linux', 'serial', 'terminal', 'echo', 'test'] as const;

const MIB_SECTORS = (1024 * 1024) / SECTOR_BYTES;
const ENTRIES = 128;
const ENTRY_BYTES = 128;
const ENTRY_SECTORS = (ENTRIES * ENTRY_BYTES) / SECTOR_BYTES; // 32

export const GPT_TYPES = {
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  biosBoot: '21686148-6453-6E6F-744E-656564454649',
} as const;

export interface GptPartition {
  /** 1-based partition number. */
  n: number;
  name: string;
  type: string;
  firstLba: number;
  /** Inclusive. */
  lastLba: number;
}

/** Partition numbers of a system disk. */
export const SYS_PARTS = { boot: 1, bios: 2, data: 3 } as const;

/** The partitions of a system disk of `sectors` 512-byte sectors; throws when the disk is too small. */
export function sysdiskLayout(sectors: number): GptPartition[] {
  const bootFirst = MIB_SECTORS;
  const biosFirst = bootFirst + BOOT_PART_MIB * MIB_SECTORS;
  const dataFirst = biosFirst + BIOS_PART_MIB * MIB_SECTORS;
  const lastUsable = sectors - 1 - 1 - ENTRY_SECTORS;
  const dataSectors = lastUsable - dataFirst + 1;
  if (dataSectors < MIN_DATA_MIB * MIB_SECTORS) {
    const mib = Math.floor((sectors * SECTOR_BYTES) / (1024 * 1024));
    throw new Error(`the disk has ${mib} MiB; the system and a data partition need at least ${BOOT_PART_MIB + BIOS_PART_MIB + MIN_DATA_MIB + 2} MiB`);
  }
  return [
    { n: SYS_PARTS.boot, name: BOOT_LABEL, type: GPT_TYPES.linux, firstLba: bootFirst, lastLba: biosFirst - 1 },
    { n: SYS_PARTS.bios, name: 'bios-boot', type: GPT_TYPES.biosBoot, firstLba: biosFirst, lastLba: dataFirst - 1 },
    { n: SYS_PARTS.data, name: 'ramvm-data', type: GPT_TYPES.linux, firstLba: dataFirst, lastLba: lastUsable },
  ];
}

/** "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" → GPT's mixed-endian 16 bytes (first three fields little-endian). */
export function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a GUID: ${guid}`);
  const b = Buffer.from(hex, 'hex');
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

export interface SectorWrite {
  lba: number;
  data: Buffer;
}

export interface GptIds {
  disk: string;
  /** One per partition, by index. */
  parts: string[];
}

export function randomGptIds(count: number): GptIds {
  return { disk: randomUUID(), parts: Array.from({ length: count }, () => randomUUID()) };
}

/**
 * The sectors of a new GPT: protective MBR (partition table only, no
 * code: bootCode() adds GRUB's), primary header and entries, backup
 * entries and header.
 */
export function gptWrites(sectors: number, parts: readonly GptPartition[], ids: GptIds): SectorWrite[] {
  const entries = Buffer.alloc(ENTRIES * ENTRY_BYTES);
  parts.forEach((p, i) => {
    const e = entries.subarray((p.n - 1) * ENTRY_BYTES, p.n * ENTRY_BYTES);
    guidBytes(p.type).copy(e, 0);
    guidBytes(ids.parts[i]!).copy(e, 16);
    e.writeBigUInt64LE(BigInt(p.firstLba), 32);
    e.writeBigUInt64LE(BigInt(p.lastLba), 40);
    Buffer.from(p.name.slice(0, 36), 'utf16le').copy(e, 56);
  });
  const entriesCrc = crc32(entries);
  const last = sectors - 1;
  const header = (myLba: number, altLba: number, entriesLba: number) => {
    const h = Buffer.alloc(SECTOR_BYTES);
    h.write('EFI PART', 0, 'latin1');
    h.writeUInt32LE(0x00010000, 8);
    h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(myLba), 24);
    h.writeBigUInt64LE(BigInt(altLba), 32);
    h.writeBigUInt64LE(BigInt(2 + ENTRY_SECTORS), 40);
    h.writeBigUInt64LE(BigInt(last - 1 - ENTRY_SECTORS), 48);
    guidBytes(ids.disk).copy(h, 56);
    h.writeBigUInt64LE(BigInt(entriesLba), 72);
    h.writeUInt32LE(ENTRIES, 80);
    h.writeUInt32LE(ENTRY_BYTES, 84);
    h.writeUInt32LE(entriesCrc, 88);
    h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
    return h;
  };
  const mbr = Buffer.alloc(SECTOR_BYTES);
  // One partition of type 0xEE over the whole disk (at most 2^32-1 sectors), as the UEFI spec asks.
  mbr.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 446);
  mbr.writeUInt32LE(1, 454);
  mbr.writeUInt32LE(Math.min(sectors - 1, 0xffffffff), 458);
  mbr.writeUInt16LE(0xaa55, 510);
  return [
    { lba: 0, data: mbr },
    { lba: 1, data: header(1, last, 2) },
    { lba: 2, data: entries },
    { lba: last - ENTRY_SECTORS, data: entries },
    { lba: last, data: header(last, 1, last - ENTRY_SECTORS) },
  ];
}

/** boot.h of GRUB 2.06 (i386-pc). */
const KERNEL_SECTOR = 0x5c;
const DRIVE_CHECK = 0x66;
const NT_MAGIC = 0x1b8;
const PART_END = 0x1fe;
const LIST_SIZE = 12;
/** Where diskboot loads the rest of core.img: GRUB_BOOT_I386_PC_KERNEL_SEG + one sector, in paragraphs. */
const CORE_SEGMENT = 0x820;

/**
 * GRUB's boot code for a disk whose core.img lies at `coreLba` (the BIOS
 * boot partition): LBA 0 becomes boot.img with the disk's own signature and
 * partition table kept, pointing at core.img; core.img's first sector gets
 * the block list of the rest. What grub-bios-setup writes, without it.
 */
export function bootCode(bootImg: Buffer, coreImg: Buffer, mbr: Buffer, coreLba: number): { mbr: Buffer; core: Buffer } {
  if (bootImg.length !== SECTOR_BYTES) throw new Error(`boot.img has ${bootImg.length} bytes, not ${SECTOR_BYTES}`);
  if (mbr.length !== SECTOR_BYTES || mbr.readUInt16LE(510) !== 0xaa55) throw new Error('LBA 0 holds no partition table');
  if (coreImg.length <= SECTOR_BYTES) throw new Error('core.img is too small');
  const outMbr = Buffer.from(bootImg);
  mbr.copy(outMbr, NT_MAGIC, NT_MAGIC, PART_END);
  outMbr.writeBigUInt64LE(BigInt(coreLba), KERNEL_SECTOR);
  // A hard disk: trust the drive the BIOS booted (grub-bios-setup's 0x9090 over the jump past the check).
  outMbr[DRIVE_CHECK] = 0x90;
  outMbr[DRIVE_CHECK + 1] = 0x90;
  const sectors = Math.ceil(coreImg.length / SECTOR_BYTES);
  const core = Buffer.alloc(sectors * SECTOR_BYTES);
  coreImg.copy(core);
  const list = SECTOR_BYTES - LIST_SIZE;
  core.writeBigUInt64LE(BigInt(coreLba + 1), list);
  core.writeUInt16LE(sectors - 1, list + 8);
  core.writeUInt16LE(CORE_SEGMENT, list + 10);
  // The next entry (below) ends the list.
  core.fill(0, list - LIST_SIZE, list);
  return { mbr: outMbr, core };
}

/** The device of partition `n` of a disk: /dev/vda → /dev/vda3, /dev/nvme0n1 → /dev/nvme0n1p3. */
export function partitionPath(disk: string, n: number): string {
  return /[0-9]$/.test(disk) ? `${disk}p${n}` : `${disk}${n}`;
}

/**
 * The kernel parameters a system disk boots with: the node's own (name,
 * addresses, NIC, a shell if it had one) and ramvm.sysdisk=1, so the same
 * node comes up, finding its data partition by label. Never datadisk=:
 * device names change with the port a disk is plugged into.
 */
export function sysdiskParams(p: BootParams, node: string): string[] {
  return [
    `ramvm.node=${node}`,
    ...(p.ip ? [`ramvm.ip=${p.ip.address}/${p.ip.prefix}`] : []),
    ...(p.ip && p.gw ? [`ramvm.gw=${p.gw}`] : []),
    ...(p.ip && p.dns ? [`ramvm.dns=${p.dns.join(',')}`] : []),
    ...(p.nic ? [`ramvm.nic=${p.nic}`] : []),
    'ramvm.sysdisk=1',
    ...(p.shell ? ['ramvm.shell'] : []),
  ];
}

/** grub.cfg of a system disk's boot partition (GRUB's root is that partition). */
export function sysdiskGrubConfig(params: readonly string[], release: string): string {
  const cmdline = [...BASE_CMDLINE, 'console=tty0', 'console=ttyS0,115200', ...params].join(' ');
  return [
    `# ramvm ${release}, written by the node at boot: changes here are lost at the next update`,
    ...grubPreamble(),
    `menuentry 'ramvm ${release.replace(/'/g, '')} from this disk' {`,
    `  linux /vmlinuz ${cmdline}`,
    '  initrd /initrd.img',
    '}',
    '',
    `menuentry 'ramvm ${release.replace(/'/g, '')}, RAM only (no data disk)' {`,
    `  linux /vmlinuz ${[...BASE_CMDLINE, 'console=tty0', 'console=ttyS0,115200', 'ramonly'].join(' ')}`,
    '  initrd /initrd.img',
    '}',
    '',
  ].join('\n');
}

/**
 * grub.cfg of a backup disk's boot partition: the rescue image's kernel in
 * backup mode (ramvm.backup=, the backup filesystem by UUID, mounted
 * read-only; everything else in RAM), the console asking for the IP
 * settings. The second entry is a root shell for rescue.
 *
 *   backupDiskGrubConfig("0b6d…", "0.1.0-3f2a…", "BACKUP1")
 *   → menuentry 'ramvm 0.1.0-3f2a… backup mode, disk BACKUP1' {
 *       linux /vmlinuz quiet panic=10 console=tty0 console=ttyS0,115200 ramvm.backup=0b6d… ramvm.ip=ask
 */
export function backupDiskGrubConfig(fsUuid: string, release: string, name: string): string {
  if (!/^[0-9A-Fa-f-]{9,36}$/.test(fsUuid)) throw new Error(`not a filesystem UUID: ${fsUuid}`);
  const base = [...BASE_CMDLINE, 'console=tty0', 'console=ttyS0,115200', `ramvm.backup=${fsUuid}`];
  const title = `ramvm ${release.replace(/'/g, '')}`;
  const disk = name.replace(/[^A-Za-z0-9._-]/g, '');
  return [
    `# ramvm ${release}, written by a backup job: changes here are lost at its next run`,
    ...grubPreamble(),
    `menuentry '${title} backup mode, disk ${disk}' {`,
    `  linux /vmlinuz ${[...base, 'ramvm.ip=ask'].join(' ')}`,
    '  initrd /initrd.img',
    '}',
    '',
    `menuentry '${title} backup mode, root shell on serial' {`,
    `  linux /vmlinuz ${[...base, 'ramvm.ip=ask', 'ramvm.shell'].join(' ')}`,
    '  initrd /initrd.img',
    '}',
    '',
  ].join('\n');
}

/**
 * Whether a backup storage's partition lies on a disk laid out to boot:
 * partition 3 of a GPT disk whose partition 1 is labelled ramvm-boot (what
 * POST /api/storage/<name>/disk makes). Else why not, for the job's log.
 */
export function backupDiskVerdict(partition: string, partNumber: number | null, ptType: string | null, bootLabel: string | null):
  { ok: true } | { ok: false; why: string } {
  if (partNumber === null) return { ok: false, why: `${partition} is a whole disk, not a partition: no room for a boot partition` };
  if (partNumber !== SYS_PARTS.data || ptType !== 'gpt' || bootLabel !== BOOT_LABEL) {
    return { ok: false, why: `${partition} is not partition ${SYS_PARTS.data} of a GPT disk whose partition ${SYS_PARTS.boot} is labelled ${BOOT_LABEL}` };
  }
  return { ok: true };
}

/** What blkid -p says of a device: filesystem TYPE and partition table PTTYPE (either may be missing). */
export interface Probe {
  type: string | null;
  ptType: string | null;
}

/** `blkid -p -o export DEV` → TYPE and PTTYPE; exit 2 (nothing found) is an empty output. */
export function parseProbe(out: string): Probe {
  return { type: /^TYPE=(\S+)$/m.exec(out)?.[1] ?? null, ptType: /^PTTYPE=(\S+)$/m.exec(out)?.[1] ?? null };
}

export type SysdiskVerdict =
  /** A blank whole disk: partition it, boot partition + data partition. */
  | { kind: 'partition' }
  /** Already a system disk: its data partition and boot partition. */
  | { kind: 'system'; data: string; boot: string }
  /** No room for the system: used as it is (whole-disk filesystem, a partition, or not ours). */
  | { kind: 'leave'; why: string };

/**
 * What to do with a chosen data device when the system goes on the disks.
 * `labels` are the filesystem labels of the disk's partitions (by partition
 * number) when it has a partition table.
 */
export function sysdiskVerdict(device: string, isPartition: boolean, probe: Probe, labels: ReadonlyMap<number, string>, sectorBytes: number): SysdiskVerdict {
  if (isPartition) return { kind: 'leave', why: `${device} is a partition, not a whole disk: no room for the system` };
  if (probe.ptType === 'gpt' && labels.get(SYS_PARTS.boot) === BOOT_LABEL && labels.get(SYS_PARTS.data) === 'ramvm-data') {
    return { kind: 'system', data: partitionPath(device, SYS_PARTS.data), boot: partitionPath(device, SYS_PARTS.boot) };
  }
  if (probe.type) return { kind: 'leave', why: `${device} holds a ${probe.type} filesystem as a whole (formatted by an older image): no room for the system, left as it is` };
  if (probe.ptType) return { kind: 'leave', why: `${device} has a ${probe.ptType} partition table that is not ramvm's: left as it is` };
  if (sectorBytes !== SECTOR_BYTES) return { kind: 'leave', why: `${device} has ${sectorBytes}-byte sectors; the system goes only on disks of 512-byte sectors` };
  return { kind: 'partition' };
}

/** The release of an image: package version and a hash of what is in it, e.g. "0.1.0-3f2a9c1d0b7e6a54". */
export function releaseName(version: string, hashes: readonly string[]): string {
  return `${version}-${createHash('sha256').update(hashes.join('\n')).digest('hex').slice(0, 16)}`;
}
