/**
 * An RFB 3.8 server that answers every FramebufferUpdateRequest at once with
 * a whole Raw frame: a guest display with no refresh timer behind it, so a
 * benchmark sees the bridge's own ceiling rather than QEMU's (QEMU sends at
 * most one update per display refresh, 30 ms and more).
 *
 *   S: "RFB 003.008\n"  C: "RFB 003.008\n"   S: [1, 1] (None)   C: [1]
 *   S: u32 0 (OK)       C: [1] (shared)      S: ServerInit 1024×768, 32 bpp
 *   C: [3, inc, x, y, w, h]  →  S: [0, 0, 0, 1] rect(0, 0, 1024, 768, Raw) + pixels
 */
import { createServer, type Server, type Socket } from 'node:net';

export const INSTANT_WIDTH_PX = 1024;
export const INSTANT_HEIGHT_PX = 768;

/** Bytes of each client message after its type byte (RFC 6143 §7.5); SetEncodings and ClientCutText grow. */
const FIXED: Record<number, number> = { 0: 19, 3: 9, 4: 7, 5: 5 };

function serverInit(): Buffer {
  const name = Buffer.from('instant');
  const b = Buffer.alloc(24 + name.length);
  b.writeUInt16BE(INSTANT_WIDTH_PX, 0);
  b.writeUInt16BE(INSTANT_HEIGHT_PX, 2);
  Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]).copy(b, 4);
  b.writeUInt32BE(name.length, 20);
  name.copy(b, 24);
  return b;
}

function frame(): Buffer {
  const pixels = INSTANT_WIDTH_PX * INSTANT_HEIGHT_PX * 4;
  const b = Buffer.alloc(4 + 12 + pixels);
  b.writeUInt16BE(1, 2);
  b.writeUInt16BE(INSTANT_WIDTH_PX, 8);
  b.writeUInt16BE(INSTANT_HEIGHT_PX, 10);
  for (let i = 16; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
}

export function startInstantRfb(path: string): Promise<Server> {
  const FRAME = frame();
  const server = createServer((sock: Socket) => {
    let buf = Buffer.alloc(0);
    let stage = 0;
    sock.on('error', () => {});
    sock.write('RFB 003.008\n');
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (stage === 0) {
          if (buf.length < 12) return;
          buf = buf.subarray(12);
          sock.write(Buffer.from([1, 1]));
          stage = 1;
        } else if (stage === 1) {
          if (buf.length < 1) return;
          buf = buf.subarray(1);
          sock.write(Buffer.alloc(4));
          stage = 2;
        } else if (stage === 2) {
          if (buf.length < 1) return;
          buf = buf.subarray(1);
          sock.write(serverInit());
          stage = 3;
        } else {
          if (buf.length < 1) return;
          const type = buf[0]!;
          let len: number;
          if (type === 2) {
            if (buf.length < 4) return;
            len = 4 + 4 * buf.readUInt16BE(2);
          } else if (type === 6) {
            if (buf.length < 8) return;
            len = 8 + buf.readUInt32BE(4);
          } else if (FIXED[type] !== undefined) {
            len = 1 + FIXED[type]!;
          } else {
            sock.destroy();
            return;
          }
          if (buf.length < len) return;
          buf = buf.subarray(len);
          if (type === 3) sock.write(FRAME);
        }
      }
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}
