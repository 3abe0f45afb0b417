/**
 * The guest agent setting in the Guests view, in happy-dom with a fake
 * fetch (the edge a unit replaces; test/browser/guests.test.ts ticks the
 * same checkboxes in Chromium against a real node): the create form and
 * the Options card have a "QEMU guest agent" checkbox with its hint, send
 * `agent` in POST /api/vm and PUT /api/vm/<vmid>, show the guest's current
 * value, and speak German.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { GuestCreate } from '../../../web/views/guests/create';
import { Options } from '../../../web/views/guests/options';
import type { ClusterView, VmDetail } from '../../../node-cgi/api-types';
import { click, fakeFetch, mount, settle, text, typeInto, unmount, until, useDom, serveFetch, setChecked, type Dom, type FakeAnswer } from './dom';

const SINGLE: ClusterView = {
  name: null, self: 'n1', master: null, epoch: 0, generation: 0, masterOnline: true,
  nodes: [{ name: 'n1', address: '10.0.0.1', url: 'https://n1:8007', fingerprint: 'AA', online: true, master: false, version: '0.1.0' }],
};
const ME = { username: 'admin', node: 'n1', tokenid: null, privileges: ['VM.Allocate', 'VM.Config'] };
const HINT_EN = 'Backups freeze the guest’s filesystems when the agent inside answers; applies at the next start.';
const HINT_DE = 'Sicherungen frieren die Dateisysteme des Gastes ein, wenn der Agent darin antwortet; gilt ab dem nächsten Start.';

const guest = (agent: boolean) => ({
  vmid: 101, name: 'web', node: 'n1', status: 'stopped', memory: 64, sockets: 1, cores: 1, ostype: 'l26', boot: [], cdrom: null,
  nics: [], disks: [], onboot: false, description: '', agent,
  runtime: { disks: [], net: [], pending: [], accel: 'tcg', accelReason: 'no /dev/kvm' },
}) as unknown as VmDetail;

let dom: { current: Dom | null };
const serve = (routes: Record<string, FakeAnswer>) => serveFetch(dom, routes);
const agentBox = (el: HTMLElement) => el.querySelector<HTMLInputElement>('input[name="agent"]');
/** The checkbox's label and the hint it points to. */
function labelled(el: HTMLElement) {
  const box = agentBox(el)!;
  return { label: text(box.closest('label')), hint: text(el.querySelector(`#${box.getAttribute('aria-describedby')}`)) };
}

// ---- the create form ----

const C = suite('GuestCreate: guest agent');
const cDom = useDom(C);
C.before(() => void (dom = cDom));
C.before.each(() => setLang('en'));
C.after.each(() => setLang('en'));

async function createForm() {
  const fake = serve({
    'GET /api/cluster': [200, { data: SINGLE }],
    'GET /api/iso': [200, { data: [] }],
    'POST /api/vm': (call) => call.url.includes('dryrun')
      ? [200, { data: { issues: [], config: { vmid: 100 } } }]
      : [201, { data: { vmid: 100 } }],
  });
  const el = await mount(html`<${GuestCreate} me=${ME} />`);
  await until('the cluster', () => fake.calls.some((x) => x.url.startsWith('/api/cluster')));
  await settle();
  return { el, fake };
}
const created = (fake: ReturnType<typeof fakeFetch>) => fake.calls.find((x) => x.method === 'POST' && x.url === '/api/vm')?.body as { agent?: boolean } | undefined;

C('should offer the checkbox unticked, with its hint', async () => {
  const { el } = await createForm();
  assert.not.ok(agentBox(el)!.checked);
  assert.equal(labelled(el), { label: 'QEMU guest agent', hint: HINT_EN });
  await unmount(el);
});

C('should send agent: true when ticked', async () => {
  const { el, fake } = await createForm();
  await typeInto(el.querySelector('input[name="name"]'), 'db');
  await setChecked(agentBox(el), true);
  await click(el.querySelector('button[type="submit"]'));
  await until('the create', () => created(fake) !== undefined);
  assert.is(created(fake)!.agent, true);
  await unmount(el);
});

C('should send agent: false when left alone', async () => {
  const { el, fake } = await createForm();
  await typeInto(el.querySelector('input[name="name"]'), 'db');
  await click(el.querySelector('button[type="submit"]'));
  await until('the create', () => created(fake) !== undefined);
  assert.is(created(fake)!.agent, false);
  await unmount(el);
});

C('should say it in German', async () => {
  setLang('de');
  const { el } = await createForm();
  assert.equal(labelled(el), { label: 'QEMU-Gast-Agent', hint: HINT_DE });
  await unmount(el);
});
C.run();

// ---- the Options card ----

const O = suite('Options: guest agent');
const oDom = useDom(O);
O.before(() => void (dom = oDom));
O.before.each(() => setLang('en'));
O.after.each(() => setLang('en'));

async function options(g: VmDetail, config = true) {
  const fake = serve({ 'PUT /api/vm/101': (call) => [200, { data: { ...g, ...(call.body as object) } }] });
  const done: string[] = [];
  const el = await mount(html`<${Options} g=${g} config=${config} onDone=${() => done.push('done')} />`);
  await settle();
  return { el, fake, done };
}
/** The value a list of props gives `label`. */
const prop = (el: HTMLElement, label: string) => text([...el.querySelectorAll('dt')].find((dt) => text(dt) === label)?.nextElementSibling ?? null);
const saved = (fake: ReturnType<typeof fakeFetch>) => fake.calls.find((x) => x.method === 'PUT' && x.url === '/api/vm/101')?.body as Record<string, unknown> | undefined;

O("should show the guest's current value", async () => {
  for (const agent of [true, false]) {
    const { el } = await options(guest(agent));
    assert.is(agentBox(el)!.checked, agent, `agent: ${agent}`);
    assert.equal(labelled(el), { label: 'QEMU guest agent', hint: HINT_EN });
    await unmount(el);
  }
});

O('should send agent: true in the PUT when ticked, with the other options as they were', async () => {
  const { el, fake, done } = await options(guest(false));
  await setChecked(agentBox(el), true);
  await click(el.querySelector('button[type="submit"]'));
  await until('the save', () => done.length > 0);
  assert.equal(saved(fake), { name: 'web', onboot: false, agent: true, description: '', accel: null });
  await unmount(el);
});

O('should send agent: false in the PUT when unticked', async () => {
  const { el, fake, done } = await options(guest(true));
  await setChecked(agentBox(el), false);
  await click(el.querySelector('button[type="submit"]'));
  await until('the save', () => done.length > 0);
  assert.is(saved(fake)!.agent, false);
  await unmount(el);
});

O('should list the value, without a checkbox, for a user without VM.Config', async () => {
  const { el } = await options(guest(true), false);
  assert.is(agentBox(el), null);
  assert.is(prop(el, 'QEMU guest agent'), 'Yes');
  await unmount(el);
});

O('should say it in German', async () => {
  setLang('de');
  const { el } = await options(guest(true));
  assert.equal(labelled(el), { label: 'QEMU-Gast-Agent', hint: HINT_DE });
  await unmount(el);
  const ro = await options(guest(false), false);
  assert.is(prop(ro.el, 'QEMU-Gast-Agent'), 'Nein');
  await unmount(ro.el);
});
O.run();
