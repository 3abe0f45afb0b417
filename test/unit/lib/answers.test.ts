import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { AnswerQueue } from '../../../node-cgi/lib/answers';
import { rejection } from '../../helpers/rejection';

const never = () => new Error('timed out');

const T = suite('AnswerQueue');

T('should hand out answers in order, to a caller waiting and to later ones', async () => {
  const q = new AnswerQueue<number>();
  const first = q.next(1000, never);
  q.push(1, 2);
  assert.is(await first, 1);
  assert.is(await q.next(1000, never), 2);
});

T('should give the waiting caller and every later one the first failure, answers queued before it first', async () => {
  const q = new AnswerQueue<number>();
  const waiting = q.next(1000, never);
  assert.is(q.fail(new Error('closed')).message, 'closed');
  assert.match((await rejection(waiting, Error)).message, /closed/);
  assert.is(q.fail(new Error('later')).message, 'closed', 'the first failure stays');
  assert.match((await rejection(q.next(1000, never), Error)).message, /closed/);
  q.push(3);
  assert.is(await q.next(1000, never), 3, 'an answer read before the caller asked still comes first');
});

T('should reject with the timeout\'s error and give a later answer to the next caller', async () => {
  const q = new AnswerQueue<string>();
  assert.match((await rejection(q.next(10, () => new Error('no answer within 10 ms')), Error)).message, /no answer within 10 ms/);
  q.push('late');
  assert.is(await q.next(1000, never), 'late');
  assert.is(q.failed, null, 'a timeout alone ends nothing');
});

T('should end for good when the timeout\'s error fails it', async () => {
  const q = new AnswerQueue<string>();
  assert.match((await rejection(q.next(10, () => q.fail(new Error('out of step'))), Error)).message, /out of step/);
  assert.match((await rejection(q.next(1000, never), Error)).message, /out of step/);
});

T.run();
