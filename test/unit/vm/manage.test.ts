import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useTempRoot } from '../../helpers/temp-root';
import { guestImagesDir, nodeName } from '../../../node-cgi/lib/paths';
import { writeVmConfig } from '../../../node-cgi/vm/config';
import { openGuest } from '../../../node-cgi/vm/guest';
import { addDisk, dropGuestFiles, freeDiskIndex, mergeUpdate, nextFreeVmid, parseOpenDrives, removeDisk, replicateDisk, updateDisk, type Replicas } from '../../../node-cgi/vm/manage';
import { randomMac } from '../../../node-cgi/vm/host';
import { normaliseMac } from '../../../node-cgi/vm/validate';
import type { VmConfig } from '../../../node-cgi/vm/types';

const cur: VmConfig = {
  vmid: 101, name: 'web', node: 'pve1', type: 'kvm', memory: 512, sockets: 1, cores: 1, ostype: 'l26', onboot: false, cdrom: null,
  disks: [{ id: 'disk0', file: 'vm-101-disk-0.qcow2', size: '32G', bus: 'ide', format: 'qcow2', cache: 'writeback' }],
  nics: [{ id: 'net0', model: 'rtl8139', bridge: 'vmbr0', mac: '02:52:4D:00:00:01' }],
  boot: ['disk0', 'cdrom', 'net0'], description: '', created: 5,
};

const N = suite('nextFreeVmid');
N('should hand out 101 first, then the first gap', () => {
  assert.is(nextFreeVmid(new Set()), 101);
  assert.is(nextFreeVmid(new Set([100, 101, 102, 104])), 103);
});
N.run();

const U = suite('mergeUpdate');
U('should lay the body over the config', () => {
  assert.equal(mergeUpdate(cur, { memory: 1024, onboot: true }), { ...cur, memory: 1024, onboot: true });
});
U('should ignore status fields a client sends back from GET', () => {
  assert.equal(mergeUpdate(cur, { ...cur, status: 'running', runtime: {}, qmpStatus: 'running' }), { ...cur });
  const crashed = { state: 'guest-panicked', message: 'm', actions: ['reset', 'stop'], kvmSuspect: false };
  assert.equal(mergeUpdate(cur, { ...cur, status: 'paused', qmpStatus: 'guest-panicked', fault: crashed, note: 'n' }), { ...cur }, 'a crashed guest sent back');
});
U('should keep the MAC of a NIC replaced without one', () => {
  const next = mergeUpdate(cur, { nics: [{ model: 'virtio' }, { model: 'e1000' }] });
  assert.equal(next.nics, [{ model: 'virtio', mac: '02:52:4D:00:00:01' }, { model: 'e1000' }]);
});
U('should refuse to change VMID, node, type, creation time or disks here', () => {
  const table: [Record<string, unknown>, string][] = [
    [{ vmid: 102 }, 'vmid'],
    [{ node: 'pve2' }, 'node'],
    [{ type: 'lxc' }, 'type'],
    [{ created: 6 }, 'created'],
    [{ disks: [] }, 'disks'],
  ];
  for (const [body, field] of table) {
    try {
      mergeUpdate(cur, body);
      assert.unreachable(field);
    } catch (e) {
      assert.instance(e, HttpError);
      assert.match((e as HttpError).message, new RegExp(`^${field}: `));
    }
  }
});
U('should keep the mark of a guest run from a backup and refuse a client changing it', () => {
  const temporary = { backup: 'local:101:20261125T220000Z', source: 101, purpose: 'run' as const, since: 5, formats: { disk0: 'raw' as const } };
  const tmp = { ...cur, temporary };
  assert.equal(mergeUpdate(tmp, { memory: 256, temporary: { ...temporary } }), { ...tmp, memory: 256 });
  assert.equal(mergeUpdate(tmp, { memory: 256 }).temporary, temporary);
  const table: [VmConfig, Record<string, unknown>, string][] = [
    [tmp, { temporary: null }, 'drops the mark'],
    [tmp, { temporary: { ...temporary, purpose: 'bootcheck' } }, 'changes its purpose'],
    [cur, { temporary }, 'marks a normal guest'],
  ];
  for (const [base, body, reason] of table) assert.throws(() => mergeUpdate(base, body), /^temporary: /, reason);
});
U.run();

