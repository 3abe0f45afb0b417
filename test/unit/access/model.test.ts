import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import {
  aclAffecting, applyAclDelete, applyAclSet, applyGroupCreate, applyGroupDelete, applyGroupUpdate, applyTokenCreate,
  applyTokenDelete, applyUserCreate, applyUserDelete, applyUserUpdate, checkedAclPath, parseAclChange, parseGroupCreate,
  parseAuditQuery, parseGroupUpdate, parseLogin, parsePasswordChange, parseTokenCreate, parseUserCreate, parseUserUpdate, tokenViews, userView,
  TOKENS_PER_USER_MAX,
} from '../../../node-cgi/access/model';
import type { AccessConfig } from '../../../node-cgi/access/store';

const NOW = 1_800_000_000;

/** The HttpError `fn` throws, or a failed assertion. */
function thrown(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, HttpError);
    return e as HttpError;
  }
  assert.unreachable('should have thrown');
  throw new Error('unreachable');
}

function config(): AccessConfig {
  return {
    users: {
      users: {
        admin: { enabled: true, expire: 0, groups: [], password: 'scrypt$admin' },
        anna: { enabled: true, expire: 0, groups: ['staff'], password: 'scrypt$anna', email: 'anna@example.com' },
      },
    },
    groups: { groups: { staff: { comment: 'office' }, ops: {} } },
    acl: {
      acl: [
        { path: '/', user: 'admin', role: 'Administrator', propagate: true },
        { path: '/vms/101', user: 'anna', role: 'VMUser', propagate: true },
        { path: '/vms', group: 'staff', role: 'VMAuditor', propagate: true },
        { path: '/vms/101', token: 'anna!ci', role: 'VMAuditor', propagate: true },
      ],
    },
    tokens: { tokens: { 'anna!ci': { hash: 'aa', expire: 0, privsep: true }, 'admin!x': { hash: 'bb', expire: 0, privsep: false } } },
  };
}

const AP = suite('checkedAclPath');
for (const good of ['/', '/vms', '/vms/101', '/vms/999999999', '/iso', '/storage', '/storage/local', '/nodes', '/nodes/pve1', '/access']) {
  AP(`should accept ${good}`, () => assert.is(checkedAclPath(good), good));
}
const badPaths: [unknown, string][] = [
  ['', 'empty'],
  ['vms', 'not absolute'],
  ['/vms/', 'trailing slash'],
  ['//vms', 'empty segment'],
  ['/vms/99', 'vmid below 100'],
  ['/vms/0101', 'leading zero: would alias /vms/101'],
  ['/vms/abc', 'vmid not a number'],
  ['/vms/101/disk', 'too deep'],
  ['/iso/x.iso', 'no per-image paths'],
  ['/access/users', 'no paths below /access'],
  ['/storage/..', 'dot-dot'],
  ['/storage/-x', 'leading dash'],
  ['/nodes/a_b', 'not a host name'],
  ['/secrets', 'unknown top level'],
  [42, 'not a string'],
];
for (const [bad, why] of badPaths) {
  AP(`should refuse ${JSON.stringify(bad)} (${why})`, () => assert.is(thrown(() => checkedAclPath(bad)).status, 400));
}
AP.run();

