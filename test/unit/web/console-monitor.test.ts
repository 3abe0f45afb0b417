/**
 * The monitor terminal and the screen thumbnail in happy-dom, with a fake
 * fetch as the only edge (test/browser/console.test.ts runs both against a
 * real guest).
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { commandLines, HISTORY_MAX, historyStep, Monitor, pushHistory } from '../../../web/console/monitor';
import { Thumbnail } from '../../../web/console/thumbnail';
import { click, fakeFetch, key, mount, settle, text, typeInto, unmount, useDom, type FakeAnswer } from './dom';

const hist = suite('pushHistory / historyStep / commandLines');

const PUSHES: Array<[string[], string, string[], string]> = [
  [[], 'info status', ['info status'], 'the first command'],
  [['info status'], 'info status', ['info status'], 'a repeat of the last one is kept once'],
  [['info status', 'info block'], 'info status', ['info status', 'info block', 'info status'], 'an older repeat is added'],
  [['a'], '   ', ['a'], 'a blank line is not history'],
  [['a'], '  info cpus ', ['a', 'info cpus'], 'trimmed'],
];

for (const [before, cmd, want, why] of PUSHES) {
  hist(`should give ${JSON.stringify(want)} for ${JSON.stringify(cmd)} (${why})`, () => {
    assert.equal(pushHistory(before, cmd), want);
  });
}

hist('should keep at most HISTORY_MAX commands, the newest', () => {
  let h: string[] = [];
  for (let i = 0; i < HISTORY_MAX + 5; i++) h = pushHistory(h, `c${i}`);
  assert.is(h.length, HISTORY_MAX);
  assert.is(h[0], 'c5');
  assert.is(h[h.length - 1], `c${HISTORY_MAX + 4}`);
});

const STEPS: Array<[number, 'up' | 'down', { pos: number; value: string }, string]> = [
  [2, 'up', { pos: 1, value: 'b' }, 'from the draft to the newest'],
  [1, 'up', { pos: 0, value: 'a' }, 'further back'],
  [0, 'up', { pos: 0, value: 'a' }, 'stays at the oldest'],
  [0, 'down', { pos: 1, value: 'b' }, 'forward'],
  [1, 'down', { pos: 2, value: 'draft' }, 'back to the line being written'],
  [2, 'down', { pos: 2, value: 'draft' }, 'stays at the draft'],
];

for (const [pos, dir, want, why] of STEPS) {
  hist(`should step ${dir} from ${pos} to ${JSON.stringify(want)} (${why})`, () => {
    assert.equal(historyStep(['a', 'b'], pos, dir, 'draft'), want);
  });
}

hist('should split pasted text into commands, one per non-blank line', () => {
  assert.equal(commandLines('info status\r\n\n  info block \rinfo cpus\n'), ['info status', 'info block', 'info cpus']);
});

hist.run();

const mon = suite('Monitor');
const dom = useDom(mon);
mon.before.each(() => setLang('en'));

function withFetch(r: Record<string, FakeAnswer>) {
  const fake = fakeFetch(r);
  (globalThis as { fetch: unknown }).fetch = fake.fetch;
  dom.current!.win.fetch = fake.fetch as never;
  return fake;
}

const ADMIN = { privileges: ['VM.Audit', 'VM.Console', 'VM.Monitor'] };
const HMP: Record<string, string> = { 'info status': 'VM status: running\n', 'info name': 'web\n', 'sendkey ctrl-alt-delete': '' };
const answer: FakeAnswer = (c) => {
  const cmd = (c.body as { command: string }).command;
  return cmd in HMP ? [200, { data: { output: HMP[cmd] } }] : [200, { data: { output: `unknown command: '${cmd}'\n` } }];
};

const out = (el: Element) => el.querySelector('pre.monitor-out')!;
const lines = (el: Element) => (out(el).textContent ?? '').split('\n').filter(Boolean);

mon('should show nothing to a user without VM.Monitor', async () => {
  const el = await mount(html`<${Monitor} vmid=${101} me=${{ privileges: ['VM.Audit', 'VM.Console'] }} />`);
  assert.is(el.innerHTML, '');
  await unmount(el);
});

mon('should run a command, show it with its output as text, and keep the line ready for the next', async () => {
  const fake = withFetch({ 'POST /api/monitor/101': answer });
  const el = await mount(html`<${Monitor} vmid=${101} me=${ADMIN} />`);
  const input = el.querySelector<HTMLInputElement>('input.monitor-input')!;
  assert.is(text(el.querySelector(`label[for="${input.id}"]`)), 'Monitor command');
  assert.is(out(el).getAttribute('role'), 'log');
  await typeInto(input, 'info status');
  await click(el.querySelector('.monitor-line button[type="submit"]'));
  await settle();
  assert.equal(fake.calls.map((c) => [c.method, c.url, c.body]), [['POST', '/api/monitor/101', { command: 'info status' }]]);
  assert.equal(lines(el), ['(qemu) info status', 'VM status: running']);
  assert.is(input.value, '');
  assert.is(document.activeElement, input);
  await unmount(el);
});

mon('should recall earlier commands with Up and Down and keep the line being written', async () => {
  withFetch({ 'POST /api/monitor/102': answer });
  const el = await mount(html`<${Monitor} vmid=${102} me=${ADMIN} />`);
  const input = el.querySelector<HTMLInputElement>('input.monitor-input')!;
  const form = el.querySelector('form')!;
  for (const c of ['info status', 'info name']) {
    await typeInto(input, c);
    form.dispatchEvent(new (globalThis as any).Event('submit', { bubbles: true, cancelable: true }));
    await settle();
  }
  await typeInto(input, 'inf');
  await key(input, 'ArrowUp');
  assert.is(input.value, 'info name');
  await key(input, 'ArrowUp');
  assert.is(input.value, 'info status');
  await key(input, 'ArrowUp');
  assert.is(input.value, 'info status', 'the oldest stays');
  await key(input, 'ArrowDown');
  await key(input, 'ArrowDown');
  assert.is(input.value, 'inf', 'the draft comes back');
  await unmount(el);

  // The guest page opened again: history and transcript are still there.
  const again = await mount(html`<${Monitor} vmid=${102} me=${ADMIN} />`);
  assert.equal(lines(again), ['(qemu) info status', 'VM status: running', '(qemu) info name', 'web']);
  const input2 = again.querySelector<HTMLInputElement>('input.monitor-input')!;
  await key(input2, 'ArrowUp');
  assert.is(input2.value, 'info name');
  await unmount(again);
});

mon('should run pasted lines one after the other', async () => {
  const fake = withFetch({ 'POST /api/monitor/103': answer });
  const el = await mount(html`<${Monitor} vmid=${103} me=${ADMIN} />`);
  const input = el.querySelector<HTMLInputElement>('input.monitor-input')!;
  const paste = new (globalThis as any).Event('paste', { bubbles: true, cancelable: true });
  paste.clipboardData = { getData: () => 'info status\ninfo name\n' };
  input.dispatchEvent(paste);
  await settle(10);
  assert.ok(paste.defaultPrevented, 'the lines do not land in the input');
  assert.equal(fake.calls.map((c) => (c.body as { command: string }).command), ['info status', 'info name']);
  assert.equal(lines(el), ['(qemu) info status', 'VM status: running', '(qemu) info name', 'web']);
  await unmount(el);
});

mon('should show a refusal in the transcript with the node message and drop queued lines', async () => {
  const fake = withFetch({ 'POST /api/monitor/104': [409, { error: { code: 'conflict', message: 'the guest is not running' } }] });
  const el = await mount(html`<${Monitor} vmid=${104} me=${ADMIN} />`);
  const input = el.querySelector<HTMLInputElement>('input.monitor-input')!;
  await typeInto(input, 'info status\ninfo name');
  await click(el.querySelector('.monitor-line button[type="submit"]'));
  await settle();
  assert.is(fake.calls.length, 1, 'the second command is not sent after a refusal');
  const err = el.querySelector('.monitor-error')!;
  assert.is(text(err), 'Not possible in the current state. the guest is not running');
  await unmount(el);
});

mon('should clear the transcript', async () => {
  withFetch({ 'POST /api/monitor/105': answer });
  const el = await mount(html`<${Monitor} vmid=${105} me=${ADMIN} />`);
  const clear = [...el.querySelectorAll<HTMLButtonElement>('button')].find((b) => text(b) === 'Clear')!;
  assert.ok(clear.disabled, 'nothing to clear yet');
  await typeInto(el.querySelector('input.monitor-input'), 'info name');
  await click(el.querySelector('.monitor-line button[type="submit"]'));
  await settle();
  assert.not.ok(clear.disabled);
  await click(clear);
  assert.is(text(out(el)), 'No commands yet.');
  await unmount(el);
});

mon.run();

const thumb = suite('Thumbnail');
const tdom = useDom(thumb);
thumb.before.each(() => setLang('en'));

/** The smallest PNG there is: a 1×1 transparent pixel. */
const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

