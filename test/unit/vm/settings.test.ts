import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { checkSettingsPatch } from '../../../node-cgi/vm/settings';

const S = suite('checkSettingsPatch');
S('should accept an overcommit ratio in range', () => {
  assert.equal(checkSettingsPatch({ memoryOvercommit: 1.5 }), { memoryOvercommit: 1.5 });
  assert.equal(checkSettingsPatch({}), {});
});
S('should refuse bad ratios and unknown fields', () => {
  // [body, reason]
  const table: [Record<string, unknown>, string][] = [
    [{ memoryOvercommit: 0 }, 'nothing could start'],
    [{ memoryOvercommit: 11 }, 'above the maximum'],
    [{ memoryOvercommit: '1.5' }, 'a string'],
    [{ memoryOvercommit: Number.NaN }, 'not a number'],
    [{ overcommit: 1 }, 'unknown field'],
  ];
  for (const [body, reason] of table) assert.throws(() => checkSettingsPatch(body), /./, reason);
});
S.run();
