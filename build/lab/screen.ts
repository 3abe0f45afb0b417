/**
 * A lab node's own screen and keyboard, read and typed from outside: the kiosk's
 * test and benchmark look at what the node shows (QEMU's VNC socket:
 * test/integration/console-helpers.ts vncScreen) and type
 * on its keyboard (QMP `send-key`) as a person at the machine would.
 *
 *   typeKeys('admin\t')  → [['a'], ['d'], ['m'], ['i'], ['n'], ['tab']]   (qcodes, one chord each)
 *   readMarker(ppm)      → 'login'   (the web app's kiosk marker, web/kiosk.ts)
 *   shareNear(ppm, [170, 0, 0], 40) → 0.7   (70 % of the screen is a guest's VGA red)
 *   screenLikeness(ppm, chromiumShot) → 0.93   (the page drawn as Chromium draws it)
 *
 * Screens are RGB rows (Ppm); parsePpm() reads a binary PPM as QEMU's
 * screendump writes it, without a decoder.
 * Chromium's screenshots are PNG: parsePng() reads them.
 */
import { decodePng } from '../../node-cgi/console/png';
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

/**
 * A PNG of 8-bit RGB or RGBA, not interlaced (what Chromium's screenshots
 * are), as RGB like parsePpm's (the console's decoder, node-cgi/console/png.ts);
 * alpha is dropped: a screenshot is opaque.
 */
