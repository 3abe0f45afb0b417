import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { parseBootParams } from '../../../build/image/boot-params';
import {
  BOOT_LABEL, GPT_TYPES, backupDiskGrubConfig, backupDiskVerdict, bootCode, gptWrites, guidBytes, parseProbe, partitionPath, releaseName, sysdiskGrubConfig,
  sysdiskLayout, sysdiskParams, sysdiskVerdict,
} from '../../../build/image/sysdisk';

const GIB_SECTORS = (1024 * 1024 * 1024) / 512;
const IDS = {
  disk: '11111111-2222-3333-4444-555555555555',
  parts: ['aaaaaaaa-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-000000000003'],
};

const L = suite('sysdiskLayout');
L('should put the boot partition first at 1 MiB, BIOS boot after it and data on the rest', () => {
  const l = sysdiskLayout(4 * GIB_SECTORS);
  assert.equal(l.map((p) => [p.n, p.name, p.firstLba, p.lastLba]), [
    [1, 'ramvm-boot', 2048, 2048 + 512 * 2048 - 1],
    [2, 'bios-boot', 2048 + 512 * 2048, 2048 + 513 * 2048 - 1],
    [3, 'ramvm-data', 2048 + 513 * 2048, 4 * GIB_SECTORS - 34],
  ]);
  assert.is(l[1]!.type, GPT_TYPES.biosBoot);
});
L('should refuse a disk with no room for a 1 GiB data partition', () => {
  assert.throws(() => sysdiskLayout(GIB_SECTORS), /the disk has 1024 MiB; the system and a data partition need at least 1539 MiB/);
});
L.run();

