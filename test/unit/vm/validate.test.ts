import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import {
  checkVmConfig, isInterfaceName, normaliseMac, validateVmConfig, type ValidationFacts,
} from '../../../node-cgi/vm/validate';

function facts(over: Partial<ValidationFacts> = {}): ValidationFacts {
  let n = 0;
  return {
    node: 'pve1',
    isos: new Set(['debian-12.iso']),
    macsTaken: new Set(['02:52:4D:00:00:99']),
    newMac: () => `02:52:4D:00:00:${(n++).toString(16).padStart(2, '0').toUpperCase()}`,
    directIo: true,
    now: 1_700_000_000_000,
    mode: 'create',
    ...over,
  };
}

const D = suite('checkVmConfig defaults');
D("should fill in the original create form's defaults", () => {
  const { config, issues } = checkVmConfig({ vmid: 101 }, facts());
  assert.equal(issues, []);
  assert.equal(config, {
    vmid: 101,
    name: 'vm101',
    node: 'pve1',
    type: 'kvm',
    memory: 512,
    sockets: 1,
    cores: 1,
    ostype: 'l26',
    onboot: false,
    cdrom: null,
    disks: [{ id: 'disk0', file: 'vm-101-disk-0.qcow2', size: '32G', bus: 'ide', format: 'qcow2', cache: 'writeback' }],
    nics: [{ id: 'net0', model: 'rtl8139', bridge: 'vmbr0', mac: '02:52:4D:00:00:00' }],
    boot: ['disk0', 'cdrom', 'net0'],
    description: '',
    created: 1_700_000_000_000,
  });
});
D('should number disks and NICs in order and name disk files by VMID and format', () => {
  const { config } = checkVmConfig(
    { vmid: 205, disks: [{ size: '8G', bus: 'virtio' }, { size: 64, format: 'raw', bus: 'sata', cache: 'none' }], nics: [{ model: 'virtio' }, { model: 'e1000', bridge: 'vmbr1', mac: '02:52:4d:aa:bb:cc' }] },
    facts(),
  );
  assert.equal(config!.disks.map((d) => [d.id, d.file, d.size]), [['disk0', 'vm-205-disk-0.qcow2', '8G'], ['disk1', 'vm-205-disk-1.raw', '64G']]);
  assert.equal(config!.nics.map((n) => [n.id, n.bridge, n.mac]), [['net0', 'vmbr0', '02:52:4D:00:00:00'], ['net1', 'vmbr1', '02:52:4D:AA:BB:CC']]);
});
D('should drop devices the guest lacks from the default boot order', () => {
  const { config } = checkVmConfig({ vmid: 101, disks: [], nics: [] }, facts());
  assert.equal(config!.boot, ['cdrom']);
});
D('should skip a generated MAC that another guest uses', () => {
  let calls = 0;
  const f = facts({ newMac: () => (calls++ === 0 ? '02:52:4D:00:00:99' : '02:52:4D:00:00:01') });
  assert.is(checkVmConfig({ vmid: 101 }, f).config!.nics[0]!.mac, '02:52:4D:00:00:01');
});
D('should accept an ISO of the library and an explicit boot order', () => {
  const { config } = checkVmConfig({ vmid: 101, cdrom: 'debian-12.iso', boot: ['cdrom', 'disk0'] }, facts());
  assert.is(config!.cdrom, 'debian-12.iso');
  assert.equal(config!.boot, ['cdrom', 'disk0']);
});
D('should keep disk ids and files of an existing guest in update mode', () => {
  const disk = { id: 'disk3', file: 'vm-101-disk-3.raw', size: '1M', bus: 'scsi', format: 'raw', cache: 'unsafe' };
  const { config, issues } = checkVmConfig({ vmid: 101, disks: [disk] }, facts({ mode: 'update' }));
  assert.equal(issues, []);
  assert.equal(config!.disks, [disk]);
});
D('should keep a NIC that starts unplugged, and leave the flag out otherwise', () => {
  const { config } = checkVmConfig({ vmid: 101, nics: [{ linkDown: true }, { linkDown: false }] }, facts());
  assert.equal(config!.nics.map((n) => n.linkDown), [true, undefined]);
  assert.not.ok('linkDown' in config!.nics[1]!);
});
D('should keep the mark of a guest run from a backup in update mode', () => {
  const temporary = { backup: 'local:101:20261125T220000Z', source: 101, purpose: 'run', since: 5, formats: { disk0: 'raw' }, task: 't' };
  const disk = { id: 'disk0', file: 'vm-105-disk-0.qcow2', size: '1M', bus: 'ide', format: 'qcow2', cache: 'writeback' };
  const { config, issues } = checkVmConfig({ vmid: 105, disks: [disk], temporary }, facts({ mode: 'update' }));
  assert.equal(issues, []);
  assert.equal(config!.temporary, temporary);
  assert.not.ok('temporary' in checkVmConfig({ vmid: 105, disks: [disk] }, facts({ mode: 'update' })).config!);
});
D("should keep a guest's own accelerator, and leave it out (the node's) for null or none", () => {
  for (const accel of ['auto', 'kvm', 'tcg']) assert.is(checkVmConfig({ vmid: 101, accel }, facts()).config!.accel, accel);
  assert.not.ok('accel' in checkVmConfig({ vmid: 101, accel: null }, facts()).config!);
  assert.not.ok('accel' in checkVmConfig({ vmid: 101 }, facts()).config!);
});
D.run();

