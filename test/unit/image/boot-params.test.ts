import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { defaultNodeName, isIPv4, parseBootParams, splitCmdline } from '../../../build/image/boot-params';

const S = suite('splitCmdline');
S('should split on spaces and keep double-quoted values together', () => {
  assert.equal(splitCmdline('  quiet  a="b c" d=e\n'), ['quiet', 'a=b c', 'd=e']);
});
S('should keep an empty quoted value', () => {
  assert.equal(splitCmdline('a="" b'), ['a=', 'b']);
});
S.run();

const P = suite('parseBootParams');
P('should read every parameter of a lab node', () => {
  const r = parseBootParams('BOOT_IMAGE=/boot/vmlinuz quiet console=ttyS0 ramvm.node=alpha ramvm.ip=10.99.0.1/24 ramvm.gw=10.99.0.254 ramvm.dns=10.99.0.254,10.99.0.253 ramvm.nic=eth1 datadisk=/dev/vdb ramvm.shell');
  assert.equal(r.errors, []);
  assert.equal(r.params, {
    ramonly: false, shell: true, kiosk: true, node: 'alpha', ip: { address: '10.99.0.1', prefix: 24 }, gw: '10.99.0.254',
    dns: ['10.99.0.254', '10.99.0.253'], nic: 'eth1', datadisk: '/dev/vdb',
  });
});
P('should default to DHCP, no data disk chosen, no shell', () => {
  assert.equal(parseBootParams('quiet splash'), { params: { ramonly: false, shell: false, kiosk: true }, errors: [] });
});
P('should take ramonly (the original spelling) and its ramvm. form', () => {
  assert.is(parseBootParams('ramonly').params.ramonly, true);
  assert.is(parseBootParams('ramvm.ramonly').params.ramonly, true);
});
P('should turn the kiosk off with ramvm.kiosk=0 and take its keyboard layout', () => {
  assert.equal(parseBootParams('ramvm.kiosk=0 ramvm.keymap=de'), { params: { ramonly: false, shell: false, kiosk: false, keymap: 'de' }, errors: [] });
  assert.is(parseBootParams('ramvm.kiosk=0 ramvm.kiosk=1').params.kiosk, true);
});
P('should take the kiosk\'s blanking time in whole seconds, 0 for never', () => {
  assert.is(parseBootParams('ramvm.blank=30').params.blankS, 30);
  assert.is(parseBootParams('ramvm.blank=0').params.blankS, 0);
  assert.is(parseBootParams('ramvm.blank=86400').params.blankS, 86_400);
});
P('should let the last of repeated parameters win, as the kernel does', () => {
  assert.is(parseBootParams('ramvm.node=a ramvm.node=b').params.node, 'b');
});
P('should take ramvm.ip=ask, and forget it when an address is given too', () => {
  assert.is(parseBootParams('ramvm.ip=ask').params.askIp, true);
  assert.is(parseBootParams('ramvm.ip=ask ramvm.ip=10.0.0.1/24').params.askIp, undefined);
});
P('should take datadisk=auto: the labelled or first blank disk', () => {
  assert.is(parseBootParams('datadisk=auto').params.datadisk, 'auto');
});
P('should prefer ramonly over a data disk and say so', () => {
  const r = parseBootParams('datadisk=/dev/sda4 ramonly');
  assert.is(r.params.datadisk, undefined);
  assert.match(r.errors.join('\n'), /ignored, ramonly/);
});
P('should drop a gateway without an address and say so', () => {
  const r = parseBootParams('ramvm.gw=10.0.0.1');
  assert.is(r.params.gw, undefined);
  assert.match(r.errors.join('\n'), /without ramvm.ip/);
});