const R = suite('randomMac');
R('should make unicast, locally administered MACs with the ramvm prefix', () => {
  const macs = new Set(Array.from({ length: 50 }, randomMac));
  for (const m of macs) {
    assert.ok(m.startsWith('02:52:4D:'), m);
    assert.is(normaliseMac(m), m);
  }
  assert.ok(macs.size > 40, 'random');
});
R.run();

const Q = suite('parseOpenDrives');
Q("should list the drives with an image open, not an empty CD-ROM drive (QEMU 7.2's query-block)", () => {
  const answer = JSON.parse(readFileSync(join(__dirname, 'fixtures/qmp-query-block.qemu-7.2.json'), 'utf8'));
  assert.equal([...parseOpenDrives(answer)], ['drive-disk0']);
});
Q('should refuse an answer that is no list', () => {
  assert.throws(() => parseOpenDrives({ error: 'x' }), /query-block did not answer a list/);
});
Q.run();

const D = suite('dropGuestFiles');
useTempRoot(D);
/** Guest `vmid` of this node, stopped, with these files in its images folder. */
function guestWith(vmid: number, files: string[]): string {
  writeVmConfig({ ...cur, vmid, node: nodeName(), disks: [] });
  const dir = guestImagesDir(vmid);
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f), 'x');
  return dir;
}
D('should remove the images folder and the config of a stopped guest', () => {
  const dir = guestWith(201, ['vm-201-disk-0.raw']);
  dropGuestFiles(openGuest(201));
  assert.not.ok(existsSync(dir), 'the images folder is gone');
  assert.throws(() => openGuest(201), /no guest with VMID 201/);
});
D('should leave the files it is told to keep (a moved replicated guest\'s replicas) and remove the rest', () => {
  const dir = guestWith(202, ['vm-202-disk-0.drbd', 'vm-202-disk-0.drbd.json', 'vm-202-disk-1.raw']);
  dropGuestFiles(openGuest(202), ['vm-202-disk-0.drbd', 'vm-202-disk-0.drbd.json']);
  assert.equal(readdirSync(dir).sort(), ['vm-202-disk-0.drbd', 'vm-202-disk-0.drbd.json']);
  assert.throws(() => openGuest(202), /no guest with VMID 202/, 'the config is gone');
});
D.run();

const F = suite('freeDiskIndex');
F('should skip the indexes of the config and of any file in the folder, whatever its kind', () => {
  assert.is(freeDiskIndex(101, new Set(), []), 0);
  assert.is(freeDiskIndex(101, new Set([0]), ['vm-101-disk-0.raw', 'vm-101-disk-1.drbd.json']), 2, 'a record alone claims its index');
  assert.is(freeDiskIndex(101, new Set([0]), ['vm-101-disk-1.qcow2', 'vm-102-disk-2.raw', 'vm-101.replica-config.json']), 2, 'another guest\'s names and the config copy claim nothing');
  assert.is(freeDiskIndex(101, new Set([0, 2]), [], 1), 1, 'from the index asked');
});
F.run();

/** Both sides of replicated disks, as drbd/guest.ts makes them, faked: what was asked, and a failure when told. */
function fakeReplicas(fail?: Error): Replicas & { made: string[][]; dropped: number[][]; converted: string[] } {
  const made: string[][] = [];
  const dropped: number[][] = [];
  const converted: string[] = [];
  return {
    made,
    dropped,
    converted,
    async convert(vmid, d) {
      converted.push(`${vmid}:${d.id}:${d.file}`);
      if (fail) throw fail;
    },
    async unconvert(vmid, d) {
      converted.push(`undo ${vmid}:${d.id}`);
    },
    async make(cfg) {
      made.push(cfg.disks.map((d) => `${cfg.vmid}:${d.id}:${d.file}:${d.size}:${d.replicated}`));
      if (fail) throw fail;
    },
    async drop(vmid, disks) {
      dropped.push([vmid, ...disks]);
    },
  };
}