D('should keep the agent setting as sent, and leave it out (no agent) when none is sent', () => {
  assert.is(checkVmConfig({ vmid: 101, agent: true }, facts()).config!.agent, true);
  assert.is(checkVmConfig({ vmid: 101, agent: false }, facts()).config!.agent, false);
  assert.not.ok('agent' in checkVmConfig({ vmid: 101 }, facts()).config!);
});

const T = suite('checkVmConfig temporary mark');
// [mark, reason]
const BAD_MARKS: [unknown, string][] = [
  ['yes', 'not an object'],
  [{ source: 101, purpose: 'run', since: 1, formats: {} }, 'no backup id'],
  [{ backup: 'b', source: '101', purpose: 'run', since: 1, formats: {} }, 'source VMID as a string'],
  [{ backup: 'b', source: 101, purpose: 'play', since: 1, formats: {} }, 'unknown purpose'],
  [{ backup: 'b', source: 101, purpose: 'run', since: 1 }, 'no formats'],
  [{ backup: 'b', source: 101, purpose: 'run', since: 1, formats: { disk0: 'vmdk' } }, 'a format guests do not have'],
  [{ backup: 'b', source: 101, purpose: 'run', since: 1, formats: {}, task: 7 }, 'task id not a string'],
];
for (const [mark, reason] of BAD_MARKS) {
  T(`should refuse a mark with ${reason}`, () => {
    const { issues } = checkVmConfig({ vmid: 105, disks: [], temporary: mark }, facts({ mode: 'update' }));
    assert.is(issues[0]?.field, 'temporary', JSON.stringify(issues));
  });
}
T.run();

