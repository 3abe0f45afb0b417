/**
 * Throttling of wrong passwords, per user name and per client address.
 * After FREE_FAILURES failures within WINDOW_MS, each further attempt must
 * wait a delay that doubles per failure (up to MAX_DELAY_MS); an attempt
 * refused for waiting counts as a failure too (the caller records it), and
 * a success clears the user's record. State lives in run/ramvm (lost on reboot, which
 * is fine: a reboot takes longer than the delays).
 *
 *   failures: 0..4 → no wait; 5 → 2 s; 6 → 4 s; … capped at 15 min
 */
import { paths } from '../lib/paths';
import { readJson, updateJson } from '../lib/store';

export const FREE_FAILURES = 5;
export const WINDOW_MS = 15 * 60_000; // 15 min
export const BASE_DELAY_MS = 2_000;
export const MAX_DELAY_MS = 15 * 60_000; // 15 min

export interface ThrottleEntry {
  failures: number;
  /** Unix ms of the last failure. */
  last: number;
}
type ThrottleFile = Record<string, ThrottleEntry>;

const file = () => paths().loginThrottle;

/** Milliseconds the key must still wait before another attempt (0 = may try). */
export function waitMs(e: ThrottleEntry | undefined, now: number): number {
  if (!e || now - e.last > WINDOW_MS || e.failures < FREE_FAILURES) return 0;
  const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (e.failures - FREE_FAILURES));
  return Math.max(0, e.last + delay - now);
}

export function throttleWait(keys: readonly string[], now = Date.now()): number {
  const f = readJson<ThrottleFile>(file(), {});
  return Math.max(0, ...keys.map((k) => waitMs(f[k], now)));
}

export function recordFailure(keys: readonly string[], now = Date.now()): void {
  updateJson<ThrottleFile>(file(), {}, (f) => {
    for (const k of keys) {
      const e = f[k];
      f[k] = { failures: e && now - e.last <= WINDOW_MS ? e.failures + 1 : 1, last: now };
    }
    // Forget old entries so the file stays small.
    for (const [k, e] of Object.entries(f)) if (now - e.last > WINDOW_MS) delete f[k];
    return f;
  });
}

export function recordSuccess(key: string): void {
  updateJson<ThrottleFile>(file(), {}, (f) => {
    delete f[key];
    return f;
  });
}
