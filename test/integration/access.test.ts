/**
 * Access control through a real node (lighttpd running the built CGIs):
 * users, groups, per-guest grants, API tokens with privilege separation,
 * password changes that end old sessions, the audit log, 50 concurrent
 * changes, and login throttling.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { makeClient, startTestNode, type Client, type TestNode } from '../helpers/node';

let node: TestNode;
let admin: Client;
const S = suite('access through lighttpd');

S.before(async () => {
  node = await startTestNode({ node: 'accessnode' });
  admin = await node.login('admin', node.adminPassword);
});
S.after(async () => {
  await node?.stop();
});

async function must<T = any>(p: Promise<{ status: number; json: any; text: string }>, status = 200): Promise<T> {
  const r = await p;
  assert.is(r.status, status, r.text);
  return r.json?.data as T;
}

S('should let an admin grant anna VMUser on one guest, and anna hold exactly that', async () => {
  await must(admin.post('/api/access/users', { username: 'anna', password: 'anna-password', email: 'anna@example.com' }), 201);
  const entry = await must(admin.put('/api/access/acl', { path: '/vms/101', user: 'anna', role: 'VMUser' }));
  assert.equal(entry, { path: '/vms/101', user: 'anna', role: 'VMUser', propagate: true });

  const anna = await node.login('anna', 'anna-password');
  const me = await must(anna.get('/api/access/me'));
  assert.equal(me.privileges, ['VM.Audit', 'VM.PowerMgmt', 'VM.Console']);
  const perms = await must(anna.get('/api/access/permissions'));
  assert.equal(perms, { '/': [], '/vms/101': ['VM.Audit', 'VM.PowerMgmt', 'VM.Console'] });
  assert.equal(await must(anna.get('/api/access/permissions?path=/vms/102')), { '/vms/102': [] });

  // anna sees herself only, and of the guest's ACL only her own entry.
  assert.equal((await must<any[]>(anna.get('/api/access/users'))).map((u) => u.username), ['anna']);
  assert.equal((await must<any[]>(anna.get('/api/access/acl?path=/vms/101'))).map((e) => e.user), ['anna']);
  // The admin sees the guest's entries with the inherited one marked.
  const acl = await must<any[]>(admin.get('/api/access/acl?path=/vms/101'));
  assert.equal(acl.map((e) => [e.path, e.user, e.inherited]), [['/', 'admin', true], ['/vms/101', 'anna', false]]);
  // Granting more from the guest's page needs User.Modify.
  assert.is((await anna.put('/api/access/acl', { path: '/vms/101', user: 'anna', role: 'VMAdmin' })).status, 403);
});

S('should let a token act for its user without CSRF, show its secret once, and never create tokens', async () => {
  const anna = await node.login('anna', 'anna-password');
  const created = await must(anna.post('/api/access/tokens', { tokenid: 'cli', comment: 'laptop' }), 201);
  assert.is(created.tokenid, 'cli');
  assert.match(created.secret, /^[A-Za-z0-9_-]{43}$/);
  const listed = await must<any[]>(anna.get('/api/access/tokens'));
  assert.equal(listed.map((t) => [t.id, t.comment, t.privsep]), [['anna!cli', 'laptop', false]]);
  assert.not.match(JSON.stringify(listed), created.secret);
  assert.not.match(readFileSync(join(node.root, 'etc/ramvm/tokens.json'), 'utf8'), created.secret, 'only the hash is stored');

  const token = makeClient(node.url, { token: `anna!cli=${created.secret}` });
  const me = await must(token.get('/api/access/me'));
  assert.equal([me.username, me.tokenid], ['anna', 'cli']);
  assert.equal(await must(token.get('/api/access/permissions?path=/vms/101')), { '/vms/101': ['VM.Audit', 'VM.PowerMgmt', 'VM.Console'] });
  // A token may not mint another token (a separated one could widen itself that way).
  assert.is((await token.post('/api/access/tokens', { tokenid: 'more' })).status, 403);
  // The admin revokes it; it stops working at once.
  await must(admin.del('/api/access/tokens/cli?user=anna'), 204);
  assert.is((await token.get('/api/access/me')).status, 401);
});

S('should give a privilege-separated token only what both it and its user hold', async () => {
  const anna = await node.login('anna', 'anna-password');
  const { secret } = await must(anna.post('/api/access/tokens', { tokenid: 'ro', privsep: true }), 201);
  const token = makeClient(node.url, { token: `anna!ro=${secret}` });
  const at101 = async () => (await must(token.get('/api/access/permissions?path=/vms/101')))['/vms/101'];
  assert.equal(await at101(), [], 'nothing until granted');
  // anna grants her own token, with her login.
  await must(anna.put('/api/access/acl', { path: '/vms/101', token: 'anna!ro', role: 'VMAuditor' }));
  assert.equal(await at101(), ['VM.Audit']);
  // More than anna holds gives nothing more: the intersection.
  await must(anna.del('/api/access/acl', { path: '/vms/101', token: 'anna!ro' }), 204);
  await must(anna.put('/api/access/acl', { path: '/', token: 'anna!ro', role: 'Administrator' }));
  assert.equal(await at101(), ['VM.Audit', 'VM.PowerMgmt', 'VM.Console']);
  assert.equal((await must(token.get('/api/access/permissions?path=/access')))['/access'], []);
  assert.is((await token.get('/api/access/audit')).status, 403);
  // Granting someone else's token is an admin's business.
  assert.is((await anna.put('/api/access/acl', { path: '/', token: 'admin!x', role: 'VMUser' })).status, 403);
});

S('should end old sessions when a password changes, and keep the changer logged in', async () => {
  const anna = await node.login('anna', 'anna-password');
  const other = await node.login('anna', 'anna-password');
  assert.is((await anna.put('/api/access/password', { oldpassword: 'not-it-at-all', password: 'anna-new-password' })).status, 403);
  // Tickets carry whole seconds: let the change fall in a later second than the logins.
  await new Promise((r) => setTimeout(r, 1100));
  const fresh = await must(anna.put('/api/access/password', { oldpassword: 'anna-password', password: 'anna-new-password' }));
  assert.is((await other.get('/api/access/me')).status, 401, 'the other session ended');
  assert.is((await anna.get('/api/access/me')).status, 401, 'the old ticket of the changer too');
  const renewed = makeClient(node.url, { cookie: `RamvmAuth=${encodeURIComponent(fresh.ticket)}`, csrf: fresh.csrf });
  assert.is((await renewed.get('/api/access/me')).status, 200, 'the ticket of the answer works');
  assert.is((await node.anon().post('/api/access/ticket', { username: 'anna', password: 'anna-password' })).status, 401);
  await node.login('anna', 'anna-new-password');

  // An admin's reset ends anna's sessions the same way.
  await new Promise((r) => setTimeout(r, 1100));
  await must(admin.put('/api/access/users/anna', { password: 'anna-reset-pw' }));
  assert.is((await renewed.get('/api/access/me')).status, 401);
  await node.login('anna', 'anna-reset-pw');
});

S('should lock a disabled user out at once, tickets and tokens alike', async () => {
  const anna = await node.login('anna', 'anna-reset-pw');
  const { secret } = await must(anna.post('/api/access/tokens', { tokenid: 'ci' }), 201);
  const token = makeClient(node.url, { token: `anna!ci=${secret}` });
  const user = await must(admin.put('/api/access/users/anna', { enabled: false }));
  assert.is(user.enabled, false);
  assert.is((await anna.get('/api/access/me')).status, 401);
  assert.is((await token.get('/api/access/me')).status, 401);
  await must(admin.put('/api/access/users/anna', { enabled: true }));
  assert.is((await anna.get('/api/access/me')).status, 200);
});

S('should forget a deleted user wholly: a new user of the same name inherits nothing', async () => {
  await must(admin.del('/api/access/users/anna'), 204);
  assert.is((await admin.get('/api/access/users/anna')).status, 404);
  const acl = await must<any[]>(admin.get('/api/access/acl'));
  assert.equal(acl.filter((e) => e.user === 'anna' || e.token?.startsWith('anna!')), []);
  await must(admin.post('/api/access/users', { username: 'anna', password: 'anna-password' }), 201);
  assert.equal(await must(admin.get('/api/access/permissions?user=anna&path=/vms/101')), { '/vms/101': [] });
  assert.equal(await must(admin.get('/api/access/tokens?user=anna')), []);
});

S('should grant through groups and take it back when the group goes', async () => {
  await must(admin.post('/api/access/users', { username: 'bob', password: 'bob-password' }), 201);
  const group = await must(admin.post('/api/access/groups', { group: 'ops', comment: 'night shift', members: ['bob'] }), 201);
  assert.equal(group, { group: 'ops', comment: 'night shift', members: ['bob'] });
  await must(admin.put('/api/access/acl', { path: '/vms', group: 'ops', role: 'VMAuditor' }));
  const bob = await node.login('bob', 'bob-password');
  assert.equal(await must(bob.get('/api/access/permissions?path=/vms/555')), { '/vms/555': ['VM.Audit'] });
  assert.equal((await must<any[]>(bob.get('/api/access/groups'))).map((g) => g.group), ['ops']);
  await must(admin.del('/api/access/groups/ops'), 204);
  assert.equal(await must(bob.get('/api/access/permissions?path=/vms/555')), { '/vms/555': [] });
  assert.equal((await must(admin.get('/api/access/users/bob'))).groups, []);
});

S('should let a second admin take over, and then refuse to lose the last one', async () => {
  await must(admin.put('/api/access/acl', { path: '/', user: 'bob', role: 'Administrator' }));
  await must(admin.del('/api/access/acl', { path: '/', user: 'admin' }), 204);
  assert.is((await admin.get('/api/access/users')).status, 200, 'admin still sees himself');
  assert.is((await admin.post('/api/access/users', { username: 'carol', password: 'carol-password' })).status, 403);
  const bob = await node.login('bob', 'bob-password');
  const r = await bob.del('/api/access/users/bob');
  assert.is(r.status, 409);
  assert.match(r.json.error.message, 'Administrator');
  await must(bob.put('/api/access/acl', { path: '/', user: 'admin', role: 'Administrator' }));
  await must(admin.del('/api/access/acl', { path: '/', user: 'bob', role: 'Administrator' }), 204);
});

S('should list the roles and privileges with their meanings', async () => {
  const roles = await must<any[]>(admin.get('/api/access/roles'));
  const byName = Object.fromEntries(roles.map((r) => [r.role, r.privileges]));
  for (const name of ['Administrator', 'VMAdmin', 'VMUser', 'VMAuditor']) assert.ok(byName[name], name);
  assert.equal(byName.VMUser, ['VM.Audit', 'VM.PowerMgmt', 'VM.Console']);
  const privs = await must<any[]>(admin.get('/api/access/privileges'));
  assert.ok(privs.every((p) => typeof p.description === 'string' && p.description.length > 0));
});

S('should record logins, failures and changes in the audit log, without secrets', async () => {
  const events = await must<any[]>(admin.get('/api/access/audit?limit=1000'));
  const actions = new Set(events.map((e) => e.action));
  for (const a of ['login', 'login.failed', 'user.create', 'user.update', 'user.delete', 'user.password', 'group.create', 'group.delete', 'acl.set', 'acl.delete', 'token.create', 'token.delete']) {
    assert.ok(actions.has(a), `audit has ${a}`);
  }
  const text = JSON.stringify(events);
  for (const secret of ['anna-password', 'anna-new-password', 'anna-reset-pw', 'scrypt$']) assert.not.match(text, secret);
  const grant = events.find((e) => e.action === 'acl.set' && e.object === '/vms/101' && e.detail.user === 'anna');
  assert.equal([grant.user, grant.addr, grant.node, grant.ok], ['admin', '127.0.0.1', 'accessnode', true]);
  assert.is((await must<any[]>(admin.get('/api/access/audit?limit=2'))).length, 2);
});

const CONCURRENT = 50;
S(`should apply ${CONCURRENT} concurrent user creations and leave every file whole`, async () => {
  const names = Array.from({ length: CONCURRENT }, (_, i) => `load${String(i).padStart(2, '0')}`);
  const replies = await Promise.all(names.map((n) => admin.post('/api/access/users', { username: n, password: `${n}-password` })));
  assert.equal(replies.map((r) => r.status), Array(CONCURRENT).fill(201), replies.find((r) => r.status !== 201)?.text);
  const users = await must<any[]>(admin.get('/api/access/users'));
  assert.equal(users.map((u) => u.username).filter((n) => n.startsWith('load')), names);
  // Every file under etc/ramvm parses, and no temp file is left.
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
  const files = walk(join(node.root, 'etc/ramvm'));
  assert.equal(files.filter((f) => f.endsWith('.tmp')), []);
  for (const f of files.filter((f) => f.endsWith('.json'))) JSON.parse(readFileSync(f, 'utf8'));
  assert.equal(readdirSync(join(node.root, 'run/ramvm/lock')).filter((f) => f.endsWith('.lock')), [], 'every lock released');
  const creations = (await must<any[]>(admin.get('/api/access/audit?action=user.create&limit=1000'))).filter((e) => e.object.startsWith('load'));
  assert.is(creations.length, CONCURRENT, 'one audit line each');
});

/** A login from another loopback address (lighttpd sees it as REMOTE_ADDR). */
function loginFrom(localAddress: string, username: string, password: string): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ username, password });
  const url = new URL(`${node.url}/api/access/ticket`);
  return new Promise((res, rej) => {
    const r = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (resp) => {
        let text = '';
        resp.setEncoding('utf8');
        resp.on('data', (d: string) => (text += d));
        resp.on('end', () => res({ status: resp.statusCode ?? 0, body: text }));
      },
    );
    r.on('error', rej);
    r.end(body);
  });
}

