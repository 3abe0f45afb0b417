import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { PassThrough, Readable } from 'node:stream';
import { HttpError } from '../../../node-cgi/lib/errors';
import { parseRequest, readBody } from '../../../node-cgi/lib/request';

import { rejection } from '../../helpers/rejection';

const refusal = (p: Promise<unknown>) => rejection(p, HttpError);

const B = suite('readBody');
B('should collect the whole body', async () => {
  const body = await readBody(Readable.from([Buffer.from('{"a":'), Buffer.from('1}')]), 7, 1024, 10_000);
  assert.is(body.toString(), '{"a":1}');
});
B('should refuse a Content-Length over the limit before reading', async () => {
  const e = await refusal(readBody(new PassThrough(), 2048, 1024, 10_000));
  assert.equal([e.status, e.code], [413, 'too_large']);
});
B('should refuse a body that grows over the limit (no Content-Length)', async () => {
  const e = await refusal(readBody(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), null, 1024, 10_000));
  assert.equal([e.status, e.code], [413, 'too_large']);
});
B('should answer 408 when the body does not arrive by the deadline (12 of 1000 bytes, then nothing)', async () => {
  const slow = new PassThrough();
  slow.write('{"username":');
  const e = await refusal(readBody(slow, 1000, 1024, 50));
  assert.equal([e.status, e.code, e.message], [408, 'request_timeout', 'the request body did not arrive within 0.05 s']);
  assert.ok(slow.isPaused(), 'the stream is left paused: nothing keeps the process reading');
});
B.run();

const J = suite('Request.json');
function req(body: string, contentType = 'application/json') {
  return parseRequest({ REQUEST_METHOD: 'POST', PATH_INFO: '/x', CONTENT_LENGTH: String(Buffer.byteLength(body)), CONTENT_TYPE: contentType }, Readable.from([Buffer.from(body)]));
}
// [body, message, why]
const BAD: [string, RegExp, string][] = [
  ['{"a":', /^the body is not valid JSON$/, 'cut off'],
  ["{'a': 1}", /^the body is not valid JSON$/, 'single quotes'],
  ['{"password":"hunter2" x}', /^the body is not valid JSON$/, 'garbage: the answer does not quote it back'],
  ['[]', /^the body must be a JSON object$/, 'an array'],
  ['null', /^the body must be a JSON object$/, 'null'],
  ['42', /^the body must be a JSON object$/, 'a number'],
];
for (const [body, message, why] of BAD) {
  J(`should answer 400 for ${why}`, async () => {
    const e = await refusal(req(body).json());
    assert.equal([e.status, e.code], [400, 'bad_request']);
    assert.match(e.message, message);
    assert.not.match(e.message, /position|Unexpected|token/i, "never the parser's own words");
  });
}
J('should take an empty body as {}', async () => {
  assert.equal(await req('').json(), {});
});
J('should refuse a body that is not JSON by its type with 415', async () => {
  const e = await refusal(req('a=1', 'application/x-www-form-urlencoded').json());
  assert.is(e.status, 415);
});
J.run();
