/**
 * Backups that go wrong, with real QEMU, real mounts and a sendmail
 * stand-in: a full target, a killed task, a missing external device, an
 * external device by label mounted and unmounted for the job, failure mail,
 * alerts until acknowledged, and the cron tick.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { useNode } from '../helpers/fixture';
import { withQmp } from '../../node-cgi/qemu/qmp';
import { DIST } from '../../build/build';
import { makeGuest, sh, taskLog, waitTask, type TestGuest } from './backup-fixture';

let big: TestGuest;
let small: TestGuest;
const mailDir = mkdtempSync(join(tmpdir(), 'ramvm-backup-mail-'));

/** Mails the stand-in recorded: argv line, then the message. */
function mails(): string[] {
  return readdirSync(mailDir).filter((f) => f.endsWith('.eml')).sort().map((f) => readFileSync(join(mailDir, f), 'utf8'));
}

/** Every file under root but logs, config, locks and sockets: what a backup could have written. */
function dataFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(root, p);
      if (/^(var\/log|etc\/ramvm|run\/ramvm\/(lock|qemu))/.test(rel)) continue;
      if (e.isDirectory()) walk(p);
      else out.push(`${rel} ${statSync(p).size}`);
    }
  };
  walk(root);
  return out.sort();
}

const F = suite('backup failures');
const PATH = process.env.PATH;
// The node's CGIs and tasks take PATH from the server's start: the stand-in goes first.
F.before(() => {
  const bin = join(mailDir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'sendmail'), `#!/bin/sh\nf=${mailDir}/$(date +%s%N).eml\necho "argv: $*" > "$f.tmp"\ncat >> "$f.tmp"\nmv "$f.tmp" "$f"\n`);
  chmodSync(join(bin, 'sendmail'), 0o755);
  process.env.PATH = `${bin}:${PATH}`;
});
const fx = useNode(F);
F.before(async () => {
  big = await makeGuest(fx, 101, { sizeMiB: 64, filledMiB: 48, format: 'qcow2', reference: join(fx.root, 'ref-101.raw') });
  small = await makeGuest(fx, 102, { sizeMiB: 16, filledMiB: 4, format: 'raw', reference: join(fx.root, 'ref-102.raw') });
  await big.start();
  await small.start();
});
F.after(() => {
  process.env.PATH = PATH;
  rmSync(mailDir, { recursive: true, force: true });
});

F('should fail on a full target, mark nothing verified, keep older backups and the guest running', async () => {
  const mnt = join(fx.root, 'mnt-small');
  mkdirSync(mnt);
  sh(['mount', '-t', 'tmpfs', '-o', 'size=24m', 'ramvm-backup-test', mnt]);
  fx.cleanups.push(() => sh(['umount', mnt]));
  const s = await fx.admin.post('/api/storage', { name: 'small', type: 'dir', path: mnt, mountpoint: true });
  assert.is(s.status, 201, s.text);
  const first = await fx.admin.post('/api/backup/run', { vmid: 102, storage: 'small', compress: 'none' });
  assert.is((await waitTask(fx.admin, first.json.data.task)).status, 'ok', await taskLog(fx.admin, first.json.data.task));

  const r = await fx.admin.post('/api/backup/run', { vmid: 101, storage: 'small', compress: 'none' });
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'failed');
  assert.match(t.message, /No space left on device/i);
  const list = (await fx.admin.get('/api/backup?storage=small')).json.data;
  assert.equal(list.map((b: { vmid: number; verified: boolean }) => [b.vmid, b.verified]), [[102, true]]);
  assert.equal(readdirSync(join(mnt, 'ramvm/101')), [], 'the partial folder is gone');
  assert.is(await big.status(), 'running');
  const v = await fx.admin.post('/api/backup/verify', { storage: 'small' });
  assert.is((await waitTask(fx.admin, v.json.data.task)).status, 'ok', 'the older backup reads back intact');
  const jobs = await withQmp(big.qmp, (q) => q.execute<unknown[]>('query-jobs'));
  assert.equal(jobs, [], 'no job left in QEMU');
});

F('should refuse a directory storage that must be mounted and is not', async () => {
  const dir = join(fx.root, 'not-mounted');
  mkdirSync(dir);
  await fx.admin.post('/api/storage', { name: 'nomount', type: 'dir', path: dir, mountpoint: true });
  const r = await fx.admin.post('/api/backup/run', { vmid: 102, storage: 'nomount' });
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'failed');
  assert.match(t.message, 'is not a mounted filesystem; nothing was written');
  assert.equal(readdirSync(dir), []);
});

