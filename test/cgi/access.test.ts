/**
 * dist/cgi/access.cgi run as lighttpd runs it, with a table of bad inputs
 * for every endpoint: each gets its status and error code, and none of them
 * changes a byte under etc/ramvm.
 */
import { suite } from '../helpers/suite';
import { configTree } from '../helpers/config-tree';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_PASSWORD, cgiLogin, cgiRoot, runCgi, type CgiCall } from './run-cgi';

const root = cgiRoot('ramvm-cgi-access-');
const NOW = Math.floor(Date.now() / 1000);
const TICKET_LIFETIME_S = 2 * 60 * 60;

type Who = 'anon' | 'admin' | 'anna' | 'adminNoCsrf' | 'annaCsrfForAdmin' | 'forged' | 'expired' | 'token' | 'badSecret' | 'expiredToken' | 'annaToken';
const auth: Record<Who, Record<string, string>> = {} as never;

/** A ticket signed with the node's key, as ticket.ts does: "RAMVM:user:HEX::base64url(HMAC)". */
function ticketAt(username: string, atS: number): string {
  const key = Buffer.from(readFileSync(join(root, 'etc/ramvm/priv/authkey'), 'utf8').trim(), 'hex');
  const plain = `RAMVM:${username}:${atS.toString(16).toUpperCase()}`;
  return `${plain}::${createHmac('sha256', key).update(plain).digest('base64url')}`;
}

async function call(who: Who, c: Omit<CgiCall, 'root'>) {
  return runCgi('access', { ...c, root, headers: { ...auth[who], ...c.headers } });
}

const S = suite('access.cgi');

S.before(async () => {
  const admin = await cgiLogin(root, 'admin', ADMIN_PASSWORD);
  const adminH = { cookie: admin.cookie, 'x-ramvm-csrf': admin.csrf };
  const ok = async (c: Omit<CgiCall, 'root'>) => {
    const r = await runCgi('access', { ...c, root, headers: { ...adminH, ...c.headers } });
    assert.ok(r.status < 300, `${c.method} ${c.path}: ${r.status} ${r.text}`);
    return r;
  };
  await ok({ method: 'POST', path: '/groups', json: { group: 'staff' } });
  await ok({ method: 'POST', path: '/users', json: { username: 'anna', password: 'anna-password', groups: ['staff'] } });
  await ok({ method: 'PUT', path: '/acl', json: { path: '/vms/101', user: 'anna', role: 'VMUser' } });
  const token = (await ok({ method: 'POST', path: '/tokens', json: { tokenid: 'ci', privsep: true } })).json.data;
  const soon = (await ok({ method: 'POST', path: '/tokens', json: { tokenid: 'soon', expire: NOW + 3600 } })).json.data;
  const anna = await cgiLogin(root, 'anna', 'anna-password');
  const annaH = { cookie: anna.cookie, 'x-ramvm-csrf': anna.csrf };
  const annaToken = (await runCgi('access', { root, method: 'POST', path: '/tokens', headers: annaH, json: { tokenid: 'mine' } })).json.data;
  // Let the second token lapse: tokens.json is plain JSON, edited here before any request races it.
  const tf = join(root, 'etc/ramvm/tokens.json');
  const tokens = JSON.parse(readFileSync(tf, 'utf8'));
  tokens.tokens['admin!soon'].expire = NOW - 1;
  writeFileSync(tf, JSON.stringify(tokens));

  Object.assign(auth, {
    anon: {},
    admin: adminH,
    anna: annaH,
    adminNoCsrf: { cookie: admin.cookie },
    annaCsrfForAdmin: { cookie: admin.cookie, 'x-ramvm-csrf': anna.csrf },
    forged: { cookie: admin.cookie.replace(/%3A%3A.*/, '%3A%3AAAAAAAAAAAAAAAAAAAAAAA'), 'x-ramvm-csrf': admin.csrf },
    expired: { cookie: `RamvmAuth=${encodeURIComponent(ticketAt('admin', NOW - TICKET_LIFETIME_S - 5))}`, 'x-ramvm-csrf': admin.csrf },
    token: { authorization: `RamvmToken admin!ci=${token.secret}` },
    badSecret: { authorization: `RamvmToken admin!ci=${token.secret.slice(0, -2)}xx` },
    expiredToken: { authorization: `RamvmToken admin!soon=${soon.secret}` },
    annaToken: { authorization: `RamvmToken anna!mine=${annaToken.secret}` },
  } satisfies Record<Who, Record<string, string>>);
});

