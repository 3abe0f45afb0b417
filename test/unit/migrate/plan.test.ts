import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import {
  incomingRefusals, migratedLine, nbdCopyArgs, nbdServerArgs, parseMapDataBytes, parseMigrateRequest, PSK_USER, SPACE_MARGIN_BYTES, type TargetFacts,
} from '../../../node-cgi/migrate/plan';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

const P = suite('parseMigrateRequest');
P('should take a target and default to offline', () => {
  assert.equal(parseMigrateRequest({ target: 'n2' }), { target: 'n2', online: false });
  assert.equal(parseMigrateRequest({ target: 'n3', online: true }), { target: 'n3', online: true });
});
// [body, message, reason]
for (const [body, message, why] of [
  [{}, /^target: the node to move the guest to is required$/, 'no target'],
  [{ target: '' }, /^target: the node to move the guest to is required$/, 'an empty target'],
  [{ target: '../n2' }, /^target: /, 'a path, not a node name'],
  [{ target: 'n2', online: 'yes' }, /^online: true \(live\) or false/, 'not a boolean'],
  [{ target: 'n2', node: 'n3' }, /^node: unknown field/, 'a typo of target'],
] as [Record<string, unknown>, RegExp, string][]) {
  P(`should refuse ${JSON.stringify(body)}: ${why}`, () => assert.throws(() => parseMigrateRequest(body), message));
}
P.run();

const fits: TargetFacts = {
  node: 'n2',
  vmid: 101,
  online: false,
  configExists: false,
  imagesExist: false,
  memory: { total: 8 * GIB, claimed: 7 * GIB, ratio: 1 },
  guestMemoryMiB: 2048,
  bridgesNeeded: ['vmbr0'],
  bridgesHere: new Set(['vmbr0']),
  cdrom: 'debian.iso',
  cdromHere: true,
  freeBytes: 10 * GIB,
  disks: [{ id: 'disk0', file: 'vm-101-disk-0.raw', format: 'raw', virtualBytes: 32 * GIB, allocatedBytes: 4 * GIB }],
};

const R = suite('incomingRefusals');
R('should take a stopped guest that fits, whatever the running guests claim', () => {
  assert.equal(incomingRefusals(fits), []);
});
R('should count running guests for a live migration', () => {
  assert.equal(incomingRefusals({ ...fits, online: true }), ['not enough memory on node n2: the guest needs 2.0 GiB, its running guests claim 7.0 GiB, and it allows 8.0 GiB (1 × 8.0 GiB)']);
});
R('should name each thing the target lacks', () => {
  const r = incomingRefusals({
    ...fits,
    configExists: true,
    guestMemoryMiB: 16 * 1024,
    bridgesNeeded: ['vmbr0', 'vmbr1'],
    cdromHere: false,
    freeBytes: 4 * GIB,
  });
  assert.equal(r, [
    'node n2 has a guest with VMID 101 already',
    'not enough memory on node n2: the guest needs 16.0 GiB, and it allows 8.0 GiB (1 × 8.0 GiB)',
    'node n2 has no bridge vmbr1',
    'node n2 has no ISO image debian.iso (the guest\'s CD-ROM); upload it on the master or eject it',
    'not enough disk space on node n2: the disks need 4.0 GiB, 4.0 GiB is free',
  ]);
});
R('should refuse a leftover disk folder of the VMID', () => {
  assert.equal(incomingRefusals({ ...fits, imagesExist: true }), ['node n2 has a disk folder for VMID 101 already (images/101)']);
});
R('should ask for the allocated bytes and a margin, not the virtual size', () => {
  assert.equal(incomingRefusals({ ...fits, freeBytes: 4 * GIB + SPACE_MARGIN_BYTES }), []);
  assert.equal(incomingRefusals({ ...fits, freeBytes: 4 * GIB + SPACE_MARGIN_BYTES - 1 }).length, 1);
});
R.run();

const end = { address: '10.213.5.2', port: 40123, name: 'disk0', pskDir: '/run/ramvm/migrate/101.psk' };

const N = suite('nbdServerArgs');
N('should serve one image on the cluster address, TLS with the migration key', () => {
  assert.equal(nbdServerArgs('/img/vm-101-disk-0.raw', 'raw', end, '/run/x.pid'), [
    'qemu-nbd', '--fork', '--pid-file=/run/x.pid', '-b', '10.213.5.2', '-p', '40123', '-x', 'disk0', '-f', 'raw',
    '--object', 'tls-creds-psk,id=tls0,endpoint=server,dir=/run/ramvm/migrate/101.psk', '--tls-creds', 'tls0',
    '--cache=none', '--aio=native', '/img/vm-101-disk-0.raw',
  ]);
});
N('should never stay for a second client (no --persistent)', () => {
  assert.not.ok(nbdServerArgs('/i', 'qcow2', end, '/p').includes('--persistent'));
});
N.run();

const C = suite('nbdCopyArgs');
C('should write data only into the new image, as the PSK user', () => {
  assert.equal(nbdCopyArgs('/img/vm-101-disk-1.qcow2', 'qcow2', end), [
    'qemu-img', 'convert', '-p', '-n', '--target-is-zero', '-f', 'qcow2',
    '--object', `tls-creds-psk,id=tls0,endpoint=client,dir=/run/ramvm/migrate/101.psk,username=${PSK_USER}`,
    '/img/vm-101-disk-1.qcow2',
    '--target-image-opts', 'driver=raw,file.driver=nbd,file.host=10.213.5.2,file.port=40123,file.export=disk0,file.tls-creds=tls0',
  ]);
});
C.run();

const M = suite('parseMapDataBytes');
M('should add up the data extents of qemu-img 7.2 map output', () => {
  const text = `[{ "start": 0, "length": 4096, "depth": 0, "present": true, "zero": false, "data": true, "offset": 0},
{ "start": 4096, "length": 104853504, "depth": 0, "present": true, "zero": true, "data": false, "offset": 4096},
{ "start": 104857600, "length": 16777216, "depth": 0, "present": true, "zero": false, "data": true, "offset": 104857600},
{ "start": 121634816, "length": 952107008, "depth": 0, "present": true, "zero": true, "data": false, "offset": 121634816}]`;
  assert.is(parseMapDataBytes(text), 4096 + 16 * MIB);
});
M('should count nothing for an empty qcow2', () => {
  assert.is(parseMapDataBytes('[{ "start": 0, "length": 1073741824, "depth": 0, "present": false, "zero": true, "data": false}]'), 0);
});
M('should refuse output that is no list of extents', () => {
  assert.throws(() => parseMapDataBytes('{"start": 0}'), /qemu-img map did not answer a list/);
  assert.throws(() => parseMapDataBytes('[{"data": true}]'), /an extent without a length/);
});
M.run();

const L = suite('migratedLine');
L('should say time, downtime and bytes as CONTRACT.md has it', () => {
  assert.is(migratedLine(4321.4, 0, 16781312), 'migrated in 4321 ms, downtime 0 ms, 16781312 bytes of disk moved');
});
L.run();