const A = suite('addDisk');
useTempRoot(A);
A('should make a replicated disk on both sides before it enters the config, raw, with the next free index', async () => {
  guestWith(301, ['vm-301-disk-0.qcow2']);
  writeVmConfig({ ...cur, vmid: 301, node: nodeName(), disks: [{ ...cur.disks[0]!, file: 'vm-301-disk-0.qcow2' }], boot: [], nics: [] });
  const r = fakeReplicas();
  const cfg = await addDisk(openGuest(301), { size: '64M', replicated: true, format: 'raw' }, r);
  assert.equal(r.made, [['301:disk1:vm-301-disk-1.drbd:64M:true']]);
  assert.equal(cfg.disks[1], { id: 'disk1', file: 'vm-301-disk-1.drbd', size: '64M', bus: 'ide', format: 'raw', cache: 'writeback', replicated: true });
  assert.equal(openGuest(301).config.disks.map((d) => d.id), ['disk0', 'disk1']);
  assert.equal(readdirSync(guestImagesDir(301)), ['vm-301-disk-0.qcow2'], 'no image of its own: the sides are the replicas\' (the fake made none)');
});
A('should leave the config as it was when making the replicas fails', async () => {
  guestWith(302, []);
  writeVmConfig({ ...cur, vmid: 302, node: nodeName(), disks: [], boot: [], nics: [] });
  const r = fakeReplicas(new HttpError('conflict', 'the peer node n2 does not answer'));
  await addDisk(openGuest(302), { size: '64M', replicated: true, format: 'raw' }, r).then(() => assert.unreachable('added'), (e: HttpError) => assert.match(e.message, /the peer node n2 does not answer/));
  assert.equal(openGuest(302).config.disks, []);
  assert.equal(readdirSync(guestImagesDir(302)), []);
  assert.equal(r.dropped, [], 'make undoes its own sides');
});
A('should refuse a replicated qcow2 disk as a create does, before asking the peer', async () => {
  guestWith(303, []);
  writeVmConfig({ ...cur, vmid: 303, node: nodeName(), disks: [], boot: [], nics: [] });
  const r = fakeReplicas();
  await addDisk(openGuest(303), { size: '64M', replicated: true, format: 'qcow2' }, r).then(() => assert.unreachable('added'), (e: HttpError) => {
    assert.is(e.code, 'invalid');
    assert.match(e.message, /disks\[0\]\.format: a replicated disk is raw/);
  });
  assert.equal(r.made, []);
});
A('should refuse a replicated disk with 409 where nothing can make its sides', async () => {
  guestWith(304, []);
  writeVmConfig({ ...cur, vmid: 304, node: nodeName(), disks: [], boot: [], nics: [] });
  await addDisk(openGuest(304), { size: '64M', replicated: true, format: 'raw' }).then(() => assert.unreachable('added'), (e: HttpError) => {
    assert.is(e.code, 'conflict');
    assert.match(e.message, /replicated disks are made through the API/);
  });
  assert.equal(openGuest(304).config.disks, []);
});
A.run();

const X = suite('removeDisk');
useTempRoot(X);
X('should take a replicated disk out of the config, then drop both its sides', async () => {
  const disks: VmConfig['disks'] = [
    { id: 'disk0', file: 'vm-401-disk-0.raw', size: '64M', bus: 'virtio', format: 'raw', cache: 'writeback' },
    { id: 'disk1', file: 'vm-401-disk-1.drbd', size: '64M', bus: 'virtio', format: 'raw', cache: 'writeback', replicated: true },
  ];
  guestWith(401, ['vm-401-disk-0.raw']);
  writeVmConfig({ ...cur, vmid: 401, node: nodeName(), disks, boot: ['disk1'], nics: [] });
  const r = fakeReplicas();
  const next = await removeDisk(openGuest(401), 'disk1', r);
  assert.equal(next.disks.map((d) => d.id), ['disk0']);
  assert.equal(next.boot, []);
  assert.equal(r.dropped, [[401, 1]]);
  assert.equal(readdirSync(guestImagesDir(401)), ['vm-401-disk-0.raw'], 'the other disk stays');
  await removeDisk(openGuest(401), 'disk0', r);
  assert.equal(r.dropped, [[401, 1]], 'a plain disk is only a file');
  assert.equal(readdirSync(guestImagesDir(401)), []);
});
X.run();

