import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { retentionToDelete, type RetentionItem } from '../../../node-cgi/backup/retention';
import type { RetentionPolicy } from '../../../node-cgi/backup/types';

const TZ = 'Europe/Vienna';
const b = (id: string, time: string, verified = true): RetentionItem => ({ id, time: Date.parse(time), verified });
const pol = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ keepLast: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, ...p });

// Nightly backups, Tue 2026-11-24 back to Sat 2026-11-21, plus a second one on Tuesday morning.
const week = [
  b('tue22', '2026-11-24T21:00:00Z'),
  b('tue03', '2026-11-24T02:00:00Z'),
  b('mon22', '2026-11-23T21:00:00Z'),
  b('sun22', '2026-11-22T21:00:00Z'),
  b('sat22', '2026-11-21T21:00:00Z'),
];

const R = suite('retentionToDelete');
const rows: [string, RetentionItem[], Partial<RetentionPolicy>, string[]][] = [
  ['keep-last 3 removes the two oldest', week, { keepLast: 3 }, ['sat22', 'sun22']],
  ['keep-last larger than the list removes nothing', week, { keepLast: 10 }, []],
  ['keep-last 1 + keep-daily 2: the newest, then one per older day', week, { keepLast: 1, keepDaily: 2 }, ['sat22', 'tue03']],
  ['keep-daily 3 keeps the newest of each of three days', week, { keepDaily: 3 }, ['sat22', 'tue03']],
  ['an all-zero policy still keeps the newest verified', week, {}, ['sat22', 'sun22', 'mon22', 'tue03']],
  ['keep-last 0 never removes the last verified backup', [b('only', '2026-11-24T21:00:00Z')], { keepLast: 0 }, []],
  ['unverified backups are never removed and fill no slot', [
    b('new-bad', '2026-11-25T21:00:00Z', false), b('tue22', '2026-11-24T21:00:00Z'), b('mon22', '2026-11-23T21:00:00Z'), b('old-bad', '2026-11-01T21:00:00Z', false),
  ], { keepLast: 1 }, ['mon22']],
  ['the newest verified stays even when only unverified are newer', [
    b('bad1', '2026-11-26T21:00:00Z', false), b('bad2', '2026-11-25T21:00:00Z', false), b('good', '2026-11-20T21:00:00Z'),
  ], { keepLast: 1 }, []],
  ['keep-weekly 2 keeps the newest of two ISO weeks (Mon 23 starts week 48)', week, { keepWeekly: 2 }, ['sat22', 'mon22', 'tue03']],
  ['keep-monthly 2 over three months', [
    b('nov', '2026-11-24T21:00:00Z'), b('nov-early', '2026-11-02T21:00:00Z'), b('oct', '2026-10-30T21:00:00Z'), b('sep', '2026-09-30T21:00:00Z'),
  ], { keepMonthly: 2 }, ['sep', 'nov-early']],
  ['a period covered by an earlier rule does not use up a slot', [
    b('nov', '2026-11-24T21:00:00Z'), b('nov-early', '2026-11-02T21:00:00Z'), b('oct', '2026-10-30T21:00:00Z'), b('sep', '2026-09-30T21:00:00Z'),
  ], { keepLast: 1, keepWeekly: 1, keepMonthly: 1 }, ['sep']],
  ['a backup passed over by the daily rule is not taken by the weekly rule', week, { keepDaily: 1, keepWeekly: 1 }, ['sat22', 'mon22', 'tue03']],
  ['the day is the local day: 23:30 UTC on the 24th is the 25th in Vienna', [
    b('a', '2026-11-24T23:30:00Z'), b('b', '2026-11-24T22:00:00Z'), b('c', '2026-11-24T12:00:00Z'),
  ], { keepDaily: 2 }, ['c']],
  ['nothing to do on an empty list', [], { keepLast: 1 }, []],
];
for (const [what, items, p, want] of rows) {
  R(`should decide: ${what}`, () => {
    assert.equal(retentionToDelete(items, pol(p), TZ), want);
  });
}
R('should not depend on the order of its input', () => {
  const shuffled = [week[3]!, week[0]!, week[4]!, week[1]!, week[2]!];
  assert.equal(retentionToDelete(shuffled, pol({ keepLast: 3 }), TZ), ['sat22', 'sun22']);
});
R.run();
