/**
 * node-cgi/drbd/resource.ts: names, minors, ports, meta-data sizes as
 * tables, and every resource file checked by the real drbdadm-84 of
 * drbd-utils 9.22 (`dump`, with __DRBD_NODE__ standing in for `uname -n`:
 * it needs no kernel module).
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { drbdadm84 } from '../../helpers/drbd';
import {
  allocateMinor, backingFileBytes, drbdAddress, drbdDevice, drbdPort, drbdResource, drbdResourceConfig, drbdResourceName, internalMetaBytes, loopDevice,
  parseResourceName, DRBD_MINOR_MAX, type DrbdHost,
} from '../../../node-cgi/drbd/resource';

const N1: DrbdHost = { name: 'node1', address: '10.99.0.1' };
const N2: DrbdHost = { name: 'node2', address: '10.99.0.2' };

const RN = suite('drbdResourceName');
RN('should name a disk of a guest vm-<vmid>-disk-<n>', () => {
  assert.is(drbdResourceName(101, 0), 'vm-101-disk-0');
  assert.is(drbdResourceName(999999999, 29), 'vm-999999999-disk-29');
});
const BAD_NAMES: [number, number, RegExp, string][] = [
  [99, 0, /vmid: must be between 100/, 'a vmid below 100'],
  [101, -1, /disk index must be 0–29, not -1/, 'a negative disk'],
  [101, 30, /disk index must be 0–29, not 30/, 'a disk past the last'],
  [101, 1.5, /disk index must be 0–29, not 1.5/, 'a fractional disk'],
];
for (const [vmid, disk, re, why] of BAD_NAMES) RN(`should refuse ${why}`, () => assert.throws(() => drbdResourceName(vmid, disk), re));
RN.run();

const PN = suite('parseResourceName');
PN('should read back the names drbdResourceName makes', () => {
  assert.equal(parseResourceName('vm-101-disk-0'), { vmid: 101, disk: 0 });
  assert.equal(parseResourceName('vm-4242-disk-29'), { vmid: 4242, disk: 29 });
});
for (const [name, why] of [
  ['r0', 'a resource of someone else'],
  ['vm-0101-disk-0', 'a vmid written with a leading zero'],
  ['vm-101-disk-01', 'a disk written with a leading zero'],
  ['vm-101-disk-30', 'a disk past the last'],
  ['vm-99-disk-0', 'a vmid below 100'],
  ['vm-101-disk-0 ', 'trailing space'],
]) PN(`should not take ${why}`, () => assert.is(parseResourceName(name!), null));
PN.run();

const AM = suite('allocateMinor');
AM('should take the lowest minor neither node uses', () => {
  assert.is(allocateMinor([]), 0);
  assert.is(allocateMinor([0, 1, 3]), 2);
  assert.is(allocateMinor(new Set([1, 2])), 0);
});
AM('should refuse when every minor is taken', () => {
  const all = Array.from({ length: DRBD_MINOR_MAX + 1 }, (_, i) => i);
  assert.throws(() => allocateMinor(all), /all 256 DRBD minors are in use/);
  assert.is(allocateMinor(all.slice(1)), 0);
});
AM.run();

const DV = suite('drbdPort, drbdDevice, loopDevice');
DV('should derive port, DRBD device and loop device from the minor', () => {
  assert.equal([drbdPort(0), drbdDevice(0), loopDevice(0)], [7788, '/dev/drbd0', '/dev/loop1000']);
  assert.equal([drbdPort(255), drbdDevice(255), loopDevice(255)], [8043, '/dev/drbd255', '/dev/loop1255']);
});
DV('should refuse a minor out of range', () => {
  assert.throws(() => drbdPort(256), /DRBD minor must be 0–255, not 256/);
  assert.throws(() => loopDevice(-1), /DRBD minor must be 0–255, not -1/);
  assert.throws(() => drbdDevice(0.5), /DRBD minor must be 0–255, not 0.5/);
});
DV.run();

const EXPECTED_0 = `global {
  usage-count no;
}
resource vm-101-disk-0 {
  protocol C;
  device /dev/drbd0 minor 0;
  disk /dev/loop1000;
  meta-disk internal;
  on node1 {
    address ipv4 10.99.0.1:7788;
  }
  on node2 {
    address ipv4 10.99.0.2:7788;
  }
}
`;

const DA = suite('drbdAddress');
DA('should name an end as drbdsetup-84 does: family, address (IPv6 in brackets), port', () => {
  assert.is(drbdAddress({ name: 'node1', address: '10.99.0.1' }, 7788), 'ipv4:10.99.0.1:7788');
  assert.is(drbdAddress({ name: 'node1', address: 'fd00::1' }, 7789), 'ipv6:[fd00::1]:7789');
});
DA('should refuse a host name: DRBD connects to addresses', () => {
  assert.throws(() => drbdAddress({ name: 'node1', address: 'node1.lan' }, 7788), /node node1: its cluster address "node1.lan" is not an IP address, which DRBD needs/);
});
DA.run();

const RC = suite('drbdResourceConfig');
RC('should write protocol C, internal meta-data, the loop device and both nodes, and no usage count (its question hung drbdadm on a terminal)', () => {
  assert.is(drbdResourceConfig(drbdResource(101, 0, 0, [N1, N2])), EXPECTED_0);
});
RC('should write IPv6 addresses in brackets', () => {
  const text = drbdResourceConfig(drbdResource(102, 1, 7, [{ name: 'a', address: 'fd00::1' }, { name: 'b', address: 'fd00::2' }]));
  assert.match(text, /on a \{\n {4}address ipv6 \[fd00::1\]:7795;\n {2}\}/);
  assert.match(text, /device \/dev\/drbd7 minor 7;\n {2}disk \/dev\/loop1007;/);
});
const BAD_RESOURCES: [() => string, RegExp, string][] = [
  [() => drbdResourceConfig(drbdResource(101, 0, 0, [N1, { name: 'node2', address: 'node2.lan' }])), /node node2: its cluster address "node2.lan" is not an IP address/, 'a host name as address'],
  [() => drbdResourceConfig(drbdResource(101, 0, 0, [N1, { ...N1, address: '10.99.0.9' }])), /the two nodes of vm-101-disk-0 are both node1/, 'one node twice'],
  [() => drbdResourceConfig(drbdResource(101, 0, 0, [N1, { ...N2, address: N1.address }])), /nodes node1 and node2 have the same address 10.99.0.1/, 'one address twice'],
  [() => drbdResourceConfig(drbdResource(101, 0, 0, [N1, { ...N2, name: 'n2;}' }])), /node: must be a host name/, 'a node name that would end the section'],
  [() => drbdResourceConfig({ ...drbdResource(101, 0, 0, [N1, N2]), name: 'vm-101-disk-0 { }' }), /resource name "vm-101-disk-0 \{ \}" is not vm-<vmid>-disk-<n>/, 'a resource name of its own'],
  [() => drbdResourceConfig({ ...drbdResource(101, 0, 0, [N1, N2]), port: 22 }), /port 22 is not that of minor 0 \(7788\)/, 'a port apart from the minor'],
  [() => drbdResourceConfig({ ...drbdResource(101, 0, 0, [N1, N2]), hosts: [N1] as unknown as [DrbdHost, DrbdHost] }), /a replicated disk has two nodes, not 1/, 'one node'],
];
for (const [fn, re, why] of BAD_RESOURCES) RC(`should refuse ${why}`, () => assert.throws(fn, re));
RC('should be read by drbdadm-84 as protocol C with internal meta-data on the loop device, on either node', () => {
  const text = drbdResourceConfig(drbdResource(101, 0, 3, [N1, N2]));
  for (const node of ['node1', 'node2']) {
    const r = drbdadm84(text, node, ['dump', 'vm-101-disk-0']);
    assert.is(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`# resource vm-101-disk-0 on ${node}: not ignored`));
    for (const [n, a] of [['node1', '10.99.0.1'], ['node2', '10.99.0.2']]) {
      assert.match(r.out, new RegExp(`on ${n} \\{\\s+device\\s+/dev/drbd3 minor 3;\\s+disk\\s+/dev/loop1003;\\s+meta-disk\\s+internal;\\s+address\\s+ipv4 ${a.replace(/\./g, '\\.')}:7791;`));
    }
    assert.match(r.out, /net \{\s+protocol\s+C;\s+\}/);
  }
});
RC('should be refused by drbdadm-84 on a node it does not name', () => {
  const r = drbdadm84(drbdResourceConfig(drbdResource(101, 0, 0, [N1, N2])), 'node3', ['dump', 'vm-101-disk-0']);
  assert.is.not(r.code, 0);
  assert.match(r.err, /'vm-101-disk-0' not defined in your config \(for this host\)/);
});
RC.run();

const MD = suite('internalMetaBytes');
// The user's guide's formula Ms = ceil(Cs / 2^18) * 8 + 72 sectors, Cs the device's sectors.
const MD_TABLE: [number, number][] = [
  [64 * 2 ** 20, 80 * 512], // 64 MiB = 2^17 sectors → 1 × 8 + 72
  [2 ** 30, 136 * 512], // 1 GiB = 2^21 sectors → 8 × 8 + 72
  [2 ** 30 + 512, 144 * 512], // one sector more starts another bitmap step
  [32 * 2 ** 30, (256 * 8 + 72) * 512],
];
for (const [bytes, md] of MD_TABLE) MD(`should give ${md} bytes for ${bytes}`, () => assert.is(internalMetaBytes(bytes), md));
MD('should refuse a size that is not a positive whole number', () => {
  assert.throws(() => internalMetaBytes(0), /disk size must be a positive number of bytes, not 0/);
  assert.throws(() => internalMetaBytes(1.5), /not 1.5/);
});
MD.run();

const BF = suite('backingFileBytes');
BF('should leave the guest its whole size after the meta-data', () => {
  for (const n of [64 * 2 ** 20, 2 ** 30, 2 ** 30 - 4096, 10 * 2 ** 30, 100 * 2 ** 30]) {
    const b = backingFileBytes(n);
    assert.ok(b - internalMetaBytes(b) >= n, `${n}: ${b}`);
    assert.ok(b - internalMetaBytes(b) - n < 4096 * 8, `${n}: no more than a bitmap step to spare`);
  }
});
BF('should take the larger meta-data of a file that crosses a bitmap step', () => {
  assert.is(backingFileBytes(2 ** 30), 2 ** 30 + 144 * 512);
  assert.is(backingFileBytes(64 * 2 ** 20), 64 * 2 ** 20 + 80 * 512);
});
BF.run();