const G = suite('updateDisk');
useTempRoot(G);
G('should refuse to grow a replicated disk with 409 and change nothing', async () => {
  const disk = { id: 'disk0', file: 'vm-501-disk-0.drbd', size: '64M', bus: 'virtio' as const, format: 'raw' as const, cache: 'writeback' as const, replicated: true as const };
  guestWith(501, []);
  writeVmConfig({ ...cur, vmid: 501, node: nodeName(), disks: [disk], boot: [], nics: [] });
  await updateDisk(openGuest(501), 'disk0', { size: '128M' }).then(() => assert.unreachable('grown'), (e: HttpError) => {
    assert.is(e.code, 'conflict');
    assert.match(e.message, /disk0 is replicated: a replicated disk cannot grow/);
  });
  assert.equal(openGuest(501).config.disks, [disk]);
  const bus = await updateDisk(openGuest(501), 'disk0', { bus: 'scsi' });
  assert.is(bus.disks[0]!.bus, 'scsi', 'its bus still changes');
});
G.run();

const C = suite('replicateDisk');
useTempRoot(C);
const raw = (vmid: number, i: number, size = '64M'): VmConfig['disks'][number] => ({ id: `disk${i}`, file: `vm-${vmid}-disk-${i}.raw`, size, bus: 'virtio', format: 'raw', cache: 'writeback' });
C('should convert a raw disk and then say so in the config: the .drbd file, replicated', async () => {
  guestWith(601, []);
  writeVmConfig({ ...cur, vmid: 601, node: nodeName(), disks: [raw(601, 0), raw(601, 1)], boot: [], nics: [] });
  const r = fakeReplicas();
  const cfg = await replicateDisk(openGuest(601), 'disk1', r);
  assert.equal(r.converted, ['601:disk1:vm-601-disk-1.raw'], 'asked with the disk as it was');
  assert.equal(cfg.disks[1], { ...raw(601, 1), file: 'vm-601-disk-1.drbd', replicated: true });
  assert.equal(openGuest(601).config.disks[0], raw(601, 0), 'the other disk as it was');
});
C('should leave the config as it was when the conversion fails', async () => {
  guestWith(602, []);
  writeVmConfig({ ...cur, vmid: 602, node: nodeName(), disks: [raw(602, 0)], boot: [], nics: [] });
  const r = fakeReplicas(new HttpError('conflict', 'the peer node n2 does not answer'));
  await replicateDisk(openGuest(602), 'disk0', r).then(() => assert.unreachable('converted'), (e: HttpError) => assert.match(e.message, /the peer node n2 does not answer/));
  assert.equal(openGuest(602).config.disks, [raw(602, 0)]);
});
const REFUSED: [string, VmConfig['disks'][number], string, RegExp, string][] = [
  ['a qcow2 disk', { ...raw(603, 0), file: 'vm-603-disk-0.qcow2', format: 'qcow2' }, 'conflict', /disk0 is qcow2: only a raw disk can be made replicated/, 'DRBD replicates blocks'],
  ['a replicated disk', { ...raw(603, 0), file: 'vm-603-disk-0.drbd', replicated: true }, 'conflict', /disk0 of guest 603 is replicated already/, 'nothing to do'],
  ['a size DRBD cannot take', raw(603, 0, '2049K'), 'invalid', /a replicated disk has a whole number of 4 KiB blocks/, 'DRBD counts 4 KiB blocks'],
];
for (const [what, disk, code, message, why] of REFUSED) {
  C(`should refuse ${what} (${why}) before converting anything`, async () => {
    guestWith(603, []);
    writeVmConfig({ ...cur, vmid: 603, node: nodeName(), disks: [disk], boot: [], nics: [] });
    const r = fakeReplicas();
    await replicateDisk(openGuest(603), 'disk0', r).then(() => assert.unreachable('converted'), (e: HttpError) => {
      assert.is(e.code, code);
      assert.match(e.message, message);
    });
    assert.equal(r.converted, []);
  });
}
C.run();