export function parsePng(buf: Buffer): Ppm {
  const img = decodePng(buf);
  if (img.channels === 3) return { width: img.width, height: img.height, rgb: img.data };
  const rgb = Buffer.alloc(img.width * img.height * 3);
  for (let i = 0, o = 0; o < rgb.length; i += 4, o += 3) img.data.copy(rgb, o, i, i + 3);
  return { width: img.width, height: img.height, rgb };
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

/** The part of a screen in the rectangle at (x, y) of w×h pixels. */
export function crop(p: Ppm, r: { x: number; y: number; w: number; h: number }): Ppm {
  if (r.x < 0 || r.y < 0 || r.w <= 0 || r.h <= 0 || r.x + r.w > p.width || r.y + r.h > p.height) {
    throw new Error(`${r.w}×${r.h} at ${r.x},${r.y} is not inside a screen of ${p.width}×${p.height}`);
  }
  const rgb = Buffer.alloc(r.w * r.h * 3);
  for (let y = 0; y < r.h; y++) p.rgb.copy(rgb, y * r.w * 3, ((r.y + y) * p.width + r.x) * 3, ((r.y + y) * p.width + r.x + r.w) * 3);
  return { width: r.w, height: r.h, rgb };
}

/** Side of the cells screenLikeness() compares, in pixels. */
export const LIKENESS_CELL_PX = 16;
/** Largest difference of two cells' mean colours, per channel, that still counts as alike. */
export const LIKENESS_TOLERANCE = 24;
/** How far (px, each way) a cell may have moved: two engines lay out form fields a few pixels apart. */
export const LIKENESS_SHIFT_PX = 12;
/** A cell whose pixels' standard deviation (in any channel) exceeds this holds an edge: text, a border, a field. */
const BUSY_STDDEV = 12;

/** Summed-area tables of each channel and its square: any rectangle's mean and spread in O(1). */
class Sums {
  private readonly w: number;
  private readonly s: Float64Array[];
  private readonly q: Float64Array[];
  constructor(readonly p: Ppm) {
    const w = (this.w = p.width + 1);
    this.s = [0, 1, 2].map(() => new Float64Array(w * (p.height + 1)));
    this.q = [0, 1, 2].map(() => new Float64Array(w * (p.height + 1)));
    for (let y = 0; y < p.height; y++) {
      for (let x = 0; x < p.width; x++) {
        const i = (y * p.width + x) * 3;
        const o = (y + 1) * w + x + 1;
        for (let c = 0; c < 3; c++) {
          const v = p.rgb[i + c]!;
          this.s[c]![o] = v + this.s[c]![o - 1]! + this.s[c]![o - w]! - this.s[c]![o - w - 1]!;
          this.q[c]![o] = v * v + this.q[c]![o - 1]! + this.q[c]![o - w]! - this.q[c]![o - w - 1]!;
        }
      }
    }
  }
  private rect(t: Float64Array, x: number, y: number, n: number): number {
    const w = this.w;
    return t[(y + n) * w + x + n]! - t[y * w + x + n]! - t[(y + n) * w + x]! + t[y * w + x]!;
  }
  /** Mean colour of the n×n square at (x, y), and whether it is busy. */
  cell(x: number, y: number, n: number): { mean: [number, number, number]; busy: boolean } {
    const area = n * n;
    const mean = [0, 1, 2].map((c) => this.rect(this.s[c]!, x, y, n) / area) as [number, number, number];
    const busy = [0, 1, 2].some((c) => this.rect(this.q[c]!, x, y, n) / area - mean[c]! ** 2 > BUSY_STDDEV ** 2);
    return { mean, busy };
  }
}

/** Of a's busy cells, the share that b has, alike, within `shift` pixels of where they are in a moved down by `dy`. */
function found(a: Sums, b: Sums, cellPx: number, tolerance: number, shift: number, dy0: number): { busy: number; alike: number } {
  const { width, height } = a.p;
  let busy = 0;
  let alike = 0;
  for (let cy = 0; cy + cellPx <= height; cy += cellPx) {
    for (let cx = 0; cx + cellPx <= width; cx += cellPx) {
      const x = a.cell(cx, cy, cellPx);
      if (!x.busy) continue;
      busy++;
      search: for (let dy = -shift; dy <= shift; dy++) {
        const y0 = cy + dy0 + dy;
        if (y0 < 0 || y0 + cellPx > height) continue;
        for (let dx = -shift; dx <= shift; dx++) {
          const x0 = cx + dx;
          if (x0 < 0 || x0 + cellPx > width) continue;
          const y = b.cell(x0, y0, cellPx);
          if (y.busy && x.mean.every((v, c) => Math.abs(v - y.mean[c]!) <= tolerance)) {
            alike++;
            break search;
          }
        }
      }
    }
  }
  return { busy, alike };
}

/** Per row, how much the brightness changes from pixel to pixel: where the lines of text and the edges are. */
function rowProfile(p: Ppm): Float64Array {
  const out = new Float64Array(p.height);
  for (let y = 0; y < p.height; y++) {
    let sum = 0;
    let prev = -1;
    for (let x = 0; x < p.width; x++) {
      const i = (y * p.width + x) * 3;
      const lum = p.rgb[i]! + p.rgb[i + 1]! + p.rgb[i + 2]!;
      if (prev >= 0) sum += Math.abs(lum - prev);
      prev = lum;
    }
    out[y] = sum / p.width;
  }
  return out;
}

/**
 * How far b's content lies below a's (negative: above), within `maxPx`: the
 * shift of b's row profile that correlates best with a's.
 */
export function verticalOffset(a: Ppm, b: Ppm, maxPx: number): number {
  const pa = rowProfile(a);
  const pb = rowProfile(b);
  const mean = (v: Float64Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(pa), mean(pb)];
  let best = 0;
  let bestScore = -Infinity;
  for (let dy = -maxPx; dy <= maxPx; dy++) {
    let sum = 0;
    let n = 0;
    for (let y = Math.max(0, -dy); y < pa.length && y + dy < pb.length; y++) {
      sum += (pa[y]! - ma) * (pb[y + dy]! - mb);
      n++;
    }
    const score = n > 0 ? sum / n : -Infinity;
    if (score > bestScore || (score === bestScore && Math.abs(dy) < Math.abs(best))) [best, bestScore] = [dy, score];
  }
  return best;
}

/**
 * How alike two screens of the same size look, 0–1. Each screen is cut
 * into cells (squares of `cellPx`); a cell that holds something (text, a
 * border, a field: its pixels vary) is found in the other screen when a
 * square there, at most `shift` pixels away, also holds something and has
 * the same mean colour within `tolerance`. The likeness is the smaller of
 * the two shares found (a's cells in b, b's in a). Coarse on purpose: the
 * kiosk's WebKit and Chromium anti-alias text differently and make form
 * fields a few pixels taller or shorter, but the same page at the same size
 * has the same lines of text, fields and colours in the same places, while
 * another page, a blank screen or a text console does not. Cells empty in
 * a screen do not count (a page of mostly background would otherwise look
 * like any other of that background). With `scrollPx`, b may show the
 * content scrolled up or down by up to that much (verticalOffset()): one
 * engine scrolled a focused element into view, the other did not.
 */
export function screenLikeness(a: Ppm, b: Ppm, o: { cellPx?: number; tolerance?: number; shift?: number; scrollPx?: number } = {}): number {
  const { cellPx = LIKENESS_CELL_PX, tolerance = LIKENESS_TOLERANCE, shift = LIKENESS_SHIFT_PX, scrollPx = 0 } = o;
  if (a.width !== b.width || a.height !== b.height) throw new Error(`screens of ${a.width}×${a.height} and ${b.width}×${b.height} cannot be compared`);
  const dy = scrollPx > 0 ? verticalOffset(a, b, scrollPx) : 0;
  const sa = new Sums(a);
  const sb = new Sums(b);
  const ab = found(sa, sb, cellPx, tolerance, shift, dy);
  const ba = found(sb, sa, cellPx, tolerance, shift, -dy);
  const share = (r: { busy: number; alike: number }) => (r.busy === 0 ? 1 : r.alike / r.busy);
  // Two empty screens are alike; an empty one and a page are not.
  if (ab.busy === 0 || ba.busy === 0) return ab.busy === ba.busy ? 1 : 0;
  return Math.min(share(ab), share(ba));
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
