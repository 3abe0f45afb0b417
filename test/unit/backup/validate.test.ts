import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { checkedMail, parseBackupDisk, parseJob, parseStorage } from '../../../node-cgi/backup/validate';
import { defaultMailFrom } from '../../../node-cgi/backup/config';

function fails(fn: () => unknown, field: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 400);
    assert.ok((e as HttpError).message.startsWith(`${field}:`), (e as Error).message);
    return;
  }
  assert.unreachable(`accepted a bad ${field}`);
}

const S = suite('parseStorage');
S('should accept a directory', () => {
  assert.equal(parseStorage('nas', { type: 'dir', path: '/mnt/nas/backup' }), { type: 'dir', path: '/mnt/nas/backup' });
});
S('should accept a directory that must be a mount point', () => {
  assert.equal(parseStorage('nas', { type: 'dir', path: '/mnt/nas', mountpoint: true }), { type: 'dir', path: '/mnt/nas', mountpoint: true });
});
S('should accept a device by label or by UUID', () => {
  assert.equal(parseStorage('usb', { type: 'device', label: 'BACKUP1' }), { type: 'device', label: 'BACKUP1' });
  assert.equal(parseStorage('usb', { type: 'device', uuid: '0f3a4b2c-1d2e-4f50-8a9b-0c1d2e3f4a5b', fstype: 'ext4', options: 'noatime,errors=remount-ro' }),
    { type: 'device', uuid: '0f3a4b2c-1d2e-4f50-8a9b-0c1d2e3f4a5b', fstype: 'ext4', options: 'noatime,errors=remount-ro' });
  assert.equal(parseStorage('usb', { type: 'device', uuid: '1A2B-3C4D' }), { type: 'device', uuid: '1A2B-3C4D' });
});
const badStorages: [string, string, Record<string, unknown>, string][] = [
  ['no type', 'x', {}, 'type'],
  ['an unknown type', 'x', { type: 'nfs' }, 'type'],
  ['a relative path', 'x', { type: 'dir', path: 'backups' }, 'path'],
  ['the root folder', 'x', { type: 'dir', path: '/' }, 'path'],
  ['a path with ..', 'x', { type: 'dir', path: '/mnt/../etc' }, 'path'],
  ['a non-boolean mountpoint', 'x', { type: 'dir', path: '/mnt/x', mountpoint: 'yes' }, 'mountpoint'],
  ['both uuid and label', 'x', { type: 'device', uuid: '1A2B-3C4D', label: 'B' }, 'uuid'],
  ['neither uuid nor label', 'x', { type: 'device' }, 'uuid'],
  ['a uuid that is not one', 'x', { type: 'device', uuid: '../../sda' }, 'uuid'],
  ['a label with a space', 'x', { type: 'device', label: 'MY DISK' }, 'label'],
  ['a label starting with a dash (argv option)', 'x', { type: 'device', label: '-oloop' }, 'label'],
  ['an unknown filesystem type', 'x', { type: 'device', label: 'B', fstype: 'proc' }, 'fstype'],
  ['mount options with a space', 'x', { type: 'device', label: 'B', options: 'ro, exec' }, 'options'],
  ['exec: programs on the disk would run on the host', 'x', { type: 'device', label: 'B', options: 'noatime,exec' }, 'options'],
  ['suid: set-uid programs on the disk would count', 'x', { type: 'device', label: 'B', options: 'suid' }, 'options'],
  ['dev: device nodes on the disk would open host devices', 'x', { type: 'device', label: 'B', options: 'dev' }, 'options'],
  ['loop with an offset: mount a file of the disk', 'x', { type: 'device', label: 'B', options: 'loop,offset=512' }, 'options'],
  ['helper=: umount would run another program', 'x', { type: 'device', label: 'B', options: 'helper=x' }, 'options'],
  ['an option value it does not take', 'x', { type: 'device', label: 'B', options: 'errors=panic' }, 'options'],
  ['a flag given a value', 'x', { type: 'device', label: 'B', options: 'noatime=1' }, 'options'],
  ['an owner of its own: the node\'s user owns a FAT disk\'s files', 'x', { type: 'device', label: 'B', options: 'uid=0' }, 'options'],
  ['a path in /etc', 'x', { type: 'dir', path: '/etc/ramvm' }, 'path'],
  ['a path in /proc', 'x', { type: 'dir', path: '/proc/1' }, 'path'],
  ['a path in /dev', 'x', { type: 'dir', path: '/dev/shm/x' }, 'path'],
  ['a field of the other type (options on a folder)', 'x', { type: 'dir', path: '/mnt/x', options: 'noatime' }, 'options'],
  ['an unknown field', 'x', { type: 'device', label: 'B', lable: 'C' }, 'lable'],
  ['boot that is not a boolean', 'x', { type: 'device', label: 'B', boot: 'yes' }, 'boot'],
  ['boot on a folder (no disk of its own to boot)', 'x', { type: 'dir', path: '/mnt/x', boot: true }, 'boot'],
  ['a storage name with a slash', '../etc', { type: 'dir', path: '/mnt/x' }, 'name'],
  ['a storage name starting with a dash', '-x', { type: 'dir', path: '/mnt/x' }, 'name'],
];
for (const [why, name, body, field] of badStorages) S(`should refuse ${why}`, () => fails(() => parseStorage(name, body), field));
S('should refuse a path in a folder of the node the caller names (its config, runtime, images)', () => {
  const node = ['/srv/ramvm/etc/ramvm', '/srv/ramvm/var/lib/vz/images'];
  fails(() => parseStorage('x', { type: 'dir', path: '/srv/ramvm/etc/ramvm' }, node), 'path');
  fails(() => parseStorage('x', { type: 'dir', path: '/srv/ramvm/var/lib/vz/images/101' }, node), 'path');
  assert.equal(parseStorage('x', { type: 'dir', path: '/srv/ramvm/var/lib/vz/imagesX' }, node), { type: 'dir', path: '/srv/ramvm/var/lib/vz/imagesX' });
});
S('should take the mount options a backup disk needs', () => {
  const opts = 'noatime,errors=remount-ro,iocharset=utf8,compress=zstd,commit=60';
  assert.equal(parseStorage('usb', { type: 'device', label: 'B', options: opts }), { type: 'device', label: 'B', options: opts });
});
S('should keep boot on a device storage, and leave it out when false', () => {
  assert.equal(parseStorage('usb', { type: 'device', label: 'B', boot: true }), { type: 'device', label: 'B', boot: true });
  assert.equal(parseStorage('usb', { type: 'device', label: 'B', boot: false }), { type: 'device', label: 'B' });
});
S.run();

