/**
 * The backup scheduler for real: a node started the way `npm start`
 * starts it runs a job that falls due in the next minute (its foreground
 * process ticks; RAMVM_SCHEDULER_TICK_MS makes the ticks come every 2 s
 * instead of each minute, so the job starts within seconds of its
 * minute), and says when the scheduler last ran. A node whose scheduler
 * does not run (a test node: lighttpd only, no ticks) turns that into an
 * alert once jobs have waited SCHEDULER_STALE_MS, mails it once, refuses
 * to have it acknowledged, and drops it when a tick runs.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST } from '../../build/build';
import { SCHEDULER_STALE_MS } from '../../node-cgi/backup/scheduler';
import { waitFor } from '../helpers/guest';
import { useNode } from '../helpers/fixture';
import { freePort, loginClient } from '../helpers/node';
import { exited, lighttpdOf, startNpm } from '../helpers/npm-start';
import { taskLog, waitTask } from './backup-fixture';

/** How long a job due "in the next minute" may take to start: the minute, then a few 2 s ticks on a loaded machine. */
const JOB_START_TIMEOUT_MS = 150_000;

/** "HH:MM" of the minute after `ms`, on the node's clock (the same process environment, so the same time zone). */
function nextMinute(ms: number): string {
  const d = new Date(ms + 60_000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

const N = suite('backup scheduler of npm start');

N('should run a job due in the next minute, and say when and by whom the scheduler last ran', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ramvm-sched-'));
  const port = await freePort();
  const n = startNpm({ RAMVM_ROOT: root, RAMVM_PORT: String(port), RAMVM_ADMIN_PASSWORD: 'sched-test-pw', RAMVM_NODE: 'ticker', RAMVM_SCHEDULER_TICK_MS: '2000' });
  try {
    const url = await n.listening;
    const admin = await loginClient(url, 'admin', 'sched-test-pw');
    const guest = await admin.post('/api/vm', { name: 'tiny', memory: 16, disks: [{ size: '1M', format: 'raw' }], nics: [] });
    assert.is(guest.status, 201, guest.text);
    const seen = await waitFor('a tick of npm start', async () => {
      const s = (await admin.get('/api/backup/scheduler')).json.data;
      return s.last?.by === 'npm-start' ? s : null;
    }, 30_000, 500);
    assert.equal([seen.node, seen.last.ok, seen.state], ['ticker', true, 'idle'], 'no job yet: nothing to miss');
    const created = Date.now();
    const job = await admin.post('/api/backup/jobs', { id: 'soon', vmids: [guest.json.data.vmid], start: nextMinute(created), compress: 'none' });
    assert.is(job.status, 201, job.text);
    const lastRun = await waitFor('the job started by the scheduler', async () => (await admin.get('/api/backup/jobs/soon')).json.data.lastRun, JOB_START_TIMEOUT_MS, 1000);
    const task = (await admin.get(`/api/task/${lastRun.task}`)).json.data;
    assert.is(task.user, 'cron', 'started by the scheduler, not by a user');
    assert.match(n.out(), `backup: started soon ${lastRun.task}`);
    assert.is((await waitTask(admin, lastRun.task)).status, 'ok', await taskLog(admin, lastRun.task));
    const s = (await admin.get('/api/backup/scheduler')).json.data;
    assert.equal([s.state, s.jobs, s.last.by, s.last.ok], ['ok', 1, 'npm-start', true]);
    assert.ok(s.last.at >= created, 'it keeps ticking');
    assert.equal((await admin.get('/api/backup/alerts')).json.data, []);
    n.proc.kill('SIGINT');
    assert.is(await exited(n.proc), 0, n.out());
    assert.equal(lighttpdOf(root), [], 'lighttpd stopped with npm start');
  } finally {
    if (n.proc.exitCode === null) n.proc.kill('SIGKILL');
    await exited(n.proc);
    for (const pid of lighttpdOf(root)) process.kill(pid, 'SIGTERM');
    rmSync(root, { recursive: true, force: true });
  }
});

N('should refuse a tick interval that is no number before it serves', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ramvm-sched-'));
  const n = startNpm({ RAMVM_ROOT: root, RAMVM_PORT: String(await freePort()), RAMVM_SCHEDULER_TICK_MS: 'soon' });
  try {
    const err = await n.listening.then(() => null, (e: Error) => e);
    assert.ok(err, 'it did not serve');
    assert.match(err!.message, 'RAMVM_SCHEDULER_TICK_MS must be a whole number of ms from 1000 up');
    assert.equal(lighttpdOf(root), []);
  } finally {
    if (n.proc.exitCode === null) n.proc.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});
N.run();

const mailDir = mkdtempSync(join(tmpdir(), 'ramvm-sched-mail-'));

const S = suite('a scheduler that stopped');
const fx = useNode(S);
S.before(() => {
  fx.cleanups.push(() => rmSync(mailDir, { recursive: true, force: true }));
  // sendmail: each message into a file of mailDir.
  writeFileSync(join(mailDir, 'sendmail'), `#!/bin/sh\nf=${mailDir}/$(date +%s%N).eml\ncat > "$f.tmp"\nmv "$f.tmp" "$f"\n`);
  chmodSync(join(mailDir, 'sendmail'), 0o755);
});

S('should be an alert once jobs waited five minutes without a tick, mailed once, not acknowledged, gone with the next tick', async () => {
  assert.is((await fx.admin.put('/api/backup/mail', { sendmail: [join(mailDir, 'sendmail')], from: 'ramvm@testnode' })).status, 200);
  assert.is((await fx.admin.post('/api/backup/jobs', { id: 'nightly', start: '22:00', mailto: 'it@example.com' })).status, 201);
  let s = (await fx.admin.get('/api/backup/scheduler')).json.data;
  assert.equal([s.state, s.last, s.jobs], ['ok', null, 1], 'a job of a minute ago has not waited long');
  // The job has waited longer than the scheduler may be silent (its creation moved back, as if made then).
  const jobsFile = join(fx.root, 'etc/ramvm/backup/jobs.json');
  const jobs = JSON.parse(readFileSync(jobsFile, 'utf8'));
  jobs.jobs.nightly.created = Date.now() - SCHEDULER_STALE_MS - 60_000;
  writeFileSync(jobsFile, JSON.stringify(jobs));

  s = (await fx.admin.get('/api/backup/scheduler')).json.data;
  assert.is(s.state, 'stale');
  assert.match(s.message, 'the backup scheduler of node testnode has never run: 1 job (nightly) cannot start');
  const alerts = (await fx.admin.get('/api/backup/alerts')).json.data;
  assert.equal(alerts.map((a: { task: string; kind: string }) => [a.task, a.kind]), [['scheduler:testnode', 'scheduler']]);
  assert.is(alerts[0].message, s.message);

  const mails = await waitFor('the mail', () => {
    const f = readdirSync(mailDir).filter((x) => x.endsWith('.eml'));
    return f.length > 0 ? f : null;
  }, 30_000, 200);
  const text = readFileSync(join(mailDir, mails![0]!), 'utf8');
  assert.match(text, /^From: ramvm@testnode\nTo: it@example.com\nSubject: ramvm backup scheduler STOPPED on testnode\n/);
  assert.match(text, 'NO SCHEDULED BACKUP STARTS');
  await fx.admin.get('/api/backup/alerts');
  await fx.admin.get('/api/backup/scheduler');
  const tasks = (await fx.admin.get('/api/task?limit=50')).json.data.filter((t: { kind: string }) => t.kind === 'scheduler-mail');
  assert.is(tasks.length, 1, 'mailed once for one stop');
  assert.is((await waitTask(fx.admin, tasks[0].id)).status, 'ok');

  const ack = await fx.admin.post('/api/backup/alerts/ack', { tasks: ['scheduler:testnode'] });
  assert.is(ack.status, 409, ack.text);
  assert.match(ack.json.error.message, 'it ends when the backup scheduler runs again');
  const all = await fx.admin.post('/api/backup/alerts/ack', {});
  assert.equal(all.json.data.acknowledged, [], 'acknowledging all leaves it');
  assert.is((await fx.admin.get('/api/backup/alerts')).json.data.length, 1);

  const tick = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'backup', 'tick'], { env: fx.node.env, encoding: 'utf8' });
  assert.is(tick.status, 0, tick.stderr);
  s = (await fx.admin.get('/api/backup/scheduler')).json.data;
  assert.equal([s.state, s.last.by, s.last.ok], ['ok', 'cron', true]);
  assert.equal((await fx.admin.get('/api/backup/alerts')).json.data, []);
});

S('should refuse an unknown source of ticks', () => {
  const tick = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'backup', 'tick', 'at'], { env: fx.node.env, encoding: 'utf8' });
  assert.is.not(tick.status, 0);
  assert.match(tick.stderr, 'usage: ramvm backup tick [cron|npm-start]');
});
S.run();
