/**
 * Boot checks and the bootable backup medium through the real API with
 * real QEMU: a boot check stores a PNG screenshot beside the backup; a job
 * with the boot check on checks each backup it makes; a job copies the
 * rescue image to its storage once, and again when it changes.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { decodePng } from '../../node-cgi/console/png';
import { backupDir, backupSums, makeBackup, makeProbeGuest, taskLog, waitTask } from './restore-fixture';

let backup: string;

const C = suite('boot check and rescue medium');
const fx = useNode(C);
C.before(async () => {
  await makeProbeGuest(fx, 101, { sizeMiB: 16, filledMiB: 2, format: 'qcow2', reference: join(fx.root, 'ref-101.raw') });
  backup = (await makeBackup(fx.admin, 101)).id;
});

const enc = encodeURIComponent;

C('should boot a backup in a sandbox and store a PNG screenshot beside it', async () => {
  const dir = backupDir(fx.root, backup);
  const sums = backupSums(dir);
  assert.is((await fx.admin.get(`/api/backup/${enc(backup)}/screenshot`)).status, 404, 'none yet');
  assert.is((await fx.admin.get(`/api/backup/${enc(backup)}/bootcheck`)).status, 404);
  const r = await fx.admin.post(`/api/backup/${enc(backup)}/bootcheck`, { seconds: 2 });
  assert.is(r.status, 202, r.text);
  const t = await waitTask(fx.admin, r.json.data.task, 120_000);
  const log = await taskLog(fx.admin, r.json.data.task);
  assert.is(t.status, 'ok', log);
  assert.match(log, /sandbox guest \d+ \(no network\) runs for 2 s/);

  const shot = await fx.admin.request('GET', `/api/backup/${enc(backup)}/screenshot`);
  assert.is(shot.status, 200);
  assert.is(shot.headers.get('content-type'), 'image/png');
  const png = readFileSync(join(dir, 'bootcheck.png'));
  const img = decodePng(png);
  assert.ok(img.width >= 320 && img.height >= 200, `${img.width}×${img.height}`);
  assert.ok(img.data.some((b) => b !== 0), 'the screen shows something (SeaBIOS text)');
  const result = (await fx.admin.get(`/api/backup/${enc(backup)}/bootcheck`)).json.data;
  assert.equal([result.ok, result.state, result.seconds, result.screenshot, result.task], [true, 'running', 2, png.length, r.json.data.task]);
  assert.equal((await fx.admin.get('/api/vm')).json.data.map((g: { vmid: number }) => g.vmid), [101], 'the sandbox is gone');
  assert.equal(backupSums(dir), sums, 'the backup\'s own files are unchanged');
});

C('should refuse bad boot check requests and settings', async () => {
  const cases: [string, string, Record<string, unknown>, number, string][] = [
    ['POST', `/api/backup/${enc(backup)}/bootcheck`, { seconds: 0 }, 400, 'seconds: must be a whole number of seconds from 1 to 3600'],
    ['POST', `/api/backup/${enc(backup)}/bootcheck`, { seconds: 1.5 }, 400, 'seconds: must be a whole number'],
    ['POST', `/api/backup/${enc(backup)}/bootcheck`, { time: 5 }, 400, 'time: unknown field'],
    ['PUT', '/api/backup/jobs/nosuch/bootcheck', { enabled: true }, 404, 'nosuch'],
    ['PUT', '/api/restore/medium', { image: 'missing.iso' }, 400, 'image: no ISO image named "missing.iso" in the library'],
    ['PUT', '/api/restore/medium', { image: '../etc/passwd' }, 400, 'image: may contain only'],
    ['PUT', '/api/restore/medium', {}, 400, 'image: is required'],
  ];
  for (const [method, path, body, status, msg] of cases) {
    const r = await fx.admin.request(method, path, { json: body });
    assert.is(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.json.error.message, msg);
  }
});

C('should boot-check each backup of a job and copy the rescue image once, and again when it changes', async () => {
  const j = await fx.admin.post('/api/backup/jobs', { id: 'nightly', storage: 'local', vmids: [101], weekdays: ['mon'], start: '23:15', mode: 'snapshot', compress: 'zstd' });
  assert.is(j.status, 201, j.text);
  assert.equal((await fx.admin.get('/api/backup/jobs/nightly/bootcheck')).json.data, { enabled: false, seconds: 60 });
  const put = await fx.admin.put('/api/backup/jobs/nightly/bootcheck', { enabled: true, seconds: 1 });
  assert.equal(put.json.data, { enabled: true, seconds: 1 });
  const isoDir = join(fx.root, 'var/lib/vz/template/iso');
  mkdirSync(isoDir, { recursive: true });
  const iso = randomBytes(1 << 20);
  writeFileSync(join(isoDir, 'rescue.iso'), iso);
  assert.equal((await fx.admin.put('/api/restore/medium', { image: 'rescue.iso' })).json.data, { image: 'rescue.iso' });
  assert.equal((await fx.admin.get('/api/restore/medium')).json.data, { image: 'rescue.iso' });

  const runJob = async () => {
    const r = await fx.admin.post('/api/backup/jobs/nightly/run');
    assert.is(r.status, 202, r.text);
    const t = await waitTask(fx.admin, r.json.data.task, 240_000);
    const log = await taskLog(fx.admin, r.json.data.task);
    assert.is(t.status, 'ok', log);
    return log;
  };
  const onStorage = join(fx.root, 'var/lib/vz/dump/ramvm/rescue/rescue.iso');
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  let log = await runJob();
  assert.match(log, 'rescue image rescue.iso copied to the storage (1048576 bytes');
  assert.is(sha(readFileSync(onStorage)), sha(iso));
  const state = JSON.parse(readFileSync(join(fx.root, 'var/lib/vz/dump/ramvm/rescue/rescue.json'), 'utf8'));
  assert.equal([state.name, state.size, state.sha256], ['rescue.iso', 1 << 20, sha(iso)]);
  const newest = (await fx.admin.get('/api/backup?vmid=101')).json.data[0];
  assert.ok(existsSync(join(backupDir(fx.root, newest.id), 'bootcheck.png')), 'the job\'s backup was boot-checked');
  assert.match(log, `boot check of ${newest.id}: OK`);
  assert.equal((await fx.admin.get('/api/backup?vmid=101')).json.data.map((b: { vmid: number }) => b.vmid), [101, 101], 'the rescue folder is not taken for a guest\'s backups');

  const copied = statSync(onStorage).mtimeMs;
  log = await runJob();
  assert.match(log, 'rescue image rescue.iso is on the storage already');
  assert.is(statSync(onStorage).mtimeMs, copied, 'not copied again');

  const iso2 = randomBytes(1 << 20);
  writeFileSync(join(isoDir, 'rescue.iso'), iso2);
  log = await runJob();
  assert.match(log, 'rescue image rescue.iso copied to the storage');
  assert.is(sha(readFileSync(onStorage)), sha(iso2), 'the changed image replaced the old one');
});

C('should fail the job loudly when the rescue image left the library', async () => {
  const isoDir = join(fx.root, 'var/lib/vz/template/iso');
  rmSync(join(isoDir, 'rescue.iso'));
  await fx.admin.put('/api/backup/jobs/nightly/bootcheck', { enabled: false });
  const r = await fx.admin.post('/api/backup/jobs/nightly/run');
  const t = await waitTask(fx.admin, r.json.data.task, 240_000);
  assert.is(t.status, 'failed');
  assert.match(t.message, 'the rescue image rescue.iso is no longer in the ISO library; the backup medium is not bootable');
  assert.ok((await fx.admin.get('/api/backup/alerts')).json.data.some((a: { task: string }) => a.task === r.json.data.task), 'an alert until acknowledged');
});

C.run();