thumb('should ask for a thumbnail of the given width and show it as an image', async () => {
  const urls: string[] = [];
  const fetchFn = async (u: string) => {
    urls.push(u);
    return new Response(PNG_1X1, { status: 200, headers: { 'content-type': 'image/png' } });
  };
  (globalThis as { fetch: unknown }).fetch = fetchFn;
  tdom.current!.win.fetch = fetchFn as never;
  const el = await mount(html`<${Thumbnail} vmid=${101} refreshMs=${20} />`);
  await settle(5);
  assert.is(urls[0], '/api/monitor/101/screenshot?width=160');
  const img = el.querySelector('img')!;
  assert.ok(img, 'an image');
  assert.match(img.getAttribute('src')!, /^blob:/);
  assert.is(img.getAttribute('alt'), 'Screen of guest 101');
  await new Promise((r) => setTimeout(r, 60));
  await settle(3);
  assert.ok(urls.length >= 2, `refreshed (${urls.length} requests)`);
  await unmount(el);
  const n = urls.length;
  await new Promise((r) => setTimeout(r, 60));
  assert.is(urls.length, n, 'no more requests once gone');
});

thumb('should say "Not running" for a stopped guest', async () => {
  const f = fakeFetch({ 'GET /api/monitor/102/screenshot': [409, { error: { code: 'conflict', message: 'the guest is not running' } }] });
  (globalThis as { fetch: unknown }).fetch = f.fetch;
  const el = await mount(html`<${Thumbnail} vmid=${102} width=${240} />`);
  await settle(5);
  assert.is(f.calls[0]!.url, '/api/monitor/102/screenshot?width=240');
  assert.is(el.querySelector('img'), null);
  assert.is(text(el), 'Not running');
  await unmount(el);
});

thumb('should not fetch while the browser tab is hidden, and fetch when it shows again', async () => {
  const f = fakeFetch({ 'GET /api/monitor/103/screenshot': [409, { error: { code: 'conflict', message: 'not running' } }] });
  (globalThis as { fetch: unknown }).fetch = f.fetch;
  const doc = tdom.current!.win.document;
  let state = 'hidden';
  Object.defineProperty(doc, 'visibilityState', { configurable: true, get: () => state });
  const el = await mount(html`<${Thumbnail} vmid=${103} />`);
  await settle(3);
  assert.is(f.calls.length, 0);
  state = 'visible';
  doc.dispatchEvent(new (globalThis as any).Event('visibilitychange'));
  await settle(3);
  assert.is(f.calls.length, 1);
  await unmount(el);
  Object.defineProperty(doc, 'visibilityState', { configurable: true, get: () => 'visible' });
});

thumb.run();
