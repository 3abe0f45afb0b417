/**
 * Backups through the real API with real QEMU: a live backup while the
 * guest writes equals the disk at the backup's start; compressed and
 * offline backups; read-back verification and a verify job that finds one
 * flipped byte; retention after a verified backup.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { withQmp } from '../../node-cgi/qemu/qmp';
import { makeGuest, sh, taskLog, waitTask, type TestGuest } from './backup-fixture';

const MiB = 1 << 20;
let guest: TestGuest;
let reference: string;

const L = suite('live and offline backups');
const fx = useNode(L);
L.before(async () => {
  reference = join(fx.root, 'reference-101.raw');
  guest = await makeGuest(fx, 101, { sizeMiB: 64, filledMiB: 48, format: 'qcow2', reference });
  await guest.start();
});

const backupDir = (id: string) => {
  const [storage, vmid, stamp] = id.split(':');
  assert.is(storage, 'local');
  return join(fx.root, 'var/lib/vz/dump/ramvm', vmid!, stamp!);
};

L('should take a live backup equal to the disk at the backup\'s start while the guest writes', async () => {
  const r = await fx.admin.post('/api/backup/run', { vmid: 101, storage: 'local', mode: 'snapshot', compress: 'none', bwlimit: 8 });
  assert.is(r.status, 202, r.text);
  const task = r.json.data.task as string;
  // Wait for QEMU's job to run, then write near the start, in the middle and at the end of the disk.
  for (let i = 0; ; i++) {
    const jobs = await withQmp(guest.qmp, (q) => q.execute<{ id: string; status: string }[]>('query-jobs'));
    if (jobs.some((j) => j.id === 'ramvm-backup-101-0' && j.status === 'running')) break;
    if (i > 400) throw new Error(`the backup job never ran: ${await taskLog(fx.admin, task)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  await guest.write(MiB, MiB, 0x5a); // not sector 0: the boot sector stays
  await guest.write(32 * MiB, MiB, 0x5b);
  await guest.write(63 * MiB, MiB, 0x5c);
  const jobsAfter = await withQmp(guest.qmp, (q) => q.execute<{ id: string; status: string }[]>('query-jobs'));
  assert.ok(jobsAfter.some((j) => j.id === 'ramvm-backup-101-0' && j.status === 'running'), 'the writes landed while the copy ran');
  const t = await waitTask(fx.admin, task);
  assert.is(t.status, 'ok', await taskLog(fx.admin, task));
  assert.is(await guest.status(), 'running');

  const list = (await fx.admin.get('/api/backup?vmid=101')).json.data;
  assert.is(list.length, 1);
  const b = list[0];
  assert.equal([b.vmid, b.mode, b.method, b.compress, b.verified, b.storage], [101, 'snapshot', 'live', 'none', true, 'local']);
  assert.ok(b.size > 48 * MiB, `size ${b.size}`);
  const dir = backupDir(b.id);
  assert.equal(readdirSync(dir).sort(), ['backup.log', 'config.json', 'manifest.json', 'vm-101-disk-0.qcow2']);
  // The backup is the disk as it was; the live disk has the writes.
  assert.is(sh(['qemu-img', 'compare', '-f', 'raw', '-F', 'qcow2', reference, join(dir, 'vm-101-disk-0.qcow2')], { allowFail: true }).code, 0, 'backup equals the reference');
  await guest.flush();
  assert.is(sh(['qemu-img', 'compare', '-U', '-f', 'raw', '-F', 'qcow2', reference, guest.disk], { allowFail: true }).code, 1, 'the live disk changed');
  // The manifest's sums are the files' sums.
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  for (const f of m.files) assert.is(sh(['sha256sum', join(dir, f.name)]).out.split(' ')[0], f.sha256, f.name);
  assert.equal(m.files.map((f: { name: string }) => f.name), ['config.json', 'vm-101-disk-0.qcow2', 'backup.log']);
  assert.is(m.verification.ok, true);
  assert.match(m.tools['qemu-img'], /qemu-img version/);
  assert.is(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).vmid, 101);
  const one = (await fx.admin.get(`/api/backup/${encodeURIComponent(b.id)}`)).json.data;
  assert.is(one.manifest.stamp, m.stamp);
  const log = (await fx.admin.get(`/api/backup/${encodeURIComponent(b.id)}/log`)).json.data.lines.join('\n');
  assert.match(log, 'copy started');
});

L('should store zstd-compressed clusters that qemu can read directly', async () => {
  await guest.write(4 * MiB, 4 * MiB, 0); // something compressible
  const r = await fx.admin.post('/api/backup/run', { vmid: 101, compress: 'zstd' });
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'ok', await taskLog(fx.admin, r.json.data.task));
  const b = (await fx.admin.get('/api/backup?vmid=101')).json.data[0];
  assert.equal([b.compress, b.verified], ['zstd', true]);
  const disk = join(backupDir(b.id), 'vm-101-disk-0.qcow2');
  const info = JSON.parse(sh(['qemu-img', 'info', '--output=json', disk]).out);
  assert.is(info['format-specific'].data['compression-type'], 'zstd');
  await guest.flush();
  assert.is(sh(['qemu-img', 'compare', '-U', guest.disk, disk], { allowFail: true }).code, 0, 'equal to the idle disk');
});

L('should back up a stopped guest offline', async () => {
  await guest.stop();
  const r = await fx.admin.post('/api/backup/run', { vmid: 101, mode: 'snapshot', compress: 'none' });
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'ok', await taskLog(fx.admin, r.json.data.task));
  const b = (await fx.admin.get('/api/backup?vmid=101')).json.data[0];
  assert.equal([b.method, b.verified], ['offline', true]);
  assert.is(sh(['qemu-img', 'compare', guest.disk, join(backupDir(b.id), 'vm-101-disk-0.qcow2')], { allowFail: true }).code, 0);
  assert.is(await guest.pid(), null, 'a stopped guest stays stopped');
  await guest.start();
});

L('should report one flipped byte in a stored backup from the verify job', async () => {
  const before = (await fx.admin.get('/api/backup?vmid=101')).json.data;
  const victim = before[before.length - 1];
  const file = join(backupDir(victim.id), 'vm-101-disk-0.qcow2');
  const fd = openSync(file, 'r+');
  const at = 20 * MiB + 12345;
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, at);
  byte[0] = byte[0]! ^ 0x01;
  writeSync(fd, byte, 0, 1, at);
  closeSync(fd);
  const r = await fx.admin.post('/api/backup/verify', { storage: 'local' });
  assert.is(r.status, 202);
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'failed');
  assert.match(t.message, 'BIT ROT: 1 of 3 backup(s) damaged');
  assert.match(t.message, 'vm-101-disk-0.qcow2: SHA-256 differs');
  const after = (await fx.admin.get('/api/backup?vmid=101')).json.data;
  const bad = after.find((x: { id: string }) => x.id === victim.id);
  assert.is(bad.verified, false);
  assert.match(bad.problems.join(), 'SHA-256 differs');
  assert.equal(after.filter((x: { verified: boolean }) => x.verified).length, 2, 'the others stay verified');
  const alerts = (await fx.admin.get('/api/backup/alerts')).json.data;
  assert.ok(alerts.some((a: { task: string }) => a.task === r.json.data.task), 'the bit rot is an alert');
});

L('should apply retention after a verified job backup, keeping unverified ones', async () => {
  const j = await fx.admin.post('/api/backup/jobs', { id: 'keep1', vmids: [101], storage: 'local', compress: 'zstd', keepLast: 1, weekdays: [] });
  assert.is(j.status, 201, j.text);
  const r = await fx.admin.post('/api/backup/jobs/keep1/run');
  assert.is(r.status, 202, r.text);
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'ok', await taskLog(fx.admin, r.json.data.task));
  const list = (await fx.admin.get('/api/backup?vmid=101')).json.data;
  assert.is(list.filter((x: { verified: boolean }) => x.verified).length, 1, 'keep-last 1');
  assert.is(list[0].job, 'keep1');
  assert.is(list.filter((x: { verified: boolean }) => !x.verified).length, 1, 'the damaged one is left for the fx.admin');
  assert.match(await taskLog(fx.admin, r.json.data.task), 'retention: removed local:101:');
  assert.not.ok(existsSync(join(fx.root, 'var/lib/vz/dump/ramvm/101', '.partial-')));
});
L.run();
