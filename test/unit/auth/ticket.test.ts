import { suite } from '../../helpers/suite';
import { useTempRoot } from '../../helpers/temp-root';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCsrf, issueTicket, verifyCsrf, verifyTicket, TICKET_LIFETIME_S } from '../../../node-cgi/auth/ticket';
import { hashPassword, verifyPassword } from '../../../node-cgi/auth/password';

const T = suite('verifyTicket');
useTempRoot(T);
const now = 1_800_000_000;
T('should accept a fresh ticket and return the user', () => {
  assert.equal(verifyTicket(issueTicket('anna', now), now), { username: 'anna', issued: now });
});
T('should refuse an expired ticket', () => {
  assert.is(verifyTicket(issueTicket('anna', now), now + TICKET_LIFETIME_S + 1), null);
});
T('should refuse a ticket with another user name', () => {
  const t = issueTicket('anna', now).replace('RAMVM:anna:', 'RAMVM:admin:');
  assert.is(verifyTicket(t, now), null);
});
T('should refuse a ticket with a changed date', () => {
  const t = issueTicket('anna', now);
  const forged = t.replace(/:([0-9A-F]+)::/, (_, h: string) => `:${(parseInt(h, 16) + 3600).toString(16).toUpperCase()}::`);
  assert.is(verifyTicket(forged, now + 3600), null);
});
T('should sign with the key of the current data root', () => {
  const mine = issueTicket('anna', now);
  const root = process.env.RAMVM_ROOT;
  const other = mkdtempSync(join(tmpdir(), 'ramvm-other-node-'));
  try {
    process.env.RAMVM_ROOT = other;
    assert.is(verifyTicket(mine, now), null, 'another node\'s key refuses it');
    assert.ok(existsSync(join(other, 'etc/ramvm/priv/authkey')), 'that node made its own key');
  } finally {
    process.env.RAMVM_ROOT = root;
    rmSync(other, { recursive: true, force: true });
  }
  assert.equal(verifyTicket(mine, now), { username: 'anna', issued: now }, 'back on the first node');
});
T('should refuse garbage', () => {
  for (const bad of ['', 'RAMVM:anna', 'RAMVM:anna:1::', 'x'.repeat(500)]) assert.is(verifyTicket(bad, now), null);
});
T.run();

const C = suite('verifyCsrf');
useTempRoot(C);
C('should accept the token of the same user only', () => {
  const c = issueCsrf('anna', now);
  assert.ok(verifyCsrf(c, 'anna', now));
  assert.not.ok(verifyCsrf(c, 'bob', now));
  assert.not.ok(verifyCsrf(c, 'anna', now + TICKET_LIFETIME_S + 1));
});
C.run();

const P = suite('verifyPassword');
P('should verify the right password and refuse a wrong one', () => {
  const h = hashPassword('correct horse');
  assert.match(h, /^scrypt\$16384\$8\$1\$/);
  assert.ok(verifyPassword('correct horse', h));
  assert.not.ok(verifyPassword('correct hors', h));
});
P('should refuse a malformed hash', () => {
  assert.not.ok(verifyPassword('x', 'md5$abc'));
});
P.run();
