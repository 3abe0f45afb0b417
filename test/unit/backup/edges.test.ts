import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { backupTransaction, diskNodes } from '../../../node-cgi/backup/engine';
import { dirProblem, findDeviceArgs, mountArgs, parseBlkidExport, parseMountInfo } from '../../../node-cgi/backup/target';
import { cronLine } from '../../../node-cgi/backup/cron';

const T = suite('backupTransaction');
T('should start all disks in one grouped transaction with compressed clusters', () => {
  assert.equal(backupTransaction([{ job: 'ramvm-backup-101-0', device: '#block123', target: 'ramvm-backup-101-0' }, { job: 'ramvm-backup-101-1', device: '#block456', target: 'ramvm-backup-101-1' }], { compress: 'zstd', copyRange: true, speed: 0 }), {
    actions: [
      { type: 'blockdev-backup', data: { 'job-id': 'ramvm-backup-101-0', device: '#block123', target: 'ramvm-backup-101-0', sync: 'full', 'auto-dismiss': false, compress: true } },
      { type: 'blockdev-backup', data: { 'job-id': 'ramvm-backup-101-1', device: '#block456', target: 'ramvm-backup-101-1', sync: 'full', 'auto-dismiss': false, compress: true } },
    ],
    properties: { 'completion-mode': 'grouped' },
  });
});
T('should use copy offload only when not compressing, and pass a speed limit', () => {
  const t = backupTransaction([{ job: 'j', device: 'd', target: 't' }], { compress: 'none', copyRange: true, speed: 8388608 }) as { actions: { data: Record<string, unknown> }[] };
  assert.equal(t.actions[0]!.data['x-perf'], { 'use-copy-range': true });
  assert.is(t.actions[0]!.data.speed, 8388608);
  assert.is(t.actions[0]!.data.compress, undefined);
});
T.run();

const N = suite('diskNodes');
// query-block of QEMU 7.2 for `-drive file=…,if=ide,id=drive0` (trimmed)
const blocks = [
  { device: 'drive0', qdev: '/machine/unattached/device[23]', inserted: { 'node-name': '#block158', file: '/tmp/r/var/lib/vz/images/101/vm-101-disk-0.qcow2', image: { filename: '/tmp/r/var/lib/vz/images/101/vm-101-disk-0.qcow2' } } },
  { device: 'ide1-cd0', qdev: '/machine/unattached/device[24]' },
];
N('should find the block node of each disk by its file', () => {
  assert.equal(diskNodes(blocks, ['/tmp/r/var/lib/vz/images/101/vm-101-disk-0.qcow2']), ['#block158']);
});
N('should fail for a disk the guest does not use', () => {
  assert.throws(() => diskNodes(blocks, ['/tmp/r/other.qcow2']), /does not use the disk/);
});
N.run();

const A = suite('argv builders');
A('should find a device by label or UUID without blkid\'s cache', () => {
  assert.equal(findDeviceArgs({ type: 'device', label: 'BACKUP1' }), ['blkid', '-c', '/dev/null', '-o', 'export', '-t', 'LABEL=BACKUP1']);
  assert.equal(findDeviceArgs({ type: 'device', uuid: '1A2B-3C4D' }), ['blkid', '-c', '/dev/null', '-o', 'export', '-t', 'UUID=1A2B-3C4D']);
});
A('should mount with noatime unless options are given, never with suid, devices or programs', () => {
  const ext4 = { device: '/dev/sdb1', fstype: 'ext4' };
  assert.equal(mountArgs({ type: 'device', label: 'B' }, ext4, '/run/m', null), ['mount', '-t', 'ext4', '-o', 'noatime,nosuid,nodev,noexec', '/dev/sdb1', '/run/m']);
  assert.equal(mountArgs({ type: 'device', label: 'B', fstype: 'ext4', options: 'sync' }, { device: '/dev/sdb1' }, '/run/m', null),
    ['mount', '-t', 'ext4', '-o', 'sync,nosuid,nodev,noexec', '/dev/sdb1', '/run/m']);
});
A('should give the node\'s user a FAT-like filesystem through mount options, and a Unix one not', () => {
  const owner = { uid: 998, gid: 997 };
  assert.equal(mountArgs({ type: 'device', label: 'B' }, { device: '/dev/sdb1', fstype: 'vfat' }, '/m', owner),
    ['mount', '-t', 'vfat', '-o', 'noatime,uid=998,gid=997,umask=0007,nosuid,nodev,noexec', '/dev/sdb1', '/m']);
  assert.equal(mountArgs({ type: 'device', label: 'B' }, { device: '/dev/sdb1', fstype: 'xfs' }, '/m', owner)[4], 'noatime,nosuid,nodev,noexec');
});
const BAD_MOUNTS: [string, Record<string, string>, { device: string; fstype?: string }, RegExp][] = [
  ['a filesystem blkid does not know', {}, { device: '/dev/sdb1' }, /filesystem of \/dev\/sdb1 is unknown/],
  ['a filesystem not for backups', {}, { device: '/dev/sdb1', fstype: 'squashfs' }, /is squashfs; a backup device may have/],
  ['suid', { options: 'suid' }, { device: '/dev/sdb1', fstype: 'ext4' }, /"suid" is not a mount option a storage may set/],
  ['exec', { options: 'noatime,exec' }, { device: '/dev/sdb1', fstype: 'ext4' }, /"exec" is not a mount option/],
  ['a loop file', { options: 'loop' }, { device: '/dev/sdb1', fstype: 'ext4' }, /"loop" is not a mount option/],
  ['a mount helper', { options: 'helper=x' }, { device: '/dev/sdb1', fstype: 'ext4' }, /"helper=x" is not a mount option/],
  ['an owner of its own', { options: 'uid=0' }, { device: '/dev/sdb1', fstype: 'vfat' }, /"uid=0" is not a mount option/],
  ['a value with a comma trick', { options: 'errors=remount-ro=x' }, { device: '/dev/sdb1', fstype: 'ext4' }, /"errors=remount-ro=x" is not a mount option/],
  ['a device blkid would not name', {}, { device: '/dev/../etc/passwd', fstype: 'ext4' }, /not a device/],
  ['a file outside /dev', {}, { device: '/tmp/disk.img', fstype: 'ext4' }, /not a device/],
];
for (const [why, extra, found, err] of BAD_MOUNTS) {
  A(`should refuse to mount ${why}`, () => {
    assert.throws(() => mountArgs({ type: 'device', label: 'B', ...extra }, found, '/m', null), err);
  });
}
A('should read the devices blkid found, with their filesystems', () => {
  assert.equal(parseBlkidExport('DEVNAME=/dev/sdb1\nLABEL=BACKUP1\nUUID=1A2B-3C4D\nTYPE=vfat\n\nDEVNAME=/dev/loop3\nLABEL=BACKUP1\n'),
    [{ device: '/dev/sdb1', fstype: 'vfat' }, { device: '/dev/loop3' }]);
  assert.equal(parseBlkidExport(''), []);
});
A.run();

