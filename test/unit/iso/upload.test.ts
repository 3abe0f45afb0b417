import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COPY_BUFFER_BYTES, copyHashing, parseUploadRequest } from '../../../node-cgi/iso/upload';

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

const H = suite('copyHashing');
const tmp = mkdtempSync(join(tmpdir(), 'ramvm-iso-unit-'));
H.after(() => rmSync(tmp, { recursive: true, force: true }));

function copyOf(data: Buffer, size: number): { sha: string; out: Buffer } {
  const src = join(tmp, 'src');
  const dst = join(tmp, 'dst');
  writeFileSync(src, data);
  const inFd = openSync(src, 'r');
  const outFd = openSync(dst, 'w');
  try {
    const sha = copyHashing(inFd, outFd, size);
    return { sha, out: readFileSync(dst) };
  } finally {
    closeSync(inFd);
    closeSync(outFd);
  }
}

H('should copy and hash a body of several buffers and a bit', () => {
  const data = randomBytes(2 * COPY_BUFFER_BYTES + 12345);
  const { sha, out } = copyOf(data, data.length);
  assert.is(sha, createHash('sha256').update(data).digest('hex'));
  assert.ok(out.equals(data));
});
H('should read no further than the announced size', () => {
  const data = randomBytes(5000);
  const { sha, out } = copyOf(data, 3000);
  assert.is(sha, createHash('sha256').update(data.subarray(0, 3000)).digest('hex'));
  assert.is(out.length, 3000);
});
H('should refuse a body that ends early, saying how far it got', () => {
  try {
    copyOf(randomBytes(COPY_BUFFER_BYTES + 10), COPY_BUFFER_BYTES + 20);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 400);
    assert.match((e as HttpError).message, `ended after ${COPY_BUFFER_BYTES + 10} of ${COPY_BUFFER_BYTES + 20} bytes`);
  }
});
H.run();
