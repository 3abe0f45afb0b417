import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../../node-cgi/console/png';
import { colourCount, crop, parsePng, parsePpm, pixel, readMarker, screenLikeness, shareNear, typeKeys, verticalOffset, type Ppm } from '../../../build/lab/screen';
import { MARKER_CELL_PX, digitColor, markerDigits, type KioskState } from '../../../web/kiosk';

/** A w×h P6 image, background `bg`, with the kiosk marker of `state` drawn as the web app draws it. */
function screen(w: number, h: number, bg: [number, number, number], state?: KioskState): Buffer {
  const rgb = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) rgb.set(bg, i * 3);
  if (state) {
    markerDigits(state).forEach((d, cell) => {
      const [r, g, b] = /rgb\((\d+), (\d+), (\d+)\)/.exec(digitColor(d))!.slice(1).map(Number) as [number, number, number];
      for (let y = h - MARKER_CELL_PX; y < h; y++) for (let x = cell * MARKER_CELL_PX; x < (cell + 1) * MARKER_CELL_PX; x++) rgb.set([r, g, b], (y * w + x) * 3);
    });
  }
  return Buffer.concat([Buffer.from(`P6\n${w} ${h}\n255\n`, 'latin1'), rgb]);
}

const P = suite('parsePpm');
P('should read the size and pixels of a binary PPM', () => {
  const p = parsePpm(screen(4, 3, [10, 20, 30]));
  assert.equal([p.width, p.height, pixel(p, 3, 2)], [4, 3, [10, 20, 30]]);
});
P('should refuse other formats and cut images', () => {
  assert.throws(() => parsePpm(Buffer.from('P3\n1 1\n255\n0 0 0\n')), /not a binary PPM/);
  assert.throws(() => parsePpm(Buffer.from('P6\n2 2\n255\n\0\0\0')), /cut short/);
  assert.throws(() => parsePpm(Buffer.from('P6\n1 1\n65535\n\0\0\0\0\0\0')), /maxval 65535/);
});
P.run();

const M = suite('readMarker');
M('should read every state the web app draws', () => {
  for (const s of ['login', 'guests', 'guest', 'console', 'blank'] as const) assert.is(readMarker(parsePpm(screen(64, 48, [31, 41, 55], s))), s);
});
M('should find no marker on a text console or a blank screen', () => {
  assert.is(readMarker(parsePpm(screen(64, 48, [0, 0, 0]))), null);
  assert.is(readMarker(parsePpm(screen(64, 48, [170, 170, 170]))), null);
});
M('should count few colours on a blank screen', () => {
  assert.is(colourCount(parsePpm(screen(64, 48, [0, 0, 0]))), 1);
});
M.run();

const N = suite('shareNear');
N('should measure the part of the screen near a colour, within the tolerance', () => {
  const p = parsePpm(screen(64, 48, [168, 4, 0], 'console'));
  const marker = (4 * 8 * 8) / (64 * 48);
  assert.is(shareNear(p, [170, 0, 0], 8), 1 - marker);
  assert.is(shareNear(p, [170, 0, 0], 3), 0, 'green 4 is off by more than 3');
  assert.is(shareNear(p, [0, 0, 0], 40), (8 * 8) / (64 * 48), 'the marker\'s black cell only');
});
N.run();

