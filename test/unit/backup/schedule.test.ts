import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { backupPlan, dueJobs, instantOf, latestOccurrence, MISSED_GRACE_MS, nextOccurrence, type GuestInfo } from '../../../node-cgi/backup/schedule';
import { parseJob } from '../../../node-cgi/backup/validate';
import type { BackupJob } from '../../../node-cgi/backup/types';

const TZ = 'Europe/Vienna';
const MIN = 60_000;
const iso = (s: string) => Date.parse(s);
const job = (over: Record<string, unknown> = {}): BackupJob =>
  parseJob({ id: 'nightly', weekdays: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '22:00', ...over }, null, { node: 'pve1', now: iso('2026-01-01T00:00:00Z'), newId: () => 'x' });

const I = suite('instantOf');
I('should map a winter wall time to UTC+1', () => {
  assert.is(instantOf(2026, 11, 25, 22, 0, TZ), iso('2026-11-25T21:00:00Z'));
});
I('should map a summer wall time to UTC+2', () => {
  assert.is(instantOf(2026, 7, 1, 22, 0, TZ), iso('2026-07-01T20:00:00Z'));
});
I('should move a time in the spring gap to the instant after the jump (02:30 → 03:30 CEST)', () => {
  assert.is(instantOf(2026, 3, 29, 2, 30, TZ), iso('2026-03-29T01:30:00Z'));
});
I('should take the first of the two 02:30 in the autumn overlap', () => {
  assert.is(instantOf(2026, 10, 25, 2, 30, TZ), iso('2026-10-25T00:30:00Z'));
});
I.run();

const L = suite('latestOccurrence');
L('should find today when the start time has passed', () => {
  assert.is(latestOccurrence(job(), iso('2026-11-25T21:05:00Z'), TZ), iso('2026-11-25T21:00:00Z'));
});
L('should find the previous weekday before the start time', () => {
  // Wed 2026-11-25 20:00 local → Tue 22:00
  assert.is(latestOccurrence(job(), iso('2026-11-25T19:00:00Z'), TZ), iso('2026-11-24T21:00:00Z'));
});
L('should skip weekdays the job does not run on', () => {
  // Mon 2026-11-30 10:00 local → Fri 22:00
  assert.is(latestOccurrence(job(), iso('2026-11-30T09:00:00Z'), TZ), iso('2026-11-27T21:00:00Z'));
});
L('should not skip the Sunday of the spring change when stepping back by days', () => {
  const j = job({ weekdays: ['sun'], start: '23:30' });
  // Mon 2026-03-30 00:10 CEST: the Sunday has only 23 hours
  assert.is(latestOccurrence(j, iso('2026-03-29T22:10:00Z'), TZ), iso('2026-03-29T21:30:00Z'));
});
L.run();

const N = suite('nextOccurrence');
N('should give the next start after now', () => {
  assert.is(nextOccurrence(job(), iso('2026-11-25T21:00:00Z'), TZ), iso('2026-11-26T21:00:00Z'));
});
N('should give null for a job without weekdays', () => {
  assert.is(nextOccurrence(job({ weekdays: [] }), iso('2026-11-25T21:00:00Z'), TZ), null);
});
N.run();