/**
 * 5 wrong passwords start the wait (2 s, doubling); attempts during the wait
 * count as failures too. 5 more wrong ones, whatever their answer, make it
 * 64 s: longer than any slow machine takes for the next request.
 */
async function failTenTimes(from: string, username: (i: number) => string): Promise<void> {
  for (let i = 0; i < 5; i++) assert.is((await loginFrom(from, username(i), `guess-${i}-x`)).status, 401, `attempt ${i + 1}`);
  for (let i = 5; i < 10; i++) assert.ok([401, 429].includes((await loginFrom(from, username(i), `guess-${i}-x`)).status));
}

S('should throttle a user name after wrong passwords, from any address, even with the right one', async () => {
  await must(admin.post('/api/access/users', { username: 'dave', password: 'dave-password' }), 201);
  await failTenTimes('127.0.0.2', () => 'dave');
  const r = await loginFrom('127.0.0.3', 'dave', 'dave-password');
  assert.is(r.status, 429);
  assert.match(JSON.parse(r.body).error.message, /try again in \d+ s/);
  const events = await must<any[]>(admin.get('/api/access/audit?user=dave&action=login&limit=20'));
  assert.equal([events[0].action, events[0].addr], ['login.throttled', '127.0.0.3']);
  assert.ok(events.some((e) => e.action === 'login.failed' && e.detail.reason === 'wrong password'));
});

S('should throttle an address after wrong passwords, for any user name', async () => {
  await failTenTimes('127.0.0.4', (i) => `nobody${i}`);
  assert.is((await loginFrom('127.0.0.4', 'admin', node.adminPassword)).status, 429);
  assert.is((await loginFrom('127.0.0.5', 'admin', node.adminPassword)).status, 200, 'other addresses still log in');
});

S.run();
