/**
 * The console's pure parts (keys, close codes, the probe) as data, and the
 * Console component in happy-dom with noVNC's RFB and the websocket faked:
 * the one edge a unit replaces. test/browser/console.test.ts runs the real
 * noVNC against a real guest.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { charKeysym, COMBOS, comboStrokes, KEYS, typeStrokes, untypable, type KeyStroke } from '../../../web/console/keys';
import { closeText, probeConsole, readProbe, type Probe } from '../../../web/console/status';
import { comboLabel, Console, NOT_RUNNING_POLL_MS, type ConsoleDeps } from '../../../web/console/console';
import { keysymsOnly, needsKeysymsOnly, type Rfb, type RfbOptions } from '../../../web/console/rfb';
import { renewSession } from '../../../web/console/session';
import { useCopy } from '../../../web/console/clipboard';
import { api, ApiError, RENEW_AFTER_MS } from '../../../web/api';
import { click, fakeFetch, key, mount, settle, text, typeInto, unmount, useDom } from './dom';

// ---------------------------------------------------------------- keys

const keys = suite('comboStrokes');

keys('should press Ctrl, Alt, Del in order and release them in reverse', () => {
  const s = comboStrokes(['ctrl', 'alt', 'del']);
  assert.equal(
    s.map((k) => `${k.code}${k.down ? '↓' : '↑'}`),
    ['ControlLeft↓', 'AltLeft↓', 'Delete↓', 'Delete↑', 'AltLeft↑', 'ControlLeft↑'],
  );
  assert.equal(s.map((k) => k.keysym), [0xffe3, 0xffe9, 0xffff, 0xffff, 0xffe9, 0xffe3]);
});

keys('should offer Ctrl+Alt+Del first and Ctrl+Alt+F1 to F7, Alt+Tab and Print', () => {
  const ids = COMBOS.map((c) => c.join('+'));
  assert.is(ids[0], 'ctrl+alt+del');
  for (let n = 1; n <= 7; n++) assert.ok(ids.includes(`ctrl+alt+f${n}`), `F${n}`);
  assert.ok(ids.includes('alt+tab'));
  assert.ok(ids.includes('print'));
  assert.is(KEYS.f7.keysym, 0xffc4, 'XK_F7');
});

keys.run();

const typing = suite('typeStrokes');

const down = (s: KeyStroke[]) => s.filter((k) => k.down).map((k) => k.code ?? `#${k.keysym.toString(16)}`).join(' ');

const TYPED: Array<[string, string[], string]> = [
  ['a', ['KeyA'], 'a plain letter'],
  ['A', ['ShiftLeft KeyA'], 'a capital letter holds Shift'],
  ['1!', ['Digit1', 'ShiftLeft Digit1'], 'a digit and its shifted symbol'],
  ['~`', ['ShiftLeft Backquote', 'Backquote'], 'both characters of one key'],
  ['a b', ['KeyA', 'Space', 'KeyB'], 'a space'],
  ['x\r\ny\rz\n', ['KeyX', 'Enter', 'KeyY', 'Enter', 'KeyZ', 'Enter'], 'CRLF, CR and LF are one Enter each'],
  ['\t', ['Tab'], 'a tab'],
  ['é', ['#e9'], 'Latin-1 without a US key: its keysym alone'],
  ['€', ['#10020ac'], 'beyond Latin-1: a Unicode keysym'],
  ['a\u0007b', ['KeyA', 'KeyB'], 'a control character is skipped'],
];

for (const [input, want, why] of TYPED) {
  typing(`should type ${JSON.stringify(input)} as ${JSON.stringify(want)} (${why})`, () => {
    assert.equal(typeStrokes(input).map(down), want);
  });
}

typing('should release every key it presses, Shift last', () => {
  const g = typeStrokes('Q')[0]!;
  assert.equal(g.map((k) => `${k.code}${k.down ? '↓' : '↑'}`), ['ShiftLeft↓', 'KeyQ↓', 'KeyQ↑', 'ShiftLeft↑']);
  assert.is(g[1]!.keysym, 0x51, 'the keysym of "Q"');
});

typing('should name the characters that have no US key, once each', () => {
  assert.equal(untypable('Grüße, Grüße!\n'), ['ü', 'ß']);
  assert.equal(untypable('plain ASCII ~!@\t\r\n'), []);
});

typing('should map code points to X11 keysyms', () => {
  assert.is(charKeysym(0x41), 0x41);
  assert.is(charKeysym(0xe9), 0xe9);
  assert.is(charKeysym(0x20ac), 0x10020ac);
});

typing.run();

// ---------------------------------------------------------------- status

const status = suite('console status');

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const PROBES: Array<[Response, string, string]> = [
  [new Response(new Uint8Array([137, 80, 78, 71]), { status: 200 }), 'running', 'a PNG: the console can open'],
  [json(409, { error: { code: 'conflict', message: 'the guest is not running' } }), 'not-running', '409'],
  [json(403, { error: { code: 'forbidden', message: 'no VM.Console on /vms/101' } }), 'refused 403 forbidden', 'no permission'],
  [json(404, { error: { code: 'not_found', message: 'no guest 101 on this node' } }), 'refused 404 not_found', 'no such guest'],
  [new Response('<html>bad gateway</html>', { status: 502 }), 'refused 502 bad_response', 'not JSON'],
];

for (const [res, want, why] of PROBES) {
  status(`should read ${want} from a probe answer (${why})`, async () => {
    const p = await readProbe(res);
    const got = p.kind === 'refused' ? `refused ${p.error.status} ${p.error.code}` : p.kind;
    assert.is(got, want);
  });
}

status('should probe the smallest screenshot and turn a network failure into status 0', async () => {
  const urls: string[] = [];
  const p = await probeConsole(101, async (u) => {
    urls.push(String(u));
    throw new TypeError('Failed to fetch');
  });
  assert.equal(urls, ['/api/monitor/101/screenshot?width=16']);
  assert.ok(p.kind === 'refused' && p.error.status === 0 && p.error.code === 'network');
});

status('should explain the close codes of the node and the browser', () => {
  assert.is(closeText(1008), 'console.close.1008');
  assert.is(closeText(1006), 'console.close.1006');
  assert.is(closeText(1003), 'console.close.1002', 'a text frame is a protocol error too');
  assert.is(closeText(4000), 'console.close.other');
});

status.run();

// ---------------------------------------------------------------- the component

/** Listeners by event type, called with plain event objects (no DOM realm involved). */
class Emitter {
  private listeners = new Map<string, Array<(e: any) => void>>();
  addEventListener(type: string, fn: (e: any) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  removeEventListener(type: string, fn: (e: any) => void): void {
    this.listeners.set(type, (this.listeners.get(type) ?? []).filter((f) => f !== fn));
  }
  emit(type: string, e: object = {}): void {
    for (const fn of this.listeners.get(type) ?? []) fn({ type, ...e });
  }
}

/** A websocket as far as the console sees it: something that closes with a code. */
class FakeSocket extends Emitter {
  constructor(readonly url: string) {
    super();
  }
  close(code: number, reason = ''): void {
    this.emit('close', { code, reason });
  }
}

/** noVNC's RFB: records what the console asks of it; the test drives its events. */
class FakeRfb extends Emitter {
  static all: FakeRfb[] = [];
  scaleViewport = false;
  clipViewport = false;
  resizeSession = false;
  background = '';
  strokes: KeyStroke[] = [];
  focused = 0;
  disconnected = false;
  canvas: HTMLCanvasElement;

