/**
 * The lab's network: an Ethernet hub on 127.0.0.1 that QEMU's socket
 * netdevs connect to (`-netdev socket,connect=127.0.0.1:PORT`). Every frame
 * one node sends reaches every other node, and nothing leaves the machine:
 * the nodes' LAN exists only inside this process.
 *
 * QEMU's stream socket protocol: each Ethernet frame is sent as a 4-byte
 * big-endian length and the frame itself:
 *
 *   00 00 00 2a  ff ff ff ff ff ff 52 54 00 72 76 01 08 06 …   (a 42-byte ARP request)
 */
import { createServer, type Server, type Socket } from 'node:net';

/** Largest frame accepted, in bytes (jumbo frames plus headers); anything larger means a broken stream. */
export const MAX_FRAME_BYTES = 65536 + 14;

/** Splits a byte stream into frames; keeps the remainder of a partial one for the next chunk. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  /** The complete frames (without their length prefix) that `chunk` finishes. Throws on an impossible length. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Buffer[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len === 0 || len > MAX_FRAME_BYTES) throw new Error(`hub: bad frame length ${len}`);
      if (this.buf.length < 4 + len) break;
      frames.push(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
    }
    return frames;
  }
}

/** A frame with its length prefix, as QEMU expects it. */
export function encodeFrame(frame: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(frame.length, 0);
  return Buffer.concat([head, frame]);
}

export interface Hub {
  port: number;
  /** Frames forwarded so far (for the lab's status line and tests). */
  frames(): number;
  /** Nodes connected now. */
  peers(): number;
  close(): Promise<void>;
}

/** Starts a hub on 127.0.0.1 (port 0: any free port). */
export function startHub(port = 0): Promise<Hub> {
  const peers = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((sock) => {
    peers.add(sock);
    const reader = new FrameReader();
    sock.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const f of frames) {
        count++;
        const wire = encodeFrame(f);
        for (const p of peers) if (p !== sock && !p.destroyed) p.write(wire);
      }
    });
    sock.on('close', () => peers.delete(sock));
    sock.on('error', () => peers.delete(sock));
  });
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      if (!addr || typeof addr !== 'object') return rej(new Error('hub: no address'));
      res({
        port: addr.port,
        frames: () => count,
        peers: () => peers.size,
        close: () =>
          new Promise<void>((done) => {
            for (const p of peers) p.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
