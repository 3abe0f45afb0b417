/**
 * Just enough PNG (RFC 2083 / W3C PNG 2nd ed.) to shrink QEMU's screendump
 * into a thumbnail without a dependency: decode 8-bit RGB or RGBA,
 * non-interlaced; scale down by area averaging; encode 8-bit RGB.
 *
 *   89 50 4e 47 0d 0a 1a 0a                 signature
 *   00 00 00 0d  IHDR  width height 08 02 00 00 00  crc   (8-bit, colour type 2 = RGB)
 *   …  IDAT  zlib( per row: filter byte 0–4 + width×3 bytes )  crc
 *   00 00 00 00  IEND  ae 42 60 82
 *
 * QEMU 7.2's screendump writes 8-bit RGB and lets libpng pick a filter per
 * row (filters 0, 1, 2 and 4 appear in a SeaBIOS text screen).
 */
import { deflateSync, inflateSync } from 'node:zlib';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Largest image decoded, in pixels (a 4K screen); guards against a hostile IHDR. */
export const PNG_MAX_PIXELS = 4096 * 2160;

export interface Image {
  width: number;
  height: number;
  /** 3 = RGB, 4 = RGBA. */
  channels: 3 | 4;
  /** Rows of width × channels bytes, top to bottom, no filter bytes. */
  data: Buffer;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 as PNG and zlib use it; crc32("IEND") = 0xae426082. */
export function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Paeth predictor (PNG spec §9.4). */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function decodePng(buf: Buffer): Image {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG: bad signature');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels: 3 | 4 = 3;
  const idat: Buffer[] = [];
  let sawEnd = false;
  while (off + 12 <= buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (off + 12 + len > buf.length) throw new Error(`PNG chunk ${type} runs past the end`);
    const body = buf.subarray(off + 8, off + 8 + len);
    if (crc32(buf.subarray(off + 4, off + 8 + len)) !== buf.readUInt32BE(off + 8 + len)) throw new Error(`PNG chunk ${type} has a bad CRC`);
    off += 12 + len;
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, , , interlace] = body.subarray(8, 13);
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) {
        throw new Error(`unsupported PNG: bit depth ${depth}, colour type ${colour}, interlace ${interlace} (need 8-bit RGB/RGBA, non-interlaced)`);
      }
      channels = colour === 6 ? 4 : 3;
      if (width === 0 || height === 0 || width * height > PNG_MAX_PIXELS) throw new Error(`PNG of ${width}×${height} is empty or too large`);
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
  }
  if (width === 0) throw new Error('PNG has no IHDR');
  if (!sawEnd) throw new Error('PNG has no IEND (truncated?)');
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(idat), { maxOutputLength: (stride + 1) * height });
  if (raw.length !== (stride + 1) * height) throw new Error(`PNG image data is ${raw.length} bytes, expected ${(stride + 1) * height}`);
  const data = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const up = dst - stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? data[dst + i - channels]! : 0;
      const b = y > 0 ? data[up + i]! : 0;
      const c = i >= channels && y > 0 ? data[up + i - channels]! : 0;
      const x = raw[src + i]!;
      let v: number;
      switch (filter) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + ((a + b) >> 1); break;
        case 4: v = x + paeth(a, b, c); break;
        default: throw new Error(`PNG row ${y} has unknown filter type ${filter}`);
      }
      data[dst + i] = v & 0xff;
    }
  }
  return { width, height, channels, data };
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

/** Encode as 8-bit RGB (alpha dropped); each row gets the filter with the smallest sum of absolute values (libpng's heuristic). */
export function encodePng(img: Image): Buffer {
  const { width, height, channels } = img;
  const stride = width * 3;
  const rgb = channels === 3 ? img.data : Buffer.alloc(stride * height);
  if (channels === 4) for (let p = 0, q = 0; p < img.data.length; p += 4, q += 3) img.data.copy(rgb, q, p, p + 3);
  const raw = Buffer.alloc((stride + 1) * height);
  const cand = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    let bestSum = Infinity;
    for (let f = 0; f <= 4; f++) {
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const x = rgb[row + i]!;
        const a = i >= 3 ? rgb[row + i - 3]! : 0;
        const b = y > 0 ? rgb[row - stride + i]! : 0;
        const c = i >= 3 && y > 0 ? rgb[row - stride + i - 3]! : 0;
        const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
        const v = (x - pred) & 0xff;
        cand[i] = v;
        sum += v < 128 ? v : 256 - v;
      }
      if (sum < bestSum) {
        bestSum = sum;
        raw[y * (stride + 1)] = f;
        cand.copy(raw, y * (stride + 1) + 1);
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * Shrink to `width` pixels wide (height keeps the aspect, at least 1) by
 * averaging each target pixel's source area; never enlarges.
 *
 *   4×2 image, width 2 → 2×1; pixel (0,0) = mean of source (0..1, 0..1)
 */
export function scaleToWidth(img: Image, width: number): Image {
  if (width >= img.width) return img;
  const w = Math.max(1, Math.floor(width));
  const h = Math.max(1, Math.round((img.height * w) / img.width));
  const ch = img.channels;
  const out = Buffer.alloc(w * h * ch);
  for (let ty = 0; ty < h; ty++) {
    const y0 = Math.floor((ty * img.height) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((ty + 1) * img.height) / h));
    for (let tx = 0; tx < w; tx++) {
      const x0 = Math.floor((tx * img.width) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((tx + 1) * img.width) / w));
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < ch; c++) {
        let sum = 0;
        for (let y = y0; y < y1; y++) {
          const row = y * img.width * ch;
          for (let x = x0; x < x1; x++) sum += img.data[row + x * ch + c]!;
        }
        out[(ty * w + tx) * ch + c] = Math.round(sum / n);
      }
    }
  }
  return { width: w, height: h, channels: ch, data: out };
}