  constructor(
    readonly target: HTMLElement,
    readonly channel: FakeSocket,
    readonly options?: RfbOptions,
  ) {
    super();
    this.canvas = document.createElement('canvas');
    target.appendChild(this.canvas);
    FakeRfb.all.push(this);
  }
  sendKey(keysym: number, code: string | null, down?: boolean): void {
    this.strokes.push({ keysym, code, down: down ?? true });
  }
  sendCtrlAltDel(): void {
    throw new Error('the console sends its own strokes');
  }
  focus(): void {
    this.focused++;
  }
  blur(): void {}
  disconnect(): void {
    this.disconnected = true;
  }
  /** The server side: RFB handshake done. */
  connected(name = 'QEMU (web)'): void {
    this.emit('connect');
    this.emit('desktopname', { detail: { name } });
  }
  /** The websocket closes and noVNC reports the end. */
  dropped(code: number, reason = ''): void {
    this.channel.close(code, reason);
    this.emit('disconnect', { detail: { clean: code === 1000 } });
  }
}

interface Harness {
  deps: Partial<ConsoleDeps>;
  sockets: FakeSocket[];
  probes: Probe[];
  /** What happened, in order: "renew", "socket". */
  order: string[];
  windows: Array<[string, string, string]>;
  /** Resolve the pending poll wait. */
  tick(): Promise<void>;
}

function harness(): Harness {
  FakeRfb.all = [];
  const h: Harness = { deps: {}, sockets: [], probes: [], order: [], windows: [], tick: async () => undefined };
  let wake: (() => void) | null = null;
  h.tick = async () => {
    const w = wake;
    wake = null;
    assert.ok(w, 'a poll is waiting');
    w!();
    await settle(8);
  };
  h.deps = {
    loadRfb: async () => FakeRfb as never,
    renew: async () => void h.order.push('renew'),
    openSocket: (url) => {
      h.order.push('socket');
      const s = new FakeSocket(url);
      h.sockets.push(s);
      return s as never;
    },
    probe: async () => h.probes.shift() ?? { kind: 'running' },
    openWindow: (url, name, features) => void h.windows.push([url, name, features]),
    wait: (ms) => (ms === NOT_RUNNING_POLL_MS ? new Promise<void>((r) => (wake = r)) : Promise.resolve()),
  };
  return h;
}

/** A console of guest 101 whose noVNC has connected. */
async function connectedConsole(h = harness()) {
  const el = await mount(html`<${Console} vmid=${101} deps=${h.deps} />`);
  await settle();
  const rfb = FakeRfb.all[0]!;
  rfb.connected();
  await settle();
  return { h, el, rfb };
}

const comp = suite('Console');
useDom(comp);
comp.before.each(() => {
  setLang('en');
  localStorage.clear();
});

const message = (el: Element) => text(el.querySelector('.console-message'));
const badge = (el: Element) => text(el.querySelector('.console-toolbar .badge'));
const button = (el: Element, label: string) =>
  [...el.querySelectorAll<HTMLButtonElement>('button')].find((b) => text(b) === label) ?? null;

comp('should connect to ws://<page host>/api/console/<vmid> and show connecting, then connected', async () => {
  const h = harness();
  const el = await mount(html`<${Console} vmid=${101} deps=${h.deps} />`);
  await settle();
  assert.is(h.sockets.length, 1);
  assert.is(h.sockets[0]!.url, 'ws://node.test/api/console/101');
  assert.equal(h.order, ['renew', 'socket'], 'a due ticket is renewed before the websocket carries the cookie');
  assert.is(badge(el), 'Connecting');
  assert.match(message(el), 'Connecting to the console of guest 101');
  const rfb = FakeRfb.all[0]!;
  assert.is(rfb.channel, h.sockets[0], 'noVNC gets the socket the console opened');
  assert.is(rfb.options?.shared, true);
  assert.is(rfb.canvas.tabIndex, 0, 'the screen is reachable with Tab');
  assert.is(rfb.canvas.getAttribute('aria-label'), 'Screen of guest 101');
  assert.ok(button(el, 'Send Ctrl+Alt+Del')!.disabled, 'no keys before the connection');

  rfb.connected('QEMU (web)');
  await settle();
  assert.is(badge(el), 'Connected');
  assert.is(message(el), 'Connected to QEMU (web).');
  assert.ok(el.querySelector('.console-message')!.classList.contains('sr-only'), 'the screen is not covered');
  assert.not.ok(button(el, 'Send Ctrl+Alt+Del')!.disabled);
  assert.is(rfb.focused, 0, 'on a guest page the screen does not grab the focus');
  await unmount(el);
  assert.ok(rfb.disconnected, 'leaving the page closes the console');
});

comp('should send Ctrl+Alt+Del and the other combinations as key strokes and give the screen the focus', async () => {
  const { el, rfb } = await connectedConsole();
  await click(button(el, 'Send Ctrl+Alt+Del'));
  assert.equal(rfb.strokes, comboStrokes(['ctrl', 'alt', 'del']));
  assert.is(rfb.focused, 1);

  rfb.strokes = [];
  const more = button(el, 'More keys')!;
  assert.is(more.getAttribute('aria-expanded'), 'false');
  await click(more);
  assert.is(more.getAttribute('aria-expanded'), 'true');
  const list = el.querySelector(`#${more.getAttribute('aria-controls')}`)!;
  assert.equal([...list.querySelectorAll('button')].map(text), [
    'Ctrl+Alt+Del', 'Ctrl+Alt+Backspace', 'Ctrl+Alt+F1', 'Ctrl+Alt+F2', 'Ctrl+Alt+F3', 'Ctrl+Alt+F4',
    'Ctrl+Alt+F5', 'Ctrl+Alt+F6', 'Ctrl+Alt+F7', 'Alt+Tab', 'Print',
  ]);
  await click(button(list, 'Ctrl+Alt+F2'));
  assert.equal(rfb.strokes, comboStrokes(['ctrl', 'alt', 'f2']));
  assert.is(el.querySelector(`#${more.getAttribute('aria-controls')}`), null, 'the list closes after a choice');
  await unmount(el);
});

comp('should send key symbols without scan codes on the kiosk\'s page, and both elsewhere', async () => {
  for (const kiosk of [true, false]) {
    document.documentElement.classList.toggle('kiosk', kiosk);
    const { el, rfb } = await connectedConsole();
    await click(button(el, 'Send Ctrl+Alt+Del'));
    const codes = rfb.strokes.map((s) => s.code);
    assert.equal(codes, kiosk ? [null, null, null, null, null, null] : comboStrokes(['ctrl', 'alt', 'del']).map((s) => s.code), `kiosk ${kiosk}`);
    assert.equal(rfb.strokes.map((s) => s.keysym), comboStrokes(['ctrl', 'alt', 'del']).map((s) => s.keysym));
    await unmount(el);
  }
  document.documentElement.classList.remove('kiosk');
});

comp('should name the keys in German as German keyboards do', () => {
  setLang('de');
  assert.is(comboLabel(['ctrl', 'alt', 'del']), 'Strg+Alt+Entf');
  assert.is(comboLabel(['ctrl', 'alt', 'f1']), 'Strg+Alt+F1');
  setLang('en');
});

comp('should type text into the guest key by key and release Shift at the end', async () => {
  const { el, rfb } = await connectedConsole();
  await click(button(el, 'Type text'));
  const area = el.querySelector('textarea')!;
  assert.is(text(el.querySelector(`label[for="${area.id}"]`)), 'Text to type into the guest');
  await typeInto(area, 'Ab\nü');
  assert.match(text(el.querySelector(`#${area.id}-hint`)), 'No US key for: ü');
  await click(button(el, 'Type into the guest'));
  await settle(10);
  assert.equal(rfb.strokes.slice(0, -1), typeStrokes('Ab\nü').flat());
  assert.equal(rfb.strokes[rfb.strokes.length - 1], { ...KEYS.shift, down: false });
  assert.is(rfb.focused, 1, 'the screen has the focus again');
  await unmount(el);
});

comp('should say the guest is not running, poll, and connect once it runs', async () => {
  const h = harness();
  h.probes.push({ kind: 'not-running' }, { kind: 'not-running' }, { kind: 'running' });
  const el = await mount(html`<${Console} vmid=${101} deps=${h.deps} />`);
  await settle();
  FakeRfb.all[0]!.dropped(1006);
  await settle();
  assert.is(badge(el), 'Not running');
  assert.match(message(el), 'Guest 101 is not running.');
  assert.match(message(el), 'connects by itself');
  assert.not.match(message(el), 'Last connection', 'it never was connected');
  await h.tick();
  assert.is(FakeRfb.all.length, 1, 'still not running: no new connection');
  await h.tick();
  assert.is(FakeRfb.all.length, 2, 'running: connects again');
  assert.is(badge(el), 'Connecting');
  await unmount(el);
});

comp('should show why a running console ended, with the close code, and reconnect on request', async () => {
  const { h, el, rfb } = await connectedConsole();
  rfb.dropped(1008, 'access withdrawn');
  await settle();
  assert.is(badge(el), 'Disconnected');
  assert.equal([...el.querySelectorAll('.console-message p')].map(text), [
    'The console was disconnected.',
    'Your access to this console was withdrawn. access withdrawn (code 1008)',
  ]);
  await click(button(el, 'Reconnect'));
  await settle();
  assert.is(FakeRfb.all.length, 2);
  assert.is(h.sockets.length, 2);
  await unmount(el);
});

comp('should keep the last close reason when the guest stopped under an open console', async () => {
  const h = harness();
  h.probes.push({ kind: 'not-running' });
  const el = await mount(html`<${Console} vmid=${101} deps=${h.deps} />`);
  await settle();
  FakeRfb.all[0]!.connected();
  await settle();
  FakeRfb.all[0]!.dropped(1000, 'the guest display closed (guest stopped?)');
  await settle();
  assert.is(badge(el), 'Not running');
  assert.match(message(el), 'Last connection: The connection was closed. the guest display closed (guest stopped?) (code 1000)');
  await unmount(el);
});

comp('should show a refusal (no permission) as an error with the node message', async () => {
  const h = harness();
  h.probes.push({ kind: 'refused', error: new ApiError(403, 'forbidden', 'no VM.Console on /vms/101') });
  const el = await mount(html`<${Console} vmid=${101} deps=${h.deps} />`);
  await settle();
  FakeRfb.all[0]!.dropped(1006);
  await settle();
  assert.is(badge(el), 'Not available');
  const alert = el.querySelector('[role="alert"]')!;
  assert.match(text(alert), 'You lack the permission for this.');
  assert.match(text(alert), 'no VM.Console on /vms/101');
  await click(button(alert, 'Try again'));
  await settle();
  assert.is(FakeRfb.all.length, 2);
  await unmount(el);
});

comp('should show a failed load of noVNC as an error', async () => {
  const h = harness();
  h.deps.loadRfb = async () => {
    throw new TypeError('Failed to fetch dynamically imported module');
  };
  const el = await mount(html`<${Console} vmid=${101} deps=${h.deps} />`);
  await settle();
  assert.match(text(el.querySelector('[role="alert"]')), 'Failed to fetch dynamically imported module');
  assert.is(h.sockets.length, 0);
  await unmount(el);
});

comp('should switch between fit to window and 1:1 and remember the choice', async () => {
  const h = harness();
  const el = await mount(html`<${Console} vmid=${101} deps=${h.deps} />`);
  await settle();
  const rfb = FakeRfb.all[0]!;
  const fit = button(el, 'Fit to window')!;
  assert.is(fit.getAttribute('aria-pressed'), 'true', 'fits by default');
  assert.ok(rfb.scaleViewport);
  await click(fit);
  assert.is(fit.getAttribute('aria-pressed'), 'false');
  assert.not.ok(rfb.scaleViewport, '1:1');
  assert.is(localStorage.getItem('ramvm.console.scale'), '0');
  await unmount(el);
  const again = await mount(html`<${Console} vmid=${101} deps=${h.deps} />`);
  await settle();
  assert.not.ok(FakeRfb.all[1]!.scaleViewport, 'the next console starts 1:1');
  await unmount(again);
});

comp('should open the console in a window of its own, once per guest, but not inside that window', async () => {
  const h = harness();
  const el = await mount(html`<${Console} vmid=${101} deps=${h.deps} />`);
  await settle();
  await click(button(el, 'Open in own window'));
  assert.equal(h.windows, [['http://node.test/#/console/101', 'ramvm-console-101', 'popup,width=1040,height=860']]);
  await unmount(el);
  const own = await mount(html`<${Console} vmid=${101} standalone deps=${h.deps} />`);
  await settle();
  assert.is(button(own, 'Open in own window'), null);
  FakeRfb.all[1]!.connected();
  await settle();
  assert.is(FakeRfb.all[1]!.focused, 1, 'in its own window the screen takes the focus');
  await unmount(own);
});

comp('should give the focus back to the toolbar on Ctrl+Alt+Shift in the screen', async () => {
  const { el, rfb } = await connectedConsole();
  let reached = 0;
  rfb.canvas.addEventListener('keydown', () => reached++);
  rfb.canvas.focus();
  await key(rfb.canvas, 'a');
  assert.is(reached, 1, 'ordinary keys reach noVNC');
  rfb.canvas.dispatchEvent(new (globalThis as any).KeyboardEvent('keydown', { key: 'Shift', ctrlKey: true, altKey: true, shiftKey: true, bubbles: true }));
  await settle(1);
  assert.is(reached, 1, 'the chord does not reach the guest');
  assert.is(document.activeElement, button(el, 'Send Ctrl+Alt+Del'));
  await unmount(el);
});

comp('should renew the ticket through the api client only when it is due', async () => {
  const fake = fakeFetch({
    'POST /api/access/ticket': [200, { data: { username: 'admin', ticket: 't', csrf: 'C:1', node: 'pve1' } }],
    'GET /api/access/me': [200, { data: { username: 'admin', node: 'pve1', tokenid: null, privileges: [] } }],
    'DELETE /api/access/ticket': [200, { data: null }],
  });
  (globalThis as { fetch: unknown }).fetch = fake.fetch;
  await renewSession();
  assert.is(fake.calls.length, 0, 'logged out: nothing to renew');
  await api.login('admin', 'pw');
  const at = api.session()!.at;
  fake.calls.length = 0;
  await renewSession(at + 1000);
  assert.is(fake.calls.length, 0, 'fresh: no request');
  await renewSession(at + RENEW_AFTER_MS);
  assert.equal(fake.calls.map((c) => `${c.method} ${c.url}`), ['GET /api/access/me'], 'due: one api request, which renews first');
  await api.logout();
});

comp.run();

// ---------------------------------------------------------------- clipboard

const copying = suite('useCopy');
useDom(copying);

function CopyProbe({ out }: { out: { c: ReturnType<typeof useCopy> | null } }) {
  out.c = useCopy();
  return html`<span>${out.c.copied ? 'Copied' : ''}</span>`;
}

copying('should copy through the clipboard and say so', async () => {
  const written: string[] = [];
  Object.defineProperty(navigator, 'clipboard', { value: { writeText: async (s: string) => void written.push(s) }, configurable: true });
  const out: { c: ReturnType<typeof useCopy> | null } = { c: null };
  const el = await mount(html`<${CopyProbe} out=${out} />`);
  await out.c!.copy('013f5b44');
  await settle();
  assert.equal(written, ['013f5b44']);
  assert.is(text(el), 'Copied');
  await unmount(el);
});

copying('should say nothing when the browser refuses both ways to copy', async () => {
  Object.defineProperty(navigator, 'clipboard', { value: { writeText: async () => Promise.reject(new Error('denied')) }, configurable: true });
  (document as unknown as { execCommand: () => boolean }).execCommand = () => false;
  const out: { c: ReturnType<typeof useCopy> | null } = { c: null };
  const el = await mount(html`<${CopyProbe} out=${out} />`);
  await out.c!.copy('x');
  await settle();
  assert.is(out.c!.copied, false);
  assert.is(text(el), '');
  assert.is(document.querySelector('textarea'), null, 'the helper text area is gone again');
  await unmount(el);
});

copying.run();

const ks = suite('keysymsOnly / needsKeysymsOnly');
ks('should pass the keysym and the press on, and drop the scan code', () => {
  const sent: Array<[number, string | null, boolean | undefined]> = [];
  const rfb = { sendKey: (keysym: number, code: string | null, down?: boolean) => void sent.push([keysym, code, down]) } as unknown as Rfb;
  keysymsOnly(rfb);
  rfb.sendKey(0x74, 'ArrowDown', true);
  rfb.sendKey(0x74, 'ArrowDown', false);
  rfb.sendKey(0xffe3, 'ControlLeft');
  assert.equal(sent, [[0x74, null, true], [0x74, null, false], [0xffe3, null, undefined]]);
});
ks('should be needed on the kiosk\'s page only', () => {
  const doc = (cls: string[]) => ({ documentElement: { classList: { contains: (c: string) => cls.includes(c) } } }) as unknown as Document;
  assert.ok(needsKeysymsOnly(doc(['kiosk'])));
  assert.not.ok(needsKeysymsOnly(doc(['console-window'])));
});
ks.run();
