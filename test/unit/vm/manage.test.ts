import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useTempRoot } from '../../helpers/temp-root';
import { guestImagesDir, nodeName } from '../../../node-cgi/lib/paths';
import { writeVmConfig } from '../../../node-cgi/vm/config';
import { openGuest } from '../../../node-cgi/vm/guest';
import { dropGuestFiles, mergeUpdate, nextFreeVmid, parseOpenDrives } from '../../../node-cgi/vm/manage';
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
