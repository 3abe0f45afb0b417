import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { checkedBandwidth, checkedBool, checkedVmid, formatSize, only, optionalBool, parseSize } from '../../../node-cgi/lib/validate';

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

const O = suite('only');
O('should pass a body of known fields', () => {
  only({ vmid: 101, force: true }, ['vmid', 'force', 'storage']);
});
O('should name the first unknown field (a typo must not pass silently)', () => {
  assert.throws(() => only({ vmid: 101, vmdi: 1 }, ['vmid']), /^vmdi: unknown field$/);
});

const B = suite('checkedBool and optionalBool');
B('should take true and false', () => {
  assert.is(checkedBool(true, 'force'), true);
  assert.is(optionalBool(false, 'force', true), false);
});
B('should take the default only when the field is left out', () => {
  assert.is(optionalBool(undefined, 'force'), false);
  assert.is(optionalBool(undefined, 'enabled', true), true);
});
// [value, reason]
const NOT_BOOL: [unknown, string][] = [
  ['yes', 'a word'], [1, 'a number'], ['true', 'the JSON text of true'], [null, 'null is not false'],
];
for (const [v, why] of NOT_BOOL) {
  B(`should refuse ${JSON.stringify(v)} (${why})`, () => {
    assert.throws(() => optionalBool(v, 'force'), /^force: must be true or false$/);
  });
}

const S = suite('parseSize and formatSize');
S('should read binary units and plain GiB numbers', () => {
  assert.is(parseSize('32G'), 32 * 1024 ** 3);
  assert.is(parseSize('64M'), 64 * 1024 ** 2);
  assert.is(parseSize('1t'), 1024 ** 4);
  assert.is(parseSize('2048K'), 2 * 1024 ** 2);
  assert.is(parseSize('10GiB'), 10 * 1024 ** 3);
  assert.is(parseSize(32), 32 * 1024 ** 3);
});
S('should write the largest exact unit', () => {
  assert.is(formatSize(32 * 1024 ** 3), '32G');
  assert.is(formatSize(1536 * 1024 ** 2), '1536M');
  assert.is(formatSize(1024 ** 4), '1T');
  assert.is(formatSize(parseSize('2048K')), '2M');
});
S('should refuse fractions and garbage', () => {
  const unit = /^must be a whole number with K, M, G or T, like "32G" or "64M"$/;
  const table: [unknown, RegExp][] = [
    ['1.5G', unit],
    ['G', unit],
    ['', unit],
    ['32 GB extra', unit],
    ['00G', unit],
    [1.5, /^must be a whole number of GiB or a string like "32G"$/],
    [null, /^must be a size like "32G" or "64M"$/],
  ];
  for (const [v, message] of table) assert.throws(() => parseSize(v), message, String(v));
});


const W = suite('checkedBandwidth');
W('should read MiB/s (fractions too) into bytes/s', () => {
  assert.is(checkedBandwidth(50), 50 * 1048576);
  assert.is(checkedBandwidth(0.5), 524288);
  assert.is(checkedBandwidth(100_000), 100_000 * 1048576);
});
W('should read absent, null and 0 as unlimited', () => {
  for (const v of [undefined, null, 0]) assert.is(checkedBandwidth(v), 0);
});
// [value, reason]
const BAD_SPEED: [unknown, string][] = [
  [-1, 'negative'], ['50', 'a string'], [100_001, 'above 100000 MiB/s'], [Number.NaN, 'not a number'], [true, 'a boolean'],
];
for (const [v, why] of BAD_SPEED) {
  W(`should refuse ${String(v)} (${why})`, () => {
    assert.throws(() => checkedBandwidth(v), /^bwlimit: must be MiB\/s between 0 and 100000$/);
  });
}
O.run();
B.run();
S.run();
W.run();
