import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { api } from '../../../web/api';
import { App } from '../../../web/shell/app';
import { VIEWS, type ViewDef } from '../../../web/views';
import { click, fakeFetch, mount, settle, text, typeInto, unmount, until, useDom, type FakeAnswer } from './dom';
import { taskPoller } from '../../../web/tasks';
import { task } from './fixtures';
import type { ClusterNodeView, ClusterView } from '../../../node-cgi/api-types';

/**
 * The registry with loads Node can run (a bundler resolves the real
 * import(); here require() does), and a stand-in Guests view that shows
 * its route parts.
 */
const REGISTRY: ViewDef[] = VIEWS.map((v) => {
  if (v.id === 'tasks') return { ...v, load: async () => require('../../../web/views/tasks') };
  if (v.id === 'guests') return { ...v, load: async () => ({ default: ({ parts }: { parts: string[] }) => html`<h1>${parts.join('/')}</h1>` }) };
  return v;
});

const ME = { username: 'admin', node: 'pve1', tokenid: null, privileges: ['Sys.Audit'] };
const TICKET: [number, unknown] = [200, { data: { username: 'admin', ticket: 't', csrf: 'C:1', node: 'pve1' } }];
const NO_COOKIE: [number, unknown] = [400, { error: { code: 'bad_request', message: 'username and password are required' } }];
const password = (c: { body: unknown }) => (c.body as { password?: string } | undefined)?.password;

const node = (name: string, over: Partial<ClusterNodeView> = {}): ClusterNodeView => ({
  name, address: `10.0.0.${name.slice(-1)}`, url: `https://10.0.0.${name.slice(-1)}:8007`, fingerprint: 'AA:BB', online: true, master: false, version: '0.1.0', ...over,
});
const SINGLE: ClusterView = { name: null, self: 'pve1', master: null, epoch: 0, generation: 0, masterOnline: true, nodes: [node('pve1')] };
/** pve2, a member of "office" whose master is pve1, with pve3 down. */
const MEMBER: ClusterView = {
  name: 'office', self: 'pve2', master: 'pve1', epoch: 1, generation: 4, masterOnline: true,
  nodes: [node('pve1', { master: true, generation: 4 }), node('pve2', { generation: 4 }), node('pve3', { online: false, lastSeen: 1_000_000 })],
};

/** The node's answers: password "pw" logs in; without one (no cookie) renewal fails. */
function routes(over: Record<string, FakeAnswer> = {}): Record<string, FakeAnswer> {
  return {
    'POST /api/access/ticket': (c) => (password(c) === 'pw' ? TICKET : NO_COOKIE),
    'GET /api/access/me': [200, { data: ME }],
    'DELETE /api/access/ticket': [200, { data: null }],
    'GET /api/task': [200, { data: [] }],
    'GET /api/cluster': [200, { data: SINGLE }],
    ...over,
  };
}

const shell = suite('App');
const ref = useDom(shell);
shell.before.each(() => {
  setLang('en');
  history.replaceState(null, '', '/');
  sessionStorage.clear();
  localStorage.clear();
});

function withFetch(r: Record<string, FakeAnswer>) {
  const fake = fakeFetch(r);
  (globalThis as { fetch: unknown }).fetch = fake.fetch;
  ref.current!.win.fetch = fake.fetch as never;
  return fake;
}

async function logIn(el: HTMLElement, username = 'admin', password = 'pw'): Promise<void> {
  await typeInto(el.querySelector('input[name="username"]'), username);
  await typeInto(el.querySelector('input[name="password"]'), password);
  await click(el.querySelector('button[type="submit"]'));
  await settle(10);
}

