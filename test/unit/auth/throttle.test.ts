import { suite } from '../../helpers/suite';
import { useTempRoot } from '../../helpers/temp-root';
import * as assert from 'uvu/assert';
import { BASE_DELAY_MS, FREE_FAILURES, MAX_DELAY_MS, WINDOW_MS, recordFailure, recordSuccess, throttleWait, waitMs } from '../../../node-cgi/auth/throttle';

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

const R = suite('recordFailure');
useTempRoot(R);
R('should throttle a user name after the free failures and clear it on success', () => {
  const keys = ['user:carl', 'addr:192.0.2.7'];
  for (let i = 0; i < FREE_FAILURES; i++) recordFailure(keys, T0);
  assert.is(throttleWait(['user:carl'], T0), BASE_DELAY_MS);
  assert.is(throttleWait(['addr:192.0.2.7'], T0), BASE_DELAY_MS);
  assert.is(throttleWait(['user:dora'], T0), 0);
  recordSuccess('user:carl');
  assert.is(throttleWait(['user:carl'], T0), 0);
  assert.is(throttleWait(['addr:192.0.2.7'], T0), BASE_DELAY_MS, 'the address stays throttled');
});
R.run();
