import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { Window } from 'happy-dom';
import {
  KIOSK_BLANK_MS, KIOSK_STATES, digitColor, installKiosk, isKiosk, isLeaveChord, kioskBlankMs, kioskState, markerDigits, sameOriginRoute,
} from '../../../web/kiosk';

const K = suite('isKiosk');
K('should turn on with ?kiosk only', () => {
  assert.ok(isKiosk('?kiosk'));
  assert.ok(isKiosk('?a=1&kiosk'));
  assert.not.ok(isKiosk(''));
  assert.not.ok(isKiosk('?kiosks'));
});
K.run();

const B = suite('kioskBlankMs');
B('should take whole seconds from blank=, 0 for never, and the default otherwise', () => {
  assert.is(kioskBlankMs('?kiosk'), KIOSK_BLANK_MS);
  assert.is(kioskBlankMs('?kiosk&blank=30'), 30_000);
  assert.is(kioskBlankMs('?kiosk&blank=0'), 0);
  for (const bad of ['?kiosk&blank=', '?kiosk&blank=-5', '?kiosk&blank=1e3', '?kiosk&blank=05', '?kiosk&blank=abc']) assert.is(kioskBlankMs(bad), KIOSK_BLANK_MS, bad);
});
B.run();

const M = suite('markerDigits / digitColor');
M('should frame the state\'s two octal digits with magenta', () => {
  assert.equal(markerDigits('login'), [5, 0, KIOSK_STATES.login, 5]);
  assert.equal(markerDigits('blank'), [5, 0, 7, 5]);
});
M('should give each digit a pure colour', () => {
  assert.equal([0, 1, 2, 4, 5, 7].map(digitColor), ['rgb(0, 0, 0)', 'rgb(0, 0, 255)', 'rgb(0, 255, 0)', 'rgb(255, 0, 0)', 'rgb(255, 0, 255)', 'rgb(255, 255, 255)']);
});
M.run();

const S = suite('kioskState');
const docWith = (html: string) => {
  const w = new Window({ url: 'https://localhost:8006/?kiosk' });
  w.document.body.innerHTML = html;
  return w.document as unknown as Document;
};
S('should tell the login page, the shell\'s views and the start', () => {
  assert.is(kioskState(docWith('<main class="login"></main>'), '#/guests', false), 'login');
  assert.is(kioskState(docWith('<p class="starting"></p>'), '', false), 'starting');
  const shell = docWith('<div class="shell"></div>');
  assert.is(kioskState(shell, '#/guests', false), 'guests');
  assert.is(kioskState(shell, '#/guests/101', false), 'guest');
  assert.is(kioskState(shell, '#/console/101', false), 'console');
  assert.is(kioskState(shell, '#/tasks', false), 'other');
  assert.is(kioskState(shell, '#/guests', true), 'blank');
});
S.run();

const H = suite('isLeaveChord / sameOriginRoute');
H('should take Ctrl+Alt+Shift in any order and nothing less', () => {
  assert.ok(isLeaveChord({ ctrlKey: true, altKey: true, shiftKey: true, key: 'Shift' }));
  assert.ok(isLeaveChord({ ctrlKey: true, altKey: true, shiftKey: true, key: 'Control' }));
  assert.not.ok(isLeaveChord({ ctrlKey: true, altKey: true, shiftKey: false, key: 'Alt' }));
  assert.not.ok(isLeaveChord({ ctrlKey: true, altKey: true, shiftKey: true, key: 'a' }));
});
H('should keep only routes of the node\'s own origin', () => {
  assert.is(sameOriginRoute('https://localhost:8006/#/console/101', 'https://localhost:8006'), '#/console/101');
  assert.is(sameOriginRoute('https://example.com/#/console/101', 'https://localhost:8006'), null);
  assert.is(sameOriginRoute('https://localhost:8006/other', 'https://localhost:8006'), null);
});
H.run();