const M = suite('parseMountInfo');
M('should read mount point, source and type, unescaping spaces', () => {
  const text = '36 35 98:0 / /mnt/backup\\040disk rw,noatime shared:1 - ext4 /dev/loop3 rw,errors=continue\n22 1 0:21 / /run rw - tmpfs tmpfs rw\n';
  assert.equal(parseMountInfo(text), [
    { mountPoint: '/mnt/backup disk', source: '/dev/loop3', fstype: 'ext4' },
    { mountPoint: '/run', source: 'tmpfs', fstype: 'tmpfs' },
  ]);
});
M.run();

const C = suite('cronLine');
C('should run the tick each minute as the given user for this root and node', () => {
  assert.is(cronLine({ user: 'ramvm', root: '/', node: 'pve1', nodeBin: '/usr/bin/node', ramvm: '/usr/lib/ramvm/bin/ramvm', log: '/var/log/ramvm/backup-tick.log' }),
    '* * * * * ramvm RAMVM_ROOT=/ RAMVM_NODE=pve1 /usr/bin/node /usr/lib/ramvm/bin/ramvm backup tick >>/var/log/ramvm/backup-tick.log 2>&1\n');
});
C('should refuse a path that the shell would interpret', () => {
  assert.throws(() => cronLine({ user: 'ramvm', root: '/tmp/a b', node: 'n', nodeBin: '/n', ramvm: '/r', log: '/l' }), /unsafe/);
  assert.throws(() => cronLine({ user: 'ramvm', root: '/', node: 'n;reboot', nodeBin: '/n', ramvm: '/r', log: '/l' }), /unsafe/);
  assert.throws(() => cronLine({ user: 'root root', root: '/', node: 'n', nodeBin: '/n', ramvm: '/r', log: '/l' }), /user has characters unsafe/);
});
C.run();

const D = suite('dirProblem');
const NAS = { type: 'dir' as const, path: '/mnt/nas' };
D('should take a folder that exists', () => {
  assert.is(dirProblem(NAS, { kind: 'dir', mounted: false }), null);
  assert.is(dirProblem({ ...NAS, mountpoint: true }, { kind: 'dir', mounted: true }), null);
});
// [config, facts, problem]
const DIR_PROBLEMS: [typeof NAS & { mountpoint?: boolean }, Parameters<typeof dirProblem>[1], string][] = [
  [NAS, { kind: 'missing', mounted: false }, '/mnt/nas does not exist (create it, or mount the filesystem there)'],
  [NAS, { kind: 'other', mounted: false }, '/mnt/nas is not a directory'],
  [{ ...NAS, mountpoint: true }, { kind: 'dir', mounted: false }, '/mnt/nas is not a mounted filesystem'],
  [{ ...NAS, mountpoint: true }, { kind: 'missing', mounted: false }, '/mnt/nas does not exist (create it, or mount the filesystem there)'],
];
for (const [c, f, problem] of DIR_PROBLEMS) D(`should say "${problem}" (${f.kind}, mounted ${f.mounted})`, () => assert.is(dirProblem(c, f), problem));
D.run();
