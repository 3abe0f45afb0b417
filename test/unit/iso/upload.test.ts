import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { parseUploadRequest } from '../../../node-cgi/iso/upload';

const SHA = '013f5b44'.repeat(8);
const req = (query: string, headers: Record<string, string> = {}, contentLength: number | null = 1000) => ({
  query: new URLSearchParams(query),
  headers,
  contentLength,
});

const U = suite('parseUploadRequest');
U('should read a plain upload', () => {
  assert.equal(parseUploadRequest('d.iso', req(''), 'anna'), { name: 'd.iso', size: 1000, expectedSha256: null, replace: false, user: 'anna' });
});
U('should take the checksum from the query or the header, in lower case', () => {
  assert.is(parseUploadRequest('d.iso', req(`sha256=${SHA.toUpperCase()}`), 'a').expectedSha256, SHA);
  assert.is(parseUploadRequest('d.iso', req('', { 'x-ramvm-sha256': SHA }), 'a').expectedSha256, SHA);
  assert.is(parseUploadRequest('d.iso', req(`sha256=${SHA}`, { 'x-ramvm-sha256': SHA.toUpperCase() }), 'a').expectedSha256, SHA);
});
U('should read replace', () => {
  assert.is(parseUploadRequest('d.iso', req('replace=1'), 'a').replace, true);
  assert.is(parseUploadRequest('d.iso', req('replace=true'), 'a').replace, true);
  assert.is(parseUploadRequest('d.iso', req('replace=0'), 'a').replace, false);
});

/** [query, headers, Content-Length, why it is refused, part of the message] */
const BAD: [string, Record<string, string>, number | null, string, string][] = [
  ['sha256=abc', {}, 1000, 'a checksum too short', 'sha256: must be 64 hexadecimal digits'],
  [`sha256=${SHA}0`, {}, 1000, 'a checksum too long', 'sha256: must be 64'],
  [`sha256=${'g'.repeat(64)}`, {}, 1000, 'a checksum that is no hex', 'sha256: must be 64'],
  ['', { 'x-ramvm-sha256': 'md5:abc' }, 1000, 'a malformed header', 'sha256: must be 64'],
  [`sha256=${SHA}`, { 'x-ramvm-sha256': 'f'.repeat(64) }, 1000, 'query and header disagree', 'disagree'],
  ['replace=yes', {}, 1000, 'replace neither 1/true nor 0/false', 'replace: must be'],
  ['', {}, null, 'no Content-Length', 'Content-Length is required'],
  ['', {}, 0, 'an empty body', 'body is empty'],
];
for (const [query, headers, cl, why, msg] of BAD) {
  U(`should refuse ${why}`, () => {
    try {
      parseUploadRequest('d.iso', req(query, headers, cl), 'a');
      assert.unreachable();
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).status, 400);
      assert.match((e as HttpError).message, msg);
    }
  });
}
U.run();
