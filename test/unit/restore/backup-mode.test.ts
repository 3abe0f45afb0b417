import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { conflictWarning, mountReadOnly, parseProcArp } from '../../../node-cgi/restore/backup-mode';

/** /proc/self/mountinfo of a node in backup mode (Linux 6.1), the backup disk's line among others. */
const MOUNTINFO = [
  '22 1 0:20 / / rw,relatime - overlay overlay rw,lowerdir=/parts/ramvm:/parts/base',
  '36 22 8:3 / /mnt/backup ro,nosuid,nodev,noexec,relatime shared:14 - ext4 /dev/sda3 ro,norecovery',
  '37 22 8:19 / /mnt/usb\\040disk rw,noatime - vfat /dev/sdb3 rw',
].join('\n');

const R = suite('mountReadOnly');
R('should read the mount\'s own options: ro', () => {
  assert.is(mountReadOnly(MOUNTINFO, '/mnt/backup'), true);
});
R('should say false for a writable mount, and for a path nothing is mounted on', () => {
  assert.is(mountReadOnly(MOUNTINFO, '/'), false);
  assert.is(mountReadOnly(MOUNTINFO, '/mnt'), false);
});
R('should take the last mount on a path (the one in use)', () => {
  assert.is(mountReadOnly(`${MOUNTINFO}\n40 36 8:3 / /mnt/backup rw,relatime - ext4 /dev/sda3 rw`, '/mnt/backup'), false);
});
R.run();

/** /proc/net/arp with a complete entry, an incomplete one (flags 0x0) and one on another bridge. */
const ARP = [
  'IP address       HW type     Flags       HW address            Mask     Device',
  '10.0.2.2         0x1         0x2         52:55:0a:00:02:02     *        vmbr0',
  '192.168.1.50     0x1         0x0         00:00:00:00:00:00     *        vmbr0',
  '192.168.1.51     0x1         0x2         BC:24:11:AA:BB:CC     *        vmbr0',
].join('\n');

const A = suite('parseProcArp');
A('should list complete entries with their MAC in lower case', () => {
  assert.equal(parseProcArp(ARP), [{ ip: '10.0.2.2', mac: '52:55:0a:00:02:02' }, { ip: '192.168.1.51', mac: 'bc:24:11:aa:bb:cc' }]);
});
A('should read an empty table as no neighbours', () => {
  assert.equal(parseProcArp(ARP.split('\n')[0]!), []);
  assert.equal(parseProcArp(''), []);
});
A.run();

const C = suite('conflictWarning');
C('should say the network starts unplugged and name the MACs the copy shares with the original', () => {
  assert.is(conflictWarning(101, ['bc:24:11:aa:bb:cc'], []),
    'guest 101 starts with its network unplugged: a copy has the IP address and MAC bc:24:11:aa:bb:cc of the original, so connect it only while the original is off.');
});
C('should say when the original answers on this network now', () => {
  assert.match(conflictWarning(101, ['bc:24:11:aa:bb:cc'], [{ mac: 'bc:24:11:aa:bb:cc', ip: '192.168.1.51' }]),
    /bc:24:11:aa:bb:cc answers on this network now at 192\.168\.1\.51: the original \(or another copy\) is up, plugging the copy in conflicts at once\.$/);
});
C('should leave MACs out for a guest without network cards', () => {
  assert.is(conflictWarning(102, [], []), 'guest 102 starts with its network unplugged: a copy has the IP address of the original, so connect it only while the original is off.');
});
C.run();
