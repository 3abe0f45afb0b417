import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { parseBootParams } from '../../../build/image/boot-params';
import { batchIp, bootEnv, chooseDataDisk, dataDiskPlan, dhcpArgs, networkPlan, parseBlkidType } from '../../../build/image/setup-plan';

const params = (cmdline: string) => parseBootParams(cmdline).params;
const argvs = (steps: { argv: string[] }[]) => steps.map((s) => s.argv.join(' '));

const N = suite('networkPlan');
N('should bridge the first NIC with the static address and DHCP the others', () => {
  const p = networkPlan(params('ramvm.ip=10.99.0.1/24 ramvm.gw=10.99.0.254 ramvm.dns=9.9.9.9'), ['eth0', 'eth1']);
  assert.equal(argvs(p.steps), [
    'ip link set lo up',
    'ip link add name vmbr0 type bridge stp_state 0 forward_delay 0',
    'ip link set eth0 master vmbr0',
    'ip link set eth0 up',
    'ip link set vmbr0 up',
    'ip addr add 10.99.0.1/24 dev vmbr0',
    'ip route add default via 10.99.0.254 dev vmbr0',
    'ip link set eth1 up',
  ]);
  assert.equal(p.dhcp, ['eth1']);
  assert.is(p.bridged, 'eth0');
  assert.is(p.resolvConf, 'nameserver 9.9.9.9\n');
  assert.equal(p.errors, []);
});
N('should ask DHCP for the bridge without ramvm.ip', () => {
  const p = networkPlan(params(''), ['eth0']);
  assert.equal(p.dhcp, ['vmbr0']);
  assert.not.ok(argvs(p.steps).some((a) => a.includes('addr add')));
});
N('should bridge ramvm.nic when it exists', () => {
  assert.is(networkPlan(params('ramvm.nic=eth1'), ['eth0', 'eth1']).bridged, 'eth1');
});
N('should bridge the first NIC and complain when ramvm.nic does not exist', () => {
  const p = networkPlan(params('ramvm.nic=eth7'), ['eth0', 'eth1']);
  assert.is(p.bridged, 'eth0');
  assert.match(p.errors[0]!, /eth7: no such network card/);
});
N('should only bring up lo without a NIC, and say so', () => {
  const p = networkPlan(params(''), []);
  assert.equal(argvs(p.steps), ['ip link set lo up']);
  assert.match(p.errors[0]!, /no network card/);
});
N.run();

const B = suite('batchIp');
B('should merge runs of ip commands into one ip -batch with the commands as input', () => {
  const out = batchIp([{ argv: ['ip', 'link', 'set', 'lo', 'up'] }, { argv: ['ip', 'addr', 'add', '10.0.0.1/24', 'dev', 'vmbr0'] }, { argv: ['true'] }, { argv: ['ip', 'link', 'set', 'eth1', 'up'] }]);
  assert.equal(out, [
    { argv: ['ip', '-force', '-batch', '-'], input: 'link set lo up\naddr add 10.0.0.1/24 dev vmbr0\n' },
    { argv: ['true'] },
    { argv: ['ip', 'link', 'set', 'eth1', 'up'] },
  ]);
});
B('should keep an ip command apart whose argument a batch line could not carry', () => {
  const out = batchIp([{ argv: ['ip', 'link', 'set', 'lo', 'up'] }, { argv: ['ip', 'link', 'set', 'a b', 'up'] }]);
  assert.is(out.length, 2);
  assert.equal(out[1], { argv: ['ip', 'link', 'set', 'a b', 'up'] });
});
B.run();

const H = suite('dhcpArgs');
H('should try a few times quickly, then go on in the background', () => {
  const a = dhcpArgs('eth1', 'alpha');
  assert.equal(a.slice(0, 2), ['udhcpc', '-b']);
  assert.ok(a.includes('hostname:alpha'));
  assert.is(a[a.indexOf('-i') + 1], 'eth1');
});
H.run();

const C = suite('chooseDataDisk');
C('should keep everything in RAM with ramonly, even when a labelled disk exists', () => {
  assert.is(chooseDataDisk(params('ramonly'), '/dev/sdb1').device, null);
});
C('should take datadisk= over a labelled disk', () => {
  assert.is(chooseDataDisk(params('datadisk=/dev/sda4'), '/dev/sdb1').device, '/dev/sda4');
});
C('should take the labelled disk when none is named', () => {
  assert.is(chooseDataDisk(params(''), '/dev/sdb1').device, '/dev/sdb1');
});
C('should fall back to RAM and say why', () => {
  const c = chooseDataDisk(params(''), null);
  assert.is(c.device, null);
  assert.match(c.why, /RAM/);
});
C.run();

const D = suite('dataDiskPlan');
D('should make a blank disk ext4 labelled ramvm-data and bind its trees', () => {
  assert.equal(argvs(dataDiskPlan('/dev/vda', null)), [
    'mke2fs -q -F -t ext4 -L ramvm-data -m 0 /dev/vda',
    'mkdir -p /mnt/data',
    'mount -o noatime /dev/vda /mnt/data',
    'mkdir -p /mnt/data/etc/ramvm /etc/ramvm /mnt/data/var/lib/vz /var/lib/vz /mnt/data/var/log/ramvm /var/log/ramvm',
    'mount --bind /mnt/data/etc/ramvm /etc/ramvm',
    'mount --bind /mnt/data/var/lib/vz /var/lib/vz',
    'mount --bind /mnt/data/var/log/ramvm /var/log/ramvm',
  ]);
});
D('should check an ext4 disk and never format it', () => {
  const steps = dataDiskPlan('/dev/sda4', 'ext4');
  assert.equal(steps[0], { argv: ['e2fsck', '-p', '/dev/sda4'], allowFail: true });
  assert.not.ok(argvs(steps).some((a) => a.startsWith('mke2fs')));
});
D('should mount any other filesystem as it is: no check, no format', () => {
  const steps = argvs(dataDiskPlan('/dev/sdb1', 'xfs'));
  assert.is(steps[0], 'mkdir -p /mnt/data');
  assert.not.ok(steps.some((a) => a.startsWith('mke2fs') || a.startsWith('e2fsck')));
});
D.run();

const K = suite('parseBlkidType');
K('should read TYPE from blkid -o export', () => {
  assert.is(parseBlkidType('DEVNAME=/dev/vda\nLABEL=ramvm-data\nUUID=0b6c…\nBLOCK_SIZE=4096\nTYPE=ext4\n'), 'ext4');
});
K('should give null when there is no TYPE (a partition table only)', () => {
  assert.is(parseBlkidType('DEVNAME=/dev/sda\nPTTYPE=gpt\n'), null);
});
K.run();

const E = suite('bootEnv');
E('should single-quote values for the console script', () => {
  assert.is(bootEnv(params('ramvm.shell'), 'alpha'), "RAMVM_NODE='alpha'\nRAMVM_SHELL=1\nRAMVM_RAMONLY=0\n");
  assert.is(bootEnv(params('ramonly'), "it's"), "RAMVM_NODE='it'\\''s'\nRAMVM_SHELL=0\nRAMVM_RAMONLY=1\n");
});
E.run();
