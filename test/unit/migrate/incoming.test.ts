import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { checkedIncoming, isGoLine } from '../../../node-cgi/migrate/incoming';

const config = {
  vmid: 101, name: 'web', node: 'n1', type: 'kvm', memory: 64, sockets: 1, cores: 1, ostype: 'l26', onboot: false, cdrom: null,
  disks: [{ id: 'disk0', file: 'vm-101-disk-0.raw', size: '1G', bus: 'ide', format: 'raw', cache: 'writeback' }],
  nics: [], boot: ['disk0'],
};
const disk = { id: 'disk0', file: 'vm-101-disk-0.raw', format: 'raw', virtualBytes: 1 << 30, allocatedBytes: 16 << 20 };

const I = suite('checkedIncoming');
let node: string | undefined;
I.before(() => {
  node = process.env.RAMVM_NODE;
  process.env.RAMVM_NODE = 'n2';
});
I.after(() => {
  if (node === undefined) delete process.env.RAMVM_NODE;
  else process.env.RAMVM_NODE = node;
});
I('should take the config as it will be on this node, with its disks', () => {
  const r = checkedIncoming(101, { config, disks: [disk], online: true, bridges: ['vmbr0', 'bad/name'] });
  assert.is(r.config.node, 'n2');
  assert.equal(r.disks, [disk]);
  assert.is(r.online, true);
  assert.equal(r.bridges, ['vmbr0']);
});
// [body, message, reason]
for (const [body, message, why] of [
  [{ disks: [disk] }, /^config: the guest's config is required$/, 'no config'],
  [{ config: { ...config, vmid: 102, disks: [{ ...config.disks[0], file: 'vm-102-disk-0.raw' }] }, disks: [disk] }, /^config: is the config of guest 102, not of 101$/, 'another guest'],
  [{ config: { ...config, disks: [{ ...config.disks[0], file: '../../etc/passwd' }] }, disks: [disk] }, /^config: disks\[0\]\.file: must be "vm-101-disk-0\.raw"$/, 'a disk file outside the guest folder'],
  [{ config, disks: [] }, /^disks: one entry per disk of the config$/, 'a disk missing'],
  [{ config, disks: [{ ...disk, file: 'vm-101-disk-9.raw' }] }, /^disks: entry 0 is not disk disk0 of the config$/, 'a file the config does not name'],
  [{ config, disks: [{ ...disk, allocatedBytes: -1 }] }, /^disks: allocatedBytes of disk0 must be a byte count$/, 'a negative size'],
] as [Record<string, unknown>, RegExp, string][]) {
  I(`should refuse ${why}`, () => assert.throws(() => checkedIncoming(101, body), message));
}
I.run();

const G = suite('isGoLine');
const token = 'ab'.repeat(32);
G('should take "go" with the migration\'s token', () => assert.ok(isGoLine(`go ${token}`, token)));
// [line, reason]
for (const [line, why] of [
  [`go ${'cd'.repeat(32)}`, 'another token'],
  [`go ${token.slice(0, 62)}`, 'a token cut short'],
  [`go ${token} `, 'anything after the token'],
  [`GO ${token}`, 'another word'],
  ['go', 'no token'],
] as [string, string][]) {
  G(`should refuse ${why}`, () => assert.not.ok(isGoLine(line, token)));
}
G.run();