const D = suite('dueJobs');
const none = new Set<string>();
// Each row: what, job overrides, now, last scheduled (or undefined), running?, expected scheduled instant or null.
const rows: [string, Record<string, unknown>, string, string | undefined, boolean, string | null][] = [
  ['due at the start minute', {}, '2026-11-25T21:00:00Z', '2026-11-24T21:00:00Z', false, '2026-11-25T21:00:00Z'],
  ['not due a minute before', {}, '2026-11-25T20:59:00Z', '2026-11-24T21:00:00Z', false, null],
  ['not due again after it ran for this occurrence', {}, '2026-11-25T21:01:00Z', '2026-11-25T21:00:00Z', false, null],
  ['due when cron missed minutes (tick at 22:17 local)', {}, '2026-11-25T21:17:00Z', '2026-11-24T21:00:00Z', false, '2026-11-25T21:00:00Z'],
  ['not due when the occurrence is older than the grace', {}, '2026-11-25T22:01:00Z', '2026-11-24T21:00:00Z', false, null],
  ['not due while its last run is still running', {}, '2026-11-25T21:00:00Z', '2026-11-24T21:00:00Z', true, null],
  ['not due on a weekday it does not run', {}, '2026-11-28T21:00:00Z', '2026-11-27T21:00:00Z', false, null],
  ['not due when disabled', { enabled: false }, '2026-11-25T21:00:00Z', '2026-11-24T21:00:00Z', false, null],
  ['not due on another node', { node: 'pve2' }, '2026-11-25T21:00:00Z', '2026-11-24T21:00:00Z', false, null],
  ['due the first time (never ran)', {}, '2026-11-25T21:00:00Z', undefined, false, '2026-11-25T21:00:00Z'],
  ['spring gap: 02:30 runs at 03:30 CEST', { weekdays: ['sun'], start: '02:30' }, '2026-03-29T01:30:00Z', '2026-03-22T01:30:00Z', false, '2026-03-29T01:30:00Z'],
  ['spring gap: not before the jump', { weekdays: ['sun'], start: '02:30' }, '2026-03-29T00:59:00Z', '2026-03-22T01:30:00Z', false, null],
  ['autumn overlap: runs at the first 02:30', { weekdays: ['sun'], start: '02:30' }, '2026-10-25T00:30:00Z', '2026-10-18T00:30:00Z', false, '2026-10-25T00:30:00Z'],
  ['autumn overlap: not again at the second 02:30', { weekdays: ['sun'], start: '02:30' }, '2026-10-25T01:30:00Z', '2026-10-25T00:30:00Z', false, null],
  ['summer time: 22:00 CEST is 20:00 UTC', { weekdays: ['wed'] }, '2026-07-01T20:00:00Z', '2026-06-24T20:00:00Z', false, '2026-07-01T20:00:00Z'],
];
for (const [what, over, now, last, running, want] of rows) {
  D(`should decide: ${what}`, () => {
    const j = job(over);
    const state: Record<string, { lastScheduled: number }> = last ? { nightly: { lastScheduled: iso(last) } } : {};
    const got = dueJobs([j], iso(now), state, running ? new Set(['nightly']) : none, 'pve1', TZ);
    assert.equal(got, want ? [{ id: 'nightly', scheduled: iso(want) }] : []);
  });
}
D('should not run an occurrence from before the job was created', () => {
  const j = { ...job(), created: iso('2026-11-25T21:05:00Z') };
  assert.equal(dueJobs([j], iso('2026-11-25T21:10:00Z'), {}, none, 'pve1', TZ), []);
});
D('should run a job created during its start minute', () => {
  const j = { ...job(), created: iso('2026-11-25T21:00:40Z') };
  assert.equal(dueJobs([j], iso('2026-11-25T21:01:00Z'), {}, none, 'pve1', TZ), [{ id: 'nightly', scheduled: iso('2026-11-25T21:00:00Z') }]);
});
D('should run each minute-tick at most once per occurrence over a whole day of ticks', () => {
  const j = job();
  const state: Record<string, { lastScheduled: number }> = {};
  const runs: number[] = [];
  for (let t = iso('2026-11-25T00:00:00Z'); t < iso('2026-11-27T00:00:00Z'); t += MIN) {
    for (const d of dueJobs([j], t, state, none, 'pve1', TZ)) {
      runs.push(d.scheduled);
      state[d.id] = { lastScheduled: d.scheduled };
    }
  }
  assert.equal(runs, [iso('2026-11-25T21:00:00Z'), iso('2026-11-26T21:00:00Z')]);
});
D('should keep the grace at one hour', () => {
  assert.is(MISSED_GRACE_MS, 60 * MIN);
});
D.run();

const P = suite('backupPlan');
const guests: GuestInfo[] = [
  { vmid: 102, name: 'db', node: 'pve1', status: 'stopped' },
  { vmid: 101, name: 'web', node: 'pve1', status: 'running' },
  { vmid: 103, name: 'far', node: 'pve2', status: 'running' },
  { vmid: 104, name: 'halt', node: 'pve1', status: 'paused' },
];
P('should back up all guests of the node in VMID order, live when running', () => {
  assert.equal(backupPlan({ vmids: 'all', mode: 'snapshot' }, guests, 'pve1'), [
    { vmid: 101, action: 'backup', mode: 'snapshot', method: 'live', restart: false },
    { vmid: 102, action: 'backup', mode: 'snapshot', method: 'offline', restart: false },
    { vmid: 104, action: 'backup', mode: 'snapshot', method: 'live', restart: false },
  ]);
});
P('should stop and restart running guests in stop mode, and leave stopped ones stopped', () => {
  assert.equal(backupPlan({ vmids: [102, 101], mode: 'stop' }, guests, 'pve1'), [
    { vmid: 101, action: 'backup', mode: 'stop', method: 'offline', restart: true },
    { vmid: 102, action: 'backup', mode: 'stop', method: 'offline', restart: false },
  ]);
});
P('should report a selected guest that is not on this node', () => {
  assert.equal(backupPlan({ vmids: [103, 999], mode: 'snapshot' }, guests, 'pve1'), [
    { vmid: 103, action: 'missing', reason: 'no guest 103 on node pve1' },
    { vmid: 999, action: 'missing', reason: 'no guest 999 on node pve1' },
  ]);
});
P.run();