const B = suite('checkVmConfig bad input');
// [input, field the first issue names, reason]
const BAD: [Record<string, unknown>, string, string][] = [
  [{ vmid: 99 }, 'vmid', 'below the smallest VMID'],
  [{ vmid: '101' }, 'vmid', 'a string, not an integer'],
  [{ vmid: 101.5 }, 'vmid', 'not an integer'],
  [{ vmid: 101, name: '' }, 'name', 'empty'],
  [{ vmid: 101, name: 'web server' }, 'name', 'a blank is not allowed in a host name'],
  [{ vmid: 101, name: '-web' }, 'name', 'leading dash'],
  [{ vmid: 101, name: 'a'.repeat(64) }, 'name', 'longer than 63 characters'],
  [{ vmid: 101, node: 'other' }, 'node', 'not a node of this cluster'],
  [{ vmid: 101, type: 'lxc' }, 'type', 'only KVM guests exist'],
  [{ vmid: 101, memory: 8 }, 'memory', 'below the 16 MiB minimum'],
  [{ vmid: 101, memory: 512.5 }, 'memory', 'fractional MiB'],
  [{ vmid: 101, memory: '512' }, 'memory', 'a string'],
  [{ vmid: 101, memory: 5 * 1024 * 1024 }, 'memory', 'above 4 TiB'],
  [{ vmid: 101, sockets: 0 }, 'sockets', 'no socket'],
  [{ vmid: 101, sockets: 17 }, 'sockets', 'more than 16 sockets'],
  [{ vmid: 101, cores: 0 }, 'cores', 'no core'],
  [{ vmid: 101, sockets: 4, cores: 64 }, 'cores', '256 vCPUs exceed the machine limit of 255'],
  [{ vmid: 101, ostype: 'win95' }, 'ostype', 'unknown OS type'],
  [{ vmid: 101, onboot: 'yes' }, 'onboot', 'not a boolean'],
  [{ vmid: 101, cdrom: 'missing.iso' }, 'cdrom', 'not in the library'],
  [{ vmid: 101, cdrom: '../etc/passwd' }, 'cdrom', 'a path, not a name'],
  [{ vmid: 101, cdrom: 7 }, 'cdrom', 'not a string'],
  [{ vmid: 101, disks: {} }, 'disks', 'not a list'],
  [{ vmid: 101, disks: ['32G'] }, 'disks[0]', 'not an object'],
  [{ vmid: 101, disks: [{ size: '32X' }] }, 'disks[0].size', 'unknown unit'],
  [{ vmid: 101, disks: [{ size: '0G' }] }, 'disks[0].size', 'zero size'],
  [{ vmid: 101, disks: [{ size: '512K' }] }, 'disks[0].size', 'below 1M'],
  [{ vmid: 101, disks: [{ size: '65T' }] }, 'disks[0].size', 'above 64T'],
  [{ vmid: 101, disks: [{ size: -1 }] }, 'disks[0].size', 'negative'],
  [{ vmid: 101, disks: [{ bus: 'usb' }] }, 'disks[0].bus', 'unknown bus'],
  [{ vmid: 101, disks: [{ format: 'vmdk' }] }, 'disks[0].format', 'unsupported format'],
  [{ vmid: 101, disks: [{ cache: 'fast' }] }, 'disks[0].cache', 'unknown cache mode'],
  [{ vmid: 101, disks: [{ file: '/etc/passwd' }] }, 'disks[0].file', 'the node chooses file names'],
  [{ vmid: 101, disks: [{ sizee: '1G' }] }, 'disks[0].sizee', 'misspelt field'],
  [{ vmid: 101, disks: [{}, {}, {}, {}] }, 'disks[3].bus', 'a fourth IDE disk has no slot beside the CD-ROM'],
  [{ vmid: 101, disks: Array.from({ length: 7 }, () => ({ bus: 'sata' })) }, 'disks[6].bus', 'AHCI has 6 ports'],
  [{ vmid: 101, disks: Array.from({ length: 17 }, () => ({ bus: 'virtio' })) }, 'disks', 'more than 16 disks'],
  [{ vmid: 101, nics: [{ model: 'ne2k' }] }, 'nics[0].model', 'unknown NIC model'],
  [{ vmid: 101, nics: [{ bridge: 'vmbr0;reboot' }] }, 'nics[0].bridge', 'not an interface name'],
  [{ vmid: 101, nics: [{ bridge: 'a-very-long-bridge' }] }, 'nics[0].bridge', 'longer than 15 characters'],
  [{ vmid: 101, nics: [{ mac: '01:00:5E:00:00:01' }] }, 'nics[0].mac', 'multicast'],
  [{ vmid: 101, nics: [{ mac: '02:52:4D:00:00' }] }, 'nics[0].mac', 'five bytes'],
  [{ vmid: 101, nics: [{ mac: '02:52:4D:00:00:99' }] }, 'nics[0].mac', 'another guest has it'],
  [{ vmid: 101, nics: [{ mac: '02:00:00:00:00:01' }, { mac: '02:00:00:00:00:01' }] }, 'nics[1].mac', 'twice in one guest'],
  [{ vmid: 101, nics: Array.from({ length: 9 }, () => ({})) }, 'nics', 'more than 8 NICs'],
  [{ vmid: 101, boot: ['disk1'] }, 'boot', 'no such device'],
  [{ vmid: 101, boot: ['cdrom', 'cdrom'] }, 'boot', 'listed twice'],
  [{ vmid: 101, boot: 'cdn' }, 'boot', 'not a list'],
  [{ vmid: 101, description: 'x'.repeat(8193) }, 'description', 'too long'],
  [{ vmid: 101, memroy: 512 }, 'memroy', 'misspelt field'],
  [{ vmid: 101, nics: [{ linkDown: 'yes' }] }, 'nics[0].linkDown', 'not a boolean'],
  [{ vmid: 101, temporary: { backup: 'local:101:20261125T220000Z', source: 101, purpose: 'run', since: 1, formats: {} } }, 'temporary', 'only the node marks a guest as run from a backup'],
  [{ vmid: 101, accel: 'hvf' }, 'accel', 'an accelerator this node does not have'],
  [{ vmid: 101, agent: 'yes' }, 'agent', 'a string, not true or false'],
  [{ vmid: 101, agent: 1 }, 'agent', 'a number, not true or false'],
  [{ vmid: 101, agent: null }, 'agent', 'null, not true or false'],
  [{ vmid: 101, accel: true }, 'accel', 'not a setting'],
];
for (const [input, field, reason] of BAD) {
  B(`should refuse ${field} (${reason})`, () => {
    const { config, issues } = checkVmConfig(input, facts());
    assert.is(config, undefined);
    assert.is(issues[0]?.field, field, JSON.stringify(issues));
    assert.ok(issues[0]!.message.length > 5);
  });
}
B('should refuse cache=none where O_DIRECT does not work', () => {
  const { issues } = checkVmConfig({ vmid: 101, disks: [{ cache: 'none' }] }, facts({ directIo: false }));
  assert.is(issues[0]?.field, 'disks[0].cache');
  assert.match(issues[0]!.message, 'O_DIRECT');
});
B('should refuse a disk without id in update mode', () => {
  const { issues } = checkVmConfig({ vmid: 101, disks: [{ size: '1G' }] }, facts({ mode: 'update' }));
  assert.is(issues[0]?.field, 'disks[0].id');
});
B('should refuse a disk file that does not match its id and format', () => {
  const { issues } = checkVmConfig({ vmid: 101, disks: [{ id: 'disk0', file: 'vm-102-disk-0.qcow2' }] }, facts({ mode: 'update' }));
  assert.is(issues[0]?.field, 'disks[0].file');
});
B('should report every bad field, not only the first', () => {
  const { issues } = checkVmConfig({ vmid: 101, memory: 1, sockets: 0, ostype: 'x' }, facts());
  assert.equal(issues.map((i) => i.field), ['memory', 'sockets', 'ostype']);
});
B('should name the accelerator settings when one is unknown', () => {
  assert.equal(checkVmConfig({ vmid: 101, accel: 'fast' }, facts()).issues, [{ field: 'accel', message: "must be one of auto, kvm, tcg, or null for the node's setting" }]);
});
B('should refuse a body that is not an object', () => {
  assert.equal(checkVmConfig([1], facts()).issues, [{ field: 'body', message: 'must be a JSON object' }]);
});
B.run();

