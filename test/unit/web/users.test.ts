/**
 * The Users view, My account and the Permissions panel in happy-dom with a
 * fake fetch (the real node is in test/browser/users.test.ts), and their
 * pure parts as tables.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { aclBody, aclTarget, dateFromExpire, expireFromDate, principalOf, userBody, type UserForm, type UserView } from '../../../web/access/model';
import { auditFilter } from '../../../web/views/users/audit';
import { Permissions } from '../../../web/access/permissions';
import { ChangePassword, tokenHeader, Tokens } from '../../../web/access/account';
import { api } from '../../../web/api';
import UsersView from '../../../web/views/users';
import { click, fakeFetch, mount, settle, text, typeInto, unmount, useDom, type FakeAnswer } from './dom';

// ---- pure parts ----

const model = suite('access model');

const EXPIRE: Array<[string, number | null, string]> = [
  ['', 0, 'empty: never'],
  ['  ', 0, 'blank: never'],
  ['2026-12-31', Date.UTC(2026, 11, 31) / 1000 + 86_399, 'the last second of that day, UTC'],
  ['2024-02-29', Date.UTC(2024, 1, 29) / 1000 + 86_399, 'a leap day'],
  ['2025-02-29', null, 'no leap day in 2025'],
  ['2026-13-01', null, 'no month 13'],
  ['31.12.2026', null, 'not the date input format'],
  ['tomorrow', null, 'not a date'],
];
for (const [input, want, why] of EXPIRE) {
  model(`expireFromDate(${JSON.stringify(input)}) → ${want} (${why})`, () => {
    assert.is(expireFromDate(input), want);
  });
}

model('should show an expiry back as the date it was set from, and 0 as empty', () => {
  assert.is(dateFromExpire(0), '');
  assert.is(dateFromExpire(expireFromDate('2026-12-31')!), '2026-12-31');
});

model('should build ACL bodies and the entry a delete removes for users, groups and tokens', () => {
  assert.equal(aclBody({ path: ' /vms/101 ', kind: 'user', name: ' anna ', role: 'VMUser', propagate: true }), {
    path: '/vms/101', user: 'anna', role: 'VMUser', propagate: true,
  });
  assert.equal(aclBody({ path: '/', kind: 'group', name: 'staff', role: 'Auditor', propagate: false }), { path: '/', group: 'staff', role: 'Auditor', propagate: false });
  assert.equal(aclTarget({ path: '/vms/101', user: 'anna' }), { path: '/vms/101', user: 'anna' });
  assert.equal(aclTarget({ path: '/', token: 'anna!ci', role: 'VMUser' } as never), { path: '/', token: 'anna!ci' }, 'only path and principal');
  assert.equal(principalOf({ group: 'staff' }), { kind: 'group', name: 'staff' });
});

const ANNA: UserView = { username: 'anna', fullname: 'Anna', email: 'a@x.org', comment: '', enabled: true, expire: 0, groups: ['b', 'a'], tokens: 0 };
const form = (over: Partial<UserForm> = {}): UserForm => ({
  username: 'anna', fullname: 'Anna', email: 'a@x.org', comment: '', enabled: true, expire: '', groups: ['a', 'b'], password: '', ...over,
});

model('should send every field on create and only the changed ones on edit', () => {
  assert.equal(userBody(form({ password: 'pw-12345678' }), null), {
    username: 'anna', password: 'pw-12345678', fullname: 'Anna', email: 'a@x.org', comment: '', enabled: true, expire: 0, groups: ['a', 'b'],
  });
  assert.equal(userBody(form(), ANNA), {}, 'nothing changed (group order does not count)');
  assert.equal(userBody(form({ enabled: false, email: '' }), ANNA), { email: '', enabled: false });
  assert.equal(userBody(form({ expire: '2026-12-31' }), ANNA), { expire: expireFromDate('2026-12-31') });
  assert.equal(userBody(form({ expire: '2026-02-30' }), ANNA), { error: 'expire' }, 'a bad date is not sent');
});

model('should ask the audit log for the filters given', () => {
  assert.equal(auditFilter('', ''), { limit: 200, user: '', action: '' });
  assert.equal(auditFilter(' anna ', 'login'), { limit: 200, user: 'anna', action: 'login' });
});

model('should show how a script sends a token', () => {
  assert.is(tokenHeader({ id: 'anna!ci', secret: 'S3cr' }), 'Authorization: RamvmToken anna!ci=S3cr');
});

model.run();

// ---- components ----

const ui = suite('Users view, My account, Permissions');
const ref = useDom(ui);
ui.before.each(() => setLang('en'));

function withFetch(r: Record<string, FakeAnswer>) {
  const fake = fakeFetch(r);
  (globalThis as { fetch: unknown }).fetch = fake.fetch;
  ref.current!.win.fetch = fake.fetch as never;
  return fake;
}

const ADMIN_ME = { username: 'admin', node: 'pve1', tokenid: null, privileges: ['User.Modify', 'Sys.Audit', 'VM.Audit'] };
const ROLES = [
  { role: 'VMUser', description: '', privileges: ['VM.Audit', 'VM.PowerMgmt', 'VM.Console'] },
  { role: 'VMAuditor', description: '', privileges: ['VM.Audit'] },
];

ui('should render no Permissions panel for a user without User.Modify, and fetch nothing', async () => {
  const fake = withFetch({});
  const el = await mount(html`<${Permissions} path="/vms/101" me=${{ privileges: ['VM.Audit', 'VM.PowerMgmt'] }} />`);
  await settle();
  assert.is(el.innerHTML, '');
  assert.is(fake.calls.length, 0);
  await unmount(el);
});

ui('should list own and inherited entries of one path and grant and remove on it', async () => {
  let entries = [
    { path: '/', user: 'admin', role: 'Administrator', propagate: true, inherited: true },
    { path: '/vms/101', group: 'staff', role: 'VMAuditor', propagate: true, inherited: false },
  ];
  const fake = withFetch({
    'GET /api/access/acl': () => [200, { data: entries }],
    'GET /api/access/roles': [200, { data: ROLES }],
    'GET /api/access/users': [200, { data: [{ username: 'anna' }] }],
    'GET /api/access/groups': [200, { data: [{ group: 'staff', comment: '', members: [] }] }],
    'PUT /api/access/acl': (c) => {
      const b = c.body as { path: string; user: string; role: string; propagate: boolean };
      entries = [...entries, { path: b.path, user: b.user, role: b.role, propagate: b.propagate, inherited: false } as never];
      return [200, { data: b }];
    },
    'DELETE /api/access/acl': () => [200, { data: null }],
  });
  const el = await mount(html`<${Permissions} path="/vms/101" me=${ADMIN_ME} />`);
  await settle();
  assert.ok(fake.calls.some((c) => c.method === 'GET' && c.url === '/api/access/acl?path=%2Fvms%2F101'), 'asked for this path only');
  assert.is(text(el.querySelector('h2')), 'Permissions on /vms/101');
  const rows = [...el.querySelectorAll('tbody tr')];
  assert.is(rows.length, 2);
  const inherited = rows.find((r) => text(r).includes('Administrator'))!;
  assert.match(text(inherited), 'inherited');
  assert.is(inherited.querySelector('button'), null, 'an inherited entry is changed where it is set');
  assert.is(el.querySelector('input[name="path"]'), null, 'the path is fixed');
  assert.equal([...el.querySelectorAll('select[name="kind"] option')].map((o) => o.getAttribute('value')), ['user', 'group'], 'no tokens on an object page');

  await typeInto(el.querySelector('input[name="name"]'), 'anna');
  const role = el.querySelector<HTMLSelectElement>('select[name="role"]')!;
  assert.equal([...role.options].map((o) => o.value), ['VMUser', 'VMAuditor'], 'roles from GET /api/access/roles');
  await click(el.querySelector('button[type="submit"]'));
  await settle();
  const put = fake.calls.find((c) => c.method === 'PUT')!;
  assert.equal(put.body, { path: '/vms/101', user: 'anna', role: 'VMUser', propagate: true });
  assert.ok(put.headers['content-type']);
  assert.match(text(el.querySelector('[role="status"]')), 'User: anna now has the role VMUser on /vms/101.');
  assert.is(el.querySelectorAll('tbody tr').length, 3, 'reloaded after the grant');

  const staff = [...el.querySelectorAll('tbody tr')].find((r) => text(r).includes('staff'))!;
  await click(staff.querySelector('button'));
  await settle();
  const dialog = document.querySelector('dialog[open]')!;
  assert.match(text(dialog), 'Group: staff loses the role VMAuditor on /vms/101.');
  await click(dialog.querySelector('.dialog-confirm'));
  await settle();
  const del = fake.calls.find((c) => c.method === 'DELETE')!;
  assert.is(del.url, '/api/access/acl?path=%2Fvms%2F101&group=staff');
  await unmount(el);
});

ui('should show a 409 lockout refusal in a banner and a 400 under the field it names', async () => {
  const fake = withFetch({
    'GET /api/access/users': [200, { data: [{ ...ANNA, username: 'admin', groups: [] }, ANNA] }],
    'GET /api/access/groups': [200, { data: [] }],
    'PUT /api/access/users/admin': [409, { error: { code: 'conflict', message: 'admin is the last administrator; grant Administrator on / to another user first' } }],
    'POST /api/access/users': [400, { error: { code: 'invalid', message: 'email: not an email address' } }],
  });
  const el = await mount(html`<${UsersView} parts=${[]} me=${ADMIN_ME} />`);
  await settle();
  const rows = [...el.querySelectorAll('tbody tr')];
  assert.equal(rows.map((r) => text(r.querySelector('td'))), ['admin', 'anna']);
  assert.is(el.querySelector<HTMLButtonElement>('button[aria-label="Delete user admin"]')!.disabled, true, 'one does not delete oneself');
  await click(el.querySelector('button[aria-label="Disable user admin"]'));
  await settle();
  const banner = el.querySelector('[role="alert"]')!;
  assert.match(text(banner), 'Not possible in the current state.');
  assert.match(text(banner), 'last administrator');
  assert.equal(fake.calls.find((c) => c.method === 'PUT')!.body, { enabled: false });
  await unmount(el);

  const form = await mount(html`<${UsersView} parts=${['new']} me=${ADMIN_ME} />`);
  await settle();
  await typeInto(form.querySelector('input[name="username"]'), 'bob');
  await typeInto(form.querySelector('input[name="password"]'), 'bob-secret-1');
  await typeInto(form.querySelector('input[name="email"]'), 'bob');
  await click(form.querySelector('button[type="submit"]'));
  await settle();
  const email = form.querySelector('input[name="email"]')!;
  assert.is(email.getAttribute('aria-invalid'), 'true');
  assert.is(text(form.querySelector(`#${email.getAttribute('aria-describedby')}`)), 'not an email address');
  assert.is(form.querySelector('[role="alert"]'), null, 'no banner when a field shows the error');
  assert.equal(fake.calls.find((c) => c.method === 'POST')!.body, {
    username: 'bob', password: 'bob-secret-1', fullname: '', email: 'bob', comment: '', enabled: true, expire: 0, groups: [],
  });
  await unmount(form);
});

ui('should hide the Audit tab from a user without Sys.Audit', async () => {
  withFetch({ 'GET /api/access/users': [200, { data: [] }] });
  const el = await mount(html`<${UsersView} parts=${[]} me=${{ ...ADMIN_ME, privileges: ['User.Modify'] }} />`);
  await settle();
  assert.equal([...el.querySelectorAll('.tabs a')].map(text), ['Users', 'Groups', 'Permissions (ACL)']);
  await unmount(el);
});

ui('should show a new token secret once, with the header to use, and forget it when done', async () => {
  let list: unknown[] = [];
  const fake = withFetch({
    'GET /api/access/tokens': () => [200, { data: list }],
    'POST /api/access/tokens': (c) => {
      list = [{ id: 'anna!ci', user: 'anna', tokenid: 'ci', expire: 0, expired: false, privsep: true, comment: '', created: 1 }];
      return [201, { data: { tokenid: 'ci', secret: 'A'.repeat(43), id: 'anna!ci', user: 'anna', expire: (c.body as { expire: number }).expire, privsep: true } }];
    },
  });
  const el = await mount(html`<${Tokens} viaToken=${false} />`);
  await settle();
  assert.match(text(el), 'You have no API tokens.');
  await typeInto(el.querySelector('input[name="tokenid"]'), 'ci');
  await typeInto(el.querySelector('input[name="expire"]'), '2026-12-31');
  await click(el.querySelector('.token-form button[type="submit"]'));
  await settle();
  assert.equal(fake.calls.find((c) => c.method === 'POST')!.body, { tokenid: 'ci', expire: expireFromDate('2026-12-31'), privsep: true, comment: '' });
  const secret = el.querySelector('.token-secret')!;
  assert.match(text(secret), 'you will not see it again');
  assert.is(secret.querySelector<HTMLInputElement>('#token-secret')!.value, `anna!ci=${'A'.repeat(43)}`);
  assert.match(text(secret), `Authorization: RamvmToken anna!ci=${'A'.repeat(43)}`);
  assert.match(text(el.querySelector('tbody')), 'anna!ci');
  await click([...secret.querySelectorAll('button')].find((b) => text(b) === 'I have copied it')!);
  assert.is(el.querySelector('.token-secret'), null);
  assert.not.match(el.innerHTML, 'AAAAAAAA', 'the secret is nowhere on the page');
  await unmount(el);
});

ui('should not offer to create a token to a session that is itself a token', async () => {
  withFetch({ 'GET /api/access/tokens': [200, { data: [] }] });
  const el = await mount(html`<${Tokens} viaToken=${true} />`);
  await settle();
  assert.is(el.querySelector('input[name="tokenid"]'), null);
  assert.match(text(el), 'not with a token');
  await unmount(el);
});

ui('should change one\'s own password with the current one, say a wrong one at its field, and go on with the new ticket', async () => {
  let tries = 0;
  const fake = withFetch({
    'PUT /api/access/password': (c) => {
      tries++;
      const b = c.body as { oldpassword: string };
      if (b.oldpassword !== 'old-secret-1') return [403, { error: { code: 'forbidden', message: 'wrong password' } }];
      return [200, { data: { username: 'anna', csrf: 'csrf-2', node: 'pve1' } }];
    },
  });
  const el = await mount(html`<${ChangePassword} username="anna" />`);
  const button = () => el.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  await typeInto(el.querySelector('input[name="oldpassword"]'), 'nope');
  await typeInto(el.querySelector('input[name="password"]'), 'new-secret-2');
  await typeInto(el.querySelector('input[name="password2"]'), 'new-secret-3');
  assert.is(button().disabled, true, 'the two new ones differ');
  assert.match(text(el), 'The two passwords differ.');
  await typeInto(el.querySelector('input[name="password2"]'), 'new-secret-2');
  assert.is(button().disabled, false);
  await click(button());
  await settle();
  const old = el.querySelector('input[name="oldpassword"]')!;
  assert.is(old.getAttribute('aria-invalid'), 'true');
  assert.match(text(el), 'The current password is wrong.');
  assert.is(el.querySelector('[role="alert"]'), null, 'no banner besides the field');
  await typeInto(old, 'old-secret-1');
  await click(button());
  await settle();
  assert.is(tries, 2);
  assert.equal(fake.calls.at(-1)!.body, { oldpassword: 'old-secret-1', password: 'new-secret-2' });
  assert.match(text(el.querySelector('[role="status"]')), 'Your password has been changed');
  assert.is(el.querySelector<HTMLInputElement>('input[name="password"]')!.value, '', 'the fields are cleared');
  assert.is(api.session()?.csrf, 'csrf-2', 'this session goes on with the new ticket');
  await unmount(el);
  withFetch({ 'DELETE /api/access/ticket': [200, { data: null }] });
  await api.logout();
});

ui('should reset another user\'s password without asking for a current one', async () => {
  const fake = withFetch({
    'GET /api/access/users/anna': [200, { data: ANNA }],
    'GET /api/access/groups': [200, { data: [] }],
    'PUT /api/access/users/anna': [400, { error: { code: 'invalid', message: 'password: must be at least 8 characters' } }],
  });
  const el = await mount(html`<${UsersView} parts=${['user', 'anna']} me=${ADMIN_ME} />`);
  await settle();
  const form = el.querySelector('.password-form')!;
  assert.is(form.querySelector('input[name="oldpassword"]'), null);
  await typeInto(form.querySelector('input[name="password"]'), 'short');
  await typeInto(form.querySelector('input[name="password2"]'), 'short');
  await click(form.querySelector('button[type="submit"]'));
  await settle();
  assert.equal(fake.calls.find((c) => c.method === 'PUT')!.body, { password: 'short' });
  assert.match(text(form), 'must be at least 8 characters');
  assert.is(form.querySelector<HTMLInputElement>('input[name="password"]')!.getAttribute('aria-invalid'), 'true');
  await unmount(el);
});

ui.run();
