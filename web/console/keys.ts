/**
 * Keys for the console as data for noVNC's RFB.sendKey(keysym, code, down):
 * the combinations a browser cannot send itself (the desktop takes
 * Ctrl+Alt+Del, Alt+Tab, Ctrl+Alt+F1 …), and text typed key by key.
 *
 *   comboStrokes(['ctrl', 'alt', 'del'])
 *     → ctrl↓ alt↓ del↓ del↑ alt↑ ctrl↑      (released in reverse order)
 *   typeStrokes('a!\n')
 *     → [[a↓ a↑], [shift↓ 1↓ 1↑ shift↑], [enter↓ enter↑]]   (one group per character)
 *
 * Keysyms are X11's (keysymdef.h: Latin-1 keysyms equal their code points,
 * other characters 0x01000000 + code point); codes are KeyboardEvent.code
 * names. QEMU's VNC server takes the key's scancode from the code (the QEMU
 * extended key event noVNC sends), so the guest's own keyboard layout turns
 * it into a character: text is typed as on a US keyboard, which is what a
 * guest has at its boot loader and installer.
 */

export interface Key {
  keysym: number;
  code: string | null;
}

export interface KeyStroke extends Key {
  down: boolean;
}

/** Keys the combinations use. */
export const KEYS = {
  ctrl: { keysym: 0xffe3, code: 'ControlLeft' }, // XK_Control_L
  alt: { keysym: 0xffe9, code: 'AltLeft' }, // XK_Alt_L
  shift: { keysym: 0xffe1, code: 'ShiftLeft' }, // XK_Shift_L
  del: { keysym: 0xffff, code: 'Delete' }, // XK_Delete
  backspace: { keysym: 0xff08, code: 'Backspace' }, // XK_BackSpace
  tab: { keysym: 0xff09, code: 'Tab' }, // XK_Tab
  enter: { keysym: 0xff0d, code: 'Enter' }, // XK_Return
  print: { keysym: 0xff61, code: 'PrintScreen' }, // XK_Print
  f1: { keysym: 0xffbe, code: 'F1' }, // XK_F1; F2 … F12 follow
  f2: { keysym: 0xffbf, code: 'F2' },
  f3: { keysym: 0xffc0, code: 'F3' },
  f4: { keysym: 0xffc1, code: 'F4' },
  f5: { keysym: 0xffc2, code: 'F5' },
  f6: { keysym: 0xffc3, code: 'F6' },
  f7: { keysym: 0xffc4, code: 'F7' },
} as const satisfies Record<string, Key>;

export type KeyName = keyof typeof KEYS;

/** The combinations the console offers, Ctrl+Alt+Del first. */
export const COMBOS: readonly (readonly KeyName[])[] = [
  ['ctrl', 'alt', 'del'],
  ['ctrl', 'alt', 'backspace'],
  ['ctrl', 'alt', 'f1'],
  ['ctrl', 'alt', 'f2'],
  ['ctrl', 'alt', 'f3'],
  ['ctrl', 'alt', 'f4'],
  ['ctrl', 'alt', 'f5'],
  ['ctrl', 'alt', 'f6'],
  ['ctrl', 'alt', 'f7'],
  ['alt', 'tab'],
  ['print'],
];

/** Press the keys in order, release them in reverse. */
export function comboStrokes(names: readonly KeyName[]): KeyStroke[] {
  const keys = names.map((n) => KEYS[n]);
  return [...keys.map((k) => ({ ...k, down: true })), ...keys.reverse().map((k) => ({ ...k, down: false }))];
}

/** US layout: the unshifted and shifted character of each key that has two. */
const US_PAIRS: ReadonlyArray<[plain: string, shifted: string, code: string]> = [
  ['`', '~', 'Backquote'],
  ['1', '!', 'Digit1'],
  ['2', '@', 'Digit2'],
  ['3', '#', 'Digit3'],
  ['4', '$', 'Digit4'],
  ['5', '%', 'Digit5'],
  ['6', '^', 'Digit6'],
  ['7', '&', 'Digit7'],
  ['8', '*', 'Digit8'],
  ['9', '(', 'Digit9'],
  ['0', ')', 'Digit0'],
  ['-', '_', 'Minus'],
  ['=', '+', 'Equal'],
  ['[', '{', 'BracketLeft'],
  [']', '}', 'BracketRight'],
  ['\\', '|', 'Backslash'],
  [';', ':', 'Semicolon'],
  ["'", '"', 'Quote'],
  [',', '<', 'Comma'],
  ['.', '>', 'Period'],
  ['/', '?', 'Slash'],
];

interface UsKey {
  code: string;
  shift: boolean;
}

const US_KEYS: ReadonlyMap<string, UsKey> = (() => {
  const m = new Map<string, UsKey>();
  for (const [plain, shifted, code] of US_PAIRS) {
    m.set(plain, { code, shift: false });
    m.set(shifted, { code, shift: true });
  }
  for (let c = 0; c < 26; c++) {
    const lower = String.fromCharCode(0x61 + c);
    const code = `Key${lower.toUpperCase()}`;
    m.set(lower, { code, shift: false });
    m.set(lower.toUpperCase(), { code, shift: true });
  }
  m.set(' ', { code: 'Space', shift: false });
  return m;
})();

/** The X11 keysym of a character (keysymdef.h: Latin-1 as is, the rest as Unicode keysyms). */
export function charKeysym(cp: number): number {
  return (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff) ? cp : 0x01000000 + cp;
}

const tap = (k: Key): KeyStroke[] => [{ ...k, down: true }, { ...k, down: false }];

/**
 * The strokes that type `text`, one group per character. A line break
 * (LF, CRLF or CR) is Enter, a tab is Tab; a character with no key on a
 * US keyboard is sent as its keysym alone (code null) and the guest may
 * ignore it. Other control characters are skipped.
 */
export function typeStrokes(text: string): KeyStroke[][] {
  const out: KeyStroke[][] = [];
  const chars = [...text.replace(/\r\n?/g, '\n')];
  for (const ch of chars) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\n') out.push(tap(KEYS.enter));
    else if (ch === '\t') out.push(tap(KEYS.tab));
    else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) continue;
    else {
      const us = US_KEYS.get(ch);
      const key = { keysym: charKeysym(cp), code: us?.code ?? null };
      out.push(us?.shift ? [{ ...KEYS.shift, down: true }, ...tap(key), { ...KEYS.shift, down: false }] : tap(key));
    }
  }
  return out;
}

/** Characters of `text` that have no key on a US keyboard (sent as keysyms only). */
export function untypable(text: string): string[] {
  const seen = new Set<string>();
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch !== '\n' && ch !== '\r' && ch !== '\t' && cp >= 0x20 && !(cp >= 0x7f && cp < 0xa0) && !US_KEYS.has(ch)) seen.add(ch);
  }
  return [...seen];
}
