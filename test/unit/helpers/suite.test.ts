import { SLOW_SUITE_MS, failureNotesText, onTestFailure, suite, suiteTimeLine, withNotes } from '../../helpers/suite';
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

const notes = suite('withNotes');

notes('should append the notes to the message and to the first line of the stack', () => {
  const e = new Error('Timeout 15000ms exceeded.');
  const frames = e.stack!.split('\n').slice(1);
  const got = withNotes(e, '  page http://n1/#/nodes') as Error;
  assert.is(got, e);
  assert.is(got.message, 'Timeout 15000ms exceeded.\n  page http://n1/#/nodes');
  assert.equal(got.stack!.split('\n'), ['Error: Timeout 15000ms exceeded.', '  page http://n1/#/nodes', ...frames]);
});

notes('should leave the error alone when there are no notes, and a thrown non-error always', () => {
  const e = new Error('x');
  assert.is((withNotes(e, '') as Error).message, 'x');
  assert.is(withNotes('text', 'note'), 'text');
});

notes.run();

const registered = suite('failureNotesText');

registered('should join what each registered note says, skip empty ones, and name one that failed', async () => {
  const offs = [
    onTestFailure(async () => 'page one'),
    onTestFailure(async () => ''),
    onTestFailure(async () => {
      throw new Error('page closed');
    }),
  ];
  try {
    assert.is(await failureNotesText(), 'page one\n(a failure note failed: page closed)');
  } finally {
    offs.forEach((off) => off());
  }
  assert.is(await failureNotesText(), '');
});

registered.run();