const V = suite('validateVmConfig');
V('should throw 400 invalid naming the first field and listing the rest', () => {
  try {
    validateVmConfig({ vmid: 101, memory: 1, cores: 0 }, facts());
    assert.unreachable();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 400);
    assert.is((e as HttpError).code, 'invalid');
    assert.match((e as HttpError).message, /^memory: must be at least 16 MiB; also cores: /);
  }
});
V.run();

const M = suite('normaliseMac');
M('should upper-case a unicast MAC', () => {
  assert.is(normaliseMac('02:52:4d:0a:0b:0c'), '02:52:4D:0A:0B:0C');
});
M('should refuse multicast, zero and malformed addresses', () => {
  for (const v of ['03:00:00:00:00:01', '00:00:00:00:00:00', '02-52-4D-0A-0B-0C', '02:52:4D:0A:0B', 42]) assert.is(normaliseMac(v), null, String(v));
});
M.run();

const I = suite('isInterfaceName');
I('should accept bridge names and refuse paths and long names', () => {
  assert.ok(isInterfaceName('vmbr0'));
  assert.ok(isInterfaceName('br-lan.10'));
  for (const v of ['', '../x', 'a/b', '-x', 'abcdefghijklmnop', 'a b']) assert.not.ok(isInterfaceName(v), v);
});
I.run();

