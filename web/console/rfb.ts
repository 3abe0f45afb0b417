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
