import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { href, parseHash } from '../../../web/router';

const parse = suite('parseHash');

const CASES: Array<[string, ReturnType<typeof parseHash>, string]> = [
  ['', { view: '', parts: [] }, 'no hash: the start view'],
  ['#', { view: '', parts: [] }, 'an empty hash'],
  ['#/', { view: '', parts: [] }, 'the root route'],
  ['#/tasks', { view: 'tasks', parts: [] }, 'a view'],
  ['#/guests/101', { view: 'guests', parts: ['101'] }, 'a view and an object'],
  ['#/guests/101/console/', { view: 'guests', parts: ['101', 'console'] }, 'a trailing slash'],
  ['#//guests//101', { view: 'guests', parts: ['101'] }, 'doubled slashes'],
  ['#/iso/my%20image.iso', { view: 'iso', parts: ['my image.iso'] }, 'an encoded part is decoded'],
  ['#/iso/100%', { view: 'iso', parts: ['100%'] }, 'a malformed escape stays as it is'],
  ['#/tasks?x=1', { view: 'tasks', parts: [] }, 'a query is not a part'],
  ['#main', null, 'the skip link target is no route'],
  ['#tasks', null, 'no slash: no route'],
];

for (const [hash, want, why] of CASES) {
  parse(`should read ${JSON.stringify(hash)} (${why})`, () => {
    assert.equal(parseHash(hash), want);
  });
}

parse.run();

const link = suite('href');

link('should build a hash that parseHash reads back', () => {
  assert.is(href('guests', 101), '#/guests/101');
  assert.is(href('tasks'), '#/tasks');
  assert.equal(parseHash(href('iso', 'a b/c.iso')), { view: 'iso', parts: ['a b/c.iso'] });
});

link.run();
