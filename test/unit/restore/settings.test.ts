import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { checkedSeconds, parseBootCheck } from '../../../node-cgi/restore/settings';
import { upToDate } from '../../../node-cgi/restore/medium';

const B = suite('parseBootCheck');
B('should lay a body over the current setting, 60 s when none was set', () => {
  assert.equal(parseBootCheck({ enabled: true }, undefined), { enabled: true, seconds: 60 });
  assert.equal(parseBootCheck({ seconds: 5 }, { enabled: true, seconds: 60 }), { enabled: true, seconds: 5 });
  assert.equal(parseBootCheck({}, { enabled: true, seconds: 7 }), { enabled: true, seconds: 7 });
});
// [body, field, reason]
const BAD: [Record<string, unknown>, string, string][] = [
  [{ enabled: 'yes' }, 'enabled', 'not a boolean'],
  [{ seconds: 0 }, 'seconds', 'zero'],
  [{ seconds: 3601 }, 'seconds', 'over an hour'],
  [{ seconds: 2.5 }, 'seconds', 'a fraction'],
  [{ seconds: '60' }, 'seconds', 'a string'],
  [{ secs: 60 }, 'secs', 'misspelt'],
];
for (const [body, field, reason] of BAD) {
  B(`should refuse ${field} (${reason})`, () => {
    try {
      parseBootCheck(body, undefined);
      assert.unreachable();
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).status, 400);
      assert.match((e as HttpError).message, new RegExp(`^${field}: `));
    }
  });
}
B('should check seconds of a manual boot check', () => {
  assert.is(checkedSeconds(1), 1);
  assert.is(checkedSeconds(3600), 3600);
  assert.throws(() => checkedSeconds(-1), /seconds: must be a whole number of seconds from 1 to 3600/);
});
B.run();

const U = suite('upToDate');
const want = { name: 'rescue.iso', size: 10, sha256: 'aa' };
const state = { ...want, copied: 1 };
// [state, size on the storage, expected, reason]
const CASES: [typeof state | null, number | null, boolean, string][] = [
  [state, 10, true, 'same image, file there'],
  [null, 10, false, 'never copied'],
  [state, null, false, 'the file was removed'],
  [state, 9, false, 'the file was cut short'],
  [{ ...state, sha256: 'bb' }, 10, false, 'the library\'s image changed'],
  [{ ...state, name: 'old.iso' }, 10, false, 'another image was configured'],
];
for (const [s, size, expected, reason] of CASES) {
  U(`should say ${expected ? 'up to date' : 'copy again'}: ${reason}`, () => {
    assert.is(upToDate(s, want, size), expected);
  });
}
U.run();
