/**
 * The runtime files of a guest that the console and the monitor use, all
 * in paths().qemuRun, and the checks that turn their absence into answers:
 *
 *   etc/ramvm/vms/101.json      the guest's config    (missing → 404)
 *   run/ramvm/qemu/101.vnc      QEMU -vnc unix:…      (missing or refused → 409 not running)
 *   run/ramvm/qemu/101.qmp      QMP for work (HMP commands)
 *   run/ramvm/qemu/101.status.qmp  QMP for quick probes (screenshots)
 */
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { internal, HttpError, conflict, notFound } from '../lib/errors';
import { vmFiles } from '../vm/files';

/** Time to connect to a guest's VNC socket (a unix socket answers at once unless QEMU is gone). */
export const VNC_CONNECT_TIMEOUT_MS = 5_000;

export interface GuestFiles {
  config: string;
  vnc: string;
  qmp: string;
  statusQmp: string;
}

export function guestFiles(vmid: number): GuestFiles {
  const { config, vnc, qmp, statusQmp } = vmFiles(vmid);
  return { config, vnc, qmp, statusQmp };
}

/** 404 unless the guest has a config on this node. */
export function requireGuest(vmid: number): GuestFiles {
  const f = guestFiles(vmid);
  if (!existsSync(f.config)) throw notFound(`no guest ${vmid} on this node`);
  return f;
}

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
