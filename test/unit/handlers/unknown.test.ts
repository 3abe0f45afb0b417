/**
 * handlers/unknown.ts as lighttpd's error handler: which requests go on to
 * their handler, and which error each status lighttpd answers becomes. The
 * real lighttpd runs it in test/integration/lighttpd-errors.test.ts.
 */
import * as assert from 'uvu/assert';
import { lighttpdErrorPlan } from '../../../node-cgi/handlers/unknown';
import { suite } from '../../helpers/suite';

const HANDLERS = ['access', 'vm', 'iso'];
/** What lighttpd 1.4.69 sets when it runs its error handler (measured). */
const asErrorHandler = (status: number, uri: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  REDIRECT_STATUS: String(status), REDIRECT_URI: '/cgi/unknown.cgi', REQUEST_METHOD: 'GET', REQUEST_URI: uri,
  CONTENT_LENGTH: '0', SCRIPT_NAME: '/cgi/unknown.cgi', HTTP_COOKIE: 'RamvmAuth=t', ...extra,
});

const Plan = suite('lighttpdErrorPlan');

Plan('should leave a plain call for an /api/ path of no handler alone (REDIRECT_STATUS 200)', () => {
  assert.is(lighttpdErrorPlan({ REDIRECT_STATUS: '200', PATH_INFO: '/nothing' }, HANDLERS), null);
  assert.is(lighttpdErrorPlan({ PATH_INFO: '/nothing' }, HANDLERS), null);
});

Plan('should hand a body-less POST (411) to its handler as a POST with an empty body', () => {
  const plan = lighttpdErrorPlan(asErrorHandler(411, '/api/vm/101/start?x=1'), HANDLERS);
  assert.ok(plan?.kind === 'handler');
  assert.is(plan.name, 'vm');
  assert.equal(
    [plan.env.REQUEST_METHOD, plan.env.CONTENT_LENGTH, plan.env.PATH_INFO, plan.env.QUERY_STRING, plan.env.SCRIPT_NAME, plan.env.REDIRECT_STATUS, plan.env.REDIRECT_URI],
    ['POST', '0', '/101/start', 'x=1', '/cgi/vm.cgi', '200', undefined],
  );
  assert.is(plan.env.HTTP_COOKIE, 'RamvmAuth=t', 'credentials go along; the handler checks them');
});

Plan('should decode the path as lighttpd does for PATH_INFO', () => {
  const plan = lighttpdErrorPlan(asErrorHandler(411, '/api/iso/caf%C3%A9%20x.iso'), HANDLERS);
  assert.ok(plan?.kind === 'handler');
  assert.is(plan.env.PATH_INFO, '/café x.iso');
  const slash = lighttpdErrorPlan(asErrorHandler(411, '/api/access/'), HANDLERS);
  assert.ok(slash?.kind === 'handler');
  assert.is(slash.env.PATH_INFO, '/');
});

Plan('should not hand on a path with dot segments or an encoded slash', () => {
  for (const uri of ['/api/vm/../access/ticket', '/api/vm/./101', '/api/vm/a%2Fb', '/api/vm/a%2fb']) {
    const plan = lighttpdErrorPlan(asErrorHandler(411, uri), HANDLERS);
    assert.ok(plan?.kind === 'error', uri);
    assert.equal([plan.status, plan.error.code], [411, 'bad_request'], uri);
  }
});

Plan('should refuse a chunked body lighttpd would not stream (411 with PATH_INFO) instead of dropping it', () => {
  // Measured: a chunked POST or PUT to /api/vm/101/start reaches the error handler with the handler's PATH_INFO.
  for (const uri of ['/api/vm/101/start', '/api/iso/x.iso']) {
    const plan = lighttpdErrorPlan(asErrorHandler(411, uri, { PATH_INFO: uri.replace(/^\/api\/[a-z]+/, '') }), HANDLERS);
    assert.ok(plan?.kind === 'error', uri);
    assert.equal([plan.status, plan.error.code, plan.error.message], [411, 'bad_request', 'a request with a body needs Content-Length'], uri);
  }
});

Plan('should answer 411 for a handler\'s own root, where a chunked body and none look the same', () => {
  const plan = lighttpdErrorPlan(asErrorHandler(411, '/api/vm'), HANDLERS);
  assert.ok(plan?.kind === 'error');
  assert.equal([plan.status, plan.error.code], [411, 'bad_request']);
});

Plan('should answer 404 for a body-less POST to an /api/ path of no handler', () => {
  const plan = lighttpdErrorPlan(asErrorHandler(411, '/api/nothing/x'), HANDLERS);
  assert.ok(plan?.kind === 'error');
  assert.equal([plan.status, plan.error.code, plan.error.message], [404, 'not_found', 'no such API path: /api/nothing/x']);
});

Plan('should turn each error lighttpd answers itself into the API\'s status and code', () => {
  const cases: [number, string, number, string][] = [
    [400, '/api/vm/1', 400, 'bad_request'],
    [404, '/nothing.html?a=b', 404, 'not_found'],
    [413, '/api/iso/big.iso', 413, 'too_large'],
    [431, '', 431, 'bad_request'],
    [500, '/api/vm/101', 500, 'internal'],
    [503, '/', 503, 'unavailable'],
    [599, '/', 599, 'internal'],
    [499, '/', 499, 'bad_request'],
  ];
  for (const [status, uri, want, code] of cases) {
    const plan = lighttpdErrorPlan(asErrorHandler(status, uri), HANDLERS);
    assert.ok(plan?.kind === 'error', String(status));
    assert.equal([plan.status, plan.error.code], [want, code], String(status));
  }
});

Plan('should name the missing file in a 404, without the query', () => {
  const plan = lighttpdErrorPlan(asErrorHandler(404, '/nothing.html?a=b'), HANDLERS);
  assert.ok(plan?.kind === 'error');
  assert.is(plan.error.message, 'no such file: /nothing.html');
});

Plan.run();