S.after(() => rmSync(root, { recursive: true, force: true }));

type Case = [reason: string, who: Who, call: Omit<CgiCall, 'root'>, status: number, code: string];
const BAD = '{"username": "x",';
const cases: Case[] = [
  // login
  ['login: malformed JSON', 'anon', { method: 'POST', path: '/ticket', body: BAD, headers: { 'content-type': 'application/json' } }, 400, 'bad_request'],
  ['login: body not an object', 'anon', { method: 'POST', path: '/ticket', json: ['admin'] }, 400, 'bad_request'],
  ['login: not JSON', 'anon', { method: 'POST', path: '/ticket', body: 'username=admin', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported_media_type'],
  ['login: user name not a string', 'anon', { method: 'POST', path: '/ticket', json: { username: 1, password: 'x' } }, 400, 'bad_request'],
  ['login: no password and no ticket', 'anon', { method: 'POST', path: '/ticket', json: { username: 'admin' } }, 400, 'bad_request'],
  ['login: wrong password', 'anon', { method: 'POST', path: '/ticket', json: { username: 'admin', password: 'wrong-password' } }, 401, 'unauthenticated'],
  ['login: unknown user', 'anon', { method: 'POST', path: '/ticket', json: { username: 'ghost', password: 'whatever1' }, remoteAddr: '192.0.2.9' }, 401, 'unauthenticated'],
  ['renewal: without CSRF header', 'adminNoCsrf', { method: 'POST', path: '/ticket', json: {} }, 401, 'unauthenticated'],
  ['renewal: forged ticket', 'forged', { method: 'POST', path: '/ticket', json: {} }, 401, 'unauthenticated'],
  ['renewal: expired ticket', 'expired', { method: 'POST', path: '/ticket', json: {} }, 401, 'unauthenticated'],
  // authentication on any route
  ['me: no credentials', 'anon', { path: '/me' }, 401, 'unauthenticated'],
  ['me: forged ticket', 'forged', { path: '/me' }, 401, 'unauthenticated'],
  ['me: expired ticket', 'expired', { path: '/me' }, 401, 'unauthenticated'],
  ['me: token with a wrong secret', 'badSecret', { path: '/me' }, 401, 'unauthenticated'],
  ['me: expired token', 'expiredToken', { path: '/me' }, 401, 'unauthenticated'],
  ['me: malformed Authorization', 'anon', { path: '/me', headers: { authorization: 'Bearer abc' } }, 401, 'unauthenticated'],
  ['me: wrong method', 'admin', { method: 'POST', path: '/me', json: {} }, 405, 'method_not_allowed'],
  ['unknown path', 'admin', { path: '/nothing' }, 404, 'not_found'],
  // permissions
  ['permissions: bad path', 'admin', { path: '/permissions', query: 'path=/vms/abc' }, 400, 'invalid'],
  ["permissions: another user's without Sys.Audit", 'anna', { path: '/permissions', query: 'user=admin' }, 403, 'forbidden'],
  ['permissions: unknown user', 'admin', { path: '/permissions', query: 'user=ghost' }, 404, 'not_found'],
  // users
  ['users: list without credentials', 'anon', { path: '/users' }, 401, 'unauthenticated'],
  ['create user: malformed JSON', 'admin', { method: 'POST', path: '/users', body: BAD, headers: { 'content-type': 'application/json' } }, 400, 'bad_request'],
  ['create user: bad name', 'admin', { method: 'POST', path: '/users', json: { username: '../root', password: 'long-enough' } }, 400, 'invalid'],
  ['create user: short password', 'admin', { method: 'POST', path: '/users', json: { username: 'bob', password: 'short' } }, 400, 'invalid'],
  ['create user: unknown group', 'admin', { method: 'POST', path: '/users', json: { username: 'bob', password: 'long-enough', groups: ['nope'] } }, 400, 'invalid'],
  ['create user: unknown field', 'admin', { method: 'POST', path: '/users', json: { username: 'bob', password: 'long-enough', role: 'Administrator' } }, 400, 'invalid'],
  ['create user: duplicate', 'admin', { method: 'POST', path: '/users', json: { username: 'anna', password: 'long-enough' } }, 409, 'conflict'],
  ['create user: missing CSRF header', 'adminNoCsrf', { method: 'POST', path: '/users', json: { username: 'bob', password: 'long-enough' } }, 401, 'unauthenticated'],
  ["create user: another user's CSRF header", 'annaCsrfForAdmin', { method: 'POST', path: '/users', json: { username: 'bob', password: 'long-enough' } }, 401, 'unauthenticated'],
  ['create user: without User.Modify', 'anna', { method: 'POST', path: '/users', json: { username: 'bob', password: 'long-enough' } }, 403, 'forbidden'],
  ['create user: privsep token without entries', 'token', { method: 'POST', path: '/users', json: { username: 'bob', password: 'long-enough' } }, 403, 'forbidden'],
  ['create user: body over 1 MiB', 'admin', { method: 'POST', path: '/users', json: { username: 'bob', password: 'x'.repeat(1024 * 1024 + 1) } }, 413, 'too_large'],
  ['get user: unknown', 'admin', { path: '/users/ghost' }, 404, 'not_found'],
  ['get user: bad name', 'admin', { path: '/users/..' }, 400, 'invalid'],
  ['get user: another without Sys.Audit', 'anna', { path: '/users/admin' }, 403, 'forbidden'],
  ['update user: unknown', 'admin', { method: 'PUT', path: '/users/ghost', json: { enabled: false } }, 404, 'not_found'],
  ['update user: nothing to change', 'admin', { method: 'PUT', path: '/users/anna', json: {} }, 400, 'bad_request'],
  ['update user: the name cannot change', 'admin', { method: 'PUT', path: '/users/anna', json: { username: 'anne' } }, 400, 'invalid'],
  ['update user: expiry in the past', 'admin', { method: 'PUT', path: '/users/anna', json: { expire: NOW - 10 } }, 400, 'invalid'],
  ['update user: malformed JSON', 'admin', { method: 'PUT', path: '/users/anna', body: BAD, headers: { 'content-type': 'application/json' } }, 400, 'bad_request'],
  ['update user: without User.Modify', 'anna', { method: 'PUT', path: '/users/anna', json: { groups: [] } }, 403, 'forbidden'],
  ['update user: disabling the last admin', 'admin', { method: 'PUT', path: '/users/admin', json: { enabled: false } }, 409, 'conflict'],
  ['update user: an expiry for the last admin', 'admin', { method: 'PUT', path: '/users/admin', json: { expire: NOW + 86400 } }, 409, 'conflict'],
  ['delete user: unknown', 'admin', { method: 'DELETE', path: '/users/ghost' }, 404, 'not_found'],
  ['delete user: bad name', 'admin', { method: 'DELETE', path: '/users/-rf' }, 400, 'invalid'],
  ['delete user: the last admin', 'admin', { method: 'DELETE', path: '/users/admin' }, 409, 'conflict'],
  ['delete user: missing CSRF header', 'adminNoCsrf', { method: 'DELETE', path: '/users/anna' }, 401, 'unauthenticated'],
  ['delete user: without User.Modify', 'anna', { method: 'DELETE', path: '/users/anna' }, 403, 'forbidden'],
  // own password
  ['password: no old password', 'anna', { method: 'PUT', path: '/password', json: { password: 'new-password' } }, 400, 'invalid'],
  ['password: short new password', 'anna', { method: 'PUT', path: '/password', json: { oldpassword: 'anna-password', password: 'short' } }, 400, 'invalid'],
  ['password: wrong old password', 'anna', { method: 'PUT', path: '/password', json: { oldpassword: 'wrong-password', password: 'new-password' }, remoteAddr: '192.0.2.10' }, 403, 'forbidden'],
  ['password: with an API token', 'annaToken', { method: 'PUT', path: '/password', json: { oldpassword: 'anna-password', password: 'new-password' } }, 403, 'forbidden'],
  // groups
  ['groups: list without credentials', 'anon', { path: '/groups' }, 401, 'unauthenticated'],
  ['create group: bad name', 'admin', { method: 'POST', path: '/groups', json: { group: 'a/b' } }, 400, 'invalid'],
  ['create group: duplicate', 'admin', { method: 'POST', path: '/groups', json: { group: 'staff' } }, 409, 'conflict'],
  ['create group: unknown member', 'admin', { method: 'POST', path: '/groups', json: { group: 'ops', members: ['ghost'] } }, 400, 'invalid'],
  ['create group: without User.Modify', 'anna', { method: 'POST', path: '/groups', json: { group: 'ops' } }, 403, 'forbidden'],
  ['update group: unknown', 'admin', { method: 'PUT', path: '/groups/nope', json: { comment: 'x' } }, 404, 'not_found'],
  ['update group: nothing to change', 'admin', { method: 'PUT', path: '/groups/staff', json: {} }, 400, 'bad_request'],
  ['delete group: unknown', 'admin', { method: 'DELETE', path: '/groups/nope' }, 404, 'not_found'],
  ['delete group: bad name', 'admin', { method: 'DELETE', path: '/groups/.hidden' }, 400, 'invalid'],
  // ACL
  ['acl: list with a bad path', 'admin', { path: '/acl', query: 'path=/etc/passwd' }, 400, 'invalid'],
  ['set acl: bad path', 'admin', { method: 'PUT', path: '/acl', json: { path: '/vms/../', user: 'anna', role: 'VMUser' } }, 400, 'invalid'],
  ['set acl: unknown role', 'admin', { method: 'PUT', path: '/acl', json: { path: '/vms/101', user: 'anna', role: 'God' } }, 400, 'invalid'],
  ['set acl: unknown user', 'admin', { method: 'PUT', path: '/acl', json: { path: '/vms/101', user: 'ghost', role: 'VMUser' } }, 400, 'invalid'],
  ['set acl: user and group at once', 'admin', { method: 'PUT', path: '/acl', json: { path: '/vms/101', user: 'anna', group: 'staff', role: 'VMUser' } }, 400, 'bad_request'],
  ['set acl: malformed JSON', 'admin', { method: 'PUT', path: '/acl', body: BAD, headers: { 'content-type': 'application/json' } }, 400, 'bad_request'],
  ['set acl: without User.Modify on the guest', 'anna', { method: 'PUT', path: '/acl', json: { path: '/vms/101', user: 'anna', role: 'VMAdmin' } }, 403, 'forbidden'],
  ["set acl: a user's own token, with the token", 'annaToken', { method: 'PUT', path: '/acl', json: { path: '/', token: 'anna!mine', role: 'Administrator' } }, 403, 'forbidden'],
  ['delete acl: no such entry', 'admin', { method: 'DELETE', path: '/acl', json: { path: '/vms/102', user: 'anna' } }, 404, 'not_found'],
  ['delete acl: the last Administrator entry on /', 'admin', { method: 'DELETE', path: '/acl', json: { path: '/', user: 'admin' } }, 409, 'conflict'],
  ['delete acl: the same by query', 'admin', { method: 'DELETE', path: '/acl', query: 'path=/&user=admin' }, 409, 'conflict'],
  ['delete acl: without User.Modify', 'anna', { method: 'DELETE', path: '/acl', json: { path: '/vms/101', user: 'anna' } }, 403, 'forbidden'],
  ['set acl: demoting the last admin', 'admin', { method: 'PUT', path: '/acl', json: { path: '/', user: 'admin', role: 'VMAdmin' } }, 409, 'conflict'],
  // tokens
  ['tokens: of an unknown user', 'admin', { path: '/tokens', query: 'user=ghost' }, 404, 'not_found'],
  ["tokens: another user's without Sys.Audit", 'anna', { path: '/tokens', query: 'user=admin' }, 403, 'forbidden'],
  ['create token: bad id', 'admin', { method: 'POST', path: '/tokens', json: { tokenid: 'a!b' } }, 400, 'invalid'],
  ['create token: duplicate', 'admin', { method: 'POST', path: '/tokens', json: { tokenid: 'ci' } }, 409, 'conflict'],
  ['create token: expiry in the past', 'admin', { method: 'POST', path: '/tokens', json: { tokenid: 'x', expire: 1000 } }, 400, 'invalid'],
  ['create token: for another user without User.Modify', 'anna', { method: 'POST', path: '/tokens', json: { tokenid: 'x', user: 'admin' } }, 403, 'forbidden'],
  ['create token: with a token', 'annaToken', { method: 'POST', path: '/tokens', json: { tokenid: 'x' } }, 403, 'forbidden'],
  ['create token: for an unknown user', 'admin', { method: 'POST', path: '/tokens', json: { tokenid: 'x', user: 'ghost' } }, 404, 'not_found'],
  ['delete token: unknown', 'admin', { method: 'DELETE', path: '/tokens/nope' }, 404, 'not_found'],
  ['delete token: bad id', 'admin', { method: 'DELETE', path: '/tokens/.x' }, 400, 'invalid'],
  ["delete token: another user's without User.Modify", 'anna', { method: 'DELETE', path: '/tokens/ci', query: 'user=admin' }, 403, 'forbidden'],
  // audit
  ['audit: without Sys.Audit', 'anna', { path: '/audit' }, 403, 'forbidden'],
  ['audit: limit not a number', 'admin', { path: '/audit', query: 'limit=abc' }, 400, 'invalid'],
  ['audit: limit 0', 'admin', { path: '/audit', query: 'limit=0' }, 400, 'invalid'],
];

S('should refuse every bad input with its status and code, and write nothing', async () => {
  const before = configTree(root);
  const wrong: string[] = [];
  for (const [reason, who, c, status, code] of cases) {
    const r = await call(who, { method: 'GET', ...c });
    if (r.status !== status || r.json?.error?.code !== code || typeof r.json?.error?.message !== 'string') {
      wrong.push(`${reason}: want ${status} ${code}, got ${r.status} ${r.text.slice(0, 200)}`);
    }
    if (/\bat [\w.]+ \(/.test(r.text)) wrong.push(`${reason}: a stack trace reached the client`);
  }
  assert.equal(wrong, []);
  assert.equal(configTree(root), before, 'nothing under etc/ramvm changed');
});

S('should log the failed logins in the audit log', async () => {
  const r = await call('admin', { path: '/audit', query: 'action=login.failed' });
  assert.is(r.status, 200);
  const reasons = r.json.data.map((e: { user: string; detail: { reason: string } }) => `${e.user}: ${e.detail.reason}`);
  assert.ok(reasons.includes('admin: wrong password'), reasons.join(', '));
  assert.ok(reasons.includes('ghost: unknown user'), reasons.join(', '));
  assert.not.match(JSON.stringify(r.json.data), 'wrong-password', 'the password tried is not logged');
});

S('should answer a wrong method with the allowed ones', async () => {
  const r = await call('admin', { method: 'DELETE', path: '/users' });
  assert.is(r.status, 405);
  assert.is(r.headers.allow, 'GET, POST');
});

S.run();