const R = suite('checkVmConfig replicated disks');
R('should make a replicated disk raw with a .drbd file beside the unreplicated ones', () => {
  const { config, issues } = checkVmConfig({ vmid: 101, disks: [{ size: '8G', replicated: true }, { size: '1G' }] }, facts());
  assert.equal(issues, []);
  assert.equal(config!.disks[0], { id: 'disk0', file: 'vm-101-disk-0.drbd', size: '8G', bus: 'ide', format: 'raw', cache: 'writeback', replicated: true });
  assert.is(config!.disks[1]!.replicated, undefined, 'an unreplicated disk has no replicated field');
  assert.is(config!.disks[1]!.file, 'vm-101-disk-1.qcow2');
});
R('should keep "replicated": false as an ordinary disk', () => {
  const { config } = checkVmConfig({ vmid: 101, disks: [{ size: '8G', replicated: false }] }, facts());
  assert.is(config!.disks[0]!.file, 'vm-101-disk-0.qcow2');
  assert.not.ok('replicated' in config!.disks[0]!);
});
R('should read a stored replicated disk back in update mode, and refuse its .raw name', () => {
  const disk = { id: 'disk0', file: 'vm-101-disk-0.drbd', size: '8G', bus: 'ide', format: 'raw', cache: 'writeback', replicated: true };
  assert.equal(checkVmConfig({ vmid: 101, disks: [disk] }, facts({ mode: 'update' })).issues, []);
  const { issues } = checkVmConfig({ vmid: 101, disks: [{ ...disk, file: 'vm-101-disk-0.raw' }] }, facts({ mode: 'update' }));
  assert.equal(issues, [{ field: 'disks[0].file', message: 'must be "vm-101-disk-0.drbd"' }]);
});
// [disk, field, message, reason]
const BAD_REPLICATED: [Record<string, unknown>, string, RegExp, string][] = [
  [{ replicated: true, format: 'qcow2' }, 'disks[0].format', /a replicated disk is raw/, 'qcow2 asked for'],
  [{ replicated: 'yes' }, 'disks[0].replicated', /must be true or false/, 'not a boolean'],
  [{ replicated: true, size: '32T' }, 'disks[0].size', /from 1M to 16T/, 'above 16 TiB'],
  [{ replicated: true, size: '1025K' }, 'disks[0].size', /whole number of 4 KiB blocks/, 'not a whole number of 4 KiB blocks'],
];
for (const [disk, field, message, reason] of BAD_REPLICATED) {
  R(`should refuse a replicated disk: ${reason}`, () => {
    const { issues } = checkVmConfig({ vmid: 101, disks: [disk] }, facts());
    assert.is(issues[0]?.field, field, JSON.stringify(issues));
    assert.match(issues[0]!.message, message);
  });
}
R.run();