/** A PNG of `p`, row y filtered with filter type `filters[y % filters.length]` (an encoder as RFC 2083 describes). */
function png(p: Ppm, channels: 3 | 4, filters: number[]): Buffer {
  const stride = p.width * channels;
  const rows: Buffer[] = [];
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < p.height; y++) {
    const line = Buffer.alloc(stride, 255);
    for (let x = 0; x < p.width; x++) p.rgb.copy(line, x * channels, (y * p.width + x) * 3, (y * p.width + x) * 3 + 3);
    const f = filters[y % filters.length]!;
    const out = Buffer.alloc(stride + 1);
    out[0] = f;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      const pa = Math.abs(b - c);
      const pb = Math.abs(a - c);
      const pc = Math.abs(a + b - 2 * c);
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][f]!;
      out[i + 1] = (line[i]! - pred) & 0xff;
    }
    rows.push(out);
    prev = line;
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])));
    return Buffer.concat([len, Buffer.from(type, 'latin1'), data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(p.width, 0);
  ihdr.writeUInt32BE(p.height, 4);
  ihdr.set([8, channels === 4 ? 6 : 2, 0, 0, 0], 8);
  const z = deflateSync(Buffer.concat(rows));
  // Two IDAT chunks: a decoder must join them.
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', z.subarray(0, 7)), chunk('IDAT', z.subarray(7)), chunk('IEND', Buffer.alloc(0))]);
}

/** A w×h screen of noise-free test content: a gradient with a few stripes. */
function pattern(w: number, h: number): Ppm {
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([(x * 7 + y) & 255, (y * 13) & 255, x % 5 === 0 ? 250 : (x * y) & 255], (y * w + x) * 3);
  return { width: w, height: h, rgb };
}

const G = suite('parsePng');
G('should read RGB and RGBA PNGs with every filter type, as the same pixels', () => {
  const p = pattern(9, 10);
  for (const channels of [3, 4] as const) {
    const back = parsePng(png(p, channels, [0, 1, 2, 3, 4]));
    assert.equal([back.width, back.height], [9, 10]);
    assert.ok(back.rgb.equals(p.rgb), `${channels} channels`);
  }
});
G('should refuse what is not a PNG (the decoder\'s own tests have the rest)', () => {
  assert.throws(() => parsePng(parsePpmBytes()), /not a PNG/);
});
G.run();

function parsePpmBytes(): Buffer {
  return screen(2, 2, [0, 0, 0]);
}

/** A w×h screen of background `bg` with filled boxes (x, y, w, h, colour): text lines and fields of a page, in short. */
function page(w: number, h: number, bg: [number, number, number], boxes: [number, number, number, number, [number, number, number]][]): Ppm {
  const p = parsePpm(screen(w, h, bg));
  for (const [bx, by, bw, bh, c] of boxes) for (let y = by; y < by + bh; y++) for (let x = bx; x < bx + bw; x++) p.rgb.set(c, (y * w + x) * 3);
  return p;
}

const L = suite('screenLikeness');
const WHITE: [number, number, number] = [255, 255, 255];
const login = page(128, 96, [31, 41, 55], [[20, 20, 40, 3, WHITE], [20, 40, 60, 12, WHITE], [20, 60, 60, 12, WHITE]]);
L('should find a screen like itself, and like itself drawn a pixel off and a little lighter', () => {
  assert.is(screenLikeness(login, login), 1);
  const other = page(128, 96, [35, 45, 60], [[21, 20, 40, 3, WHITE], [21, 41, 60, 12, WHITE], [21, 61, 60, 12, WHITE]]);
  assert.ok(screenLikeness(login, other) >= 0.8, String(screenLikeness(login, other)));
});
L('should find a blank screen, another page and another background unlike the page', () => {
  assert.is(screenLikeness(login, page(128, 96, [31, 41, 55], [])), 0, 'only the background');
  assert.is(screenLikeness(login, page(128, 96, [0, 0, 0], [])), 0, 'black');
  const RED: [number, number, number] = [200, 60, 60];
  const list = page(128, 96, [31, 41, 55], [[0, 0, 128, 14, [60, 60, 200]], [4, 30, 120, 2, RED], [4, 50, 120, 2, RED], [4, 70, 120, 2, RED]]);
  assert.ok(screenLikeness(login, list) < 0.5, String(screenLikeness(login, list)));
  const light = page(128, 96, [240, 240, 240], [[20, 20, 40, 3, [30, 60, 200]], [20, 40, 60, 12, [30, 60, 200]], [20, 60, 60, 12, [30, 60, 200]]]);
  assert.ok(screenLikeness(login, light) < 0.2, String(screenLikeness(login, light)));
});
L('should find a page whose parts moved by more than the shift it allows unlike it', () => {
  const moved = page(128, 96, [31, 41, 55], [[20, 50, 40, 3, WHITE], [20, 70, 60, 12, WHITE], [20, 82, 60, 12, WHITE]]);
  assert.ok(screenLikeness(login, moved, { shift: 4 }) < 0.5, String(screenLikeness(login, moved, { shift: 4 })));
  assert.ok(screenLikeness(login, moved, { shift: 32 }) >= 0.7, 'within a larger shift');
});
L('should find a page scrolled by up to scrollPx like itself, and only then', () => {
  const scrolled = page(128, 96, [31, 41, 55], [[20, 0, 40, 3, WHITE], [20, 20, 60, 12, WHITE], [20, 40, 60, 12, WHITE]]);
  assert.ok(screenLikeness(login, scrolled, { shift: 4 }) < 0.5, 'scrolled by 20 px, beyond the shift');
  assert.ok(screenLikeness(login, scrolled, { shift: 4, scrollPx: 24 }) >= 0.8, String(screenLikeness(login, scrolled, { shift: 4, scrollPx: 24 })));
});
L('should refuse screens of different sizes', () => {
  assert.throws(() => screenLikeness(login, pattern(64, 96)), /screens of 128×96 and 64×96 cannot be compared/);
});
L.run();

const V = suite('verticalOffset');
V('should find how far the second screen\'s content lies below the first\'s', () => {
  const down = page(128, 96, [31, 41, 55], [[20, 27, 40, 3, WHITE], [20, 47, 60, 12, WHITE], [20, 67, 60, 12, WHITE]]);
  assert.is(verticalOffset(login, down, 16), 7);
  assert.is(verticalOffset(down, login, 16), -7);
  assert.is(verticalOffset(login, login, 16), 0);
});
V.run();

const X = suite('crop');
X('should cut out a rectangle of the screen', () => {
  const p = pattern(9, 10);
  const c = crop(p, { x: 2, y: 3, w: 4, h: 5 });
  assert.equal([c.width, c.height, pixel(c, 0, 0), pixel(c, 3, 4)], [4, 5, pixel(p, 2, 3), pixel(p, 5, 7)]);
});
X('should refuse a rectangle that is not inside the screen', () => {
  assert.throws(() => crop(pattern(9, 10), { x: 6, y: 0, w: 4, h: 2 }), /4×2 at 6,0 is not inside a screen of 9×10/);
});
X.run();

const K = suite('typeKeys');
K('should type letters, capitals, digits, signs, Tab and Enter as qcode chords', () => {
  assert.equal(typeKeys('aB1-\t\n'), [['a'], ['shift', 'b'], ['1'], ['minus'], ['tab'], ['ret']]);
});
K('should refuse a character it cannot type', () => {
  assert.throws(() => typeKeys('ä'), /no qcode for "ä"/);
});
K.run();
