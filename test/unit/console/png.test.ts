import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 as zlibCrc32, deflateSync } from 'node:zlib';
import { PNG_SIGNATURE, crc32, decodePng, encodePng, scaleToWidth, type Image } from '../../../node-cgi/console/png';

/** QEMU 7.2 `screendump format=png` of SeaBIOS's "No bootable device." screen. */
const SHOT = readFileSync(join(__dirname, 'fixtures/qemu-7.2-screendump-seabios-720x400.png'));

/** A PNG built here, chunk by chunk, with zlib's own CRC (an independent implementation). */
function png(width: number, height: number, colour: number, raw: Buffer, opts: { depth?: number; interlace?: number } = {}): Buffer {
  const chunk = (type: string, body: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const tb = Buffer.concat([Buffer.from(type, 'latin1'), body]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlibCrc32(tb));
    return Buffer.concat([len, tb, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = opts.depth ?? 8;
  ihdr[9] = colour;
  ihdr[12] = opts.interlace ?? 0;
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const K = suite('crc32');
K('should give the CRC of IEND every PNG ends with', () => {
  assert.is(crc32(Buffer.from('IEND')), 0xae426082);
});
K('should agree with zlib on arbitrary bytes', () => {
  const b = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff));
  assert.is(crc32(b), zlibCrc32(b));
});
K.run();

const D = suite('decodePng');
D('should decode QEMU\'s screendump: 720×400 RGB, black with grey text', () => {
  const img = decodePng(SHOT);
  assert.is(img.width, 720);
  assert.is(img.height, 400);
  assert.is(img.channels, 3);
  const colours = new Map<string, number>();
  for (let i = 0; i < img.data.length; i += 3) {
    const k = img.data.toString('hex', i, i + 3);
    colours.set(k, (colours.get(k) ?? 0) + 1);
  }
  assert.equal([...colours.keys()].sort(), ['000000', 'a8a8a8']);
  assert.is(colours.get('a8a8a8'), 4586);
  // The "S" of "SeaBIOS" starts at (1, 2).
  assert.equal([...img.data.subarray((2 * 720 + 1) * 3, (2 * 720 + 1) * 3 + 3)], [0xa8, 0xa8, 0xa8]);
  assert.equal([...img.data.subarray(0, 3)], [0, 0, 0]);
});
D('should undo each of the five row filters', () => {
  // 2×1 pixels per row; row 0 unfiltered, then one row per filter type, all decoding to known bytes.
  // row0 = 10 20 30 40 50 60
  // row1 (Sub 1):     want 11 21 31 52 72 92  → raw 11 21 31 41 51 61
  // row2 (Up 2):      want 12 22 32 53 73 93  → raw 1 1 1 1 1 1
  // row3 (Average 3): want 20 30 40 50 60 70  → raw 20-6 30-11 40-16 50-(20+53)/2 60-(30+73)/2 70-(40+93)/2
  // row4 (Paeth 4):   want 21 31 41 51 61 71  → raw = want − paeth(left, up, up-left), per PNG spec §9.4
  const want = [
    [10, 20, 30, 40, 50, 60],
    [11, 21, 31, 52, 72, 92],
    [12, 22, 32, 53, 73, 93],
    [20, 30, 40, 50, 60, 70],
    [21, 31, 41, 51, 61, 71],
  ];
  const paeth = (a: number, b: number, c: number) => {
    const p = a + b - c;
    const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  };
  const rows = [
    [0, ...want[0]!],
    [1, 11, 21, 31, 41, 51, 61],
    [2, 1, 1, 1, 1, 1, 1],
    [3, 20 - 6, 30 - 11, 40 - 16, 50 - 36, 60 - 51, 70 - 66],
    [4, ...want[4]!.map((x, i) => (x - paeth(i >= 3 ? want[4]![i - 3]! : 0, want[3]![i]!, i >= 3 ? want[3]![i - 3]! : 0)) & 0xff)],
  ];
  const img = decodePng(png(2, 5, 2, Buffer.from(rows.flat())));
  assert.equal([...img.data], want.flat());
});
D('should decode RGBA', () => {
  const img = decodePng(png(1, 1, 6, Buffer.from([0, 1, 2, 3, 4])));
  assert.is(img.channels, 4);
  assert.equal([...img.data], [1, 2, 3, 4]);
});
const bad: [string, () => Buffer, string][] = [
  ['not a PNG at all', () => Buffer.from('GIF89a……'), 'signature'],
  ['a flipped bit in a chunk', () => { const b = Buffer.from(SHOT); b[100]! ^= 1; return b; }, 'CRC'],
  ['a file cut in half', () => SHOT.subarray(0, SHOT.length >> 1), 'past the end'],
  ['16-bit samples', () => png(1, 1, 2, Buffer.alloc(7), { depth: 16 }), 'bit depth 16'],
  ['a palette image', () => png(1, 1, 3, Buffer.alloc(2)), 'colour type 3'],
  ['an interlaced image', () => png(1, 1, 2, Buffer.alloc(4), { interlace: 1 }), 'interlace 1'],
  ['image data shorter than the header says', () => png(2, 2, 2, Buffer.alloc(7)), 'expected 14'],
  ['an unknown filter type', () => png(1, 1, 2, Buffer.from([5, 0, 0, 0])), 'filter type 5'],
  ['a header claiming 100000×100000 pixels', () => png(100000, 100000, 2, Buffer.alloc(1)), 'too large'],
];
for (const [why, make, msg] of bad) {
  D(`should refuse ${why}`, () => {
    assert.throws(() => decodePng(make()), (e: Error) => e.message.includes(msg));
  });
}
D.run();

const N = suite('encodePng');
N('should round-trip QEMU\'s screendump', () => {
  const img = decodePng(SHOT);
  const again = decodePng(encodePng(img));
  assert.is(again.width, 720);
  assert.ok(again.data.equals(img.data));
});
N('should drop alpha and end with IEND', () => {
  const rgba: Image = { width: 2, height: 1, channels: 4, data: Buffer.from([1, 2, 3, 255, 4, 5, 6, 0]) };
  const out = encodePng(rgba);
  assert.equal(out.subarray(-12), Buffer.from('0000000049454e44ae426082', 'hex'));
  const back = decodePng(out);
  assert.is(back.channels, 3);
  assert.equal([...back.data], [1, 2, 3, 4, 5, 6]);
});
N.run();

const W = suite('scaleToWidth');
W('should average each target pixel\'s source area', () => {
  const img: Image = { width: 4, height: 2, channels: 3, data: Buffer.from([
    0, 0, 0, 100, 100, 100, 10, 20, 30, 10, 20, 30,
    100, 100, 100, 200, 200, 200, 10, 20, 30, 50, 60, 70,
  ]) };
  const s = scaleToWidth(img, 2);
  assert.is(s.width, 2);
  assert.is(s.height, 1);
  assert.equal([...s.data], [100, 100, 100, 20, 30, 40]);
});
W('should never enlarge', () => {
  const img: Image = { width: 2, height: 2, channels: 3, data: Buffer.alloc(12) };
  assert.is(scaleToWidth(img, 200), img);
});
W('should keep the aspect and the text visible in a thumbnail of the screendump', () => {
  const s = scaleToWidth(decodePng(SHOT), 160);
  assert.is(s.width, 160);
  assert.is(s.height, 89);
  assert.ok(s.data.some((v) => v > 0), 'some pixels lit');
  assert.ok(decodePng(encodePng(s)).data.equals(s.data));
});
W.run();