const G = suite('gptWrites');
G('should encode GUIDs mixed-endian as GPT does', () => {
  assert.is(guidBytes('C12A7328-F81F-11D2-BA4B-00A0C93EC93B').toString('hex'), '28732ac11ff8d211ba4b00a0c93ec93b');
  assert.throws(() => guidBytes('nope'), /not a GUID: nope/);
});
G('should write headers whose CRCs and pointers check out, primary and backup', () => {
  const sectors = 4 * GIB_SECTORS;
  const w = gptWrites(sectors, sysdiskLayout(sectors), IDS);
  assert.equal(w.map((x) => x.lba), [0, 1, 2, sectors - 33, sectors - 1]);
  assert.is(w[0]!.data[450], 0xee, 'protective MBR type');
  assert.is(w[0]!.data.readUInt16LE(510), 0xaa55);
  for (const [h, my, alt, entries] of [[w[1]!.data, 1, sectors - 1, 2], [w[4]!.data, sectors - 1, 1, sectors - 33]] as const) {
    assert.is(h.toString('latin1', 0, 8), 'EFI PART');
    const crc = h.readUInt32LE(16);
    const copy = Buffer.from(h.subarray(0, 92));
    copy.writeUInt32LE(0, 16);
    assert.is(crc32(copy), crc, 'header CRC');
    assert.is(Number(h.readBigUInt64LE(24)), my);
    assert.is(Number(h.readBigUInt64LE(32)), alt);
    assert.is(Number(h.readBigUInt64LE(72)), entries);
    assert.is(h.readUInt32LE(88), crc32(w[2]!.data), 'entries CRC');
  }
  const e3 = w[2]!.data.subarray(256, 384);
  assert.is(Buffer.from(e3.subarray(56, 56 + 20)).toString('utf16le'), 'ramvm-data');
});
G('should be read back by util-linux as the three partitions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-gpt-'));
  try {
    const file = join(dir, 'disk.img');
    writeFileSync(file, '');
    truncateSync(file, 4 * 1024 * 1024 * 1024);
    const sectors = 4 * GIB_SECTORS;
    const fd = openSync(file, 'r+');
    for (const x of gptWrites(sectors, sysdiskLayout(sectors), IDS)) writeSync(fd, x.data, 0, x.data.length, x.lba * 512);
    closeSync(fd);
    const r = spawnSync('partx', ['--raw', '--noheadings', '-o', 'NR,START,END,NAME,UUID', file], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n'), [
      `1 2048 1050623 ramvm-boot ${IDS.parts[0]}`,
      `2 1050624 1052671 bios-boot ${IDS.parts[1]}`,
      `3 1052672 ${sectors - 34} ramvm-data ${IDS.parts[2]}`,
    ]);
    const b = spawnSync('blkid', ['-p', '-o', 'export', file], { encoding: 'utf8' });
    assert.match(b.stdout, /^PTTYPE=gpt$/m);
    assert.match(b.stdout, new RegExp(`^PTUUID=${IDS.disk}$`, 'm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
G.run();

const B = suite('bootCode');
const bootImg = () => {
  const b = Buffer.alloc(512, 0x11);
  b.writeUInt16LE(0xaa55, 510);
  return b;
};
B('should keep the disk\'s partition table and point boot.img at core.img', () => {
  const sectors = 4 * GIB_SECTORS;
  const mbr = gptWrites(sectors, sysdiskLayout(sectors), IDS)[0]!.data;
  const core = Buffer.alloc(512 * 3 + 100, 0x22);
  const out = bootCode(bootImg(), core, mbr, 1050624);
  assert.equal(out.mbr.subarray(0x1b8, 0x1fe), mbr.subarray(0x1b8, 0x1fe), 'partition table kept');
  assert.is(Number(out.mbr.readBigUInt64LE(0x5c)), 1050624, 'kernel sector');
  assert.equal([out.mbr[0x66], out.mbr[0x67]], [0x90, 0x90], 'drive check: hard disk');
  assert.is(out.mbr[0x10], 0x11, 'boot code kept');
  assert.is(out.core.length, 512 * 4);
  assert.is(Number(out.core.readBigUInt64LE(500)), 1050625, 'the rest starts after the first sector');
  assert.is(out.core.readUInt16LE(508), 3, 'three more sectors');
  assert.is(out.core.readUInt16LE(510), 0x820);
  assert.equal([...out.core.subarray(488, 500)], Array(12).fill(0), 'the list ends');
});
B('should refuse a sector without a partition table and a wrong boot.img', () => {
  assert.throws(() => bootCode(bootImg(), Buffer.alloc(2048), Buffer.alloc(512), 1), /LBA 0 holds no partition table/);
  assert.throws(() => bootCode(Buffer.alloc(100), Buffer.alloc(2048), Buffer.alloc(512), 1), /boot.img has 100 bytes, not 512/);
});
B('should patch the real GRUB images as grub-bios-setup would', () => {
  const boot = readFileSync('/usr/lib/grub/i386-pc/boot.img');
  assert.is(Number(boot.readBigUInt64LE(0x5c)), 1, 'boot.img\'s default kernel sector, where the patch goes');
  assert.equal([boot[0x66], boot[0x67]], [0xeb, 0x05], 'the jump grub-bios-setup replaces');
  const diskboot = readFileSync('/usr/lib/grub/i386-pc/diskboot.img');
  assert.is(diskboot.readUInt16LE(510), 0x820, 'diskboot\'s list segment');
});
B.run();

const P = suite('partitionPath');
P('should add the number, with p after a name that ends in a digit', () => {
  assert.is(partitionPath('/dev/vda', 3), '/dev/vda3');
  assert.is(partitionPath('/dev/sdb', 1), '/dev/sdb1');
  assert.is(partitionPath('/dev/nvme0n1', 1), '/dev/nvme0n1p1');
  assert.is(partitionPath('/dev/mmcblk0', 3), '/dev/mmcblk0p3');
});
P.run();

const V = suite('sysdiskVerdict');
const none = { type: null, ptType: null };
V('should partition a blank whole disk of 512-byte sectors', () => {
  assert.equal(sysdiskVerdict('/dev/vda', false, none, new Map(), 512), { kind: 'partition' });
});
V('should recognise a system disk by its partitions\' labels', () => {
  const labels = new Map([[1, BOOT_LABEL], [3, 'ramvm-data']]);
  assert.equal(sysdiskVerdict('/dev/sda', false, { type: null, ptType: 'gpt' }, labels, 512), { kind: 'system', data: '/dev/sda3', boot: '/dev/sda1' });
});
V('should leave a whole-disk filesystem of an older image as it is', () => {
  const v = sysdiskVerdict('/dev/vda', false, { type: 'ext4', ptType: null }, new Map(), 512);
  assert.equal(v, { kind: 'leave', why: '/dev/vda holds a ext4 filesystem as a whole (formatted by an older image): no room for the system, left as it is' });
});
V('should never touch a partition table that is not ramvm\'s', () => {
  const v = sysdiskVerdict('/dev/sda', false, { type: null, ptType: 'dos' }, new Map([[1, 'DATA']]), 512);
  assert.is(v.kind, 'leave');
  assert.match((v as { why: string }).why, /has a dos partition table that is not ramvm's/);
});
V('should leave partitions and 4K-sector disks alone', () => {
  assert.match((sysdiskVerdict('/dev/sda4', true, none, new Map(), 512) as { why: string }).why, /is a partition, not a whole disk/);
  assert.match((sysdiskVerdict('/dev/sda', false, none, new Map(), 4096) as { why: string }).why, /4096-byte sectors/);
});
V.run();

const R = suite('parseProbe');
R('should read TYPE and PTTYPE of blkid -p', () => {
  assert.equal(parseProbe('DEVNAME=/dev/vda\nPTUUID=x\nPTTYPE=gpt\n'), { type: null, ptType: 'gpt' });
  assert.equal(parseProbe('LABEL=ramvm-data\nTYPE=ext4\n'), { type: 'ext4', ptType: null });
  assert.equal(parseProbe(''), { type: null, ptType: null });
});
R.run();

const C = suite('sysdiskParams');
C('should carry the node\'s name, addresses, NIC and shell, and keep the setting, never datadisk=', () => {
  const p = parseBootParams('ramvm.ip=10.99.0.1/24 ramvm.gw=10.99.0.254 ramvm.dns=9.9.9.9 ramvm.nic=eth0 datadisk=/dev/vda ramvm.shell ramvm.sysdisk=1').params;
  assert.equal(sysdiskParams(p, 'alpha'), ['ramvm.node=alpha', 'ramvm.ip=10.99.0.1/24', 'ramvm.gw=10.99.0.254', 'ramvm.dns=9.9.9.9', 'ramvm.nic=eth0', 'ramvm.sysdisk=1', 'ramvm.shell']);
});
C('should leave DHCP nodes without addresses', () => {
  assert.equal(sysdiskParams(parseBootParams('').params, 'ramvm-123456'), ['ramvm.node=ramvm-123456', 'ramvm.sysdisk=1']);
});
C.run();

const F = suite('sysdiskGrubConfig');
F('should boot the partition\'s kernel and initrd with the node\'s parameters, on screen and serial', () => {
  const cfg = sysdiskGrubConfig(['ramvm.node=alpha', 'ramvm.sysdisk=1'], '0.1.0-abc');
  assert.match(cfg, /^# ramvm 0\.1\.0-abc/);
  assert.match(cfg, /^serial --unit=0 --speed=115200$/m);
  assert.match(cfg, /^ {2}linux \/vmlinuz quiet panic=10 console=tty0 console=ttyS0,115200 ramvm\.node=alpha ramvm\.sysdisk=1$/m);
  assert.match(cfg, /^ {2}initrd \/initrd\.img$/m);
  assert.is((cfg.match(/^menuentry /gm) ?? []).length, 2);
  assert.match(cfg, /RAM only[\s\S]*ramonly$/m);
});
F.run();

const UUID = '0f3a4b2c-1d2e-4f50-8a9b-0c1d2e3f4a5b';
const K = suite('backupDiskGrubConfig');
K('should boot backup mode: the backup filesystem by UUID, the console asking for the IP settings', () => {
  const cfg = backupDiskGrubConfig(UUID, '0.1.0-abc', 'usb');
  assert.match(cfg, /^# ramvm 0\.1\.0-abc, written by a backup job/);
  assert.match(cfg, /^serial --unit=0 --speed=115200$/m);
  assert.match(cfg, /^menuentry 'ramvm 0\.1\.0-abc backup mode, disk usb' \{$/m);
  assert.match(cfg, new RegExp(`^ {2}linux /vmlinuz quiet panic=10 console=tty0 console=ttyS0,115200 ramvm\\.backup=${UUID} ramvm\\.ip=ask$`, 'm'));
  assert.match(cfg, new RegExp(`^ {2}linux /vmlinuz .* ramvm\\.backup=${UUID} ramvm\\.ip=ask ramvm\\.shell$`, 'm'));
  assert.is((cfg.match(/^menuentry /gm) ?? []).length, 2);
  assert.not.match(cfg, /datadisk|sysdisk/);
});
K('should give the kernel parameters that the node reads back as backup mode', () => {
  const line = /^ {2}linux \/vmlinuz (.*)$/m.exec(backupDiskGrubConfig(UUID, 'r', 'usb'))![1]!;
  const p = parseBootParams(line);
  assert.equal(p.errors, []);
  assert.is(p.params.backup, UUID);
  assert.is(p.params.ramonly, true);
  assert.is(p.params.askIp, true);
});
K('should refuse what is not a UUID and keep quotes out of the menu', () => {
  assert.throws(() => backupDiskGrubConfig('x\nmenuentry', 'r', 'usb'), /not a filesystem UUID: x/);
  const entries = backupDiskGrubConfig(UUID, "0.1'x", "u'sb").split('\n').filter((l) => l.startsWith('menuentry'));
  assert.equal(entries.map((l) => (l.match(/'/g) ?? []).length), [2, 2]);
});
K.run();

const W = suite('backupDiskVerdict');
W('should take partition 3 of a GPT disk whose partition 1 is ramvm-boot', () => {
  assert.equal(backupDiskVerdict('/dev/sdb3', 3, 'gpt', BOOT_LABEL), { ok: true });
});
W('should say why any other backup filesystem cannot boot', () => {
  assert.equal(backupDiskVerdict('/dev/sdb', null, null, null), { ok: false, why: '/dev/sdb is a whole disk, not a partition: no room for a boot partition' });
  const not = /is not partition 3 of a GPT disk whose partition 1 is labelled ramvm-boot/;
  assert.match((backupDiskVerdict('/dev/sdb1', 1, 'gpt', BOOT_LABEL) as { why: string }).why, not);
  assert.match((backupDiskVerdict('/dev/sdb3', 3, 'dos', BOOT_LABEL) as { why: string }).why, not);
  assert.match((backupDiskVerdict('/dev/sdb3', 3, 'gpt', 'EFI') as { why: string }).why, not);
});
W.run();

const N = suite('releaseName');
N('should name the version and a hash of the contents, changing with them', () => {
  assert.match(releaseName('0.1.0', ['a', 'b']), /^0\.1\.0-[0-9a-f]{16}$/);
  assert.is(releaseName('0.1.0', ['a', 'b']), releaseName('0.1.0', ['a', 'b']));
  assert.is.not(releaseName('0.1.0', ['a', 'b']), releaseName('0.1.0', ['a', 'c']));
});
N.run();