const I = suite('installKiosk');
I('should paint the marker, follow the route, open consoles in the page, and leave the console on the chord', async () => {
  const w = new Window({ url: 'https://localhost:8006/?kiosk#/guests' });
  const win = w as unknown as Window & typeof globalThis;
  w.document.body.innerHTML = '<div id="app"><div class="shell"></div></div>';
  const off = installKiosk(win as unknown as globalThis.Window);
  const cells = () => [...w.document.querySelectorAll('div[aria-hidden="true"] span')].map((c) => (c as unknown as HTMLElement).style.background);
  assert.equal(cells(), markerDigits('guests').map(digitColor));
  win.open('https://localhost:8006/#/console/101', 'x', 'popup');
  await new Promise((r) => setTimeout(r, 10));
  assert.is(w.location.hash, '#/console/101');
  assert.equal(cells(), markerDigits('console').map(digitColor));
  const ev = new w.KeyboardEvent('keydown', { key: 'Shift', ctrlKey: true, altKey: true, shiftKey: true, bubbles: true, cancelable: true });
  w.document.body.dispatchEvent(ev);
  await new Promise((r) => setTimeout(r, 10));
  assert.is(w.location.hash, '#/guests/101', 'back to the guest page');
  assert.ok(ev.defaultPrevented, 'the chord does not reach the guest');
  off();
  assert.is(w.document.querySelector('div[aria-hidden="true"]'), null, 'uninstall removes the marker');
  await w.happyDOM.close();
});
I('should blank after the idle time and swallow the waking key', async () => {
  const w = new Window({ url: 'https://localhost:8006/?kiosk#/guests' });
  const timers: Array<() => void> = [];
  const win = w as unknown as globalThis.Window;
  (w as unknown as { setTimeout: unknown }).setTimeout = (fn: () => void, ms: number) => {
    assert.is(ms, KIOSK_BLANK_MS);
    timers.push(fn);
    return timers.length;
  };
  (w as unknown as { clearTimeout: unknown }).clearTimeout = () => undefined;
  w.document.body.innerHTML = '<div class="shell"></div>';
  const off = installKiosk(win);
  let reached = 0;
  w.document.body.addEventListener('keydown', () => reached++);
  timers[timers.length - 1]!();
  const curtain = () => (w.document.body.querySelector('div[style*="background: rgb(0, 0, 0)"], div[style*="background:#000"], div[style*="background: #000"]') as unknown as HTMLElement | null);
  const cells = () => [...w.document.querySelectorAll('div[aria-hidden="true"] span')].map((c) => (c as unknown as HTMLElement).style.background);
  assert.equal(cells(), markerDigits('blank').map(digitColor));
  assert.is(curtain()?.style.display, 'block');
  w.document.body.dispatchEvent(new w.KeyboardEvent('keydown', { key: 'a', bubbles: true, cancelable: true }));
  assert.is(reached, 0, 'the waking key goes nowhere');
  assert.is(curtain()?.style.display, 'none');
  assert.equal(cells(), markerDigits('guests').map(digitColor));
  w.document.body.dispatchEvent(new w.KeyboardEvent('keydown', { key: 'b', bubbles: true, cancelable: true }));
  assert.is(reached, 1, 'the next key reaches the page');
  off();
  await w.happyDOM.close();
});
I('should blank after the URL\'s blank= seconds, and never with blank=0', async () => {
  for (const [search, want] of [['?kiosk&blank=30', [30_000]], ['?kiosk&blank=0', []]] as const) {
    const w = new Window({ url: `https://localhost:8006/${search}#/guests` });
    const armed: number[] = [];
    (w as unknown as { setTimeout: unknown }).setTimeout = (_fn: () => void, ms: number) => armed.push(ms);
    (w as unknown as { clearTimeout: unknown }).clearTimeout = () => undefined;
    w.document.body.innerHTML = '<div class="shell"></div>';
    const off = installKiosk(w as unknown as globalThis.Window);
    w.document.body.dispatchEvent(new w.KeyboardEvent('keydown', { key: 'a', bubbles: true, cancelable: true }));
    assert.equal([...new Set(armed)], [...want], search);
    off();
    await w.happyDOM.close();
  }
});
I.run();
