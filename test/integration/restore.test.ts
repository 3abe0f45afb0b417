/**
 * Full restores through the real API with real qemu-img and QEMU: to a new
 * VMID (disks equal, raw still sparse), over the guest's own disks with
 * force, refusals that change nothing, and a damaged backup refused before
 * anything is written.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { hashPassword } from '../../node-cgi/auth/password';
import { allocated, backupDir, backupSums, makeBackup, makeProbeGuest, sh, startProbeGuest, taskLog, waitTask } from './restore-fixture';

const MiB = 1 << 20;
let reference: string;
let backup: string;

const R = suite('restore');
const fx = useNode(R);
R.before(async () => {
  reference = join(fx.root, 'reference-101.raw');
  await makeProbeGuest(fx, 101, { sizeMiB: 64, filledMiB: 6, format: 'raw', reference });
  backup = (await makeBackup(fx.admin, 101)).id;
});

const images = (vmid: number) => join(fx.root, 'var/lib/vz/images', String(vmid));

async function restore(body: Record<string, unknown>, id = backup) {
  return fx.admin.post(`/api/backup/${encodeURIComponent(id)}/restore`, body);
}

R('should restore a backup as a new guest: disks equal, raw still sparse, new MACs beside the original', async () => {
  const sums = backupSums(backupDir(fx.root, backup));
  const r = await restore({ vmid: 201 });
  assert.is(r.status, 202, r.text);
  assert.is(r.json.data.vmid, 201);
  const t = await waitTask(fx.admin, r.json.data.task);
  const log = await taskLog(fx.admin, r.json.data.task);
  assert.is(t.status, 'ok', log);
  assert.is(t.progress, 100);
  assert.match(log, 'SHA-256 of 3 files match the manifest');
  assert.match(log, 'disk0: vm-101-disk-0.qcow2 → vm-201-disk-0.raw (raw, 67108864 bytes)');

  const cfg = (await fx.admin.get('/api/vm/201')).json.data;
  const orig = (await fx.admin.get('/api/vm/101')).json.data;
  assert.equal(cfg.disks.map((d: { file: string; format: string; size: string }) => [d.file, d.format, d.size]), [['vm-201-disk-0.raw', 'raw', '64M']]);
  assert.is(cfg.name, 'rs101');
  assert.is.not(cfg.nics[0].mac, orig.nics[0].mac, 'guest 101 still holds the old MAC');
  assert.match(log, `net0: new MAC address ${cfg.nics[0].mac}: guest 101 uses the backup's`);
  assert.is(cfg.temporary, undefined);
  const disk = join(images(201), 'vm-201-disk-0.raw');
  assert.is(sh(['qemu-img', 'compare', '-f', 'raw', '-F', 'raw', reference, disk], { allowFail: true }).code, 0, 'equal to the original disk');
  assert.ok(allocated(disk) <= 8 * MiB, `raw restore stays sparse: ${allocated(disk)} bytes allocated of 64 MiB`);
  assert.equal(readdirSync(images(201)), ['vm-201-disk-0.raw'], 'no temporary files left');
  assert.equal(backupSums(backupDir(fx.root, backup)), sums, 'the backup was only read');
  await startProbeGuest(fx, 201);
  await fx.stopGuest(201);
});

R('should refuse restores that would harm a guest, and change nothing', async () => {
  await startProbeGuest(fx, 101);
  const before = readFileSync(join(fx.root, 'etc/ramvm/vms/101.json'), 'utf8');
  const cases: [Record<string, unknown>, number, string, string][] = [
    [{}, 409, 'send "force": true', 'the backup\'s guest exists and no force'],
    [{ force: true }, 409, 'is running', 'its guest runs'],
    [{ vmid: 201, force: true }, 409, 'replaces only the guest a backup was taken of', 'another guest'],
    [{ vmid: 202, storage: 'usb' }, 400, 'storage: guests\' disks on this node live in storage "local"', 'not a disk storage'],
    [{ vmid: 99 }, 400, 'vmid: must be between', 'VMID out of range'],
    [{ vmid: 202, force: 'yes' }, 400, 'force: must be true or false', 'force not a boolean'],
    [{ vmid: 202, vmdi: 1 }, 400, 'vmdi: unknown field', 'misspelt field'],
  ];
  for (const [body, status, msg, reason] of cases) {
    const r = await restore(body);
    assert.is(r.status, status, `${reason}: ${r.text}`);
    assert.match(r.json.error.message, msg, reason);
  }
  assert.is((await restore({ vmid: 202 }, 'local:101:20990101T000000Z')).status, 404, 'no such backup');
  assert.is((await restore({ vmid: 202 }, 'local:101:..%2F..')).status, 404, 'not a backup id');
  assert.is((await restore({ vmid: 202 }, 'nosuch:101:20990101T000000Z')).status, 404, 'no such storage');
  assert.is(readFileSync(join(fx.root, 'etc/ramvm/vms/101.json'), 'utf8'), before);
  assert.not.ok(existsSync(images(202)));
  await fx.stopGuest(101);
});

R('should restore over the stopped guest itself with force: its disk is the backup\'s again', async () => {
  const disk = join(images(101), 'vm-101-disk-0.raw');
  const mac = (await fx.admin.get('/api/vm/101')).json.data.nics[0].mac;
  sh(['qemu-io', '-f', 'raw', '-c', `write -P 0x77 ${MiB} ${4 * MiB}`, disk]);
  assert.is(sh(['qemu-img', 'compare', '-f', 'raw', '-F', 'raw', reference, disk], { allowFail: true }).code, 1, 'the disk changed');
  const r = await restore({ force: true });
  assert.is(r.status, 202, r.text);
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'ok', await taskLog(fx.admin, r.json.data.task));
  assert.is(sh(['qemu-img', 'compare', '-f', 'raw', '-F', 'raw', reference, disk], { allowFail: true }).code, 0, 'the backup\'s disk again');
  assert.is((await fx.admin.get('/api/vm/101')).json.data.nics[0].mac, mac, 'its own MAC stays');
  assert.equal(readdirSync(images(101)), ['vm-101-disk-0.raw']);
});

R('should refuse a backup that does not match its manifest before writing anything', async () => {
  const bad = (await makeBackup(fx.admin, 101)).id;
  const file = join(backupDir(fx.root, bad), 'vm-101-disk-0.qcow2');
  const fd = openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  const at = 3 * MiB + 77;
  readSync(fd, byte, 0, 1, at);
  byte[0] = byte[0]! ^ 0x10;
  writeSync(fd, byte, 0, 1, at);
  closeSync(fd);
  const r = await restore({ vmid: 203 }, bad);
  assert.is(r.status, 202, r.text);
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'failed');
  assert.match(t.message, 'vm-101-disk-0.qcow2: SHA-256 differs');
  assert.match(t.message, 'nothing was restored');
  assert.is((await fx.admin.get('/api/vm/203')).status, 404);
  assert.not.ok(existsSync(images(203)), 'no disk folder left');
});

R('should let only a user with VM.Backup restore, and with VM.Allocate make a guest', async () => {
  const users = JSON.parse(readFileSync(join(fx.root, 'etc/ramvm/users.json'), 'utf8'));
  users.users.anna = { enabled: true, expire: 0, groups: [], password: hashPassword('anna-secret-1') };
  users.users.bert = { enabled: true, expire: 0, groups: [], password: hashPassword('bert-secret-1') };
  writeFileSync(join(fx.root, 'etc/ramvm/users.json'), JSON.stringify(users));
  const aclFile = join(fx.root, 'etc/ramvm/acl.json');
  const acl = JSON.parse(readFileSync(aclFile, 'utf8'));
  acl.acl.push({ path: '/vms/101', user: 'anna', role: 'VMUser' }, { path: '/vms/101', user: 'bert', role: 'VMAdmin' });
  writeFileSync(aclFile, JSON.stringify(acl));
  const anna = await fx.node.login('anna', 'anna-secret-1');
  const bert = await fx.node.login('bert', 'bert-secret-1');
  const id = encodeURIComponent(backup);
  assert.is((await anna.post(`/api/backup/${id}/restore`, { vmid: 204 })).status, 403, 'VMUser: no VM.Backup');
  assert.is((await anna.post(`/api/backup/${id}/boot`, {})).status, 403);
  const r = await bert.post(`/api/backup/${id}/restore`, { vmid: 204 });
  assert.is(r.status, 403, 'VM.Backup on 101 but no VM.Allocate on /vms');
  assert.match(r.json.error.message, 'VM.Allocate on /vms');
  assert.is((await bert.post(`/api/backup/${id}/boot`, {})).status, 403);
  assert.not.ok(existsSync(images(204)));
});

R.run();

