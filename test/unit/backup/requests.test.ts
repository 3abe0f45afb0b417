import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { parseAlertAck, parseBackupQuery, parseBackupRun, parseMailSettings, parseVerifyRun } from '../../../node-cgi/backup/requests';

// [input, message, reason]
type Bad<T> = [T, RegExp, string];

function refuses<T>(s: ReturnType<typeof suite>, parse: (v: T) => unknown, table: Bad<T>[]): void {
  for (const [v, message, why] of table) s(`should refuse ${JSON.stringify(v instanceof URLSearchParams ? String(v) : v)}: ${why}`, () => assert.throws(() => parse(v), message));
}

const Q = suite('parseBackupQuery');
Q('should read vmid and storage, both optional', () => {
  assert.equal(parseBackupQuery(new URLSearchParams('')), {});
  assert.equal(parseBackupQuery(new URLSearchParams('vmid=101&storage=usb')), { vmid: 101, storage: 'usb' });
});
refuses(Q, parseBackupQuery, [
  [new URLSearchParams('vmid=0101'), /^vmid: /, 'another spelling of guest 101'],
  [new URLSearchParams('storage=../etc'), /^storage: /, 'a storage name must not reach a path'],
]);
Q.run();

const R = suite('parseBackupRun');
R('should fill in the defaults: local, snapshot, zstd, no mail, no limit', () => {
  assert.equal(parseBackupRun({ vmid: 101 }), { vmid: 101, storage: 'local', mode: 'snapshot', compress: 'zstd', mailto: '', mailOnSuccess: false, speed: 0 });
});
R('should take bwlimit in MiB/s, as the live restore does', () => {
  assert.is(parseBackupRun({ vmid: 101, bwlimit: 8 }).speed, 8 * 1048576);
});
refuses(R, parseBackupRun, [
  [{}, /^vmid: /, 'which guest is the request'],
  [{ vmid: 101, mode: 'cluster' }, /^mode: must be one of snapshot, stop$/, 'cluster mode comes with DRBD'],
  [{ vmid: 101, compress: 'gzip' }, /^compress: /, 'only zstd or none'],
  [{ vmid: 101, bwlimit: -1 }, /^bwlimit: must be MiB\/s/, 'a negative speed'],
  [{ vmid: 101, mailto: 'a@b.c, evil@x.y' }, /^mailto: /, 'one address: a header line must stay one'],
  [{ vmid: 101, storage: '-x' }, /^storage: /, 'a leading dash could become an option'],
]);
R.run();

const V = suite('parseVerifyRun');
V('should verify everything on local by default', () => {
  assert.equal(parseVerifyRun({}), { storage: 'local', olderThanDays: 0, mailto: '' });
  assert.equal(parseVerifyRun({ storage: 'usb', vmid: 101, olderThanDays: 30 }), { storage: 'usb', vmid: 101, olderThanDays: 30, mailto: '' });
});
refuses(V, parseVerifyRun, [
  [{ olderThanDays: -1 }, /^olderThanDays: must be an integer 0\.\.3650$/, 'negative age'],
  [{ olderThanDays: 1.5 }, /^olderThanDays: /, 'a fraction of a day'],
  [{ olderThanDays: 3651 }, /^olderThanDays: /, 'more than ten years'],
  [{ vmid: 'x' }, /^vmid: /, 'not a VMID'],
]);
V.run();

const A = suite('parseAlertAck');
A('should take a list of task ids, or none for all', () => {
  assert.equal(parseAlertAck({}), { tasks: null });
  assert.equal(parseAlertAck({ tasks: ['t1'] }), { tasks: ['t1'] });
});
refuses(A, parseAlertAck, [
  [{ tasks: 't1' }, /^tasks: must be a list of task ids$/, 'one id, not a list'],
  [{ tasks: [1] }, /^tasks: /, 'ids are strings'],
]);
A.run();

const M = suite('parseMailSettings');
const CUR = { sendmail: ['sendmail', '-t', '-oi'], from: 'ramvm@pve1' };
M('should lay the body over the current settings', () => {
  assert.equal(parseMailSettings({}, CUR), CUR);
  assert.equal(parseMailSettings({ from: 'backup@example.com' }, CUR), { sendmail: CUR.sendmail, from: 'backup@example.com' });
  assert.equal(parseMailSettings({ sendmail: ['/usr/sbin/sendmail', '-t'] }, CUR), { sendmail: ['/usr/sbin/sendmail', '-t'], from: 'ramvm@pve1' });
});
refuses(M, (b: Record<string, unknown>) => parseMailSettings(b, CUR), [
  [{ sendmail: 'sendmail -t' }, /^sendmail: must be a non-empty argv list/, 'a shell string, never'],
  [{ sendmail: [] }, /^sendmail: /, 'no program'],
  [{ sendmail: ['-t'] }, /^sendmail: the first item is the program$/, 'an option where the program belongs'],
  [{ sendmail: ['sendmail', 'a\nb'] }, /^sendmail: /, 'a line break in an argument'],
  [{ from: 'not an address' }, /^from: /, 'From must be one address'],
  [{ from: '' }, /^from: must be a mail address$/, 'mail needs a sender'],
]);
M.run();
