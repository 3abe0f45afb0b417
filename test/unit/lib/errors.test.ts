import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError, STATUS_OF_CODE, badRequest, conflict, forbidden, internal, invalid, notFound, unauthenticated, type ErrorCode } from '../../../node-cgi/lib/errors';
import { STATUS_TEXT } from '../../../node-cgi/lib/cgi';

const S = suite('STATUS_OF_CODE');
// [code, status]: the statuses docs/API.md lists
const TABLE: [ErrorCode, number][] = [
  ['bad_request', 400], ['invalid', 400], ['unauthenticated', 401], ['forbidden', 403], ['not_found', 404],
  ['method_not_allowed', 405], ['conflict', 409], ['gone', 410], ['too_large', 413], ['unsupported_media_type', 415],
  ['upgrade_required', 426], ['too_many_requests', 429], ['internal', 500], ['exec_failed', 500],
  ['unavailable', 503], ['timeout', 504], ['insufficient_storage', 507],
];
S('should map every code to the status the API has always answered', () => {
  assert.equal(Object.entries(STATUS_OF_CODE).sort(), TABLE.map(([c, s]) => [c, s] as [string, number]).sort());
});
S('should map only to statuses the CGI kernel has a reason phrase for', () => {
  for (const [code, status] of Object.entries(STATUS_OF_CODE)) assert.ok(STATUS_TEXT[status], `${code} → ${status}`);
});
S.run();

const H = suite('HttpError');
H('should take its status from its code', () => {
  for (const [code, status] of TABLE) assert.is(new HttpError(code, 'x').status, status, code);
});
H('should keep the detail for the log apart from the message', () => {
  const e = new HttpError('exec_failed', 'qemu-img failed', 'argv=["qemu-img"]');
  assert.is(e.message, 'qemu-img failed');
  assert.is(e.detail, 'argv=["qemu-img"]');
});
H('should collect headers for the answer', () => {
  const e = new HttpError('method_not_allowed', 'use GET').withHeader('Allow', 'GET');
  assert.equal(e.headers, [['Allow', 'GET']]);
});
H.run();

const F = suite('error helpers');
// [error, code, message]
const HELPERS: [HttpError, ErrorCode, string][] = [
  [badRequest('no body'), 'bad_request', 'no body'],
  [invalid('memory', 'must be at least 16 MiB'), 'invalid', 'memory: must be at least 16 MiB'],
  [notFound('no guest'), 'not_found', 'no guest'],
  [conflict('running'), 'conflict', 'running'],
  [forbidden(), 'forbidden', 'permission denied'],
  [unauthenticated(), 'unauthenticated', 'authentication required'],
  [internal('the backup is damaged'), 'internal', 'the backup is damaged'],
];
for (const [e, code, message] of HELPERS) {
  F(`should make ${code} errors`, () => {
    assert.instance(e, HttpError);
    assert.is(e.code, code);
    assert.is(e.message, message);
  });
}
F.run();
