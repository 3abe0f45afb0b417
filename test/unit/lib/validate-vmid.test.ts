import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { checkedVmid } from '../../../node-cgi/lib/validate';

const V = suite('checkedVmid');
V('should take a VMID as number or as its one decimal spelling', () => {
  assert.is(checkedVmid(101), 101);
  assert.is(checkedVmid('101'), 101);
  assert.is(checkedVmid('100'), 100);
});
// [value, reason]
const BAD: [unknown, string][] = [
  ['0101', 'a leading zero names /vms/0101 in the ACL check but guest 101 in the handler'],
  ['00101', 'two leading zeros'],
  ['99', 'below 100'],
  ['1000000000', 'above 999999999'],
  ['101 ', 'a trailing blank'],
  ['1e3', 'exponent notation'],
  [101.5, 'a fraction'],
  [null, 'nothing'],
];
for (const [v, why] of BAD) {
  V(`should refuse ${JSON.stringify(v)} (${why})`, () => {
    assert.throws(() => checkedVmid(v), /vmid: /);
  });
}
V.run();
