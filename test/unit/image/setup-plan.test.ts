import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { parseBootParams } from '../../../build/image/boot-params';
import { adminLine, askedNetworkPlan, consoleEnv, RAM_SETTINGS_LINE, batchIp, nativeStep, bootEnv, chooseDataDisk, dataDiskPlan, dhcpArgs, networkPlan, parseBlkidType } from '../../../build/image/setup-plan';

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

const ZC = suite('chooseDataDisk (datadisk=auto)');
ZC('should prefer the labelled filesystem, then the first blank disk, else RAM', () => {
  const p = params('datadisk=auto');
  assert.equal(chooseDataDisk(p, '/dev/vdb', '/dev/vda'), { device: '/dev/vdb', why: 'datadisk=auto: the filesystem labelled ramvm-data' });
  assert.equal(chooseDataDisk(p, null, '/dev/vda'), { device: '/dev/vda', why: 'datadisk=auto: the first blank disk' });
  assert.match(chooseDataDisk(p, null, null).why, /datadisk=auto: no filesystem labelled ramvm-data and no blank disk/);
  assert.is(chooseDataDisk(params('datadisk=auto ramonly'), '/dev/vdb', null).device, null);
});
ZC.run();

const AN = suite('askedNetworkPlan');
AN('should put the typed address, gateway and DNS on vmbr0 in place of DHCP\'s', () => {
  const p = askedNetworkPlan(' 10.0.0.5/24 ', '10.0.0.1', '10.0.0.1, 9.9.9.9');
  assert.equal(argvs(p.steps), ['ip addr flush dev vmbr0', 'ip addr add 10.0.0.5/24 dev vmbr0', 'ip route replace default via 10.0.0.1 dev vmbr0']);
  assert.is(p.resolvConf, 'nameserver 10.0.0.1\nnameserver 9.9.9.9\n');
  assert.is(p.address, '10.0.0.5');
});
AN('should take no gateway and no DNS', () => {
  const p = askedNetworkPlan('10.0.0.5/24', '', '');
  assert.is(p.steps.length, 2);
  assert.is(p.resolvConf, undefined);
});
AN('should say what is wrong with an answer', () => {
  assert.throws(() => askedNetworkPlan('10.0.0.300/24', '', ''), /address: "10\.0\.0\.300\/24" is no IPv4 address with a prefix length/);
  assert.throws(() => askedNetworkPlan('10.0.0.5', '', ''), /address: "10\.0\.0\.5" is no IPv4 address with a prefix length/);
  assert.throws(() => askedNetworkPlan('10.0.0.5/24; reboot', '', ''), /is no IPv4 address with a prefix length/);
  assert.throws(() => askedNetworkPlan('10.0.0.5/24', 'router', ''), /gateway: "router" is no IPv4 address/);
  assert.throws(() => askedNetworkPlan('10.0.0.5/24', '', '1.1.1.1,x'), /DNS: "x" is no IPv4 address/);
});
AN.run();

const CE = suite('consoleEnv');
CE('should tell the console whether to ask and how long', () => {
  assert.is(consoleEnv(params('ramvm.ip=10.0.0.1/24')), 'RAMVM_IP_STATIC=1\nRAMVM_IP_ASK=0\n');
  assert.is(consoleEnv(params('quiet')), 'RAMVM_IP_STATIC=0\nRAMVM_IP_ASK=0\n');
  assert.is(consoleEnv(params('ramvm.ip=ask')), 'RAMVM_IP_STATIC=0\nRAMVM_IP_ASK=1\n');
});
CE.run();

const NA = suite('networkPlan (ramvm.ip=ask)');
NA('should hold DHCP on vmbr0 back until the console has asked, and still ask on the other NICs', () => {
  assert.equal(networkPlan(params('ramvm.ip=ask'), ['eth0', 'eth1']).dhcp, ['eth1']);
});
NA.run();

const AL = suite('adminLine');
AL('should say a data disk\'s administrator got its password at that disk\'s first boot', () => {
  assert.is(adminLine(['admin'], true), 'administrator: admin (its password was set at the first boot of this data disk)\n');
});
AL('should say, on a node whose settings live in RAM (ramonly, backup mode), that the password was made at this boot', () => {
  assert.is(adminLine(['admin', 'ops'], false), 'administrator: admin, ops (settings in RAM: its password was made at this boot and shown once above)\n');
});
AL('should tell how to make one when there is none', () => {
  assert.match(adminLine([], true), /^no administrator on \/: boot the rescue entry/);
});
AL('should mark RAM settings with a line of its own, never one consoleEnv writes', () => {
  assert.is(RAM_SETTINGS_LINE, 'RAMVM_SETTINGS_IN_RAM=1\n');
  assert.not.ok(consoleEnv(params('ramvm.ip=ask')).includes(RAM_SETTINGS_LINE));
});
AL.run();

const NS = suite('nativeStep');
NS('should do mkdir -p and chmod with an octal mode in the set-up\'s own process', () => {
  assert.equal(nativeStep({ argv: ['mkdir', '-p', '/mnt/data/etc/ramvm', '/etc/ramvm'] }), { kind: 'mkdir', paths: ['/mnt/data/etc/ramvm', '/etc/ramvm'] });
  assert.equal(nativeStep({ argv: ['chmod', '0700', '/etc/ramvm', '/run/ramvm/upload'] }), { kind: 'chmod', mode: 0o700, paths: ['/etc/ramvm', '/run/ramvm/upload'] });
  assert.equal(nativeStep({ argv: ['chmod', '750', '/var/lib/vz'] }), { kind: 'chmod', mode: 0o750, paths: ['/var/lib/vz'] });
});
NS('should leave every other step to the program it names', () => {
  for (const argv of [['chmod', '-R', 'g+rwX', '/var/lib/vz/images'], ['chmod', 'go+x', '/r'], ['chown', '-R', '-h', '200:200', '/etc/ramvm'], ['mkdir', '/a'],
    ['mkdir', '-p'], ['mkdir', '-p', 'relative'], ['mount', '--bind', '/a', '/b'], ['chmod', '07777', '/a']]) {
    assert.is(nativeStep({ argv }), null, argv.join(' '));
  }
  assert.is(nativeStep({ argv: ['mkdir', '-p', '/a'], input: 'x' }), null, 'a step with input is a program\'s');
});
NS('should cover every mkdir and chmod of the data disk\'s plan', () => {
  const steps = dataDiskPlan('/dev/vda', 'ext4').filter((s) => s.argv[0] === 'mkdir');
  assert.ok(steps.length > 0);
  for (const s of steps) assert.ok(nativeStep(s), s.argv.join(' '));
});
NS.run();
