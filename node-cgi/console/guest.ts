/**
 * The console's way into a guest: its VNC unix socket, whose absence
 * becomes an answer before any byte of the websocket is sent:
 *
 *   run/ramvm/qemu/101.vnc      QEMU -vnc unix:…      (missing or refused → 409 not running)
 */
import { connect, type Socket } from 'node:net';
import { internal, HttpError, conflict } from '../lib/errors';

/** Time to connect to a guest's VNC socket (a unix socket answers at once unless QEMU is gone). */
export const VNC_CONNECT_TIMEOUT_MS = 5_000;

/** Connect to a guest's VNC socket; 409 when the guest is not running. */
export function connectVnc(vmid: number, path: string, timeoutMs = VNC_CONNECT_TIMEOUT_MS): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new HttpError('timeout', `the console of guest ${vmid} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.off('error', onError);
      resolve(sock);
    });
    const onError = (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? conflict(`guest ${vmid} is not running`)
          : internal(`cannot open the console of guest ${vmid}`, `${path}: ${e.message}`),
      );
    };
    sock.once('error', onError);
  });
}