shell('should show the login page with the user name focused when there is no session', async () => {
  withFetch(routes());
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  assert.is(text(el.querySelector('h1')), 'Log in');
  // Without a session nothing is sent, so the page shows at once and takes the focus after its first frame.
  await until('the focus on the user name', () => document.activeElement === el.querySelector('input[name="username"]'));
  assert.is(el.querySelector('input[name="password"]')!.getAttribute('type'), 'password');
  assert.is(el.querySelector('input[name="password"]')!.getAttribute('autocomplete'), 'current-password');
  await unmount(el);
});

shell('should say which fields are missing instead of sending an empty login', async () => {
  const fake = withFetch(routes());
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  const before = fake.calls.length;
  await click(el.querySelector('button[type="submit"]'));
  await settle();
  assert.is(fake.calls.length, before, 'nothing sent');
  assert.equal([...el.querySelectorAll('.field-error')].map(text), ['This field is required.', 'This field is required.']);
  assert.is(document.activeElement, el.querySelector('input[name="username"]'));
  await unmount(el);
});

shell('should say a wrong password plainly and select the password for a new try', async () => {
  withFetch(routes({ 'POST /api/access/ticket': (c) => (password(c) ? [401, { error: { code: 'unauthenticated', message: 'wrong user name or password' } }] : NO_COOKIE) }));
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el, 'admin', 'bad');
  assert.is(text(el.querySelector('[role="alert"]')), 'Wrong user name or password.');
  assert.is(document.activeElement, el.querySelector('input[name="password"]'));
  await unmount(el);
});

shell('should log in and show top bar, navigation of the views the user may use, and the start view', async () => {
  const fake = withFetch(routes({ 'GET /api/task': [200, { data: [task({ id: 'T1', status: 'ok', end: 1_000_500, message: 'all good' })] }] }));
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  assert.is(text(el.querySelector('.topbar-user strong')), 'admin');
  assert.is(text(el.querySelector('.topbar-node strong')), 'pve1');
  const nav = el.querySelector('nav')!;
  assert.is(nav.getAttribute('aria-label'), 'Main navigation');
  assert.equal([...nav.querySelectorAll('a')].map(text), ['Tasks', 'Nodes', 'Cluster'], 'Guests needs VM.Audit; views without load are hidden');
  assert.is(location.hash, '#/tasks', 'the start view is the first one allowed');
  assert.is(nav.querySelector('a')!.getAttribute('aria-current'), 'page');
  assert.is(text(el.querySelector('main h1')), 'Tasks');
  assert.match(text(el.querySelector('main tbody')), 'Disk check · /vms/101');
  assert.ok(fake.calls.some((c) => c.url.startsWith('/api/task?limit=')));
  assert.is(document.title, 'Tasks — pve1 — ramvm');
  await unmount(el);
  await api.logout();
});

shell('should show a view the user may use from a deep link, with its route parts', async () => {
  withFetch(routes({ 'GET /api/access/me': [200, { data: { ...ME, privileges: ['VM.Audit'] } }] }));
  history.replaceState(null, '', '/#/guests/101/console');
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  assert.equal([...el.querySelectorAll('nav a')].map(text), ['Guests', 'Tasks']);
  assert.is(text(el.querySelector('main h1')), '101/console');
  location.hash = '#/users';
  await settle();
  assert.is(text(el.querySelector('main h1')), 'You may not use this page.', 'Users needs User.Modify');
  location.hash = '#/nowhere';
  await settle();
  assert.is(text(el.querySelector('main h1')), 'This page does not exist.');
  await unmount(el);
  await api.logout();
});

shell('should refuse a registered view the user lacks the privilege for', async () => {
  withFetch(routes());
  history.replaceState(null, '', '/#/guests/101');
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  assert.is(text(el.querySelector('main h1')), 'You may not use this page.');
  await unmount(el);
  await api.logout();
});

