/**
 * RFC 6455 websockets, the pure part: the opening handshake's checks and
 * answer, frame encoding, and an incremental decoder that turns bytes into
 * messages and control events. No sockets here (see bridge.ts).
 *
 * A frame (RFC 6455 §5.2), e.g. a masked client frame carrying "Hi":
 *
 *   82 82 37 fa 21 3d 7f 93
 *   │  │  └─ mask key ─┘ └─ "Hi" XOR mask
 *   │  └─ MASK bit + 7-bit length 2 (126 → 16-bit length follows, 127 → 64-bit)
 *   └─ FIN bit + opcode 2 (binary)
 *
 * Clients mask every frame, servers never do. A message may be split into a
 * first frame (opcode, FIN clear), continuation frames (opcode 0) and a last
 * one with FIN set; control frames (close, ping, pong) carry at most 125
 * bytes, are never fragmented and may arrive between the fragments.
 */
import { createHash } from 'node:crypto';
import { HttpError } from '../lib/errors';

/** Appended to Sec-WebSocket-Key before hashing (RFC 6455 §1.3). */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Largest message the decoder reassembles; RFB client messages are tiny, a pasted clipboard is the largest. */
export const WS_MESSAGE_MAX_BYTES = 1024 * 1024; // 1 MiB

/** Largest control frame payload (RFC 6455 §5.5). */
export const WS_CONTROL_MAX_BYTES = 125;

export const OPCODE = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** Close codes (RFC 6455 §7.4.1). */
export const CLOSE_CODE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Never sent: stands for "the close frame had no code". */
  NO_STATUS: 1005,
  /** Never sent: stands for "the connection dropped without a close frame". */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
} as const;

/** The subprotocol noVNC asks for: raw RFB bytes in binary frames. */
export const RFB_SUBPROTOCOL = 'binary';

/** A peer broke the protocol; the connection ends with a close frame carrying `code`. */
export class WsProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'WsProtocolError';
  }
}

/** Sec-WebSocket-Accept for a key: base64(sha1(key + GUID)). RFC 6455 §1.3's example: "dGhlIHNhbXBsZSBub25jZQ==" → "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=". */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export interface Upgrade {
  accept: string;
  /** The subprotocol chosen from the client's offer, or null when none was offered. */
  protocol: string | null;
}

/**
 * Check a websocket opening request (RFC 6455 §4.2.1) from lower-case
 * headers. Not an upgrade at all → 426 (the resource speaks only websocket);
 * a malformed one → 400.
 */
export function parseUpgrade(method: string, headers: Readonly<Record<string, string>>): Upgrade {
  const upgrade = (headers['upgrade'] ?? '').toLowerCase();
  if (!upgrade.split(',').some((t) => t.trim() === 'websocket')) {
    throw new HttpError('upgrade_required', 'this resource speaks only websocket (Upgrade: websocket)').withHeader('Upgrade', 'websocket');
  }
  if (method !== 'GET') throw new HttpError('bad_request', 'a websocket opening request must be a GET');
  const connection = (headers['connection'] ?? '').toLowerCase();
  if (!connection.split(',').some((t) => t.trim() === 'upgrade')) {
    throw new HttpError('bad_request', 'the Connection header must contain "Upgrade"');
  }
  const version = (headers['sec-websocket-version'] ?? '').trim();
  if (version !== '13') {
    throw new HttpError('upgrade_required', 'only websocket version 13 is supported (Sec-WebSocket-Version: 13)')
      .withHeader('Upgrade', 'websocket')
      .withHeader('Sec-WebSocket-Version', '13');
  }
  const key = (headers['sec-websocket-key'] ?? '').trim();
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key) || Buffer.from(key, 'base64').length !== 16) {
    throw new HttpError('bad_request', 'Sec-WebSocket-Key must be 16 bytes in base64');
  }
  const offered = (headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (offered.length > 0 && !offered.includes(RFB_SUBPROTOCOL)) {
    throw new HttpError('bad_request', `unsupported websocket subprotocol ${offered.join(', ')}; offer "${RFB_SUBPROTOCOL}" or none`);
  }
  return { accept: acceptKey(key), protocol: offered.length > 0 ? RFB_SUBPROTOCOL : null };
}

/**
 * The CGI's 101 answer; lighttpd (cgi.upgrade) forwards it and then joins
 * the CGI's stdin/stdout to the client's connection:
 *
 *   Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n
 *   Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: binary\r\n\r\n
 */
