/**
 * Test-side parts for the console: a small websocket client over node:http
 * (masking every frame as a browser does), an RFB 3.8 client on top of it
 * (security type None, Raw encoding only), and a guest the node itself
 * makes and starts (POST /api/vm, /start), with its VNC unix socket where
 * console.cgi finds it.
 *
 *   await startConsoleGuest(fx, 101);                          // made and started through the API
 *   const c = await openConsole(fx.node.url, 101, { cookie }); // c.status 101, c.ws
 *   const rfb = new RfbClient(c.ws!);
 *   const init = await rfb.handshake();                        // 720×400 "QEMU (console-101)"
 *   const fb = await rfb.framebuffer();                        // raw pixels
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathsFor } from '../../node-cgi/lib/paths';
import { readJson, writeJsonAtomic } from '../../node-cgi/lib/store';
import { hashPassword } from '../../node-cgi/auth/password';
import type { RoleName } from '../../node-cgi/access/privileges';
import { FrameDecoder, OPCODE, closePayload, encodeFrame, type FrameOptions, type WsEvent } from '../../node-cgi/console/websocket';
import { decodePng } from '../../node-cgi/console/png';
import type { NodeFixture } from '../helpers/fixture';
import { waitFor } from '../helpers/guest';
import { asNodeOwner } from '../helpers/node';

// ---------------------------------------------------------------- guests

/** A guest without disk and NIC: SeaBIOS ends at "No bootable device." on its VGA text screen. */
export const consoleGuest = (vmid: number) => ({ vmid, name: `console-${vmid}`, memory: 32, disks: [], nics: [], cdrom: null });

/** Make and start such a guest through the node's API; its QEMU's pid. */
export async function startConsoleGuest(fx: NodeFixture, vmid: number): Promise<number> {
  await fx.createGuest(consoleGuest(vmid));
  await fx.startGuest(vmid);
  return Number(readFileSync(fx.runFile(vmid, 'pid'), 'utf8').trim());
}

/** SeaBIOS's text mode: 720×400. Before SeaBIOS sets it, QEMU shows its own 640×480 "Guest has not initialized the display (yet)." */
export const SEABIOS_TEXT_SCREEN = { width: 720, height: 400 };

/**
 * Wait until the guest shows SeaBIOS's text screen, seen through the
 * screenshot API. Until then QEMU's own 640×480 screen is up, not blank
 * either: ~0.7 s after the start under TCG, ~2.5 s under this host's KVM,
 * longer on a loaded machine. A test that reads the screen earlier races
 * the guest's BIOS.
 */
export async function waitForTextScreen(fx: NodeFixture, vmid: number): Promise<void> {
  await waitFor(`SeaBIOS's text screen on guest ${vmid}`, async () => {
    const r = await fetch(`${fx.node.url}/api/monitor/${vmid}/screenshot`, { headers: { cookie: fx.admin.cookie! } });
    if (r.status !== 200) throw new Error(`screenshot of guest ${vmid}: ${r.status} ${await r.text()}`);
    return decodePng(Buffer.from(await r.arrayBuffer())).width === SEABIOS_TEXT_SCREEN.width;
  }, 60_000, 200);
}

// ---------------------------------------------------------------- access

/** Add a user holding `role` on /vms/<vmid> (written straight into the node's config). */
export function addUser(root: string, username: string, password: string, role: RoleName, path: string): void {
  asNodeOwner(root, () => writeUser(root, username, password, role, path));
}

function writeUser(root: string, username: string, password: string, role: RoleName, path: string): void {
  const etc = pathsFor(root).etc;
  const users = readJson<{ users: Record<string, unknown> }>(join(etc, 'users.json'), { users: {} });
  users.users[username] = { enabled: true, expire: 0, groups: [], password: hashPassword(password) };
  writeJsonAtomic(join(etc, 'users.json'), users);
  const acl = readJson<{ acl: unknown[] }>(join(etc, 'acl.json'), { acl: [] });
  acl.acl.push({ path, user: username, role, propagate: true });
  writeJsonAtomic(join(etc, 'acl.json'), acl);
}

/** An API token for `username`; returns the Authorization value's credential "user!id=secret". */
export function addToken(root: string, username: string, tokenid: string): string {
  const secret = randomBytes(24).toString('base64url');
  const file = join(pathsFor(root).etc, 'tokens.json');
  const t = readJson<{ tokens: Record<string, unknown> }>(file, { tokens: {} });
  t.tokens[`${username}!${tokenid}`] = { hash: createHash('sha256').update(secret).digest('hex'), expire: 0, privsep: false };
  asNodeOwner(root, () => writeJsonAtomic(file, t));
  return `${username}!${tokenid}=${secret}`;
}

// ---------------------------------------------------------------- websocket client

const CLIENT_MASK_BYTES = 4;

export class WsClient {
  private decoder = new FrameDecoder({ masked: false, maxMessageBytes: 64 * 1024 * 1024 });
  private queue: WsEvent[] = [];
  private waiters: (() => void)[] = [];
  ended = false;
  /** Bytes received after the 101, frames included. */
  bytesIn = 0;

