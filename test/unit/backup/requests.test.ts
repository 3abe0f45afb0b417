import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { parseAlertAck, parseBackupQuery, parseBackupRun, parseMailSettings, parseVerifyRun } from '../../../node-cgi/backup/requests';
import type { MailSettings } from '../../../node-cgi/backup/config';

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
R('should take the cluster mode of replicated guests', () => {
  assert.is(parseBackupRun({ vmid: 101, mode: 'cluster' }).mode, 'cluster');
});
R('should take bwlimit in MiB/s, as the live restore does', () => {
  assert.is(parseBackupRun({ vmid: 101, bwlimit: 8 }).speed, 8 * 1048576);
});
refuses(R, parseBackupRun, [
  [{}, /^vmid: /, 'which guest is the request'],
  [{ vmid: 101, mode: 'backup' }, /^mode: must be one of snapshot, stop, cluster/, 'an unknown mode'],
  [{ vmid: 101, compress: 'gzip' }, /^compress: /, 'only zstd or none'],
  [{ vmid: 101, bwlimit: -1 }, /^bwlimit: must be MiB\/s/, 'a negative speed'],
  [{ vmid: 101, mailto: 'a@b.c, evil@x.y' }, /^mailto: /, 'one address: a header line must stay one'],
  [{ vmid: 101, storage: '-x' }, /^storage: /, 'a leading dash could become an option'],
  [{ vmid: 101, vmdi: 102 }, /^vmdi: unknown field$/, 'a typo must not pass silently'],
  [{ vmid: 101, mailOnSuccess: 'yes' }, /^mailOnSuccess: must be true or false$/, 'a flag is a boolean'],
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
  [{ x: 1 }, /^x: unknown field$/, 'a field it does not know'],
]);
V.run();

const A = suite('parseAlertAck');
A('should take a list of task ids, or none for all', () => {
  assert.equal(parseAlertAck({}), { tasks: null });
  assert.equal(parseAlertAck({ tasks: ['t1'] }), { tasks: ['t1'] });
});
refuses(A, parseAlertAck, [
  [{ tasks: 't1' }, /^tasks: must be a list of at most 1000 task ids$/, 'one id, not a list'],
  [{ tasks: [1] }, /^tasks: /, 'ids are strings'],
  [{ x: 1 }, /^x: unknown field$/, '{"x": 1} once acknowledged every alert'],
  [{ tasks: Array(1001).fill('t') }, /^tasks: /, 'too many ids'],
]);
A.run();

