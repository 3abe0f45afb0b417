/**
 * The part of noVNC's RFB (core/rfb.js, docs/API.md of @novnc/novnc) the
 * console uses, and its loader. noVNC is fetched only when a console opens:
 * loadRfb() is a dynamic import, so the library is a chunk of its own and
 * never part of the app's eager bundle (build/build.ts counts it apart).
 *
 *   const RFB = await loadRfb();
 *   const rfb = new RFB(screenElement, webSocket, { shared: true });
 *   rfb.addEventListener('connect', …);  rfb.sendKey(0xffe3, 'ControlLeft', true);
 */

export interface RfbOptions {
  shared?: boolean;
  wsProtocols?: string[];
}

export interface Rfb extends EventTarget {
  /** Scale the screen to fit its element (else 1:1 with scroll bars). */
  scaleViewport: boolean;
  clipViewport: boolean;
  resizeSession: boolean;
  /** CSS background around the screen. */
  background: string;
  sendKey(keysym: number, code: string | null, down?: boolean): void;
  sendCtrlAltDel(): void;
  focus(options?: FocusOptions): void;
  blur(): void;
  disconnect(): void;
}

/** new RFB(target, url or an open WebSocket, options) */
export type RfbConstructor = new (target: HTMLElement, urlOrChannel: string | WebSocket, options?: RfbOptions) => Rfb;

export const loadRfb = (): Promise<RfbConstructor> =>
  import('@novnc/novnc').then((m) => m.default as unknown as RfbConstructor);

/**
 * Make the screen send key symbols only, no scan codes (noVNC then sends
 * plain RFB key events and QEMU maps them with its keymap). For a browser
 * whose KeyboardEvent.code names the wrong key: the kiosk's engine (cog
 * 0.16) hands WebKit a character's code point as the key's hardware code,
 * so "t" (U+0074 = 116, X's code of the Down key) arrives as code
 * "ArrowDown", while KeyboardEvent.key, which noVNC turns into the keysym,
 * is right.
 */
export function keysymsOnly(rfb: Rfb): void {
  const send = rfb.sendKey.bind(rfb);
  rfb.sendKey = (keysym, _code, down) => send(keysym, null, down);
}

/** Whether this page is the kiosk's (web/kiosk.ts puts the class "kiosk" on <html>), whose engine needs keysymsOnly(). */
export function needsKeysymsOnly(doc: Pick<Document, 'documentElement'> = document): boolean {
  return doc.documentElement.classList.contains('kiosk');
}
