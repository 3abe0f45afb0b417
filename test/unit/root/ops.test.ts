/**
 * The root helper's allow-list as a table: every call a caller could make
 * that is not one of the operations with checked ids and names is refused
 * with 403 and the reason.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { parseRootCall, ROOT_OPS } from '../../../node-cgi/root/ops';

const KEY = '3f9c0a1b2c3d4e5f';

function refused(argv: string[]): string {
  try {
    parseRootCall(argv);
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 403);
    return (e as HttpError).message;
  }
  assert.unreachable(`accepted ${JSON.stringify(argv)}`);
  return '';
}

const P = suite('parseRootCall');
P('should take each operation of the allow-list with its checked arguments', () => {
  assert.equal(parseRootCall([KEY, 'ping']), { key: KEY, op: 'ping' });
  assert.equal(parseRootCall([KEY, 'start-guest', '101', 'kvm']), { key: KEY, op: 'start-guest', vmid: 101, accel: 'kvm', incoming: false });
  assert.equal(parseRootCall([KEY, 'start-guest', '999999999', 'tcg']), { key: KEY, op: 'start-guest', vmid: 999999999, accel: 'tcg', incoming: false });
  assert.equal(parseRootCall([KEY, 'start-guest', '101', 'tcg', 'incoming']), { key: KEY, op: 'start-guest', vmid: 101, accel: 'tcg', incoming: true });
  assert.equal(parseRootCall([KEY, 'stop-guest', '101']), { key: KEY, op: 'stop-guest', vmid: 101 });
  assert.equal(parseRootCall([KEY, 'mount-backup', 'usb']), { key: KEY, op: 'mount-backup', storage: 'usb' });
  assert.equal(parseRootCall([KEY, 'umount-backup', 'usb-2.disk']), { key: KEY, op: 'umount-backup', storage: 'usb-2.disk' });
  assert.equal(parseRootCall([KEY, 'drbd', 'create', '101', '0']), { key: KEY, op: 'drbd', step: 'create', vmid: 101, disk: 0 });
  assert.equal(parseRootCall([KEY, 'drbd', 'discard', '101', '29']), { key: KEY, op: 'drbd', step: 'discard', vmid: 101, disk: 29 });
  assert.equal(parseRootCall([KEY, 'disconnect-on-go', '101', '0']), { key: KEY, op: 'disconnect-on-go', vmid: 101, disks: [0] });
  assert.equal(parseRootCall([KEY, 'disconnect-on-go', '101', '2', '0', '29']), { key: KEY, op: 'disconnect-on-go', vmid: 101, disks: [2, 0, 29] });
  assert.equal(parseRootCall([KEY, 'prepare-backup-disk', 'usb', 'sdb']), { key: KEY, op: 'prepare-backup-disk', storage: 'usb', disk: 'sdb' });
  assert.equal(parseRootCall([KEY, 'prepare-backup-disk', 'usb', 'nvme0n1']), { key: KEY, op: 'prepare-backup-disk', storage: 'usb', disk: 'nvme0n1' });
  assert.equal(parseRootCall([KEY, 'boot-backup', 'usb']), { key: KEY, op: 'boot-backup', storage: 'usb' });
  assert.equal([...ROOT_OPS], ['ping', 'start-guest', 'stop-guest', 'mount-backup', 'umount-backup', 'prepare-backup-disk', 'boot-backup', 'drbd', 'disconnect-on-go']);
});

// [why, argv, the reason the refusal gives]
const BAD: [string, string[], RegExp][] = [
  ['nothing at all', [], /first argument must be a node key/],
  ['a key that is a path', ['/tmp/ramvm-test-x', 'ping'], /node key \(16 hex digits\)/],
  ['a key with upper-case hex', ['3F9C0A1B2C3D4E5F', 'ping'], /node key/],
  ['a key one digit short', [KEY.slice(1), 'ping'], /node key/],
  ['a key that climbs out of the registry', ['../../etc/passwd', 'ping'], /node key/],
  ['no operation', [KEY], /unknown operation ""/],
  ['an operation not on the list', [KEY, 'exec', '/bin/sh'], /unknown operation "exec"; the helper does ping, start-guest/],
  ['a command line for QEMU', [KEY, 'qemu', '-monitor', 'stdio'], /unknown operation "qemu"/],
  ['an operation in other case', [KEY, 'START-GUEST', '101', 'kvm'], /unknown operation "START-GUEST"/],
  ['ping with an argument', [KEY, 'ping', 'x'], /ping takes no arguments, not 1 argument/],
  ['start-guest without accelerator', [KEY, 'start-guest', '101'], /start-guest takes VMID kvm\|tcg, not 1 argument/],
  ['start-guest with an extra option', [KEY, 'start-guest', '101', 'kvm', '-runas'], /the third argument of start-guest can only be "incoming"/],
  ['start-guest with an option after incoming', [KEY, 'start-guest', '101', 'kvm', 'incoming', '-runas'], /start-guest takes VMID kvm\|tcg, not 4 arguments/],
  ['a VMID below 100', [KEY, 'start-guest', '99', 'kvm'], /vmid: must be between 100 and 999999999/],
  ['a VMID written with a leading zero', [KEY, 'stop-guest', '0101'], /vmid: must be an integer/],
  ['a VMID that is a path', [KEY, 'stop-guest', '../101'], /vmid: must be an integer/],
  ['a VMID that is an option', [KEY, 'stop-guest', '-1'], /vmid: must be an integer/],
  ['a VMID in hex', [KEY, 'stop-guest', '0x65'], /vmid: must be an integer/],
  ['an accelerator not known', [KEY, 'start-guest', '101', 'xen'], /accelerator must be kvm or tcg/],
  ['an accelerator with options', [KEY, 'start-guest', '101', 'kvm,thread=multi'], /accelerator must be kvm or tcg/],
  ['a storage that is a path', [KEY, 'mount-backup', '/dev/sdb1'], /storage: may contain only letters/],
  ['a drbd step not on the list', [KEY, 'drbd', 'invalidate', '101', '0'], /drbd steps are create, up, skip-sync/],
  ['a drbdadm option as the step', [KEY, 'drbd', '--force', '101', '0'], /drbd steps are/],
  ['a drbd call without the disk', [KEY, 'drbd', 'up', '101'], /drbd takes STEP VMID DISK, not 2 arguments/],
  ['a drbd disk index past the last', [KEY, 'drbd', 'up', '101', '30'], /disk index must be 0–29/],
  ['a drbd disk index with a leading zero', [KEY, 'drbd', 'up', '101', '01'], /disk index must be 0–29/],
  ['a drbd disk that is a resource name', [KEY, 'drbd', 'up', '101', 'vm-101-disk-0'], /disk index must be 0–29/],
  ['a drbd VMID that is a path', [KEY, 'drbd', 'up', '../101', '0'], /vmid: must be an integer/],
  ['a disconnect-on-go without disks', [KEY, 'disconnect-on-go', '101'], /disconnect-on-go takes VMID DISK…, not 1 argument/],
  ['a disconnect-on-go VMID that is an option', [KEY, 'disconnect-on-go', '--force', '0'], /vmid: must be an integer/],
  ['a disconnect-on-go disk past the last', [KEY, 'disconnect-on-go', '101', '0', '30'], /disk index must be 0–29/],
  ['a disconnect-on-go disk that is a resource name', [KEY, 'disconnect-on-go', '101', 'vm-101-disk-0'], /disk index must be 0–29/],
  ['a disconnect-on-go disk named twice', [KEY, 'disconnect-on-go', '101', '1', '1'], /names each disk once/],
  ['a storage that climbs', [KEY, 'mount-backup', '..'], /storage: may contain only letters/],
  ['a storage that is an option', [KEY, 'umount-backup', '-l'], /storage: may contain only letters/],
  ['a storage name too long', [KEY, 'mount-backup', 'a'.repeat(33)], /storage: must be at most 32 characters/],
  ['two storages', [KEY, 'mount-backup', 'a', 'b'], /mount-backup takes STORAGE, not 2 arguments/],
  ['a disk that is a path', [KEY, 'prepare-backup-disk', 'usb', '/dev/sdb'], /disk must be a whole disk's name such as sdb/],
  ['a disk that is a partition', [KEY, 'prepare-backup-disk', 'usb', 'sdb1'], /disk must be a whole disk's name/],
  ['a disk that climbs', [KEY, 'prepare-backup-disk', 'usb', '../sda'], /disk must be a whole disk's name/],
  ['a loop device as the disk', [KEY, 'prepare-backup-disk', 'usb', 'loop0'], /disk must be a whole disk's name/],
  ['a backup disk without the disk', [KEY, 'prepare-backup-disk', 'usb'], /prepare-backup-disk takes STORAGE DISK, not 1 argument/],
  ['a storage that is a path to boot', [KEY, 'boot-backup', '/dev/sdb3'], /storage: may contain only letters/],
  ['boot-backup with a rescue image named', [KEY, 'boot-backup', 'usb', 'rescue.iso'], /boot-backup takes STORAGE, not 2 arguments/],
  ['an empty argument', [KEY, 'stop-guest', ''], /non-empty and printable/],
  ['a newline (a second log line)', [KEY, 'stop-guest', '101\nforged'], /non-empty and printable/],
  ['a NUL byte', [KEY, 'mount-backup', 'usb\0x'], /non-empty and printable/],
  ['an escape sequence', [KEY, 'ping\x1b[2J'], /non-empty and printable/],
  ['a call that is too long', [KEY, 'mount-backup', 'x'.repeat(300)], /at most 200 characters/],
];
for (const [why, argv, reason] of BAD) {
  P(`should refuse ${why}`, () => {
    assert.match(refused(argv), reason);
  });
}
P.run();