const M = suite('parseMailSettings');
const CUR: MailSettings = { from: 'ramvm@pve1', transport: 'sendmail', smtp: null };
const RELAY = { host: 'mail.example.com', port: 587, security: 'starttls' as const, username: 'ramvm' };
const WITH_RELAY: MailSettings = { from: 'ramvm@pve1', transport: 'smtp', smtp: RELAY };
M('should lay the body over the current settings, keeping the stored password', () => {
  assert.equal(parseMailSettings({}, CUR), { settings: CUR, password: undefined });
  assert.equal(parseMailSettings({ from: 'backup@example.com' }, CUR).settings, { ...CUR, from: 'backup@example.com' });
  assert.equal(parseMailSettings({ from: 'backup@example.com' }, WITH_RELAY), { settings: { ...WITH_RELAY, from: 'backup@example.com' }, password: undefined });
});
M('should take a relay as data, with the port its security implies', () => {
  assert.equal(parseMailSettings({ transport: 'smtp', smtp: { host: 'mail.example.com' } }, CUR).settings.smtp, { host: 'mail.example.com', port: 587, security: 'starttls' });
  assert.equal(parseMailSettings({ transport: 'smtp', smtp: { host: '192.0.2.5', security: 'tls' } }, CUR).settings.smtp, { host: '192.0.2.5', port: 465, security: 'tls' });
  assert.equal(parseMailSettings({ transport: 'smtp', smtp: { host: 'relay', port: 2525, security: 'none' } }, CUR).settings.smtp, { host: 'relay', port: 2525, security: 'none' });
  const pinned = parseMailSettings({ transport: 'smtp', smtp: { host: 'relay', fingerprint: 'ab'.repeat(32) } }, CUR).settings.smtp!;
  assert.is(pinned.fingerprint, Array(32).fill('AB').join(':'));
});
M('should set, keep and remove the password', () => {
  assert.is(parseMailSettings({ transport: 'smtp', smtp: RELAY, password: 's3cret' }, CUR).password, 's3cret');
  assert.is(parseMailSettings({ smtp: RELAY }, WITH_RELAY).password, undefined, 'the same relay keeps it');
  assert.is(parseMailSettings({ password: null }, WITH_RELAY).password, null);
  assert.is(parseMailSettings({ transport: 'sendmail', passwordSet: true }, WITH_RELAY).password, undefined, 'GET\'s answer put back changes nothing');
});
M('should drop a stored password when the relay it was given for changes', () => {
  assert.is(parseMailSettings({ smtp: { ...RELAY, host: 'evil.example.net' } }, WITH_RELAY).password, null, 'another host');
  assert.is(parseMailSettings({ smtp: { ...RELAY, port: 2525 } }, WITH_RELAY).password, null, 'another port');
  assert.is(parseMailSettings({ smtp: { ...RELAY, username: 'other' } }, WITH_RELAY).password, null, 'another user');
});
refuses(M, (b: Record<string, unknown>) => parseMailSettings(b, CUR), [
  [{ sendmail: ['/bin/sh', '-c', 'id > /tmp/x'] }, /^sendmail: a mail command is no longer configurable/, 'a command line, the root exploit of the old setting'],
  [{ sendmail: ['sendmail', '-t', '-oi'] }, /^sendmail: /, 'even the old default: no argv is taken'],
  [{ from: 'not an address' }, /^from: /, 'From must be one address'],
  [{ from: '' }, /^from: must be a mail address$/, 'mail needs a sender'],
  [{ transport: 'smtp' }, /^smtp: the transport smtp needs a relay/, 'a relay to send through'],
  [{ transport: 'exec' }, /^transport: /, 'two transports only'],
  [{ smtp: { host: '-oProxyCommand=x' } }, /^smtp\.host: /, 'a host that reads as an option'],
  [{ smtp: { host: 'a b' } }, /^smtp\.host: /, 'a blank in a host'],
  [{ smtp: { host: 'relay', port: 0 } }, /^smtp\.port: /, 'port 0'],
  [{ smtp: { host: 'relay', port: 70000 } }, /^smtp\.port: /, 'beyond 65535'],
  [{ smtp: { host: 'relay', security: 'ssl' } }, /^smtp\.security: /, 'an unknown security'],
  [{ smtp: { host: 'relay', security: 'none', username: 'u' } }, /^smtp\.username: a login is never sent over an unencrypted connection/, 'a password in clear'],
  [{ smtp: { host: 'relay', username: 'u\r\nRCPT TO:<x@y>' } }, /^smtp\.username: /, 'a line break smuggling a command'],
  [{ smtp: { host: 'relay', fingerprint: 'abc' } }, /^smtp\.fingerprint: /, 'not a SHA-256'],
  [{ smtp: { host: 'relay', command: 'x' } }, /^command: unknown field$/, 'an unknown field of the relay'],
  [{ smtp: 'relay:25' }, /^smtp: must be an object/, 'a string'],
  [{ transport: 'smtp', smtp: { host: 'relay' }, password: 'pw' }, /^password: goes with smtp\.username$/, 'a password for no user'],
  [{ transport: 'smtp', smtp: RELAY, password: 'a\u0000b' }, /^password: /, 'a NUL byte (AUTH PLAIN\'s separator)'],
  [{ x: 1 }, /^x: unknown field$/, 'a field it does not know'],
]);
M.run();