export function switchingProtocolsHead(u: Upgrade): string {
  let head = 'Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';
  head += `Sec-WebSocket-Accept: ${u.accept}\r\n`;
  if (u.protocol) head += `Sec-WebSocket-Protocol: ${u.protocol}\r\n`;
  return head + '\r\n';
}

/**
 * A browser always sends Origin on a websocket, and a page of another site
 * must not reach a console with our cookie; so a present Origin must name
 * the host the request was sent to. Clients that are not browsers may omit it.
 *
 *   ("https://pve1:8006", "pve1:8006") → true    ("https://evil.example", "pve1:8006") → false
 */
export function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (!host) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  const norm = (h: string, scheme: string) => {
    const lower = h.toLowerCase();
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(lower);
    if (!m) return lower;
    return `${m[1]}:${m[2] ?? scheme}`;
  };
  return norm(url.host, defaultPort) === norm(host.trim(), defaultPort);
}

export interface FrameOptions {
  /** Default true: the last (or only) frame of a message. */
  fin?: boolean;
  /** A 4-byte masking key: clients mask, servers do not. */
  mask?: Buffer;
  /** RSV1..3 as a 3-bit number; only tests set it. */
  rsv?: number;
}

/** One frame's header: FIN/RSV/opcode, MASK and length, and the mask key if any. */
export function frameHeader(opcode: number, length: number, opts: FrameOptions = {}): Buffer {
  const fin = opts.fin ?? true;
  const maskLen = opts.mask ? 4 : 0;
  const lenBytes = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const head = Buffer.alloc(2 + lenBytes + maskLen);
  head[0] = (fin ? 0x80 : 0) | (((opts.rsv ?? 0) & 7) << 4) | (opcode & 0x0f);
  const maskBit = opts.mask ? 0x80 : 0;
  if (lenBytes === 0) head[1] = maskBit | length;
  else if (lenBytes === 2) {
    head[1] = maskBit | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  if (opts.mask) opts.mask.copy(head, 2 + lenBytes, 0, 4);
  return head;
}

/** A whole frame (header + payload, masked when opts.mask is given). */
export function encodeFrame(opcode: number, payload: Buffer = Buffer.alloc(0), opts: FrameOptions = {}): Buffer {
  const head = frameHeader(opcode, payload.length, opts);
  const body = opts.mask ? applyMask(Buffer.from(payload), opts.mask) : payload;
  return Buffer.concat([head, body]);
}

/** The payload of a close frame: 2-byte code + UTF-8 reason, cut to fit 125 bytes. */
export function closePayload(code: number, reason = ''): Buffer {
  let r = Buffer.from(reason, 'utf8');
  if (r.length > WS_CONTROL_MAX_BYTES - 2) {
    // Cut on a character boundary so the reason stays valid UTF-8.
    let end = WS_CONTROL_MAX_BYTES - 2;
    while (end > 0 && (r[end]! & 0xc0) === 0x80) end--;
    r = r.subarray(0, end);
  }
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

/** XOR `data` in place with the 4-byte key (RFC 6455 §5.3); returns it. */
export function applyMask(data: Buffer, mask: Buffer): Buffer {
  for (let i = 0; i < data.length; i++) data[i]! ^= mask[i & 3]!;
  return data;
}

/** Codes a peer may send in a close frame (RFC 6455 §7.4, IANA registry up to 1014, private 3000–4999). */
export function validCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

export type WsEvent =
  | { type: 'message'; binary: boolean; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  /** code null: the close frame had no payload (1005). */
  | { type: 'close'; code: number | null; reason: string };

export interface DecoderOptions {
  /** True on the server: every incoming frame must be masked. False on a client: none may be. */
  masked: boolean;
  maxMessageBytes?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(b: Buffer, what: string): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new WsProtocolError(CLOSE_CODE.INVALID_PAYLOAD, `${what} is not valid UTF-8`);
  }
}

/**
 * Incremental frame decoder: push() bytes as they arrive, get the complete
 * events they finish. Throws WsProtocolError at the first violation; after a
 * close frame it ignores everything (RFC 6455 §5.5.1).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  /** Opcode of the message being reassembled, or -1. */
  private fragmentOpcode = -1;
  private closed = false;
  private readonly maxMessageBytes: number;

  constructor(private readonly opts: DecoderOptions) {
    this.maxMessageBytes = opts.maxMessageBytes ?? WS_MESSAGE_MAX_BYTES;
  }

  push(chunk: Buffer): WsEvent[] {
    const events: WsEvent[] = [];
    if (this.closed) return events;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      const ev = this.next();
      if (ev === undefined) break;
      if (ev !== null) events.push(ev);
      if (this.closed) break;
    }
    return events;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.buffered;
  }

  /** undefined: need more bytes; null: a frame was consumed with no event (a fragment). */
  private next(): WsEvent | null | undefined {
    if (this.buffered < 2) return undefined;
    const h = this.peek(Math.min(this.buffered, 14));
    const b0 = h[0]!;
    const b1 = h[1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    if ((b0 & 0x70) !== 0) throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, 'reserved bits set (no extension was negotiated)');
    if (masked !== this.opts.masked) {
      throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, this.opts.masked ? 'client frames must be masked' : 'server frames must not be masked');
    }
    const control = opcode >= 0x8;
    if (![0, 1, 2, 8, 9, 10].includes(opcode)) throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, `unknown opcode ${opcode}`);
    let len = b1 & 0x7f;
    let off = 2;
    if (len === 126) {
      if (h.length < 4) return undefined;
      len = h.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (h.length < 10) return undefined;
      const big = h.readBigUInt64BE(2);
      if (big >> 63n) throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, 'the most significant bit of a 64-bit length must be 0');
      len = big > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(big);
      off = 10;
    }
    if (control) {
      if (!fin) throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, 'control frames must not be fragmented');
      if (len > WS_CONTROL_MAX_BYTES) throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, `control frame payload of ${len} bytes exceeds 125`);
    } else if (opcode === OPCODE.CONTINUATION) {
      if (this.fragmentOpcode < 0) throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, 'continuation frame without a message to continue');
    } else if (this.fragmentOpcode >= 0) {
      throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, 'new data frame inside a fragmented message');
    }
    if (!control && this.fragmentBytes + len > this.maxMessageBytes) {
      throw new WsProtocolError(CLOSE_CODE.TOO_BIG, `message exceeds ${this.maxMessageBytes} bytes`);
    }
    const maskOff = off;
    if (masked) off += 4;
    if (this.buffered < off + len) return undefined;
    const mask = masked ? Buffer.from(h.subarray(maskOff, maskOff + 4)) : null;
    this.take(off);
    const payload = this.take(len);
    if (mask) applyMask(payload, mask);

    if (control) return this.control(opcode, payload);
    if (!fin) {
      if (opcode !== OPCODE.CONTINUATION) this.fragmentOpcode = opcode;
      this.fragments.push(payload);
      this.fragmentBytes += len;
      return null;
    }
    let data = payload;
    let msgOpcode = opcode;
    if (opcode === OPCODE.CONTINUATION) {
      this.fragments.push(payload);
      data = Buffer.concat(this.fragments, this.fragmentBytes + len);
      msgOpcode = this.fragmentOpcode;
      this.fragments = [];
      this.fragmentBytes = 0;
      this.fragmentOpcode = -1;
    }
    if (msgOpcode === OPCODE.TEXT) decodeUtf8(data, 'a text message');
    return { type: 'message', binary: msgOpcode === OPCODE.BINARY, data };
  }

  private control(opcode: number, payload: Buffer): WsEvent {
    if (opcode === OPCODE.PING) return { type: 'ping', data: payload };
    if (opcode === OPCODE.PONG) return { type: 'pong', data: payload };
    this.closed = true;
    if (payload.length === 0) return { type: 'close', code: null, reason: '' };
    if (payload.length === 1) throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, 'a close payload of 1 byte has no room for the code');
    const code = payload.readUInt16BE(0);
    if (!validCloseCode(code)) throw new WsProtocolError(CLOSE_CODE.PROTOCOL_ERROR, `invalid close code ${code}`);
    return { type: 'close', code, reason: decodeUtf8(payload.subarray(2), 'the close reason') };
  }

  /** The first n buffered bytes without consuming them (n ≤ buffered). */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    for (const c of this.chunks) {
      got += c.copy(out, got, 0, Math.min(c.length, n - got));
      if (got === n) break;
    }
    return out;
  }

  /** Consume n bytes as one (copied) buffer. */
  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - got);
      c.copy(out, got, 0, k);
      got += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}
