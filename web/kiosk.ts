/**
 * Kiosk mode: the web app on the node's own screen. The kiosk image's
 * browser opens https://localhost:8006/?kiosk; `?kiosk` turns this on
 * (main.ts), and nothing else in the app changes. It adds what a screen
 * with a keyboard and no mouse needs:
 *
 *   * one page only: "open in own window" (a guest's console) shows the
 *     console full screen in the same page, #/console/<vmid>;
 *   * Ctrl+Alt+Shift on that full-screen console leaves it, back to the
 *     guest's page (on the guest page it still only frees the keyboard);
 *   * blanking: after KIOSK_BLANK_MS without a key (or `&blank=SECONDS`
 *     of the URL, from the node's ramvm.blank=; 0: never) the screen goes
 *     black; the next key wakes it and does nothing else;
 *   * a state marker: four 8-pixel squares in the bottom-left corner whose
 *     colours say which page is shown (login, guest list, guest, console,
 *     blank), so the lab test reads the node's screen without OCR.
 */
import { parseHash } from './router';

/** Idle time before the screen goes black, in ms. */
export const KIOSK_BLANK_MS = 10 * 60_000;

/** Side of one marker square, in CSS pixels. */
export const MARKER_CELL_PX = 8;

/** What the kiosk shows, as the marker encodes it. */
export const KIOSK_STATES = { starting: 1, login: 2, guests: 3, guest: 4, console: 5, other: 6, blank: 7 } as const;
export type KioskState = keyof typeof KIOSK_STATES;

/** The eight colours of a marker digit (0–7): bit 2 red, bit 1 green, bit 0 blue. */
export function digitColor(d: number): string {
  return `rgb(${d & 4 ? 255 : 0}, ${d & 2 ? 255 : 0}, ${d & 1 ? 255 : 0})`;
}

/** The marker's squares: magenta (where it starts), the state's two octal digits, magenta again. */
export function markerDigits(state: KioskState): number[] {
  const code = KIOSK_STATES[state];
  return [5, (code >> 3) & 7, code & 7, 5];
}

export function isKiosk(search: string): boolean {
  return new URLSearchParams(search).has('kiosk');
}

/** The idle time before blanking, in ms: `blank=SECONDS` of the URL (0: never), else KIOSK_BLANK_MS. */
export function kioskBlankMs(search: string): number {
  const v = new URLSearchParams(search).get('blank');
  return v !== null && /^(0|[1-9][0-9]{0,5})$/.test(v) ? Number(v) * 1000 : KIOSK_BLANK_MS;
}

/** The page shown: the login form if it is there, else by the route. */
export function kioskState(doc: Pick<Document, 'querySelector'>, hash: string, blank: boolean): KioskState {
  if (blank) return 'blank';
  if (doc.querySelector('main.login')) return 'login';
  if (!doc.querySelector('.shell')) return 'starting';
  const r = parseHash(hash);
  if (r?.view === 'console' && r.parts.length > 0) return 'console';
  if (r?.view === 'guests') return r.parts.length === 0 ? 'guests' : 'guest';
  return 'other';
}

/** Ctrl+Alt+Shift, in any order of pressing (the console's own leave chord). */
export function isLeaveChord(e: Pick<KeyboardEvent, 'ctrlKey' | 'altKey' | 'shiftKey' | 'key'>): boolean {
  return e.ctrlKey && e.altKey && e.shiftKey && (e.key === 'Shift' || e.key === 'Control' || e.key === 'Alt');
}

/** Where a window.open of the app goes in the kiosk's one page: its route, or null for anything else. */
export function sameOriginRoute(url: string, origin: string): string | null {
  try {
    const u = new URL(url, origin);
    return u.origin === origin && u.hash.startsWith('#/') ? u.hash : null;
  } catch {
    return null;
  }
}

export function installKiosk(win: Window = window): () => void {
  const doc = win.document;
  doc.documentElement.classList.add('kiosk');
  const marker = doc.createElement('div');
  marker.setAttribute('aria-hidden', 'true');
  marker.style.cssText = `position:fixed;left:0;bottom:0;z-index:2147483647;display:flex;pointer-events:none;height:${MARKER_CELL_PX}px`;
  const cells = [0, 1, 2, 3].map(() => {
    const c = doc.createElement('span');
    c.style.cssText = `display:block;width:${MARKER_CELL_PX}px;height:${MARKER_CELL_PX}px`;
    marker.append(c);
    return c;
  });
  const curtain = doc.createElement('div');
  curtain.style.cssText = 'position:fixed;inset:0;z-index:2147483646;background:#000;cursor:none;display:none';
  doc.body.append(curtain, marker);

  let blank = false;
  const paint = () => {
    markerDigits(kioskState(doc, win.location.hash, blank)).forEach((d, i) => (cells[i]!.style.background = digitColor(d)));
  };
  let timer = 0;
  const blankMs = kioskBlankMs(win.location.search);
  const arm = () => {
    win.clearTimeout(timer);
    if (blankMs === 0) return;
    timer = win.setTimeout(() => {
      blank = true;
      curtain.style.display = 'block';
      paint();
    }, blankMs);
  };
  const onKey = (e: KeyboardEvent) => {
    arm();
    if (blank) {
      // The waking key does nothing else.
      e.preventDefault();
      e.stopImmediatePropagation();
      if (e.type === 'keyup') return;
      blank = false;
      curtain.style.display = 'none';
      paint();
      return;
    }
    if (e.type === 'keydown' && isLeaveChord(e)) {
      const r = parseHash(win.location.hash);
      if (r?.view === 'console' && r.parts[0]) {
        e.preventDefault();
        e.stopImmediatePropagation();
        win.location.hash = `#/guests/${encodeURIComponent(r.parts[0])}`;
      }
    }
  };
  const onPointer = () => arm();
  win.addEventListener('keydown', onKey, true);
  win.addEventListener('keyup', onKey, true);
  win.addEventListener('pointerdown', onPointer, true);
  win.addEventListener('hashchange', paint);
  const observer = new (win as Window & typeof globalThis).MutationObserver(paint);
  observer.observe(doc.body, { childList: true, subtree: true });
  const open = win.open;
  win.open = ((url?: string | URL) => {
    const route = url === undefined ? null : sameOriginRoute(String(url), win.location.origin);
    if (route) win.location.hash = route;
    return null;
  }) as typeof win.open;
  arm();
  paint();
  return () => {
    win.clearTimeout(timer);
    observer.disconnect();
    win.removeEventListener('keydown', onKey, true);
    win.removeEventListener('keyup', onKey, true);
    win.removeEventListener('pointerdown', onPointer, true);
    win.removeEventListener('hashchange', paint);
    win.open = open;
    marker.remove();
    curtain.remove();
    doc.documentElement.classList.remove('kiosk');
  };
}
