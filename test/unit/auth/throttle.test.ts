import { suite } from '../../helpers/suite';
import { useTempRoot } from '../../helpers/temp-root';
import * as assert from 'uvu/assert';
import {
  BASE_DELAY_MS, FREE_FAILURES, GLOBAL_FAILURES_MAX, GLOBAL_WINDOW_MS, MAX_DELAY_MS, WINDOW_MS, globalWaitMs, recordFailure, recordSuccess, throttleKeys,
  throttleWait, waitMs,
} from '../../../node-cgi/auth/throttle';

const W = suite('waitMs');
const T0 = 1_800_000_000_000;
const cases: [string, { failures: number; last: number } | undefined, number, number][] = [
  ['no record: no wait', undefined, T0, 0],
  ['under the free failures: no wait', { failures: FREE_FAILURES - 1, last: T0 }, T0, 0],
  ['at the free failures: the base delay', { failures: FREE_FAILURES, last: T0 }, T0, BASE_DELAY_MS],
  ['one more: twice the base', { failures: FREE_FAILURES + 1, last: T0 }, T0, 2 * BASE_DELAY_MS],
  ['time already waited counts', { failures: FREE_FAILURES, last: T0 }, T0 + 500, BASE_DELAY_MS - 500],
  ['capped', { failures: FREE_FAILURES + 40, last: T0 }, T0, MAX_DELAY_MS],
  ['outside the window: forgotten', { failures: 100, last: T0 }, T0 + WINDOW_MS + 1, 0],
];
for (const [name, e, now, want] of cases) W(`should give ${name}`, () => assert.is(waitMs(e, now), want));
W.run();

const G = suite('globalWaitMs');
G('should let attempts through under the global maximum', () => assert.is(globalWaitMs({ failures: GLOBAL_FAILURES_MAX - 1, last: T0 }, T0 + 1), 0));
G('should make every attempt wait for the end of a full window', () => {
  assert.is(globalWaitMs({ failures: GLOBAL_FAILURES_MAX, last: T0 }, T0 + 1000), GLOBAL_WINDOW_MS - 1000);
});
G('should forget a window that has ended', () => assert.is(globalWaitMs({ failures: 10 * GLOBAL_FAILURES_MAX, last: T0 }, T0 + GLOBAL_WINDOW_MS), 0));
G.run();

const R = suite('recordFailure');
useTempRoot(R);
R('should throttle the pair and the address after the free failures, and never the same user from another address', () => {
  const attacker = throttleKeys('carl', '192.0.2.7');
  for (let i = 0; i < FREE_FAILURES; i++) recordFailure(attacker, T0);
  assert.is(throttleWait(attacker, T0), BASE_DELAY_MS);
  assert.is(throttleWait(throttleKeys('dora', '192.0.2.7'), T0), BASE_DELAY_MS, 'the address, whatever user it tries');
  assert.is(throttleWait(throttleKeys('carl', '198.51.100.1'), T0), 0, 'carl from his own address (finding 4)');
  // A trickle of refused attempts keeps only the attacker's address waiting.
  for (let i = 0; i < 20; i++) recordFailure(attacker, T0 + i, false);
  assert.is(throttleWait(throttleKeys('carl', '198.51.100.1'), T0 + 20), 0);
});
R('should clear the pair on success and keep the address waiting', () => {
  const keys = throttleKeys('erik', '192.0.2.9');
  for (let i = 0; i < FREE_FAILURES; i++) recordFailure(keys, T0);
  recordSuccess(keys);
  assert.is(throttleWait(['pair:erik@192.0.2.9'], T0), 0);
  assert.is(throttleWait(['addr:192.0.2.9'], T0), BASE_DELAY_MS, 'the address stays throttled');
});
R('should make every attempt wait once the node has seen GLOBAL_FAILURES_MAX checked failures in its window', () => {
  const T1 = T0 + 10 * WINDOW_MS;
  for (let i = 0; i < GLOBAL_FAILURES_MAX - 1; i++) recordFailure(throttleKeys('x', `10.0.${i >> 8}.${i & 255}`), T1);
  assert.is(throttleWait(throttleKeys('anna', '198.51.100.2'), T1), 0, 'one below the maximum');
  recordFailure(throttleKeys('y', '10.1.0.1'), T1, false);
  assert.is(throttleWait(throttleKeys('anna', '198.51.100.2'), T1), 0, 'a refused attempt checked no password and does not count');
  recordFailure(throttleKeys('y', '10.1.0.2'), T1 + 1000);
  assert.is(throttleWait(throttleKeys('anna', '198.51.100.2'), T1 + 1000), GLOBAL_WINDOW_MS - 1000);
  assert.is(throttleWait(throttleKeys('anna', '198.51.100.2'), T1 + GLOBAL_WINDOW_MS), 0, 'a new window');
});
R.run();
