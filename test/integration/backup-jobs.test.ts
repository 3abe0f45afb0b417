/**
 * Storages and backup jobs through the real API: the implied `local`
 * storage, validation with the right statuses, privileges, mail settings,
 * and the cron tick starting a due job once.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { useNode } from '../helpers/fixture';
import { DIST } from '../../build/build';
import { makeGuest, taskLog, waitTask, type TestGuest } from './backup-fixture';

let guest: TestGuest;

const J = suite('storages and jobs');
const fx = useNode(J);
J.before(async () => {
  guest = await makeGuest(fx, 103, { sizeMiB: 8, filledMiB: 2, format: 'qcow2', reference: join(fx.root, 'ref-103.raw') });
  await guest.start();
});

J('should list the built-in local storage without writing a config file', async () => {
  const r = await fx.admin.get('/api/storage');
  assert.is(r.status, 200);
  assert.equal(r.json.data.map((s: { name: string; builtin: boolean; type: string }) => [s.name, s.builtin, s.type]), [['local', true, 'dir']]);
  assert.is(r.json.data[0].path, join(fx.root, 'var/lib/vz/dump'));
  assert.not.ok(existsSync(join(fx.root, 'etc/ramvm/storage.json')));
});

J('should show a directory storage whose path does not exist as offline, and back nothing up to it', async () => {
  const path = join(fx.root, 'share-not-there');
  assert.is((await fx.admin.post('/api/storage', { name: 'share', type: 'dir', path })).status, 201);
  let s = (await fx.admin.get('/api/storage/share')).json.data;
  assert.equal([s.online, s.problem], [false, `${path} does not exist (create it, or mount the filesystem there)`]);
  assert.is((await fx.admin.get('/api/storage')).json.data.find((x: { name: string }) => x.name === 'share').online, false);
  const r = await fx.admin.post('/api/backup/run', { vmid: 103, storage: 'share' });
  const t = await waitTask(fx.admin, r.json.data.task);
  assert.is(t.status, 'failed');
  assert.match(t.message, 'does not exist (create it, or mount the filesystem there); nothing was written');
  assert.not.ok(existsSync(path), 'the backup made no folder');
  mkdirSync(path);
  s = (await fx.admin.get('/api/storage/share')).json.data;
  assert.equal([s.online, s.problem], [true, undefined]);
  assert.is((await fx.admin.del('/api/storage/share')).status, 204);
});

J('should create, change and delete a storage, and refuse bad ones', async () => {
  assert.is((await fx.admin.post('/api/storage', { name: 'nas', type: 'dir', path: '/srv/nas' })).status, 201);
  const cases: [unknown, number, string][] = [
    [{ name: 'nas', type: 'dir', path: '/srv/x' }, 409, 'exists already'],
    [{ name: 'local', type: 'dir', path: '/srv/x' }, 409, 'built in'],
    [{ name: 'bad/name', type: 'dir', path: '/srv/x' }, 400, 'name:'],
    [{ name: 'x', type: 'dir', path: 'relative' }, 400, 'path:'],
    [{ name: 'x', type: 'device' }, 400, 'uuid:'],
  ];
  for (const [body, status, msg] of cases) {
    const r = await fx.admin.post('/api/storage', body);
    assert.is(r.status, status, JSON.stringify(body));
    assert.match(r.json.error.message, msg);
  }
  const put = await fx.admin.put('/api/storage/nas', { type: 'device', uuid: '1A2B-3C4D' });
  assert.is(put.status, 200, put.text);
  assert.is(put.json.data.uuid, '1A2B-3C4D');
  assert.is(put.json.data.online, false);
  assert.is((await fx.admin.del('/api/storage/nas')).status, 204);
  assert.is((await fx.admin.get('/api/storage/nas')).status, 404);
  assert.is((await fx.admin.del('/api/storage/local')).status, 409);
});

J('should keep jobs with the original fields and refuse bad input without writing', async () => {
  const r = await fx.admin.post('/api/backup/jobs', {
    id: 'nightly', mailto: 'it@example.com', storage: 'local', vmids: [103], keepLast: 4, keepDaily: 7,
    weekdays: ['mon', 'wed', 'fri'], start: '23:15', mode: 'stop', compress: 'none', comment: 'the office server',
  });
  assert.is(r.status, 201, r.text);
  const j = r.json.data;
  assert.equal([j.node, j.mailto, j.storage, j.vmids, j.retention.keepLast, j.retention.keepDaily, j.weekdays, j.start, j.mode, j.compress],
    ['testnode', 'it@example.com', 'local', [103], 4, 7, ['mon', 'wed', 'fri'], '23:15', 'stop', 'none']);
  assert.match(j.next, /T\d\d:\d\d:00\.000Z$/);
  const before = readFileSync(join(fx.root, 'etc/ramvm/backup/jobs.json'), 'utf8');
  const bad: [unknown, string][] = [
    [{ start: '25:00' }, 'start:'],
    [{ weekdays: ['someday'] }, 'weekdays:'],
    [{ mailto: 'a@b.c\nBcc: x@y.z' }, 'mailto:'],
    [{ keepLast: -2 }, 'keepLast:'],
    [{ vmids: ['abc'] }, 'vmids:'],
    [{ color: 'red' }, 'color:'],
  ];
  for (const [body, field] of bad) {
    const p = await fx.admin.put('/api/backup/jobs/nightly', body);
    assert.is(p.status, 400, JSON.stringify(body));
    assert.ok(p.json.error.message.startsWith(field), p.json.error.message);
  }
  assert.is(readFileSync(join(fx.root, 'etc/ramvm/backup/jobs.json'), 'utf8'), before, 'nothing half-written');
  const p = await fx.admin.put('/api/backup/jobs/nightly', { enabled: false, keepWeekly: 2 });
  assert.equal([p.json.data.enabled, p.json.data.retention.keepWeekly, p.json.data.retention.keepLast, p.json.data.next], [false, 2, 4, null]);
  assert.is((await fx.admin.post('/api/backup/jobs', { id: 'nightly' })).status, 409);
  assert.is((await fx.admin.del('/api/backup/jobs/nightly')).status, 204);
  assert.is((await fx.admin.get('/api/backup/jobs/nightly')).status, 404);
  assert.is((await fx.admin.post('/api/backup/jobs/nightly/run')).status, 404);
});

J('should refuse bad manual runs before starting a task', async () => {
  const cases: [unknown, number, string][] = [
    [{ vmid: 999 }, 404, 'no guest with VMID 999'],
    [{ vmid: 'x' }, 400, 'vmid:'],
    [{ vmid: 103, storage: 'nowhere' }, 404, 'no such storage'],
    [{ vmid: 103, mode: 'suspend' }, 400, 'mode:'],
    [{ vmid: 103, compress: 'lz4' }, 400, 'compress:'],
    [{ vmid: 103, bwlimit: -1 }, 400, 'bwlimit:'],
  ];
  for (const [body, status, msg] of cases) {
    const r = await fx.admin.post('/api/backup/run', body);
    assert.is(r.status, status, JSON.stringify(body));
    assert.match(r.json.error.message, msg);
  }
  assert.is((await fx.admin.get('/api/backup/local:101:..%2Fetc')).status, 404);
});

J('should check privileges: a VMUser may neither back up nor see jobs', async () => {
  for (const [user, role] of [['anna', 'VMUser'], ['bert', 'VMAdmin']] as const) {
    const u = await fx.admin.post('/api/access/users', { username: user, password: `${user}-secret-1` });
    assert.is(u.status, 201, u.text);
    const a = await fx.admin.put('/api/access/acl', { path: '/vms/103', user, role });
    assert.ok(a.status < 300, a.text);
  }
  const anna = await fx.node.login('anna', 'anna-secret-1');
  assert.is((await anna.post('/api/backup/run', { vmid: 103 })).status, 403);
  assert.is((await anna.get('/api/backup/jobs')).status, 403);
  assert.is((await anna.post('/api/backup/jobs', {})).status, 403);
  assert.is((await anna.post('/api/storage', { name: 'x', type: 'dir', path: '/x' })).status, 403);
  assert.is((await anna.put('/api/backup/mail', { from: 'x@example.com' })).status, 403);
  // bert holds VM.Backup on his guest: he may back it up and list its backups, but not configure jobs.
  const bert = await fx.node.login('bert', 'bert-secret-1');
  const r = await bert.post('/api/backup/run', { vmid: 103, compress: 'zstd' });
  assert.is(r.status, 202, r.text);
  assert.is((await waitTask(bert, r.json.data.task)).status, 'ok', await taskLog(fx.admin, r.json.data.task));
  assert.is((await bert.get('/api/backup?vmid=103')).json.data.length, 1);
  assert.is((await anna.get('/api/backup?vmid=103')).json.data.length, 0, 'anna sees none');
  assert.is((await bert.post('/api/backup/jobs', {})).status, 403);
  // A failure of bert's guest is his alert, not anna's.
  const gone = await fx.admin.post('/api/storage', { name: 'gone', type: 'device', label: 'RAMVMGONE9' });
  assert.is(gone.status, 201);
  const f = await bert.post('/api/backup/run', { vmid: 103, storage: 'gone' });
  assert.is((await waitTask(bert, f.json.data.task)).status, 'failed');
  assert.ok((await bert.get('/api/backup/alerts')).json.data.some((a: { task: string }) => a.task === f.json.data.task));
  assert.equal((await anna.get('/api/backup/alerts')).json.data, []);
  assert.is((await anna.post('/api/backup/alerts/ack', { tasks: [f.json.data.task] })).status, 404);
  assert.is((await bert.post('/api/backup/alerts/ack', { tasks: [f.json.data.task] })).status, 200);
  await fx.admin.del('/api/storage/gone');
});

J('should run a verify job now and record its last run', async () => {
  const r = await fx.admin.post('/api/backup/jobs', { id: 'weekly-check', kind: 'verify', storage: 'local', verifyAfterDays: 0, weekdays: ['sun'], start: '03:00' });
  assert.is(r.status, 201, r.text);
  const run = await fx.admin.post('/api/backup/jobs/weekly-check/run');
  assert.is(run.status, 202, run.text);
  const t = await waitTask(fx.admin, run.json.data.task);
  assert.is(t.status, 'ok', await taskLog(fx.admin, run.json.data.task));
  assert.match(t.message, /^\d+ backup\(s\) read back: all intact$/);
  assert.is((await fx.admin.get('/api/backup/jobs/weekly-check')).json.data.lastRun.status, 'ok');
  const b = (await fx.admin.get('/api/backup?vmid=103')).json.data[0];
  const rec = (await fx.admin.get(`/api/task/${run.json.data.task}`)).json.data;
  assert.ok(Date.parse(b.verifiedAt) >= rec.start, 'read back again by this job');
  assert.is(b.verified, true);
});

J('should keep mail settings as data, never a command line', async () => {
  const shown = (await fx.admin.get('/api/backup/mail')).json.data;
  assert.equal(shown, { from: 'ramvm@testnode', transport: 'sendmail', smtp: null, passwordSet: false });
  const back = await fx.admin.put('/api/backup/mail', shown);
  assert.is(back.status, 200, `the settings GET shows are taken back as they are: ${back.text}`);
  assert.equal(back.json.data, shown);
  const relay = { host: 'mail.example.com', port: 587, security: 'starttls', username: 'ramvm' };
  const r = await fx.admin.put('/api/backup/mail', { transport: 'smtp', smtp: relay, password: 'relay-pw-1', from: 'backup@example.com' });
  assert.is(r.status, 200, r.text);
  assert.equal(r.json.data, { from: 'backup@example.com', transport: 'smtp', smtp: relay, passwordSet: true });
  assert.not.match(r.text, 'relay-pw-1', 'the password is never shown');
  const stored = join(fx.root, 'etc/ramvm/priv/smtp-password');
  assert.is(readFileSync(stored, 'utf8'), 'relay-pw-1');
  assert.is(statSync(stored).mode & 0o777, 0o600);
  assert.not.match(readFileSync(join(fx.root, 'etc/ramvm/backup/mail.json'), 'utf8'), 'relay-pw-1', 'not beside the settings');
  // The root exploit of the old setting: an argv that ran as root with the next failure mail.
  const exploit = await fx.admin.put('/api/backup/mail', { sendmail: ['/bin/sh', '-c', 'id > /tmp/x'] });
  assert.is(exploit.status, 400);
  assert.match(exploit.json.error.message, /^sendmail: a mail command is no longer configurable/);
  assert.is((await fx.admin.put('/api/backup/mail', { smtp: { ...relay, host: 'evil.example.net' } })).json.data.passwordSet, false, 'another relay does not get the password');
  assert.is((await fx.admin.put('/api/backup/mail', { transport: 'sendmail', smtp: null, from: 'ramvm@testnode' })).status, 200);
});

J('should start a due job once from the cron tick', async () => {
  const now = new Date();
  const start = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
  const r = await fx.admin.post('/api/backup/jobs', { id: 'due-now', vmids: [103], start, compress: 'zstd' });
  assert.is(r.status, 201, r.text);
  const tick = () => spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'backup', 'tick'], { env: fx.node.env, encoding: 'utf8' });
  const first = tick();
  assert.is(first.status, 0, first.stderr);
  const m = /^started due-now (\S+)$/m.exec(first.stdout);
  assert.ok(m, first.stdout);
  const second = tick();
  assert.is(second.stdout, '', 'not started twice for one occurrence');
  const t = await waitTask(fx.admin, m![1]!);
  assert.is(t.status, 'ok', await taskLog(fx.admin, m![1]!));
  const job = (await fx.admin.get('/api/backup/jobs/due-now')).json.data;
  assert.equal([job.lastRun.task, job.lastRun.status], [m![1], 'ok']);
  assert.is(tick().stdout, '', 'not again after it finished');
  const line = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'backup', 'cron-line'], { env: fx.node.env, encoding: 'utf8' });
  assert.match(line.stdout, `* * * * * ${fx.node.server.record?.cgi.user ?? 'root'} RAMVM_ROOT=${fx.root} RAMVM_NODE=testnode ${process.execPath} ${join(DIST, 'bin/ramvm')} backup tick >>`);
});
J.run();