  constructor(readonly socket: Socket, head: Buffer) {
    socket.on('data', (b: Buffer) => this.feed(b));
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    if (head.length) this.feed(head);
  }

  private feed(b: Buffer) {
    this.bytesIn += b.length;
    this.queue.push(...this.decoder.push(b));
    this.wake();
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The next event (message, ping, pong, close); null once the connection is gone. */
  async next(timeoutMs = 10_000): Promise<WsEvent | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('websocket: no event in time');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.queue.shift()!;
  }

  /** Resolves when the server has closed the TCP connection. */
  async closed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('websocket: connection still open');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  frame(opcode: number, payload: Buffer | string = '', opts: FrameOptions = {}): void {
    this.socket.write(encodeFrame(opcode, Buffer.from(payload), { mask: randomBytes(CLIENT_MASK_BYTES), ...opts }));
  }

  send(data: Buffer): void {
    this.frame(OPCODE.BINARY, data);
  }

  close(code = 1000, reason = ''): void {
    this.frame(OPCODE.CLOSE, closePayload(code, reason));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface ConsoleAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The JSON body of a refusal. */
  body?: string;
  ws?: WsClient;
}

export interface OpenOptions {
  cookie?: string;
  token?: string;
  /** Default: the node's own origin when a cookie is sent. null: send none. */
  origin?: string | null;
  protocols?: string[];
  /** Send Upgrade headers (default true). */
  upgrade?: boolean;
  path?: string;
}

/** GET /api/console/<vmid> as a websocket opening request (ws: or, for an https base, wss: accepting a self-signed certificate). */
export function openConsole(base: string, vmid: number | string, opts: OpenOptions = {}): Promise<ConsoleAnswer> {
  const url = new URL(opts.path ?? `/api/console/${vmid}`, base);
  const headers: Record<string, string> = {};
  if (opts.upgrade !== false) {
    headers.upgrade = 'websocket';
    headers.connection = 'Upgrade';
    headers['sec-websocket-version'] = '13';
    headers['sec-websocket-key'] = randomBytes(16).toString('base64');
  }
  if (opts.protocols) headers['sec-websocket-protocol'] = opts.protocols.join(', ');
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.token) headers.authorization = `RamvmToken ${opts.token}`;
  const origin = opts.origin === undefined ? (opts.cookie ? new URL(base).origin : null) : opts.origin;
  if (origin) headers.origin = origin;
  return new Promise((resolve, reject) => {
    const req = url.protocol === 'https:'
      ? httpsRequest(url, { headers, agent: false, rejectUnauthorized: false })
      : httpRequest(url, { headers, agent: false });
    req.on('upgrade', (res, socket, head) => {
      const want = createHash('sha1').update(headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      if (res.headers['sec-websocket-accept'] !== want) {
        socket.destroy();
        reject(new Error(`wrong Sec-WebSocket-Accept ${res.headers['sec-websocket-accept']}`));
        return;
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, ws: new WsClient(socket, head) });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------- RFB client

export interface ServerInit {
  version: string;
  width: number;
  height: number;
  bitsPerPixel: number;
  name: string;
}

export interface Update {
  rects: { x: number; y: number; w: number; h: number; encoding: number }[];
  /** Raw pixel bytes of every rectangle, concatenated. */
  pixels: Buffer;
}

/** Where an RFB client reads and writes: a websocket's binary messages, or a raw socket. */
export interface RfbTransport {
  /** The next chunk of bytes; null at the end. */
  read(): Promise<Buffer | null>;
  write(b: Buffer): void;
}

export function wsTransport(ws: WsClient): RfbTransport {
  return {
    async read() {
      for (;;) {
        const ev = await ws.next();
        if (ev === null) return null;
        if (ev.type === 'message') return ev.data;
        if (ev.type === 'close') throw new Error(`RFB: websocket closed ${ev.code} ${ev.reason}`);
      }
    },
    write: (b) => ws.send(b),
  };
}

/** A raw stream socket (the VNC unix socket itself, for baselines). */
export function socketTransport(sock: Socket): RfbTransport {
  const chunks: Buffer[] = [];
  let ended = false;
  let wake: (() => void) | null = null;
  sock.on('data', (b: Buffer) => {
    chunks.push(b);
    wake?.();
  });
  sock.on('close', () => {
    ended = true;
    wake?.();
  });
  return {
    async read() {
      while (chunks.length === 0) {
        if (ended) return null;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
      return chunks.shift()!;
    },
    write: (b) => void sock.write(b),
  };
}

/** RFB 3.8 (RFC 6143) over a transport. */
export class RfbClient {
  private chunks: Buffer[] = [];
  private buffered = 0;
  init?: ServerInit;
  private readonly t: RfbTransport;

  constructor(t: WsClient | RfbTransport) {
    this.t = t instanceof WsClient ? wsTransport(t) : t;
  }

  private async read(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      const b = await this.t.read();
      if (b === null) throw new Error(`RFB: connection closed while waiting for ${n} bytes`);
      this.chunks.push(b);
      this.buffered += b.length;
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  /** ProtocolVersion, security None, ClientInit (shared), ServerInit; asks for Raw encoding only. */
  async handshake(): Promise<ServerInit> {
    const version = (await this.read(12)).toString('latin1');
    if (!/^RFB \d{3}\.\d{3}\n$/.test(version)) throw new Error(`RFB: bad version ${JSON.stringify(version)}`);
    this.t.write(Buffer.from('RFB 003.008\n'));
    const n = (await this.read(1))[0]!;
    if (n === 0) throw new Error('RFB: server refused the connection');
    const types = [...(await this.read(n))];
    if (!types.includes(1)) throw new Error(`RFB: no security type None in ${types}`);
    this.t.write(Buffer.from([1]));
    const result = (await this.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`RFB: security result ${result}`);
    this.t.write(Buffer.from([1])); // ClientInit, shared
    const si = await this.read(24);
    const nameLen = si.readUInt32BE(20);
    const name = (await this.read(nameLen)).toString('utf8');
    this.init = { version: version.trim(), width: si.readUInt16BE(0), height: si.readUInt16BE(2), bitsPerPixel: si[4]!, name };
    // SetEncodings: Raw (0) only.
    this.t.write(Buffer.from([2, 0, 0, 1, 0, 0, 0, 0]));
    return this.init;
  }

  requestUpdate(incremental: boolean, w = this.init!.width, h = this.init!.height): void {
    const m = Buffer.alloc(10);
    m[0] = 3;
    m[1] = incremental ? 1 : 0;
    m.writeUInt16BE(w, 6);
    m.writeUInt16BE(h, 8);
    this.t.write(m);
  }

  /** Read server messages until a FramebufferUpdate has arrived whole. */
  async readUpdate(): Promise<Update> {
    for (;;) {
      const type = (await this.read(1))[0]!;
      if (type === 2) continue; // Bell
      if (type === 3) {
        const len = (await this.read(7)).readUInt32BE(3);
        await this.read(len);
        continue;
      }
      if (type !== 0) throw new Error(`RFB: unexpected server message ${type}`);
      const nrects = (await this.read(3)).readUInt16BE(1);
      const rects: Update['rects'] = [];
      const pixels: Buffer[] = [];
      for (let i = 0; i < nrects; i++) {
        const h = await this.read(12);
        const r = { x: h.readUInt16BE(0), y: h.readUInt16BE(2), w: h.readUInt16BE(4), h: h.readUInt16BE(6), encoding: h.readInt32BE(8) };
        rects.push(r);
        if (r.encoding !== 0) throw new Error(`RFB: unexpected encoding ${r.encoding}`);
        pixels.push(Buffer.from(await this.read(r.w * r.h * (this.init!.bitsPerPixel / 8))));
      }
      return { rects, pixels: Buffer.concat(pixels) };
    }
  }

  /** A whole frame (non-incremental update). */
  async framebuffer(): Promise<Update> {
    this.requestUpdate(false);
    return this.readUpdate();
  }
}

/** Pids of console.cgi processes serving the node with this data root (from /proc). */
export function consoleCgiPids(root: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      if (!readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('console.cgi')) continue;
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`RAMVM_ROOT=${root}`)) pids.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** Whether raw pixels hold anything but black. */
export function nonBlank(pixels: Buffer): boolean {
  return pixels.some((b) => b !== 0);
}

/**
 * A whole screen of a VNC server on a unix socket (QEMU's `-vnc unix:PATH`)
 * as RGB rows, for the lab's nodes: QEMU's monitor `screendump` stopped
 * answering for good under the kiosk's screen (the monitor took no further
 * command), VNC reads the same display another way. QEMU refreshes a
 * display only while a client is there, so the first frame may be a
 * moment old: the second one is returned.
 */
export async function vncScreen(path: string, timeoutMs = 30_000): Promise<{ width: number; height: number; rgb: Buffer }> {
  const sock = connect(path);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`VNC ${path}: no whole frame within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([timeout, (async () => {
      await new Promise<void>((res, rej) => {
        sock.once('connect', res);
        sock.once('error', rej);
      });
      const c = new RfbClient(socketTransport(sock));
      const init = await c.handshake();
      // QEMU's own pixel format (none asked for): 32 bits, little-endian 0x00RRGGBB.
      if (init.bitsPerPixel !== 32) throw new Error(`VNC ${path}: ${init.bitsPerPixel} bits a pixel, expected 32`);
      await c.framebuffer();
      await new Promise((r) => setTimeout(r, 100));
      const u = await c.framebuffer();
      const rgb = Buffer.alloc(init.width * init.height * 3);
      let at = 0;
      for (const r of u.rects) {
        for (let y = 0; y < r.h; y++) {
          for (let x = 0; x < r.w; x++, at += 4) {
            const o = ((r.y + y) * init.width + r.x + x) * 3;
            rgb[o] = u.pixels[at + 2]!;
            rgb[o + 1] = u.pixels[at + 1]!;
            rgb[o + 2] = u.pixels[at]!;
          }
        }
      }
      return { width: init.width, height: init.height, rgb };
    })()]);
  } finally {
    clearTimeout(timer);
    sock.destroy();
  }
}
