import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { checkSettingsPatch } from '../../../node-cgi/vm/settings';

const S = suite('checkSettingsPatch');
S('should accept an overcommit ratio in range', () => {
  assert.equal(checkSettingsPatch({ memoryOvercommit: 1.5 }), { memoryOvercommit: 1.5 });
  assert.equal(checkSettingsPatch({}), {});
});
S('should accept each accelerator setting', () => {
  for (const accel of ['auto', 'kvm', 'tcg']) assert.equal(checkSettingsPatch({ accel }), { accel });
  assert.equal(checkSettingsPatch({ accel: 'tcg', memoryOvercommit: 2 }), { accel: 'tcg', memoryOvercommit: 2 });
});
S('should refuse bad values and unknown fields, naming the field', () => {
  // [body, expected message, reason]
  const table: [Record<string, unknown>, RegExp, string][] = [
    [{ memoryOvercommit: 0 }, /^memoryOvercommit: must be a number from 0.1 to 10$/, 'nothing could start'],
    [{ memoryOvercommit: 11 }, /^memoryOvercommit: must be a number/, 'above the maximum'],
    [{ memoryOvercommit: '1.5' }, /^memoryOvercommit: must be a number/, 'a string'],
    [{ memoryOvercommit: Number.NaN }, /^memoryOvercommit: must be a number/, 'not a number'],
    [{ overcommit: 1 }, /^overcommit: unknown field$/, 'unknown field'],
    [{ accel: 'hvf' }, /^accel: must be one of auto, kvm, tcg$/, 'an accelerator QEMU has elsewhere, not here'],
    [{ accel: 'KVM' }, /^accel: must be one of auto, kvm, tcg$/, 'spelled in capitals'],
    [{ accel: null }, /^accel: must be one of auto, kvm, tcg$/, 'a node always has a setting'],
  ];
  for (const [body, msg, reason] of table) assert.throws(() => checkSettingsPatch(body), msg, reason);
});
S.run();
