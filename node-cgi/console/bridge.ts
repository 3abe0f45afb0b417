/**
 * The console bridge: websocket frames on one side (the CGI's stdin/stdout
 * after the 101), a guest's VNC unix socket on the other. Every chunk QEMU
 * sends becomes one binary frame; every binary message the browser sends is
 * written to QEMU as is. The bridge answers pings, pings the browser itself
 * (which keeps lighttpd's idle timeout away and notices a vanished client),
 * and ends with a close handshake whose code says why:
 *
 *   browser closes (1000)          → echo 1000, end            endedBy "client"
 *   guest stops (VNC socket ends)  → send 1000 "…display closed" endedBy "guest"
 *   unmasked or malformed frame    → send 1002 + reason          endedBy "protocol"
 *   no answer to two pings         → send 1001                   endedBy "timeout"
 *   access revoked (checked at each ping) → send 1008            endedBy "revoked"
 *
 * The streams are passed in, so tests drive it with any stream pair.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { CLOSE_CODE, FrameDecoder, OPCODE, WsProtocolError, closePayload, frameHeader, WS_MESSAGE_MAX_BYTES } from './websocket';

/**
 * How often the bridge pings the browser; it gives up after two silent
 * intervals. The ping is also how a vanished browser is noticed: lighttpd
 * sees a client that dropped without a close only when it next writes to it,
 * so an idle screen would otherwise keep its CGI until the guest draws again.
 */
export const PING_INTERVAL_MS = 10_000;
/** How long to wait for the browser's close frame after sending ours. */
export const CLOSE_TIMEOUT_MS = 2_000;

export interface BridgeOptions {
  pingIntervalMs?: number;
  /**
   * Asked at every ping: may this user still see the console? The ticket that
   * opened it may expire meanwhile (that must not cut a working console off),
   * but a disabled user or a withdrawn privilege ends it.
   */
  allowed?: () => boolean;
  closeTimeoutMs?: number;
  maxMessageBytes?: number;
}

export interface BridgeResult {
  endedBy: 'client' | 'guest' | 'protocol' | 'timeout' | 'revoked';
  /** The close code sent (or received, when the browser closed first); 1006 when the browser vanished. */
  code: number;
  reason: string;
  bytesToClient: number;
  bytesToGuest: number;
}

export function runBridge(input: Readable, output: Writable, guest: Duplex, opts: BridgeOptions = {}): Promise<BridgeResult> {
  const pingIntervalMs = opts.pingIntervalMs ?? PING_INTERVAL_MS;
  const closeTimeoutMs = opts.closeTimeoutMs ?? CLOSE_TIMEOUT_MS;
  const decoder = new FrameDecoder({ masked: true, maxMessageBytes: opts.maxMessageBytes ?? WS_MESSAGE_MAX_BYTES });
  let bytesToClient = 0;
  let bytesToGuest = 0;
  let lastHeard = Date.now();
  /** Set once our close frame is out; then only the browser's close reply is awaited. */
  let closing: Omit<BridgeResult, 'bytesToClient' | 'bytesToGuest'> | null = null;
  let done = false;

  return new Promise<BridgeResult>((resolve) => {
    let closeTimer: NodeJS.Timeout | undefined;

    const send = (opcode: number, payload: Buffer): boolean => {
      output.cork();
      output.write(frameHeader(opcode, payload.length));
      const ok = output.write(payload);
      output.uncork();
      return ok;
    };

    const finish = (r: Omit<BridgeResult, 'bytesToClient' | 'bytesToGuest'>) => {
      if (done) return;
      done = true;
      clearInterval(pinger);
      clearTimeout(closeTimer);
      input.off('data', onInput);
      input.off('end', onInputEnd);
      input.off('close', onInputEnd);
      input.off('error', onInputEnd);
      output.off('error', onInputEnd);
      output.on('error', () => {});
      guest.off('data', onGuest);
      guest.off('end', onGuestEnd);
      guest.off('close', onGuestEnd);
      guest.off('error', onGuestError);
      guest.on('error', () => {});
      guest.destroy();
      resolve({ ...r, bytesToClient, bytesToGuest });
    };

    /** Send our close frame and wait (briefly) for the browser's. */
    const startClose = (endedBy: BridgeResult['endedBy'], code: number, reason: string) => {
      if (closing || done) return;
      closing = { endedBy, code, reason };
      guest.off('data', onGuest);
      guest.destroy();
      send(OPCODE.CLOSE, closePayload(code, reason));
      closeTimer = setTimeout(() => finish(closing!), closeTimeoutMs);
    };

    const onGuest = (chunk: Buffer) => {
      bytesToClient += chunk.length;
      if (!send(OPCODE.BINARY, chunk)) {
        guest.pause();
        output.once('drain', () => guest.resume());
      }
    };
    const onGuestEnd = () => startClose('guest', CLOSE_CODE.NORMAL, 'the guest display closed (guest stopped?)');
    // A QEMU that is killed resets the socket: for the user that is the guest stopping too.
    const onGuestError = (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' || e.code === 'EPIPE'
        ? onGuestEnd()
        : startClose('guest', CLOSE_CODE.INTERNAL_ERROR, `console socket error: ${e.message}`);

    const onInput = (chunk: Buffer) => {
      lastHeard = Date.now();
      let events;
      try {
        events = decoder.push(chunk);
      } catch (e) {
        if (!(e instanceof WsProtocolError)) throw e;
        startClose('protocol', e.code, e.message);
        return;
      }
      for (const ev of events) {
        if (done) return;
        switch (ev.type) {
          case 'message':
            if (closing) break;
            if (!ev.binary) {
              startClose('protocol', CLOSE_CODE.UNSUPPORTED_DATA, 'text frames are not supported; send RFB in binary frames');
              return;
            }
            bytesToGuest += ev.data.length;
            if (!guest.write(ev.data)) {
              input.pause();
              guest.once('drain', () => input.resume());
            }
            break;
          case 'ping':
            if (!closing) send(OPCODE.PONG, ev.data);
            break;
          case 'pong':
            break;
          case 'close':
            if (closing) {
              finish(closing);
              return;
            }
            // Echo the code (RFC 6455 §5.5.1); an empty close is answered with an empty one.
            send(OPCODE.CLOSE, ev.code === null ? Buffer.alloc(0) : closePayload(ev.code));
            finish({ endedBy: 'client', code: ev.code ?? CLOSE_CODE.NO_STATUS, reason: ev.reason });
            return;
        }
      }
    };
    const onInputEnd = () => finish(closing ?? { endedBy: 'client', code: CLOSE_CODE.ABNORMAL, reason: 'the browser went away without a close frame' });

    const pinger = setInterval(() => {
      if (closing) return;
      if (opts.allowed && !opts.allowed()) {
        startClose('revoked', CLOSE_CODE.POLICY_VIOLATION, 'access to this console was withdrawn');
        return;
      }
      if (Date.now() - lastHeard > 2 * pingIntervalMs) {
        startClose('timeout', CLOSE_CODE.GOING_AWAY, 'no answer to pings');
        return;
      }
      send(OPCODE.PING, Buffer.alloc(0));
    }, pingIntervalMs);

    input.on('data', onInput);
    input.on('end', onInputEnd);
    input.on('close', onInputEnd);
    input.on('error', onInputEnd);
    // Writing to a browser that is gone (lighttpd closed our stdout: EPIPE) ends the bridge too.
    output.on('error', onInputEnd);
    guest.on('data', onGuest);
    guest.on('end', onGuestEnd);
    guest.on('close', onGuestEnd);
    guest.on('error', onGuestError);
  });
}
