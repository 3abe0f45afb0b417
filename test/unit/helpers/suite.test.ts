import { SLOW_SUITE_MS, suite, suiteTimeLine, testTimeLine } from '../../helpers/suite';
import * as assert from 'uvu/assert';

const line = suite('suiteTimeLine');

line('should say nothing of a suite quicker than the threshold', () => {
  assert.is(suiteTimeLine('vm', SLOW_SUITE_MS - 1), '');
});

line('should give a slow suite\'s time in seconds, one decimal, on a line of its own', () => {
  assert.is(suiteTimeLine('node image', 312_449), '  suite node image: 312.4 s\n');
  assert.is(suiteTimeLine('drbd', SLOW_SUITE_MS), '  suite drbd: 20.0 s\n');
});

line.run();

const testLine = suite('testTimeLine');

testLine('should give a test\'s time under its suite\'s name, in seconds, one decimal, on a line of its own', () => {
  assert.is(testTimeLine('kiosk image', 'should boot', 95_249), '  test kiosk image › should boot: 95.2 s\n');
});

testLine.run();