F('should write nothing when the external device is missing, and mail the failure', async () => {
  const s = await fx.admin.post('/api/storage', { name: 'usbgone', type: 'device', label: 'RAMVMGONE1' });
  assert.is(s.status, 201, s.text);
  const j = await fx.admin.post('/api/backup/jobs', { id: 'offsite', storage: 'usbgone', vmids: [102], mailto: 'it@example.com', weekdays: [] });
  assert.is(j.status, 201, j.text);
  const before = dataFiles(fx.root);
  const r = await fx.admin.post('/api/backup/jobs/offsite/run');
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'failed');
  assert.match(t.message, 'no device with filesystem label RAMVMGONE1 is connected; nothing was written');
  assert.equal(dataFiles(fx.root), before, 'not a byte written anywhere');
  assert.not.ok(existsSync(join(fx.root, 'run/ramvm/backup-mnt/usbgone')), 'no mount point made');
  const m = mails();
  assert.is(m.length, 1);
  assert.match(m[0]!, 'argv: -t -oi\n');
  assert.match(m[0]!, '\nTo: it@example.com\n');
  assert.match(m[0]!, '\nSubject: ramvm backup FAILED on testnode: job offsite (storage usbgone: no device with filesystem label RAMVMGONE1 is connected; nothing was written)\n');
  assert.match(m[0]!, 'Last ');
  assert.match(m[0]!, 'backup job failed: storage usbgone: no device');
  const jobs = (await fx.admin.get('/api/backup/jobs')).json.data;
  assert.is(jobs.find((x: { id: string }) => x.id === 'offsite').lastRun.status, 'failed');
});

F('should mail on success only when asked', async () => {
  const j = await fx.admin.post('/api/backup/jobs', { id: 'happy', storage: 'local', vmids: [102], mailto: 'boss@example.com', mailOnSuccess: true, weekdays: [] });
  assert.is(j.status, 201, j.text);
  const before = mails().length;
  const r = await fx.admin.post('/api/backup/jobs/happy/run');
  assert.is((await waitTask(fx.admin, r.json.data.task)).status, 'ok', await taskLog(fx.admin, r.json.data.task));
  const m = mails();
  assert.is(m.length, before + 1);
  const last = m[m.length - 1]!;
  assert.match(last, '\nTo: boss@example.com\n');
  assert.match(last, '\nSubject: ramvm backup ok on testnode: job happy (1 guests)\n');
  assert.match(last, /102 +ok +snapshot\/live/);
  assert.match(last, 'verified local:102:');
  await fx.admin.put('/api/backup/jobs/happy', { mailOnSuccess: false });
  const r2 = await fx.admin.post('/api/backup/jobs/happy/run');
  assert.is((await waitTask(fx.admin, r2.json.data.task)).status, 'ok');
  assert.is(mails().length, before + 1, 'no mail for a quiet success');
});

F('should mount an external device by label for the job and unmount it after', async () => {
  const img = join(fx.root, 'usb.img');
  const label = `RAMVM${randomBytes(3).toString('hex').toUpperCase()}`;
  sh(['truncate', '-s', '128M', img]);
  sh(['mkfs.ext4', '-q', '-L', label, img]);
  const dev = sh(['losetup', '-f', '--show', img]).out.trim();
  fx.cleanups.push(() => sh(['losetup', '-d', dev]));
  await fx.admin.post('/api/storage', { name: 'usb', type: 'device', label });
  const r = await fx.admin.post('/api/backup/run', { vmid: 102, storage: 'usb', mode: 'snapshot', compress: 'zstd' });
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'ok', await taskLog(fx.admin, r.json.data.task));
  const log = await taskLog(fx.admin, r.json.data.task);
  assert.match(log, `storage usb: mounted ${dev} (ext4, label ${label})`);
  assert.match(log, `storage usb: unmounted ${dev}`);
  const mp = join(fx.root, 'run/ramvm/backup-mnt/usb');
  assert.not.match(readFileSync('/proc/self/mountinfo', 'utf8'), ` ${mp} `, 'unmounted after the job');
  const list = (await fx.admin.get('/api/backup?storage=usb')).json.data;
  assert.equal(list.map((b: { vmid: number; verified: boolean; offline: boolean }) => [b.vmid, b.verified, b.offline]), [[102, true, true]]);
  // What is on the device: look with a mount of our own.
  const look = mkdtempSync(join(tmpdir(), 'ramvm-backup-look-'));
  sh(['mount', '-o', 'ro', dev, look]);
  try {
    const stamps = readdirSync(join(look, 'ramvm/102'));
    assert.is(stamps.length, 1);
    assert.ok(existsSync(join(look, 'ramvm/102', stamps[0]!, 'vm-102-disk-0.qcow2')));
  } finally {
    sh(['umount', look]);
    rmSync(look, { recursive: true });
  }
  const v = await fx.admin.post('/api/backup/verify', { storage: 'usb' });
  assert.is((await waitTask(fx.admin, v.json.data.task)).status, 'ok', await taskLog(fx.admin, v.json.data.task));
});