shell('should switch everything to German from the top bar', async () => {
  withFetch(routes());
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  const select = el.querySelector<HTMLSelectElement>('.topbar select')!;
  assert.is(el.querySelector(`label[for="${select.id}"]`)!.textContent, 'Language');
  select.value = 'de';
  select.dispatchEvent(new (globalThis as any).Event('change', { bubbles: true }));
  await settle();
  assert.equal([...el.querySelectorAll('nav a')].map(text), ['Aufgaben', 'Knoten', 'Cluster']);
  assert.is(text(el.querySelector('main h1')), 'Aufgaben');
  assert.match(text(el.querySelector('.topbar')), 'Abmelden');
  assert.is(document.documentElement.lang, 'de');
  assert.is(localStorage.getItem('ramvm.lang'), 'de');
  await unmount(el);
  await api.logout();
});

shell('should say on a member where its master is, and name each node that does not answer', async () => {
  withFetch(routes({ 'GET /api/cluster': [200, { data: MEMBER }] }));
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  await until('the cluster banner', () => el.querySelector('.cluster-banner') !== null);
  const [member, down, ...more] = [...el.querySelectorAll('main .cluster-banner')];
  assert.is(more.length, 0);
  assert.match(text(member), 'Node pve2 is a member of cluster office; its master is pve1.');
  assert.is(member!.getAttribute('role'), 'status');
  assert.match(member!.querySelector('a')!.getAttribute('href')!, /^https?:\/\/10\.0\.0\.1:/);
  assert.is(down!.getAttribute('role'), 'alert');
  assert.match(text(down), /Node pve3 does not answer since /);
  assert.is(down!.querySelector('a')!.getAttribute('href'), '#/nodes/pve3');
  await unmount(el);
  await api.logout();
});

shell('should show no cluster banner on a single node', async () => {
  withFetch(routes());
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  await settle();
  assert.is(el.querySelector('.cluster-banner'), null);
  await unmount(el);
  await api.logout();
});

shell('should keep a failed task on screen in the task panel until it is acknowledged', async () => {
  const failed = task({ id: 'F1', status: 'failed', end: 1_000_900, message: 'guest 999 has no disk images', object: '/vms/999' });
  const running = task({ id: 'R1', progress: 40, message: 'checking vm-101-disk-0.qcow2' });
  withFetch(routes({ 'GET /api/task': [200, { data: [running, failed] }] }));
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  const panel = el.querySelector('.taskpanel')!;
  assert.ok(panel.classList.contains('taskpanel-alarm'));
  const alert = panel.querySelector('.taskpanel-failed [role="alert"]')!;
  assert.match(text(alert), 'Failed');
  assert.match(text(alert), 'Disk check · /vms/999');
  assert.match(text(alert), 'guest 999 has no disk images');
  assert.is(alert.querySelector('a')!.getAttribute('href'), '#/tasks/F1');
  const bar = panel.querySelector('.taskpanel-list [role="progressbar"]')!;
  assert.is(bar.getAttribute('aria-valuenow'), '40');
  assert.match(text(panel.querySelector('.taskpanel-summary')), 'Running: 1');
  assert.ok(el.querySelector('main tr.row-failed'), 'the Tasks view marks it too');

  await click([...alert.querySelectorAll('button')].find((b) => text(b) === 'Acknowledge')!);
  assert.is(panel.querySelector('.taskpanel-failed'), null);
  assert.not.ok(panel.classList.contains('taskpanel-alarm'));
  assert.equal(JSON.parse(localStorage.getItem('ramvm.ack.admin')!), ['F1']);
  assert.is(el.querySelector('main tr.row-failed'), null);
  await unmount(el);

  const again = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  assert.ok(again.querySelector('.taskpanel'), 'still logged in after a reload');
  assert.is(again.querySelector('.taskpanel-failed'), null, 'the acknowledgement survives a reload');
  await unmount(again);
  await api.logout();
});

