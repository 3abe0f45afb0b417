/**
 * Replicated disks in the Guests view, in happy-dom with a fake fetch (the
 * edge a unit replaces; test/browser/replicated.test.ts drives the same
 * forms in Chromium against a real two-node cluster): the create form and
 * the Hardware card offer "Replicated" only in a cluster of two nodes, lock
 * the format to raw while it is checked, and send `replicated: true`; a raw
 * disk of a stopped guest can be made replicated after a confirm; a
 * replicated disk's Grow is disabled with the reason. Where a node of the
 * pair has no DRBD module (`drbd: false`), the checkbox and Make
 * replicated are there but disabled, saying which node lacks it.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { GuestCreate } from '../../../web/views/guests/create';
import { Hardware } from '../../../web/views/guests/hardware';
import type { ClusterView, VmDetail } from '../../../node-cgi/api-types';
import { click, mount, settle, text, typeInto, unmount, until, useDom, serveFetch, setChecked, type Dom, type FakeAnswer } from './dom';

const NODE = (name: string, master: boolean) => ({ name, address: '10.0.0.1', url: `https://${name}:8007`, fingerprint: 'AA', online: true, master, version: '0.1.0' });
const PAIR: ClusterView = { name: 'office', self: 'n1', master: 'n1', epoch: 1, generation: 1, masterOnline: true, nodes: [NODE('n1', true), NODE('n2', false)] };
const SINGLE: ClusterView = { name: null, self: 'n1', master: null, epoch: 0, generation: 0, masterOnline: true, nodes: [NODE('n1', false)] };
const THREE: ClusterView = { ...PAIR, nodes: [...PAIR.nodes, NODE('n3', false)] };
/** The pair where n2 runs on a host without the DRBD module (n1 has it). */
const NO_DRBD: ClusterView = { ...PAIR, nodes: [{ ...NODE('n1', true), drbd: true }, { ...NODE('n2', false), drbd: false }] };
const NO_DRBD_REASON = 'node n2 has no DRBD module: replicated disks need the node image';
const ME = { username: 'admin', node: 'n1', tokenid: null, privileges: ['VM.Allocate', 'VM.Config'] };
const REFUSAL = 'the peer node n2 does not answer; a replicated disk is made on both nodes at once';

type Disk = VmDetail['disks'][number];
const disk = (id: string, over: Partial<Disk> = {}): Disk => ({ id, file: `vm-101-${id}.raw`, size: '64M', bus: 'virtio', format: 'raw', cache: 'writeback', ...over });
const guest = (disks: Disk[], status: VmDetail['status'] = 'stopped') => ({
  vmid: 101, name: 'web', node: 'n1', status, memory: 64, sockets: 1, cores: 1, ostype: 'l26', boot: [], cdrom: null, nics: [], disks,
  runtime: { disks: [], net: [] },
}) as unknown as VmDetail;

let dom: { current: Dom | null };
const serve = (routes: Record<string, FakeAnswer>) => serveFetch(dom, routes);
const checkbox = (el: HTMLElement) => el.querySelector<HTMLInputElement>('input[name="replicated"]');
const formatSelect = (el: ParentNode) => [...el.querySelectorAll<HTMLSelectElement>('select')].find((s) => [...s.options].some((o) => o.value === 'qcow2'))!;

// ---- the create form ----

const C = suite('GuestCreate: replicated disk');
const cDom = useDom(C);
C.before(() => void (dom = cDom));
C.before.each(() => setLang('en'));

async function createForm(c: ClusterView, extra: Record<string, FakeAnswer> = {}) {
  const fake = serve({
    'GET /api/cluster': [200, { data: c }],
    'GET /api/iso': [200, { data: [] }],
    'POST /api/vm': [200, { data: { issues: [], config: { vmid: 100 } } }],
    ...extra,
  });
  const el = await mount(html`<${GuestCreate} me=${ME} />`);
  await until('the cluster', () => fake.calls.some((x) => x.url.startsWith('/api/cluster')));
  await settle();
  return { el, fake };
}

C('should offer the checkbox in a cluster of two nodes, and not on a single node or in a cluster of three', async () => {
  for (const [c, offered] of [[PAIR, true], [SINGLE, false], [THREE, false]] as const) {
    const { el } = await createForm(c);
    assert.is(checkbox(el) !== null, offered, `${c.nodes.length} node(s), cluster ${c.name}`);
    if (offered) assert.match(text(el), 'Replicated (DRBD, on both nodes)');
    await unmount(el);
  }
});

