import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { colourCount, parsePpm, pixel, readMarker, shareNear, typeKeys } from '../../../build/lab/screen';
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

const K = suite('typeKeys');
K('should type letters, capitals, digits, signs, Tab and Enter as qcode chords', () => {
  assert.equal(typeKeys('aB1-\t\n'), [['a'], ['shift', 'b'], ['1'], ['minus'], ['tab'], ['ret']]);
});
K('should refuse a character it cannot type', () => {
  assert.throws(() => typeKeys('ä'), /no qcode for "ä"/);
});
K.run();
