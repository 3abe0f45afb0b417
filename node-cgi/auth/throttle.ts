/**
 * Throttling of wrong passwords, per (user name, client address) pair and
 * per client address, plus a global rate over all of them. After
 * FREE_FAILURES failures of a pair or an address within WINDOW_MS, each
 * further attempt from it must wait a delay that doubles per failure (up to
 * MAX_DELAY_MS); an attempt refused for waiting counts as a failure of its
 * pair and address too (the caller records it). So wrong passwords slow
 * only the address they come from: the right password of the same user
 * from another address goes through. A success clears its pair.
 *
 * The global rate bounds a guesser with many addresses: beyond
 * GLOBAL_FAILURES_MAX failures in GLOBAL_WINDOW_MS on the whole node, every
 * attempt waits until that window ends (seconds, never a lockout). A
 * refused attempt checks no password and so does not count there.
 *
 * State lives in run/ramvm (lost on reboot, which is fine: a reboot takes
 * longer than the delays).
 *
 *   pair or address failures: 0..4 → no wait; 5 → 2 s; 6 → 4 s; … capped at 15 min
 *   keys: "pair:anna@192.0.2.7", "addr:192.0.2.7", "global"
 */
import { paths } from '../lib/paths';
import { readJson, updateJson } from '../lib/store';

export const FREE_FAILURES = 5;
export const WINDOW_MS = 15 * 60_000; // 15 min
export const BASE_DELAY_MS = 2_000;
export const MAX_DELAY_MS = 15 * 60_000; // 15 min
export const GLOBAL_WINDOW_MS = 60_000; // 1 min
export const GLOBAL_FAILURES_MAX = 100;
const GLOBAL = 'global';

export interface ThrottleEntry {
  failures: number;
  /** Unix ms of the last failure (of the global entry: when its window began). */
  last: number;
}
type ThrottleFile = Record<string, ThrottleEntry>;

const file = () => paths().loginThrottle;

/** The keys of an attempt by `username` from `addr`. */
export function throttleKeys(username: string, addr: string): string[] {
  return [`pair:${username}@${addr}`, `addr:${addr}`];
}

/** Milliseconds the key must still wait before another attempt (0 = may try). */
export function waitMs(e: ThrottleEntry | undefined, now: number): number {
  if (!e || now - e.last > WINDOW_MS || e.failures < FREE_FAILURES) return 0;
  const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (e.failures - FREE_FAILURES));
  return Math.max(0, e.last + delay - now);
}

/** Milliseconds until the node's window of failures ends when it is full (0 = may try). */
export function globalWaitMs(e: ThrottleEntry | undefined, now: number): number {
  if (!e || now - e.last >= GLOBAL_WINDOW_MS || e.failures < GLOBAL_FAILURES_MAX) return 0;
  return e.last + GLOBAL_WINDOW_MS - now;
}

export function throttleWait(keys: readonly string[], now = Date.now()): number {
  const f = readJson<ThrottleFile>(file(), {});
  return Math.max(0, globalWaitMs(f[GLOBAL], now), ...keys.map((k) => waitMs(f[k], now)));
}

/** A failure of `keys`; `checked` (a password was checked, default) counts it in the global rate too. */
export function recordFailure(keys: readonly string[], now = Date.now(), checked = true): void {
  updateJson<ThrottleFile>(file(), {}, (f) => {
    for (const k of keys) {
      const e = f[k];
      f[k] = { failures: e && now - e.last <= WINDOW_MS ? e.failures + 1 : 1, last: now };
    }
    if (checked) {
      const g = f[GLOBAL];
      f[GLOBAL] = g && now - g.last < GLOBAL_WINDOW_MS ? { failures: g.failures + 1, last: g.last } : { failures: 1, last: now };
    }
    // Forget old entries so the file stays small.
    for (const [k, e] of Object.entries(f)) if (now - e.last > WINDOW_MS) delete f[k];
    return f;
  });
}

/** A right password: its pair starts afresh (its address's record stays). */
export function recordSuccess(keys: readonly string[]): void {
  updateJson<ThrottleFile>(file(), {}, (f) => {
    for (const k of keys) if (k.startsWith('pair:')) delete f[k];
    return f;
  });
}
