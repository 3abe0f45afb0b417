/**
 * The nonces of signed node requests this node has accepted, so that a
 * captured request is refused when it comes again. One empty file per nonce
 * in run/ramvm/nonces/ (created with O_EXCL: two CGIs taking the same nonce
 * at once cannot both win, and no lock is needed); files older than twice
 * the signature window are removed now and then. The folder is node-local
 * runtime state: after a reboot it is empty, and requests signed before the
 * reboot are still refused by the time window once the node is up again.
 */
import { mkdirSync, openSync, closeSync, readdirSync, statSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpError } from '../lib/errors';
import { paths } from '../lib/paths';
import { SIGNATURE_WINDOW_S } from './sign';

/** How often at most a CGI sweeps old nonces, in ms. */
const SWEEP_EVERY_MS = 60_000;

const dir = () => paths().nonces;

/** Record `nonce`; 401 when it was seen before (a replay). */
export function rememberNonce(nonce: string, nowMs = Date.now()): void {
  if (!/^[0-9a-f]{32}$/.test(nonce)) throw new Error(`bad nonce ${nonce}`);
  mkdirSync(dir(), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(join(dir(), nonce), 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new HttpError('unauthenticated', 'node request refused: this request was seen before (a replay)');
    }
    throw e;
  }
  closeSync(fd);
  sweepNonces(nowMs);
}

/** Remove nonces older than twice the window (at most once a minute per node). */
export function sweepNonces(nowMs = Date.now()): number {
  const marker = join(dir(), '.swept');
  try {
    if (nowMs - statSync(marker).mtimeMs < SWEEP_EVERY_MS) return 0;
  } catch {
    /* never swept */
  }
  writeFileSync(marker, '');
  utimesSync(marker, nowMs / 1000, nowMs / 1000);
  let removed = 0;
  for (const name of readdirSync(dir())) {
    if (name.startsWith('.')) continue;
    try {
      if (nowMs - statSync(join(dir(), name)).mtimeMs > 2 * SIGNATURE_WINDOW_S * 1000) {
        rmSync(join(dir(), name), { force: true });
        removed++;
      }
    } catch {
      /* removed by another sweep */
    }
  }
  return removed;
}
