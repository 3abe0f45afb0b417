import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { DIGEST_PAGE_BYTES, digestPages, pageRuns } from '../../../node-cgi/migrate/disks';
import { parseMapDataExtents } from '../../../node-cgi/migrate/plan';

const PAGE = DIGEST_PAGE_BYTES;

const R = suite('pageRuns');
R('should read each page of the data extents once, in order, in runs of at most 1024 pages', () => {
  assert.equal(pageRuns([{ start: 0, length: PAGE }, { start: 10 * PAGE, length: 3000 * PAGE }]), [[0, 1], [10, 1024], [1034, 1024], [2058, 952]]);
});
R('should take a page that two extents share once, and an extent that does not begin or end on a page whole', () => {
  assert.equal(pageRuns([{ start: 100, length: PAGE }, { start: PAGE + 200, length: 10 }]), [[0, 2]]);
  assert.equal(pageRuns([{ start: PAGE + 200, length: 10 }, { start: 100, length: 10 }]), [[0, 1], [1, 1]]);
});
R('should read nothing of an image without data', () => {
  assert.equal(pageRuns([]), []);
});
R.run();

const digest = (buf: Buffer, firstPage: number, bytes: number) => {
  const h = createHash('sha256');
  digestPages(h, buf, firstPage, bytes);
  return h.digest('hex');
};

const D = suite('digestPages');
D('should leave out pages of zeroes, so that a hole and written zeroes digest alike', () => {
  const data = Buffer.alloc(3 * PAGE);
  data[PAGE + 5] = 7;
  const onlyData = Buffer.alloc(PAGE);
  onlyData[5] = 7;
  assert.is(digest(data, 0, data.length), digest(onlyData, 1, PAGE));
  assert.is(digest(Buffer.alloc(2 * PAGE), 0, 2 * PAGE), createHash('sha256').digest('hex'));
});
D('should tell the same bytes at another page, and one byte changed', () => {
  const a = Buffer.alloc(PAGE, 1);
  const b = Buffer.from(a);
  b[PAGE - 1] = 2;
  assert.is.not(digest(a, 0, PAGE), digest(a, 1, PAGE));
  assert.is.not(digest(a, 0, PAGE), digest(b, 0, PAGE));
});
D('should read a last page cut short by the end of the file as zeroes past the end, not the buffer\'s old bytes', () => {
  const stale = Buffer.alloc(PAGE, 9);
  stale.fill(1, 0, 100);
  const clean = Buffer.alloc(PAGE);
  clean.fill(1, 0, 100);
  assert.is(digest(stale, 3, 100), digest(clean, 3, PAGE));
});
D.run();

const X = suite('parseMapDataExtents');
X('should keep the data extents of qemu-img 7.2 map output, not holes or known zeroes', () => {
  const text = `[{ "start": 0, "length": 4096, "depth": 0, "present": true, "zero": false, "data": true, "offset": 0},
{ "start": 4096, "length": 104853504, "depth": 0, "present": true, "zero": true, "data": false, "offset": 4096},
{ "start": 104857600, "length": 16777216, "depth": 0, "present": true, "zero": true, "data": true, "offset": 104857600},
{ "start": 121634816, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true, "offset": 121634816}]`;
  assert.equal(parseMapDataExtents(text), [{ start: 0, length: 4096 }, { start: 121634816, length: 65536 }]);
});
X('should refuse a data extent without a start', () => {
  assert.throws(() => parseMapDataExtents('[{"length": 4096, "data": true}]'), /an extent without a start/);
});
X.run();
