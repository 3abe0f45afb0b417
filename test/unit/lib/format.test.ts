import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { formatBytes } from '../../../node-cgi/lib/format';

const B = suite('formatBytes');
// [bytes, text]
const TABLE: [number, string][] = [
  [0, '0 bytes'], [1023, '1023 bytes'], [1024, '1.0 KiB'], [1536, '1.5 KiB'], [64 * 1024 ** 2, '64.0 MiB'],
  [1.2 * 1024 ** 3, '1.2 GiB'], [4 * 1024 ** 3, '4.0 GiB'], [2 * 1024 ** 4, '2.0 TiB'], [3 * 1024 ** 5, '3072.0 TiB'],
];
for (const [n, text] of TABLE) B(`should write ${n} as "${text}"`, () => assert.is(formatBytes(n), text));
B.run();