const BAD: [string, RegExp, string][] = [
  ['ramvm.node=Alpha', /node name/, 'upper case is no DNS label'],
  ['ramvm.node=-a', /node name/, 'leading hyphen'],
  ['ramvm.node=a-', /node name/, 'trailing hyphen'],
  ['ramvm.node=a.b', /node name/, 'a dot makes it a domain, not a name'],
  ['ramvm.node=' + 'a'.repeat(64), /node name/, 'longer than 63'],
  ['ramvm.node', /node name/, 'no value'],
  ['ramvm.ip=10.0.0.1', /prefix length/, 'no prefix'],
  ['ramvm.ip=10.0.0.256/24', /IPv4/, 'octet above 255'],
  ['ramvm.ip=10.0.0.01/24', /IPv4/, 'leading zero (octal to some parsers)'],
  ['ramvm.ip=10.0.0.1/33', /1-32/, 'prefix above 32'],
  ['ramvm.ip=10.0.0.1/0', /1-32/, 'prefix 0 is no subnet'],
  ['ramvm.ip=fe80::1/64', /IPv4/, 'IPv6 is not offered yet'],
  ['ramvm.gw=gateway', /IPv4/, 'a name, not an address'],
  ['ramvm.dns=1.1.1.1,', /IPv4/, 'empty item'],
  ['datadisk=sda4', /device path/, 'not below /dev'],
  ['datadisk=/dev/../etc/shadow', /device path/, 'climbs out of /dev'],
  ['datadisk=', /device path/, 'empty'],
  ['datadisk=/dev/-x', /device path/, 'leading hyphen reads as an option'],
  ['ramvm.nic=eth0;reboot', /interface name/, 'shell metacharacter'],
  ['ramvm.nic=abcdefghijklmnop', /interface name/, 'longer than IFNAMSIZ'],
  ['ramonly=1', /no value/, 'a flag takes no value'],
  ['ramvm.shell=yes', /no value/, 'a flag takes no value'],
  ['ramvm.colour=red', /unknown/, 'typo in a ramvm parameter'],
  ['ramvm.kiosk=off', /ramvm.kiosk=0/, 'only 0 and 1'],
  ['ramvm.kiosk', /ramvm.kiosk=0/, 'no value'],
  ['ramvm.keymap=de;reboot', /keyboard layout/, 'shell metacharacter'],
  ['ramvm.keymap=DE', /keyboard layout/, 'xkb names are lower case'],
  ['ramvm.blank=1.5', /whole seconds/, 'not whole seconds'],
  ['ramvm.blank=-1', /whole seconds/, 'negative'],
  ['ramvm.blank=030', /whole seconds/, 'leading zero'],
  ['ramvm.blank=86401', /whole seconds/, 'more than a day'],
  ['ramvm.blank=10;reboot', /whole seconds/, 'shell metacharacter'],
  ['ramvm.blank', /whole seconds/, 'no value'],
];
for (const [cmdline, why, reason] of BAD) {
  P(`should reject ${cmdline.slice(0, 40)}: ${reason}`, () => {
    const r = parseBootParams(cmdline);
    assert.ok(r.errors.length > 0, 'an error');
    assert.match(r.errors[0]!, why);
    assert.equal(Object.keys(r.params).sort(), ['kiosk', 'ramonly', 'shell'], 'nothing taken from it');
    assert.is(r.params.kiosk, true);
    assert.is(r.params.ramonly, false);
  });
}
P('should keep the good parameters beside a bad one', () => {
  const r = parseBootParams('ramvm.node=alpha ramvm.ip=300.1.1.1/24 datadisk=/dev/vda');
  assert.equal(r.params, { ramonly: false, shell: false, kiosk: true, node: 'alpha', datadisk: '/dev/vda' });
  assert.is(r.errors.length, 1);
});
P.run();

const V = suite('isIPv4');
V('should accept dotted quads 0-255 only', () => {
  assert.ok(isIPv4('0.0.0.0'));
  assert.ok(isIPv4('255.255.255.255'));
  assert.not.ok(isIPv4('1.2.3'));
  assert.not.ok(isIPv4('1.2.3.4.5'));
  assert.not.ok(isIPv4('1.2.3.-4'));
});
V.run();

const D = suite('defaultNodeName');
D('should take the last three bytes of the MAC', () => {
  assert.is(defaultNodeName('52:54:00:72:76:01'), 'ramvm-727601');
  assert.is(defaultNodeName('AA:BB:CC:DD:EE:FF'), 'ramvm-ddeeff');
});
D('should fall back to ramvm without a NIC', () => {
  assert.is(defaultNodeName(undefined), 'ramvm');
});
D.run();

const Y = suite('parseBootParams ramvm.sysdisk');
Y('should read ramvm.sysdisk=1 and =0 and leave it unset without it', () => {
  assert.is(parseBootParams('ramvm.sysdisk=1').params.sysdisk, true);
  assert.is(parseBootParams('ramvm.sysdisk=0').params.sysdisk, false);
  assert.is(parseBootParams('quiet').params.sysdisk, undefined);
});
Y('should reject other values and say what it takes', () => {
  const r = parseBootParams('ramvm.sysdisk=yes');
  assert.is(r.params.sysdisk, undefined);
  assert.equal(r.errors, ['ramvm.sysdisk=yes: expected 1 (the system on the data disk) or 0 (not)']);
});
Y.run();

const B = suite('parseBootParams ramvm.backup');
B('should read the backup filesystem\'s UUID and keep everything in RAM', () => {
  const r = parseBootParams('quiet ramvm.backup=0f3a4b2c-1d2e-4f50-8a9b-0c1d2e3f4a5b ramvm.ip=ask');
  assert.equal(r.errors, []);
  assert.is(r.params.backup, '0f3a4b2c-1d2e-4f50-8a9b-0c1d2e3f4a5b');
  assert.is(r.params.ramonly, true);
  assert.is(r.params.askIp, true);
});
B('should drop a data disk and the system on disk, saying why: backup mode writes no disk', () => {
  const r = parseBootParams('datadisk=/dev/vda ramvm.sysdisk=1 ramvm.backup=1A2B-3C4D');
  assert.is(r.params.backup, '1A2B-3C4D');
  assert.is(r.params.datadisk, undefined);
  assert.is(r.params.sysdisk, undefined);
  assert.equal(r.errors, ['datadisk=/dev/vda: ignored, backup mode keeps everything in RAM', 'ramvm.sysdisk=1: ignored, backup mode writes no disk']);
});
B('should refuse what is not a filesystem UUID', () => {
  for (const v of ['ramvm.backup', 'ramvm.backup=/dev/sda3', 'ramvm.backup=LABEL=BACKUP1', 'ramvm.backup=0f3a4b2c']) {
    const r = parseBootParams(v);
    assert.is(r.params.backup, undefined, v);
    assert.is(r.params.ramonly, false, v);
    assert.equal(r.errors, [`${v}: expected the UUID of the backup filesystem, as blkid shows it`]);
  }
});
B.run();