C('should show the format as raw, locked, with the reason, while checked, and give the choice back when unchecked', async () => {
  const { el } = await createForm(PAIR);
  const select = formatSelect(el);
  assert.is(select.value, 'qcow2');
  await setChecked(checkbox(el), true);
  assert.is(formatSelect(el).value, 'raw');
  assert.ok(formatSelect(el).disabled);
  assert.match(text(el), 'Replicated disks are raw: DRBD copies blocks to the other node');
  await setChecked(checkbox(el), false);
  assert.is(formatSelect(el).value, 'qcow2');
  assert.not.ok(formatSelect(el).disabled);
  assert.not.match(text(el), 'Replicated disks are raw');
  await unmount(el);
});

C('should send replicated: true with a raw disk, and show the node\'s refusal', async () => {
  const { el, fake } = await createForm(PAIR, {
    'POST /api/vm': (call) => call.url.includes('dryrun')
      ? [200, { data: { issues: [], config: { vmid: 100 } } }]
      : [409, { error: { code: 'conflict', message: REFUSAL } }],
  });
  await typeInto(el.querySelector('input[name="name"]'), 'mirrored');
  await setChecked(checkbox(el), true);
  await click(el.querySelector('button[type="submit"]'));
  await until('the refusal', () => text(el).includes(REFUSAL));
  const create = fake.calls.find((x) => x.method === 'POST' && x.url === '/api/vm')!;
  assert.equal((create.body as { disks: unknown[] }).disks, [{ size: '32G', bus: 'ide', format: 'raw', cache: 'writeback', replicated: true }]);
  await unmount(el);
});
C('should show the checkbox disabled, unchecked, with the reason, where a node of the pair has no DRBD module', async () => {
  const { el, fake } = await createForm(NO_DRBD);
  const box = checkbox(el)!;
  assert.ok(box, 'shown');
  assert.ok(box.disabled, 'disabled');
  assert.not.ok(box.checked);
  assert.match(text(el), NO_DRBD_REASON);
  assert.is(el.querySelector(`#${box.getAttribute('aria-describedby')}`)?.textContent, NO_DRBD_REASON, 'the checkbox names its reason');
  await typeInto(el.querySelector('input[name="name"]'), 'plain');
  await click(el.querySelector('button[type="submit"]'));
  await until('the create', () => fake.calls.some((x) => x.method === 'POST' && x.url === '/api/vm'));
  const create = fake.calls.find((x) => x.method === 'POST' && x.url === '/api/vm')!;
  assert.equal((create.body as { disks: unknown[] }).disks, [{ size: '32G', bus: 'ide', format: 'qcow2', cache: 'writeback' }], 'not replicated');
  await unmount(el);
});

C('should leave the checkbox enabled, without a reason, where both nodes have DRBD or a node did not say', async () => {
  const both: ClusterView = { ...PAIR, nodes: PAIR.nodes.map((n) => ({ ...n, drbd: true })) };
  for (const c of [both, PAIR]) {
    const { el } = await createForm(c);
    assert.not.ok(checkbox(el)!.disabled);
    assert.not.match(text(el), 'no DRBD module');
    await unmount(el);
  }
});
C.run();

// ---- the Hardware card ----

const H = suite('Hardware: replicated disks');
const hDom = useDom(H);
H.before(() => void (dom = hDom));
H.before.each(() => setLang('en'));

async function hardware(g: VmDetail, c: ClusterView, extra: Record<string, FakeAnswer> = {}) {
  const fake = serve({ 'GET /api/cluster': [200, { data: c }], ...extra });
  const done: string[] = [];
  const el = await mount(html`<${Hardware} g=${g} config=${true} isos=${[]} onDone=${() => done.push('done')} />`);
  await until('the cluster', () => fake.calls.some((x) => x.url.startsWith('/api/cluster')));
  await settle();
  return { el, fake, done };
}
const button = (el: ParentNode, label: string) => el.querySelector<HTMLButtonElement>(`button[aria-label="${label}"]`);
const addButton = (el: HTMLElement) => [...el.querySelectorAll('button')].find((b) => text(b) === 'Add disk' && b.type === 'button')!;

H('should offer the checkbox in the add-disk form in a cluster of two nodes only', async () => {
  for (const [c, offered] of [[PAIR, true], [SINGLE, false]] as const) {
    const { el } = await hardware(guest([disk('disk0')]), c);
    await click(addButton(el));
    assert.ok(el.querySelector('form[aria-label="Add disk"]'), 'the form is open');
    assert.is(checkbox(el) !== null, offered);
    await unmount(el);
  }
});

H('should add a replicated disk as raw, the format locked while checked, and show the refusal', async () => {
  const { el, fake } = await hardware(guest([disk('disk0')]), PAIR, {
    'POST /api/vm/101/disks': [409, { error: { code: 'conflict', message: REFUSAL } }],
  });
  await click(addButton(el));
  const form = el.querySelector<HTMLFormElement>('form[aria-label="Add disk"]')!;
  await setChecked(checkbox(el), true);
  assert.is(formatSelect(form).value, 'raw');
  assert.ok(formatSelect(form).disabled);
  assert.match(text(form), 'Replicated disks are raw');
  await click(form.querySelector('button[type="submit"]'));
  await until('the refusal', () => text(form).includes(REFUSAL));
  assert.equal(fake.calls.find((x) => x.url === '/api/vm/101/disks')!.body, { size: '32G', bus: 'virtio', format: 'raw', cache: 'writeback', replicated: true });
  await unmount(el);
});

