import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { HttpError } from '../../../node-cgi/lib/errors';
import { parseRequest } from '../../../node-cgi/lib/request';
import { updateAccess } from '../../../node-cgi/access/store';
import { useTempRoot } from '../../helpers/temp-root';
import { authenticate, parseCookies, tokenHash } from '../../../node-cgi/auth/authenticate';
import { issueCsrf, issueTicket, TICKET_LIFETIME_S } from '../../../node-cgi/auth/ticket';

const NOW = Math.floor(Date.now() / 1000);
const SECRET = 'Zm9vYmFyYmF6cXV4cXV1eHh5enp5eHd2dXQ';

function req(method: string, headers: Record<string, string>) {
  const env: NodeJS.ProcessEnv = { REQUEST_METHOD: method, PATH_INFO: '/' };
  for (const [k, v] of Object.entries(headers)) env[`HTTP_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  return parseRequest(env, Readable.from([]));
}
const ticketOf = (user: string, at = NOW) => ({ cookie: `RamvmAuth=${encodeURIComponent(issueTicket(user, at))}` });
const tokenOf = (id: string, secret = SECRET) => ({ authorization: `RamvmToken ${id}=${secret}` });

function rejection(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 401);
    return (e as HttpError).message;
  }
  assert.unreachable('should have been refused');
  return '';
}

const A = suite('authenticate');
useTempRoot(A);
A.before(() => {
  updateAccess((d) => {
    const base = { expire: 0, groups: [], password: 'x', ticketsSince: NOW - 100 };
    d.users.users = {
      anna: { ...base, enabled: true },
      off: { ...base, enabled: false },
      old: { ...base, enabled: true, expire: NOW - 1 },
      moved: { ...base, enabled: true, ticketsSince: NOW - 10 },
    };
    d.acl.acl = [];
    d.tokens.tokens = {
      'anna!ci': { hash: tokenHash(SECRET), expire: 0, privsep: true },
      'anna!gone': { hash: tokenHash(SECRET), expire: NOW - 1, privsep: false },
      'off!ci': { hash: tokenHash(SECRET), expire: 0, privsep: false },
    };
  });
});

A('should accept a fresh ticket on GET', () => {
  assert.equal(authenticate(req('GET', ticketOf('anna'))), { username: 'anna', via: 'ticket' });
});
A('should accept a POST with the ticket and its CSRF header', () => {
  assert.equal(authenticate(req('POST', { ...ticketOf('anna'), 'x-ramvm-csrf': issueCsrf('anna') })).username, 'anna');
});
A('should accept a token with its privsep flag and no CSRF header', () => {
  assert.equal(authenticate(req('DELETE', tokenOf('anna!ci'))), { username: 'anna', tokenid: 'ci', privsep: true, via: 'token' });
});

// Headers are made when the test runs: tickets are signed with the key of the suite's own root.
const refused: [string, string, () => Record<string, string>, string][] = [
  ['no credentials', 'GET', () => ({}), 'authentication required'],
  ['a forged ticket', 'GET', () => ({ cookie: 'RamvmAuth=' + encodeURIComponent(issueTicket('anna').replace(/::.*/, '::AAAA')) }), 'invalid or has expired'],
  ['an expired ticket', 'GET', () => ticketOf('anna', NOW - TICKET_LIFETIME_S - 1), 'invalid or has expired'],
  ['a ticket from before the last password change', 'GET', () => ticketOf('moved', NOW - 20), 'password has changed'],
  ['a ticket of a disabled user', 'GET', () => ticketOf('off'), 'disabled'],
  ['a ticket of an expired user', 'GET', () => ticketOf('old'), 'disabled'],
  ['a ticket of a deleted user', 'GET', () => ticketOf('ghost'), 'deleted'],
  ['a POST without CSRF header', 'POST', () => ticketOf('anna'), 'X-Ramvm-CSRF'],
  ["a POST with another user's CSRF header", 'POST', () => ({ ...ticketOf('anna'), 'x-ramvm-csrf': issueCsrf('moved') }), 'X-Ramvm-CSRF'],
  ['a token with the wrong secret', 'GET', () => tokenOf('anna!ci', SECRET.replace(/^./, 'X')), 'wrong secret'],
  ['an unknown token', 'GET', () => tokenOf('anna!nope'), 'wrong secret'],
  ['an expired token', 'GET', () => tokenOf('anna!gone'), 'expired'],
  ["a disabled user's token", 'GET', () => tokenOf('off!ci'), 'disabled'],
  ['a malformed Authorization header', 'GET', () => ({ authorization: 'Basic YWRtaW46eA==' }), 'malformed'],
  ['a token with a short secret', 'GET', () => tokenOf('anna!ci', 'abc'), 'malformed'],
];
for (const [name, method, headers, why] of refused) {
  A(`should refuse ${name} with 401`, () => assert.match(rejection(() => authenticate(req(method, headers()))), why));
}
A.run();

const C = suite('parseCookies');
C('should read the first of repeated cookies and survive bad escapes', () => {
  assert.equal(parseCookies('a=1; RamvmAuth=x%3Ay; a=2; b=%E0%A4%A'), { a: '1', RamvmAuth: 'x:y', b: '%E0%A4%A' });
  assert.equal(parseCookies(undefined), {});
});
C.run();