const K = suite('parseBackupDisk');
K('should take a whole disk by its kernel name or its /dev path', () => {
  assert.is(parseBackupDisk({ device: 'sdb' }), 'sdb');
  assert.is(parseBackupDisk({ device: '/dev/sdc' }), 'sdc');
  assert.is(parseBackupDisk({ device: 'nvme1n1' }), 'nvme1n1');
  assert.is(parseBackupDisk({ device: 'vdaa' }), 'vdaa');
});
const badDisks: [string, Record<string, unknown>, string][] = [
  ['no device', {}, 'device'],
  ['a partition (the backup filesystem goes on partition 3)', { device: 'sdb1' }, 'device'],
  ['a path elsewhere', { device: '/tmp/disk.img' }, 'device'],
  ['a path that climbs', { device: '/dev/../etc/sdb' }, 'device'],
  ['a loop device', { device: 'loop0' }, 'device'],
  ['a device mapper node', { device: 'dm-0' }, 'device'],
  ['a number', { device: 1 }, 'device'],
  ['an unknown field', { device: 'sdb', force: true }, 'force'],
];
for (const [why, body, field] of badDisks) K(`should refuse ${why}`, () => fails(() => parseBackupDisk(body), field));
K.run();

const J = suite('parseJob');
const d = { node: 'pve1', now: 1_000, newId: () => 'job-abc123' };
J('should fill the original defaults', () => {
  const j = parseJob({}, null, d);
  assert.equal(j, {
    id: 'job-abc123', kind: 'backup', enabled: true, node: 'pve1', mailto: '', mailOnSuccess: false, storage: 'local', vmids: 'all',
    weekdays: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '22:00', mode: 'snapshot', compress: 'zstd',
    retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, verifyAfterDays: 0, comment: '', created: 1_000,
  });
});
J('should take the original fields and order weekdays', () => {
  const j = parseJob({ mailto: 'it@example.com', storage: 'usb', vmids: [102, 101, 101], weekdays: ['fri', 'mon'], start: '23:30', mode: 'stop', compress: 'none', keepLast: 5, keepDaily: 7 }, null, d);
  assert.equal([j.mailto, j.storage, j.vmids, j.weekdays, j.start, j.mode, j.compress, j.retention], ['it@example.com', 'usb', [101, 102], ['mon', 'fri'], '23:30', 'stop', 'none', { keepLast: 5, keepDaily: 7, keepWeekly: 0, keepMonthly: 0 }]);
});
J('should take the cluster mode of replicated guests for a job', () => {
  assert.is(parseJob({ vmids: [101], mode: 'cluster' }, null, d).mode, 'cluster');
});
J('should merge an update over the stored job and keep its id and creation time', () => {
  const prev = parseJob({ start: '01:00', keepLast: 2 }, null, d);
  const j = parseJob({ start: '02:00', retention: { keepWeekly: 4 } }, prev, { ...d, now: 9_999 });
  assert.equal([j.id, j.start, j.retention, j.created], ['job-abc123', '02:00', { keepLast: 2, keepDaily: 0, keepWeekly: 4, keepMonthly: 0 }, 1_000]);
});
const badJobs: [string, Record<string, unknown>, string][] = [
  ['an unknown field (typo)', { keeplast: 3 }, 'keeplast'],
  ['a start time out of range', { start: '24:00' }, 'start'],
  ['a start time without colon', { start: '2200' }, 'start'],
  ['an unknown weekday', { weekdays: ['monday'] }, 'weekdays'],
  ['weekdays that are not a list', { weekdays: 'mon' }, 'weekdays'],
  ['an unknown mode', { mode: 'suspend' }, 'mode'],
  ['an unknown compression', { compress: 'gzip' }, 'compress'],
  ['a negative keep count', { keepLast: -1 }, 'keepLast'],
  ['a fractional keep count', { keepDaily: 1.5 }, 'keepDaily'],
  ['an empty guest selection', { vmids: [] }, 'vmids'],
  ['a VMID below 100', { vmids: [99] }, 'vmids'],
  ['a mail address with a line break (header injection)', { mailto: 'a@example.com\nBcc: x@evil.example' }, 'mailto'],
  ['two mail addresses', { mailto: 'a@example.com, b@example.com' }, 'mailto'],
  ['a storage name with a slash', { storage: 'a/b' }, 'storage'],
  ['an unknown kind', { kind: 'restore' }, 'kind'],
  ['a non-boolean enabled', { enabled: 'yes' }, 'enabled'],
  ['a job id with a slash', { id: 'a/b' }, 'id'],
];
for (const [why, body, field] of badJobs) J(`should refuse ${why}`, () => fails(() => parseJob(body, null, d), field));
J('should refuse to change the id of a stored job', () => {
  const prev = parseJob({}, null, d);
  fails(() => parseJob({ id: 'other' }, prev, d), 'id');
});
J.run();