H('should offer Make replicated only for a raw, unreplicated disk of a stopped guest in a cluster of two nodes', async () => {
  const disks = [disk('disk0'), disk('disk1', { format: 'qcow2', file: 'vm-101-disk-1.qcow2' }), disk('disk2', { replicated: true, file: 'vm-101-disk-2.drbd' })];
  let { el } = await hardware(guest(disks), PAIR);
  assert.ok(button(el, 'Make disk disk0 replicated'), 'raw');
  assert.is(button(el, 'Make disk disk1 replicated'), null, 'qcow2');
  assert.is(button(el, 'Make disk disk2 replicated'), null, 'replicated already');
  await unmount(el);
  ({ el } = await hardware(guest(disks, 'running'), PAIR));
  assert.is(button(el, 'Make disk disk0 replicated'), null, 'running');
  await unmount(el);
  ({ el } = await hardware(guest(disks), SINGLE));
  assert.is(button(el, 'Make disk disk0 replicated'), null, 'single node');
  await unmount(el);
});

H('should disable the add-disk checkbox and Make replicated where a node of the pair has no DRBD module, saying why', async () => {
  const { el, fake } = await hardware(guest([disk('disk0')]), NO_DRBD);
  const make = button(el, 'Make disk disk0 replicated')!;
  assert.ok(make, 'shown');
  assert.ok(make.disabled, 'disabled');
  assert.is(make.title, NO_DRBD_REASON);
  await click(make);
  assert.is(el.querySelector('[role="alertdialog"]'), null, 'no confirm');
  await click(addButton(el));
  const form = el.querySelector<HTMLFormElement>('form[aria-label="Add disk"]')!;
  assert.ok(checkbox(form)!.disabled);
  assert.match(text(form), NO_DRBD_REASON);
  assert.not.ok(formatSelect(form).disabled, 'the format is free: the disk is not replicated');
  assert.equal(fake.calls.filter((x) => x.method === 'POST'), []);
  await unmount(el);
});

H('should say what happens before making a disk replicated, send the request, and show the refusal in the dialog', async () => {
  const { el, fake, done } = await hardware(guest([disk('disk0')]), PAIR, {
    'POST /api/vm/101/disks/disk0/replicate': [409, { error: { code: 'conflict', message: REFUSAL } }],
  });
  await click(button(el, 'Make disk disk0 replicated'));
  const dialog = el.querySelector('[role="alertdialog"]')!;
  assert.match(text(dialog), 'Make disk disk0 of guest 101 replicated?');
  assert.match(text(dialog), 'Its data is copied whole to the other node');
  assert.match(text(dialog), 'The guest stays stopped until the disk is converted');
  assert.match(text(dialog), 'The image file grows by DRBD\'s meta-data');
  await click([...dialog.querySelectorAll('button')].find((b) => text(b) === 'Make disk disk0 replicated')!);
  await until('the refusal', () => text(dialog).includes(REFUSAL));
  const sent = fake.calls.find((x) => x.url === '/api/vm/101/disks/disk0/replicate')!;
  assert.is(sent.method, 'POST');
  assert.is(sent.body, undefined, 'no body');
  assert.equal(done, [], 'nothing reloaded on a refusal');
  await unmount(el);
});

H('should reload the guest once the node made the disk replicated', async () => {
  const { el, done } = await hardware(guest([disk('disk0')]), PAIR, {
    'POST /api/vm/101/disks/disk0/replicate': [200, { data: disk('disk0', { replicated: true, file: 'vm-101-disk-0.drbd' }) }],
  });
  await click(button(el, 'Make disk disk0 replicated'));
  const dialog = el.querySelector('[role="alertdialog"]')!;
  await click([...dialog.querySelectorAll('button')].find((b) => text(b) === 'Make disk disk0 replicated')!);
  await until('the reload', () => done.length === 1);
  await unmount(el);
});

H('should disable Grow of a replicated disk, saying why', async () => {
  const { el } = await hardware(guest([disk('disk0'), disk('disk1', { replicated: true, file: 'vm-101-disk-1.drbd' })]), PAIR);
  const grow1 = button(el, 'Grow disk disk1')!;
  assert.ok(grow1.disabled);
  assert.is(grow1.title, 'A replicated disk cannot grow (DRBD\'s meta-data ends its file): add another disk.');
  assert.not.ok(button(el, 'Grow disk disk0')!.disabled);
  await unmount(el);
});
H.run();