shell('should acknowledge all failures at once from the panel', async () => {
  const failures = ['F1', 'F2', 'F3', 'F4'].map((id) => task({ id, status: 'failed', end: 1_000_900, message: `failure ${id}` }));
  withFetch(routes({ 'GET /api/task': [200, { data: failures }] }));
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  const panel = el.querySelector('.taskpanel')!;
  assert.is(panel.querySelectorAll('.panel-failed-task').length, 3, 'three listed');
  assert.match(text(panel.querySelector('.panel-more')), 'and 1 more');
  assert.match(text(panel.querySelector('.taskpanel-summary')), 'Failed: 4');
  await click([...panel.querySelectorAll('button')].find((b) => text(b) === 'Acknowledge all failures')!);
  assert.is(panel.querySelector('.taskpanel-failed'), null);
  assert.equal(JSON.parse(localStorage.getItem('ramvm.ack.admin')!).sort(), ['F1', 'F2', 'F3', 'F4']);
  assert.is(text(panel.querySelector('.taskpanel-summary')), 'No running tasks');
  await unmount(el);
  await api.logout();
});

shell('should show the login page with a message when the node answers 401', async () => {
  let expired = false;
  withFetch(routes({ 'GET /api/task': () => (expired ? [401, { error: { code: 'unauthenticated', message: 'expired' } }] : [200, { data: [] }]) }));
  history.replaceState(null, '', '/#/tasks');
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  expired = true;
  await taskPoller.refresh();
  await settle();
  assert.is(text(el.querySelector('h1')), 'Log in');
  assert.is(text(el.querySelector('[role="status"]')), 'Your session has ended. Please log in again.');
  assert.is(location.hash, '#/tasks', 'the route is kept for after the login');
  await unmount(el);
});

shell('should log out through the API and land on the login page', async () => {
  const fake = withFetch(routes());
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  const logout = [...el.querySelectorAll('.topbar button')].find((b) => text(b) === 'Log out')!;
  await click(logout);
  await settle();
  const del = fake.calls.find((c) => c.method === 'DELETE' && c.url === '/api/access/ticket')!;
  assert.is(del.headers['x-ramvm-csrf'], 'C:1');
  assert.is(text(el.querySelector('h1')), 'Log in');
  assert.is(text(el.querySelector('[role="status"]')), 'You have logged out.');
  assert.is(sessionStorage.getItem('ramvm.session'), null);
  await unmount(el);
});

shell('should move the focus to the page with the skip link and after navigating', async () => {
  withFetch(routes({ 'GET /api/access/me': [200, { data: { ...ME, privileges: ['VM.Audit'] } }] }));
  history.replaceState(null, '', '/#/tasks');
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  const skip = el.querySelector<HTMLAnchorElement>('.skip-link')!;
  assert.is(el.querySelector('.shell')!.firstElementChild, skip, 'the skip link comes first');
  assert.is(text(skip), 'Skip to content');
  await click(skip);
  assert.is(document.activeElement, el.querySelector('main'));
  assert.is(location.hash, '#/tasks', 'the skip link is no route');
  el.querySelector<HTMLElement>('nav a')!.focus();
  location.hash = '#/guests/7';
  await settle();
  assert.is(document.activeElement, el.querySelector('main'));
  await unmount(el);
  await api.logout();
});

shell('should open and close the navigation with the menu button (phone width)', async () => {
  withFetch(routes());
  const el = await mount(html`<${App} views=${REGISTRY} />`);
  await settle();
  await logIn(el);
  const toggle = el.querySelector('.nav-toggle')!;
  assert.is(toggle.getAttribute('aria-controls'), 'nav');
  assert.is(toggle.getAttribute('aria-expanded'), 'false');
  await click(toggle);
  assert.is(toggle.getAttribute('aria-expanded'), 'true');
  assert.ok(el.querySelector('#nav')!.classList.contains('nav-open'));
  location.hash = '#/tasks/x';
  await settle();
  assert.is(toggle.getAttribute('aria-expanded'), 'false', 'choosing a page closes the menu');
  await unmount(el);
  await api.logout();
});

shell.run();
