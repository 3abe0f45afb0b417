import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { checkSettingsPatch } from '../../../node-cgi/vm/settings';
import type { HttpError } from '../../../node-cgi/lib/errors';

const S = suite('checkSettingsPatch');
S('should accept an overcommit ratio in range', () => {
  assert.equal(checkSettingsPatch({ memoryOvercommit: 1.5 }), { memoryOvercommit: 1.5 });
  assert.equal(checkSettingsPatch({}), {});
});
S('should refuse bad ratios and unknown fields', () => {
  // [body, the error, reason]
  const range = /^memoryOvercommit: must be a number from 0\.1 to 10$/;
  const table: [Record<string, unknown>, RegExp, string][] = [
    [{ memoryOvercommit: 0 }, range, 'nothing could start'],
    [{ memoryOvercommit: 11 }, range, 'above the maximum'],
    [{ memoryOvercommit: '1.5' }, range, 'a string'],
    [{ memoryOvercommit: Number.NaN }, range, 'not a number'],
    [{ overcommit: 1 }, /^overcommit: unknown field$/, 'unknown field'],
  ];
  for (const [body, message, reason] of table) {
    assert.throws(() => checkSettingsPatch(body), (e: HttpError) => e.status === 400 && e.code === 'invalid' && message.test(e.message), reason);
  }
});
S.run();