const PU = suite('parseUserCreate');
PU('should fill defaults for the contract body', () => {
  assert.equal(parseUserCreate({ username: 'anna', password: 'long-enough' }, NOW), {
    username: 'anna', password: 'long-enough', groups: [], enabled: true, expire: 0,
  });
});
PU('should keep optional fields and sort unique groups', () => {
  const u = parseUserCreate({ username: 'a.b@c', password: 'xxxxxxxx', groups: ['b', 'a', 'b'], email: 'a@b.c', fullname: 'Anna B', expire: NOW + 60, enabled: false }, NOW);
  assert.equal(u, { username: 'a.b@c', password: 'xxxxxxxx', groups: ['a', 'b'], enabled: false, expire: NOW + 60, email: 'a@b.c', fullname: 'Anna B' });
});
const badUsers: [Record<string, unknown>, string, string][] = [
  [{ password: 'xxxxxxxx' }, 'username', 'no user name'],
  [{ username: '', password: 'xxxxxxxx' }, 'username', 'empty user name'],
  [{ username: '../etc', password: 'xxxxxxxx' }, 'username', 'path in the name'],
  [{ username: '-rf', password: 'xxxxxxxx' }, 'username', 'leading dash'],
  [{ username: 'anna!ci', password: 'xxxxxxxx' }, 'username', '"!" separates token ids'],
  [{ username: 'a'.repeat(65), password: 'xxxxxxxx' }, 'username', 'longer than 64'],
  [{ username: 'anna' }, 'password', 'no password'],
  [{ username: 'anna', password: 'short' }, 'password', 'under 8 characters'],
  [{ username: 'anna', password: 12345678 }, 'password', 'password not a string'],
  [{ username: 'anna', password: 'xxxxxxxx', groups: 'staff' }, 'groups', 'groups not an array'],
  [{ username: 'anna', password: 'xxxxxxxx', groups: ['../x'] }, 'groups[0]', 'bad group name'],
  [{ username: 'anna', password: 'xxxxxxxx', email: 'not-an-address' }, 'email', 'email without @'],
  [{ username: 'anna', password: 'xxxxxxxx', fullname: 'a\nb' }, 'fullname', 'newline in the full name'],
  [{ username: 'anna', password: 'xxxxxxxx', expire: NOW - 1 }, 'expire', 'expiry in the past'],
  [{ username: 'anna', password: 'xxxxxxxx', expire: '2030-01-01' }, 'expire', 'expiry not Unix seconds'],
  [{ username: 'anna', password: 'xxxxxxxx', enabled: 'yes' }, 'enabled', 'enabled not a boolean'],
  [{ username: 'anna', password: 'xxxxxxxx', pasword: 'typo' }, 'pasword', 'unknown field'],
];
for (const [body, field, why] of badUsers) {
  PU(`should refuse ${why}`, () => {
    const e = thrown(() => parseUserCreate(body, NOW));
    assert.is(e.status, 400);
    assert.ok(e.message.startsWith(field), e.message);
  });
}
PU.run();

const AU = suite('applyUserCreate');
AU('should add the user with its hash and void older tickets', () => {
  const d = config();
  applyUserCreate(d, parseUserCreate({ username: 'bob', password: 'xxxxxxxx', groups: ['ops'] }, NOW), 'scrypt$bob', NOW);
  assert.equal(d.users.users.bob, { enabled: true, expire: 0, groups: ['ops'], password: 'scrypt$bob', ticketsSince: NOW });
});
AU('should refuse a duplicate with 409', () => {
  assert.is(thrown(() => applyUserCreate(config(), parseUserCreate({ username: 'anna', password: 'xxxxxxxx' }, NOW), 'h', NOW)).status, 409);
});
AU('should refuse an unknown group with 400 naming it', () => {
  const e = thrown(() => applyUserCreate(config(), parseUserCreate({ username: 'bob', password: 'xxxxxxxx', groups: ['nope'] }, NOW), 'h', NOW));
  assert.is(e.status, 400);
  assert.match(e.message, 'nope');
});
AU.run();

const UU = suite('applyUserUpdate');
UU('should refuse an empty change', () => assert.is(thrown(() => parseUserUpdate({}, NOW)).status, 400));
UU('should refuse fields that cannot change', () => assert.is(thrown(() => parseUserUpdate({ username: 'x' }, NOW)).status, 400));
UU('should answer 404 for an unknown user', () => {
  assert.is(thrown(() => applyUserUpdate(config(), 'nobody', { enabled: false }, undefined, NOW)).status, 404);
});
UU('should change only the fields given and remove a field set to ""', () => {
  const d = config();
  applyUserUpdate(d, 'anna', parseUserUpdate({ enabled: false, email: '', fullname: 'Anna' }, NOW), undefined, NOW);
  assert.equal(d.users.users.anna, { enabled: false, expire: 0, groups: ['staff'], password: 'scrypt$anna', fullname: 'Anna' });
});
UU('should reset the password and void older tickets', () => {
  const d = config();
  applyUserUpdate(d, 'anna', parseUserUpdate({ password: 'new-password' }, NOW), 'scrypt$new', NOW);
  assert.is(d.users.users.anna!.password, 'scrypt$new');
  assert.is(d.users.users.anna!.ticketsSince, NOW);
});
UU.run();

