/**
 * The root helper's half of the armed disconnect (drbd/armed.ts has the
 * whole protocol and the CGI's half): its ready line, and the wait for the
 * go on its stdin. Small on purpose: the root helper's bundle has a budget.
 */
import type { Readable } from 'node:stream';
import { HttpError } from '../lib/errors';

/** The line that tells an armed helper to go. */
export const GO_LINE = 'go';
/** How long an armed helper waits for its go before it exits having done nothing, ms. */
export const GO_WAIT_MS = 10_000;
/**
 * The helper's answer to the go: what it disconnected, when it read the go
 * (`at`: wall clock, ms since the epoch with fractions, performance.timeOrigin
 * + performance.now(), which both processes share) and the ms from then to
 * its last disconnect done.
 */
export interface ArmedAnswer {
  resources: string[];
  at: number;
  ms: number;
}
/** Now on the wall clock both ends of the armed disconnect read, ms with fractions. */
export const wallMs = () => performance.timeOrigin + performance.now();
/** The helper's "armed" line: the resources it will disconnect on the go. */
export const readyLine = (resources: readonly string[]) => JSON.stringify({ ready: { resources } }) + '\n';

/**
 * The helper's side: resolves when the first line of `input` is GO_LINE;
 * rejects (409) on any other line or the input's end, 504 after `timeoutMs`.
 * Either way `input` is destroyed afterwards: nothing more is read from it.
 */
export function waitForGo(input: Readable, timeoutMs = GO_WAIT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (why: string | null, code: 'conflict' | 'timeout' = 'conflict') => {
      clearTimeout(timer);
      input.removeAllListeners().destroy();
      if (why) reject(new HttpError(code, `armed disconnect: ${why}, nothing done`));
      else resolve();
    };
    const timer = setTimeout(() => done(`no go within ${timeoutMs / 1000} s`, 'timeout'), timeoutMs);
    input.on('data', (b: Buffer | string) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      // A line longer than the go's is not the go: no need to read it all.
      const line = nl >= 0 ? buf.slice(0, nl) : buf;
      if (nl >= 0 || buf.length > GO_LINE.length) done(nl >= 0 && line === GO_LINE ? null : `${JSON.stringify(line.slice(0, 40))} is not the go`);
    });
    input.on('end', () => done('dismissed before the go'));
    input.on('error', () => done('dismissed before the go'));
  });
}
