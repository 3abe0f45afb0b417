import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import {
  jobRecipients, nextTickDelayMs, SCHEDULER_STALE_MS, schedulerAlert, schedulerHealth, schedulerMail, tickIntervalMs, tickRecord,
  type HealthInput, type TickRecord,
} from '../../../node-cgi/backup/scheduler';

const NOW = Date.UTC(2026, 10, 25, 22, 30, 0);
const MIN = 60_000;
const job = (over: Partial<HealthInput['jobs'][number]> = {}) => ({ id: 'nightly', enabled: true, node: 'pve1', created: NOW - 30 * 24 * 60 * MIN, ...over });
const tick = (ago: number, over: Partial<TickRecord> = {}): TickRecord => ({ at: NOW - ago, by: 'cron', ms: 40, ok: true, started: [], ...over });
const input = (over: Partial<HealthInput> = {}): HealthInput => ({ last: tick(MIN), jobs: [job()], node: 'pve1', bootMs: NOW - 7 * 24 * 60 * MIN, now: NOW, ...over });

const H = suite('schedulerHealth');
H('should be ok when the last tick is recent', () => {
  const h = schedulerHealth(input());
  assert.equal([h.state, h.since, h.message, h.jobs], ['ok', null, null, 1]);
});
H('should be stale when no tick ran for longer than SCHEDULER_STALE_MS while a job waits', () => {
  const h = schedulerHealth(input({ last: tick(SCHEDULER_STALE_MS + MIN) }));
  assert.is(h.state, 'stale');
  assert.is(h.since, NOW - SCHEDULER_STALE_MS - MIN);
  assert.is(h.message, 'the backup scheduler of node pve1 has not run since 2026-11-25T22:24:00Z: 1 job (nightly) cannot start. ' +
    'Run the node with npm start, or install the cron line (ramvm backup install-cron).');
});
H('should still be ok at exactly SCHEDULER_STALE_MS', () => {
  assert.is(schedulerHealth(input({ last: tick(SCHEDULER_STALE_MS) })).state, 'ok');
});
H('should say a scheduler that never ran, once a job has waited long enough', () => {
  const h = schedulerHealth(input({ last: null }));
  assert.is(h.state, 'stale');
  assert.match(h.message!, 'has never run: 1 job (nightly) cannot start');
});
H('should give a new job and a fresh boot their minutes before it calls the scheduler stale', () => {
  assert.is(schedulerHealth(input({ last: null, jobs: [job({ created: NOW - 2 * MIN })] })).state, 'ok', 'a job made 2 min ago');
  assert.is(schedulerHealth(input({ last: tick(3 * 24 * 60 * MIN), bootMs: NOW - 2 * MIN })).state, 'ok', 'booted 2 min ago');
  assert.is(schedulerHealth(input({ last: null, jobs: [job({ created: NOW - 6 * MIN })] })).state, 'stale', 'a job made 6 min ago');
});
H('should be idle without enabled jobs of this node: nothing is missed', () => {
  for (const jobs of [[], [job({ enabled: false })], [job({ node: 'pve2' })]]) {
    const h = schedulerHealth(input({ last: null, jobs }));
    assert.equal([h.state, h.jobs, h.message], ['idle', 0, null]);
  }
});
H('should be failing when the last tick failed, since the first failure', () => {
  const h = schedulerHealth(input({ last: tick(MIN, { ok: false, error: 'jobs.json: Unexpected token', failingSince: NOW - 3 * MIN }) }));
  assert.is(h.state, 'failing');
  assert.is(h.since, NOW - 3 * MIN);
  assert.is(h.message, 'the backup scheduler of node pve1 fails since 2026-11-25T22:27:00Z: jobs.json: Unexpected token; 1 job (nightly) may not start');
});
H.run();

const A = suite('schedulerAlert');
A('should make an alert of a stale or failing scheduler, for those who see jobs', () => {
  const h = schedulerHealth(input({ last: tick(10 * MIN) }));
  assert.equal(schedulerAlert(h), {
    task: 'scheduler:pve1', kind: 'scheduler', object: '/storage', job: null, vmids: null, time: new Date(NOW - 10 * MIN).toISOString(), message: h.message,
  });
});
A('should make none of a healthy or idle one', () => {
  assert.is(schedulerAlert(schedulerHealth(input())), null);
  assert.is(schedulerAlert(schedulerHealth(input({ jobs: [] }))), null);
});
A.run();

const R = suite('tickRecord');
R('should keep when ticks began to fail while they keep failing, and forget it once one works', () => {
  const first = tickRecord(tick(MIN), { at: NOW, by: 'cron', ms: 5, ok: false, error: 'x', started: [] });
  assert.is(first.failingSince, NOW);
  const second = tickRecord(first, { at: NOW + MIN, by: 'cron', ms: 5, ok: false, error: 'x', started: [] });
  assert.is(second.failingSince, NOW);
  const ok = tickRecord(second, { at: NOW + 2 * MIN, by: 'cron', ms: 5, ok: true, started: [] });
  assert.not.ok('failingSince' in ok);
});
R.run();

const I = suite('tickIntervalMs');
I('should tick each minute unless asked for less', () => {
  assert.is(tickIntervalMs(undefined), 60_000);
  assert.is(tickIntervalMs(''), 60_000);
  assert.is(tickIntervalMs('2000'), 2000);
});
I('should never tick less often than each minute', () => {
  assert.is(tickIntervalMs('3600000'), 60_000);
});
I('should refuse what is no interval', () => {
  for (const v of ['0', '999', '-5', '1.5', 'soon']) assert.throws(() => tickIntervalMs(v), /RAMVM_SCHEDULER_TICK_MS must be a whole number of ms from 1000 up/);
});
I.run();

const N = suite('nextTickDelayMs');
N('should wait for the next whole minute, as cron', () => {
  assert.is(nextTickDelayMs(Date.UTC(2026, 0, 1, 10, 0, 15), 60_000), 45_000);
  assert.is(nextTickDelayMs(Date.UTC(2026, 0, 1, 10, 0, 0), 60_000), 60_000);
});
N('should wait for the next multiple of a shorter interval', () => {
  assert.is(nextTickDelayMs(Date.UTC(2026, 0, 1, 10, 0, 0) + 2500, 2000), 1500);
});
N.run();

const M = suite('jobRecipients, schedulerMail');
M("should mail each recipient of this node's enabled jobs once", () => {
  const jobs = [
    { enabled: true, node: 'pve1', mailto: 'it@example.com' }, { enabled: true, node: 'pve1', mailto: 'it@example.com' },
    { enabled: true, node: 'pve1', mailto: 'boss@example.com' }, { enabled: false, node: 'pve1', mailto: 'off@example.com' },
    { enabled: true, node: 'pve2', mailto: 'other@example.com' }, { enabled: true, node: 'pve1', mailto: '' },
  ];
  assert.equal(jobRecipients(jobs, 'pve1'), ['boss@example.com', 'it@example.com']);
});
M('should say in the mail that no scheduled backup starts, and why', () => {
  const h = schedulerHealth(input({ last: tick(10 * MIN) }));
  const text = schedulerMail(h, { to: ['it@example.com', 'boss@example.com'], from: 'ramvm@pve1', date: new Date(NOW) });
  assert.match(text, /^From: ramvm@pve1\nTo: it@example.com, boss@example.com\nSubject: ramvm backup scheduler STOPPED on pve1\n/);
  assert.match(text, 'NO SCHEDULED BACKUP STARTS while this lasts');
  assert.match(text, h.message!);
  assert.match(text, 'Last run: 2026-11-25T22:20:00Z by cron');
});
M.run();