const UD = suite('applyUserDelete');
UD('should remove the user, their ACL entries and tokens, and leave the rest', () => {
  const d = config();
  applyUserDelete(d, 'anna');
  assert.equal(Object.keys(d.users.users), ['admin']);
  assert.equal(Object.keys(d.tokens.tokens), ['admin!x']);
  assert.equal(d.acl.acl.map((e) => e.user ?? e.group ?? e.token), ['admin', 'staff']);
});
UD('should answer 404 for an unknown user', () => assert.is(thrown(() => applyUserDelete(config(), 'nobody')).status, 404));
UD.run();

const UV = suite('userView');
UV('should never show the password hash', () => {
  const v = userView(config(), 'anna');
  assert.equal(v, { username: 'anna', fullname: '', email: 'anna@example.com', comment: '', enabled: true, expire: 0, groups: ['staff'], tokens: 1 });
  assert.not.match(JSON.stringify(v), 'scrypt');
});
UV.run();

const G = suite('groups');
G('should refuse a bad group name, an unknown field and an empty change', () => {
  assert.is(thrown(() => parseGroupCreate({ group: 'a/b' })).status, 400);
  assert.is(thrown(() => parseGroupCreate({ group: 'a', owner: 'x' })).status, 400);
  assert.is(thrown(() => parseGroupUpdate({})).status, 400);
});
G('should create a group with members, and refuse a duplicate', () => {
  const d = config();
  applyGroupCreate(d, parseGroupCreate({ group: 'wheel', members: ['admin'] }));
  assert.equal(d.users.users.admin!.groups, ['wheel']);
  assert.is(thrown(() => applyGroupCreate(d, parseGroupCreate({ group: 'wheel' }))).status, 409);
});
G('should refuse unknown members with 400', () => {
  assert.is(thrown(() => applyGroupCreate(config(), parseGroupCreate({ group: 'x', members: ['ghost'] }))).status, 400);
});
G('should replace the member list', () => {
  const d = config();
  applyGroupUpdate(d, 'staff', parseGroupUpdate({ members: ['admin'] }));
  assert.equal(d.users.users.admin!.groups, ['staff']);
  assert.equal(d.users.users.anna!.groups, []);
});
G('should delete a group with its ACL entries and memberships', () => {
  const d = config();
  applyGroupDelete(d, 'staff');
  assert.equal(Object.keys(d.groups.groups), ['ops']);
  assert.equal(d.users.users.anna!.groups, []);
  assert.not.ok(d.acl.acl.some((e) => e.group === 'staff'));
});
G('should answer 404 for an unknown group', () => {
  assert.is(thrown(() => applyGroupDelete(config(), 'nope')).status, 404);
  assert.is(thrown(() => applyGroupUpdate(config(), 'nope', { comment: 'x' })).status, 404);
});
G.run();

const AC = suite('parseAclChange');
AC('should parse the contract body with propagate defaulting to true', () => {
  assert.equal(parseAclChange({ path: '/vms/101', user: 'anna', role: 'VMUser' }), {
    path: '/vms/101', principal: { user: 'anna' }, propagate: true, role: 'VMUser',
  });
});
AC('should let a delete leave the role out', () => {
  assert.equal(parseAclChange({ path: '/', group: 'staff' }, true), { path: '/', principal: { group: 'staff' }, propagate: true });
});
const badAcl: [Record<string, unknown>, string][] = [
  [{ user: 'anna', role: 'VMUser' }, 'no path'],
  [{ path: '/vms/101', role: 'VMUser' }, 'nobody named'],
  [{ path: '/vms/101', user: 'anna', group: 'staff', role: 'VMUser' }, 'user and group at once'],
  [{ path: '/vms/101', user: 'anna' }, 'no role to set'],
  [{ path: '/vms/101', user: 'anna', role: 'Root' }, 'unknown role'],
  [{ path: '/vms/101', user: 'anna', role: 'VMUser', propagate: 'no' }, 'propagate not a boolean'],
  [{ path: '/vms/101', token: 'anna', role: 'VMUser' }, 'token without "!"'],
  [{ path: '/vms/101', user: 'x/y', role: 'VMUser' }, 'bad user name'],
  [{ path: '/vms/101', user: 'anna', role: 'VMUser', roles: ['x'] }, 'unknown field'],
];
for (const [body, why] of badAcl) AC(`should refuse ${why}`, () => assert.is(thrown(() => parseAclChange(body)).status, 400));
AC.run();