F('should leave nothing verified after kill -9, clean the partial folder on the next run, and mail from the tick', async () => {
  const j = await fx.admin.post('/api/backup/jobs', { id: 'slow', storage: 'local', vmids: [101], compress: 'none', mailto: 'ops@example.com', weekdays: [] });
  assert.is(j.status, 201, j.text);
  // The job has no bandwidth limit field; slow this run down through the manual API instead.
  const r = await fx.admin.post('/api/backup/run', { vmid: 101, storage: 'local', compress: 'none', bwlimit: 2 });
  const id = r.json.data.task as string;
  const vmDir = join(fx.root, 'var/lib/vz/dump/ramvm/101');
  for (let i = 0; ; i++) {
    const jobs = await withQmp(big.qmp, (q) => q.execute<{ id: string; status: string }[]>('query-jobs'));
    if (jobs.some((x) => x.status === 'running')) break;
    if (i > 400) throw new Error('the copy never started');
    await new Promise((res) => setTimeout(res, 50));
  }
  const pid = (await fx.admin.get(`/api/task/${id}`)).json.data.pid as number;
  process.kill(pid, 'SIGKILL');
  const t = await waitTask(fx.admin, id);
  assert.is(t.status, 'failed');
  assert.match(t.message, /^interrupted/);
  assert.equal((await fx.admin.get('/api/backup?vmid=101&storage=local')).json.data, []);
  const partials = readdirSync(vmDir).filter((n) => n.startsWith('.partial-'));
  assert.is(partials.length, 1, 'the killed run left its partial folder');
  assert.ok(readdirSync(join(vmDir, partials[0]!)).includes('vm-101-disk-0.qcow2'));

  const again = await fx.admin.post('/api/backup/jobs/slow/run');
  const t2 = await waitTask(fx.admin, again.json.data.task);
  assert.is(t2.status, 'ok', await taskLog(fx.admin, again.json.data.task));
  const log = await taskLog(fx.admin, again.json.data.task);
  assert.match(log, 'cancelled the job ramvm-backup-101-0 of an interrupted backup');
  assert.match(log, `removed ${partials[0]}, left by task ${id}`);
  assert.equal(readdirSync(vmDir).filter((n) => n.startsWith('.')), []);
  const list = (await fx.admin.get('/api/backup?vmid=101&storage=local')).json.data;
  assert.equal(list.map((b: { verified: boolean }) => b.verified), [true]);

  // The killed manual run is an alert until acknowledged.
  let alerts = (await fx.admin.get('/api/backup/alerts')).json.data as { task: string; message: string }[];
  assert.ok(alerts.some((a) => a.task === id && /^interrupted/.test(a.message)));
  const ack = await fx.admin.post('/api/backup/alerts/ack', { tasks: [id] });
  assert.is(ack.status, 200, ack.text);
  alerts = (await fx.admin.get('/api/backup/alerts')).json.data;
  assert.not.ok(alerts.some((a) => a.task === id));
  assert.is((await fx.admin.post('/api/backup/alerts/ack', { tasks: ['20261125T000000Z-backup-x-000000'] })).status, 404);

  // A job task killed the same way is mailed by the next tick.
  const k = await fx.admin.post('/api/backup/jobs/slow/run');
  const kid = k.json.data.task as string;
  for (let i = 0; (await fx.admin.get(`/api/task/${kid}`)).json.data.pid === null; i++) {
    if (i > 200) throw new Error('no pid');
    await new Promise((res) => setTimeout(res, 50));
  }
  process.kill((await fx.admin.get(`/api/task/${kid}`)).json.data.pid, 'SIGKILL');
  assert.is((await waitTask(fx.admin, kid)).status, 'failed');
  const before = mails().length;
  const tick = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'backup', 'tick'], { env: fx.node.env, encoding: 'utf8' });
  assert.is(tick.status, 0, tick.stderr);
  const after = mails();
  assert.is(after.length, before + 1);
  assert.match(after[after.length - 1]!, 'Subject: ramvm backup FAILED on testnode: job slow');
  assert.match(after[after.length - 1]!, 'interrupted');
  spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'backup', 'tick'], { env: fx.node.env });
  assert.is(mails().length, before + 1, 'mailed once');
  // Let QEMU's orphaned job end before the next test.
  const clean = await fx.admin.post('/api/backup/run', { vmid: 101, storage: 'local', compress: 'zstd' });
  assert.is((await waitTask(fx.admin, clean.json.data.task)).status, 'ok');
});
F.run();
