/**
 * The set-up log of a node booted from the node image: /ram.log, written at
 * boot by build/image/node-setup.ts, one step a line with the seconds since
 * power-on and how far the set-up is:
 *
 *   [   3.41]  35% network: ip link add name vmbr0 type bridge stp_state 0 forward_delay 0
 *
 * GET /api/node/<node>/setup-log answers its last lines and the last
 * percentage (92 while a prepared node's cluster forms, 100 when done).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { notFound } from '../lib/errors';
import { paths } from '../lib/paths';

/** The most of the log an answer carries (its end), in bytes. */
export const SETUP_LOG_MAX_BYTES = 256 * 1024;

export interface SetupLog {
  lines: string[];
  /** The last percentage the log shows; null for a log without any. */
  percent: number | null;
  /** Whether the start of the log was left out (longer than SETUP_LOG_MAX_BYTES). */
  truncated: boolean;
}

/** The log's text (its last `max` bytes at most, `truncated` then) as lines and its last percentage. */
export function parseSetupLog(text: string, truncated = false): SetupLog {
  let lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  // A cut log starts inside a line: drop the piece.
  if (truncated) lines = lines.slice(1);
  let percent: number | null = null;
  for (let i = lines.length - 1; i >= 0 && percent === null; i--) {
    const m = /^\[[ 0-9.?]+\]\s+([0-9]{1,3})% /.exec(lines[i]!);
    if (m) percent = Number(m[1]);
  }
  return { lines, percent, truncated };
}

/** This node's set-up log; 404 when the node did not boot from the node image. */
export function readSetupLog(file = paths().setupLog): SetupLog {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    throw notFound('this node has no set-up log: it did not boot from the node image (npm run image)');
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - SETUP_LOG_MAX_BYTES);
    const buf = Buffer.alloc(size - start);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, start + done);
      if (n === 0) break;
      done += n;
    }
    return parseSetupLog(buf.subarray(0, done).toString('utf8'), start > 0);
  } finally {
    closeSync(fd);
  }
}