const AS = suite('applyAclSet');
AS('should replace the role of an existing (path, principal) entry', () => {
  const d = config();
  applyAclSet(d, parseAclChange({ path: '/vms/101', user: 'anna', role: 'VMAdmin', propagate: false }));
  assert.equal(d.acl.acl.filter((e) => e.user === 'anna'), [{ path: '/vms/101', user: 'anna', role: 'VMAdmin', propagate: false }]);
});
AS('should add a new entry for a group and a token', () => {
  const d = config();
  applyAclSet(d, parseAclChange({ path: '/iso', group: 'ops', role: 'Auditor' }));
  applyAclSet(d, parseAclChange({ path: '/iso', token: 'admin!x', role: 'Auditor' }));
  assert.is(d.acl.acl.length, 6);
});
AS('should refuse unknown principals with 400', () => {
  for (const body of [{ user: 'ghost' }, { group: 'ghosts' }, { token: 'anna!nope' }]) {
    assert.is(thrown(() => applyAclSet(config(), parseAclChange({ path: '/', role: 'VMUser', ...body }))).status, 400);
  }
});
AS.run();

const AD = suite('applyAclDelete');
AD('should remove the entry and return it', () => {
  const d = config();
  const gone = applyAclDelete(d, parseAclChange({ path: '/vms/101', user: 'anna' }, true));
  assert.equal(gone.map((e) => e.role), ['VMUser']);
  assert.is(d.acl.acl.length, 3);
});
AD('should answer 404 when no entry matches (or the role differs)', () => {
  assert.is(thrown(() => applyAclDelete(config(), parseAclChange({ path: '/vms/102', user: 'anna' }, true))).status, 404);
  assert.is(thrown(() => applyAclDelete(config(), parseAclChange({ path: '/vms/101', user: 'anna', role: 'VMAdmin' }, true))).status, 404);
});
AD.run();

const AA = suite('aclAffecting');
AA("should list a guest's own entries and the propagating ones above it", () => {
  const acl = [...config().acl.acl, { path: '/vms', user: 'bob', role: 'VMUser' as const, propagate: false }, { path: '/vms/102', user: 'bob', role: 'VMUser' as const }];
  assert.equal(aclAffecting(acl, '/vms/101').map((e) => [e.path, e.user ?? e.group ?? e.token, e.inherited]), [
    ['/', 'admin', true],
    ['/vms/101', 'anna', false],
    ['/vms', 'staff', true],
    ['/vms/101', 'anna!ci', false],
  ]);
});
AA.run();