const M = suite('checkedMail');
M('should take an address with a domain, and one with a bare host name (sendmail qualifies it)', () => {
  for (const a of ['it@example.com', 'backup+nightly@mail.example.co.uk', 'root@pve1', 'ramvm@localhost']) assert.is(checkedMail(a, 'from'), a);
});
M('should take no address as none', () => {
  assert.is(checkedMail(undefined), '');
  assert.is(checkedMail(''), '');
});
// [address, reason]
const BAD_MAIL: [string, string][] = [
  ['it@', 'no domain'],
  ['@example.com', 'no local part'],
  ['it@-pve1', 'a label that starts with "-"'],
  ['it@pve1-', 'a label that ends with "-"'],
  ['it@example..com', 'an empty label'],
  ['it@exa_mple.com', 'an underscore in the domain'],
  ['a@b.c\nBcc: x@y.z', 'a line break (header injection)'],
  [`${'a'.repeat(250)}@b.cd`, 'over 254 characters'],
];
for (const [a, why] of BAD_MAIL) M(`should refuse ${why}`, () => fails(() => checkedMail(a, 'from'), 'from'));
M.run();

const F = suite('defaultMailFrom');
F("should send as ramvm@<node>, which checkedMail takes back", () => {
  assert.is(defaultMailFrom('pve1'), 'ramvm@pve1');
  assert.is(checkedMail(defaultMailFrom('pve1'), 'from'), 'ramvm@pve1');
});
F('should fall back to ramvm@localhost for a node name that is no host name', () => {
  assert.is(defaultMailFrom('my_node'), 'ramvm@localhost');
});
F.run();
