/**
 * A lab node's own screen and keyboard, through QEMU's monitor: the kiosk's
 * test and benchmark look at what the node shows (QMP `screendump`) and type
 * on its keyboard (QMP `send-key`) as a person at the machine would.
 *
 *   typeKeys('admin\t')  → [['a'], ['d'], ['m'], ['i'], ['n'], ['tab']]   (qcodes, one chord each)
 *   readMarker(ppm)      → 'login'   (the web app's kiosk marker, web/kiosk.ts)
 *   shareNear(ppm, [170, 0, 0], 40) → 0.7   (70 % of the screen is a guest's VGA red)
 *
 * screendump writes PPM (P6) by default, which is read here without a
 * decoder; the PNG variant (`format: "png"`) is for people to look at.
 */
import { KIOSK_STATES, MARKER_CELL_PX, type KioskState } from '../../web/kiosk';

export interface Ppm {
  width: number;
  height: number;
  /** RGB, 3 bytes a pixel, rows top to bottom. */
  rgb: Buffer;
}

/** A binary PPM (P6, maxval 255) as QEMU's screendump writes it. */
export function parsePpm(buf: Buffer): Ppm {
  // Header: "P6" whitespace width whitespace height whitespace maxval, one whitespace byte, then the pixels.
  const head = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(buf.subarray(0, 64).toString('latin1'));
  if (!head) throw new Error('not a binary PPM (P6)');
  if (head[3] !== '255') throw new Error(`PPM maxval ${head[3]}, expected 255`);
  const width = Number(head[1]);
  const height = Number(head[2]);
  const rgb = buf.subarray(head[0].length, head[0].length + width * height * 3);
  if (rgb.length !== width * height * 3) throw new Error(`PPM of ${width}×${height} is cut short`);
  return { width, height, rgb };
}

export function pixel(p: Ppm, x: number, y: number): [number, number, number] {
  const i = (y * p.width + x) * 3;
  return [p.rgb[i]!, p.rgb[i + 1]!, p.rgb[i + 2]!];
}

/** A marker digit from a pixel: each channel is either dark or bright; null when one is neither. */
function digitOf([r, g, b]: [number, number, number]): number | null {
  const bit = (v: number) => (v < 48 ? 0 : v > 207 ? 1 : null);
  const [R, G, B] = [bit(r), bit(g), bit(b)];
  if (R === null || G === null || B === null) return null;
  return (R << 2) | (G << 1) | B;
}

/** The kiosk state the bottom-left marker shows, or null when there is none (no kiosk page drawn yet). */
export function readMarker(p: Ppm): KioskState | null {
  const y = p.height - 1 - Math.floor(MARKER_CELL_PX / 2);
  const digits = [0, 1, 2, 3].map((i) => digitOf(pixel(p, i * MARKER_CELL_PX + Math.floor(MARKER_CELL_PX / 2), y)));
  if (digits[0] !== 5 || digits[3] !== 5 || digits[1] === null || digits[2] === null) return null;
  const code = (digits[1]! << 3) | digits[2]!;
  return (Object.entries(KIOSK_STATES).find(([, c]) => c === code)?.[0] as KioskState | undefined) ?? null;
}

/** How many distinct colours the screen has (a blank or a text console has few, a rendered page many). */
export function colourCount(p: Ppm, limit = 4096): number {
  const seen = new Set<number>();
  for (let i = 0; i < p.rgb.length && seen.size < limit; i += 3 * 7) seen.add((p.rgb[i]! << 16) | (p.rgb[i + 1]! << 8) | p.rgb[i + 2]!);
  return seen.size;
}

/**
 * How much of the screen (0–1) is within `tolerance` of `rgb` in every
 * channel: "the guest's red screen fills the console", "the screen is black".
 */
export function shareNear(p: Ppm, rgb: readonly [number, number, number], tolerance: number): number {
  let n = 0;
  for (let i = 0; i < p.rgb.length; i += 3) {
    if (Math.abs(p.rgb[i]! - rgb[0]) <= tolerance && Math.abs(p.rgb[i + 1]! - rgb[1]) <= tolerance && Math.abs(p.rgb[i + 2]! - rgb[2]) <= tolerance) n++;
  }
  return n / (p.width * p.height);
}

const QCODE_OF: Record<string, string[]> = {
  ' ': ['spc'], '\t': ['tab'], '\n': ['ret'], '-': ['minus'], '_': ['shift', 'minus'], '.': ['dot'], ',': ['comma'],
  '/': ['slash'], '=': ['equal'], ';': ['semicolon'], '!': ['shift', '1'], '@': ['shift', '2'],
};

/**
 * Text as qcode chords for QMP send-key on a US keyboard layout: letters,
 * digits, a few signs, Tab and Enter; throws on anything else (a test that
 * types something the mapping does not know should fail loudly).
 */
export function typeKeys(text: string): string[][] {
  return [...text].map((ch) => {
    if (/^[a-z0-9]$/.test(ch)) return [ch];
    if (/^[A-Z]$/.test(ch)) return ['shift', ch.toLowerCase()];
    const q = QCODE_OF[ch];
    if (!q) throw new Error(`no qcode for ${JSON.stringify(ch)}`);
    return q;
  });
}