const T = suite('tokens');
T('should default to no expiry and no privilege separation', () => {
  assert.equal(parseTokenCreate({ tokenid: 'ci' }, NOW), { tokenid: 'ci', expire: 0, privsep: false });
});
const badTokens: [Record<string, unknown>, string][] = [
  [{}, 'no tokenid'],
  [{ tokenid: 'a!b' }, '"!" in the id'],
  [{ tokenid: 'a=b' }, '"=" in the id'],
  [{ tokenid: 'ci', expire: NOW }, 'expiry now'],
  [{ tokenid: 'ci', privsep: 1 }, 'privsep not a boolean'],
  [{ tokenid: 'ci', secret: 'mine' }, 'a chosen secret'],
];
for (const [body, why] of badTokens) T(`should refuse ${why}`, () => assert.is(thrown(() => parseTokenCreate(body, NOW)).status, 400));
T('should store only the hash, refuse a duplicate and an unknown user', () => {
  const d = config();
  applyTokenCreate(d, 'anna', parseTokenCreate({ tokenid: 'cd', privsep: true, comment: 'deploy' }, NOW), 'cafe', NOW);
  assert.equal(d.tokens.tokens['anna!cd'], { hash: 'cafe', expire: 0, privsep: true, created: NOW, comment: 'deploy' });
  assert.is(thrown(() => applyTokenCreate(d, 'anna', parseTokenCreate({ tokenid: 'cd' }, NOW), 'x', NOW)).status, 409);
  assert.is(thrown(() => applyTokenCreate(d, 'ghost', parseTokenCreate({ tokenid: 'cd' }, NOW), 'x', NOW)).status, 404);
});
T(`should refuse more than ${TOKENS_PER_USER_MAX} tokens per user`, () => {
  const d = config();
  for (let i = 1; i < TOKENS_PER_USER_MAX; i++) applyTokenCreate(d, 'anna', parseTokenCreate({ tokenid: `t${i}` }, NOW), 'x', NOW);
  assert.is(thrown(() => applyTokenCreate(d, 'anna', parseTokenCreate({ tokenid: 'one-more' }, NOW), 'x', NOW)).status, 409);
});
T('should delete a token with its ACL entries', () => {
  const d = config();
  applyTokenDelete(d, 'anna', 'ci');
  assert.not.ok(d.tokens.tokens['anna!ci']);
  assert.not.ok(d.acl.acl.some((e) => e.token === 'anna!ci'));
  assert.is(thrown(() => applyTokenDelete(d, 'anna', 'ci')).status, 404);
});
T('should list a user\'s tokens without hashes, marking expired ones', () => {
  const d = config();
  d.tokens.tokens['anna!old'] = { hash: 'cc', expire: NOW - 1, privsep: false };
  const v = tokenViews(d, 'anna', NOW);
  assert.equal(v.map((t) => [t.id, t.tokenid, t.expired]), [['anna!ci', 'ci', false], ['anna!old', 'old', true]]);
  assert.not.match(JSON.stringify(v), 'hash');
});
T.run();

const LG = suite('parseLogin');
LG('should take a login, and a body without a password as a renewal', () => {
  assert.equal(parseLogin({ username: 'anna', password: 's3cret-pw' }), { renew: false, username: 'anna', password: 's3cret-pw' });
  assert.equal(parseLogin({}), { renew: true });
});
// [body, reason]
const BAD_LOGINS: [Record<string, unknown>, string][] = [
  [{ username: 1, password: 'x' }, 'a number for a name'],
  [{ username: 'anna', password: 12345678 }, 'a number for a password'],
  [{ username: 'a'.repeat(65), password: 'x' }, 'a name longer than any user has'],
];
for (const [body, why] of BAD_LOGINS) {
  LG(`should refuse ${why}`, () => {
    const e = thrown(() => parseLogin(body));
    assert.is(e.status, 400);
    assert.match(e.message, 'username and password must be strings');
  });
}
LG.run();

const PW = suite('parsePasswordChange');
PW('should take the old and the new password', () => {
  assert.equal(parsePasswordChange({ oldpassword: 'old', password: 'new-password' }), { oldpassword: 'old', password: 'new-password' });
});
// [body, field, reason]
const BAD_CHANGES: [Record<string, unknown>, string, string][] = [
  [{ password: 'new-password' }, 'oldpassword', 'the old one proves it is the user'],
  [{ oldpassword: 'old', password: 'short' }, 'password', 'the new one is too short'],
  [{ oldpassword: 'old', password: 'new-password', username: 'bob' }, 'username', 'only one\'s own password'],
];
for (const [body, field, why] of BAD_CHANGES) {
  PW(`should refuse: ${why}`, () => assert.match(thrown(() => parsePasswordChange(body)).message, new RegExp(`^${field}: `)));
}
PW.run();

const AQ = suite('parseAuditQuery');
AQ('should read 100 entries unless told, at most 1000', () => {
  assert.equal(parseAuditQuery(new URLSearchParams('')), { limit: 100 });
  assert.equal(parseAuditQuery(new URLSearchParams('limit=5000&user=anna&action=acl')), { limit: 1000, user: 'anna', action: 'acl' });
});
// [query, reason]
const BAD_LIMITS: [string, string][] = [['limit=0', 'nothing'], ['limit=-1', 'negative'], ['limit=ten', 'a word'], ['limit=1e3', 'exponent notation']];
for (const [q, why] of BAD_LIMITS) {
  AQ(`should refuse ${q}: ${why}`, () => assert.match(thrown(() => parseAuditQuery(new URLSearchParams(q))).message, /^limit: must be a positive integer$/));
}
AQ.run();
