import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { useTempRoot } from '../../helpers/temp-root';
import { PassThrough } from 'node:stream';
import { API_HEADERS, errorResponse, handleRequest, Reply, writeHead } from '../../../node-cgi/lib/cgi';
import { authorizer, type ApiRoute } from '../../../node-cgi/auth/authorize';
import { parseRequest } from '../../../node-cgi/lib/request';
import { HttpError } from '../../../node-cgi/lib/errors';
import { issueCsrf, issueTicket } from '../../../node-cgi/auth/ticket';

/** The access files this suite needs, in its own root. */
function writeFixture(root: string): void {
  mkdirSync(join(root, 'etc/ramvm'), { recursive: true });
  writeFileSync(join(root, 'etc/ramvm/users.json'), JSON.stringify({
    users: {
      anna: { enabled: true, expire: 0, groups: [], password: 'x' },
      off: { enabled: false, expire: 0, groups: [], password: 'x' },
    },
  }));
  writeFileSync(join(root, 'etc/ramvm/acl.json'), JSON.stringify({ acl: [{ path: '/vms/101', user: 'anna', role: 'VMUser' }] }));
}

const routes: ApiRoute[] = [
  { method: 'GET', path: '/:vmid', perm: { path: '/vms/:vmid', priv: 'VM.Audit' }, handle: (ctx) => ({ vmid: ctx.params.vmid }) },
  { method: 'POST', path: '/:vmid/start', perm: { path: '/vms/:vmid', priv: 'VM.PowerMgmt' }, body: 'none', handle: () => new Reply(202, { task: 't' }) },
  { method: 'DELETE', path: '/:vmid', perm: { path: '/vms/:vmid', priv: 'VM.Allocate' }, handle: () => null },
  { method: 'DELETE', path: '/notes/:id', perm: 'authenticated', handle: () => undefined },
  { method: 'GET', path: '/boom/x', perm: 'authenticated', handle: () => { throw new Error('secret internals'); } },
  { method: 'GET', path: '/teapot/x', perm: 'authenticated', handle: () => { throw new HttpError('conflict', 'the guest is running'); } },
];

function env(method: string, path: string, headers: Record<string, string> = {}) {
  const e: NodeJS.ProcessEnv = { REQUEST_METHOD: method, PATH_INFO: path };
  for (const [k, v] of Object.entries(headers)) e[`HTTP_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  return e;
}

async function call(method: string, path: string, headers: Record<string, string> = {}, sent = '') {
  const e = env(method, path, headers);
  if (sent) Object.assign(e, { CONTENT_LENGTH: String(Buffer.byteLength(sent)), CONTENT_TYPE: 'application/json' });
  const res = await handleRequest(routes, parseRequest(e, Readable.from(sent ? [Buffer.from(sent)] : [])), authorizer);
  const body = Buffer.isBuffer(res.body) ? JSON.parse(res.body.toString()) : null;
  return { status: res.status, body, headers: res.headers };
}

const cookie = (user: string) => ({ cookie: `RamvmAuth=${encodeURIComponent(issueTicket(user, 0))}` });
/** A ticket cookie and the CSRF header of that ticket. */
function session(user: string) {
  const t = issueTicket(user, 0);
  return { cookie: `RamvmAuth=${encodeURIComponent(t)}`, 'x-ramvm-csrf': issueCsrf(t) };
}

const H = suite('handleRequest');
const root = useTempRoot(H);
H.before(() => writeFixture(root.path));
H('should answer 401 without credentials', async () => {
  const r = await call('GET', '/101');
  assert.is(r.status, 401);
  assert.is(r.body.error.code, 'unauthenticated');
});
H('should answer 200 with data when the privilege is held', async () => {
  const r = await call('GET', '/101', cookie('anna'));
  assert.is(r.status, 200);
  assert.equal(r.body, { data: { vmid: '101' } });
});
H('should answer 403 on another guest', async () => {
  const r = await call('GET', '/102', cookie('anna'));
  assert.is(r.status, 403);
  assert.match(r.body.error.message, 'VM.Audit on /vms/102');
});
H('should answer 401 for a non-GET request without the CSRF header', async () => {
  const r = await call('POST', '/101/start', cookie('anna'));
  assert.is(r.status, 401);
  assert.match(r.body.error.message, 'X-Ramvm-CSRF');
});
H('should answer 401 for a CSRF token of another user', async () => {
  const r = await call('POST', '/101/start', { ...cookie('anna'), 'x-ramvm-csrf': session('bob')['x-ramvm-csrf'] });
  assert.is(r.status, 401);
});
H('should run a non-GET request with ticket and CSRF header', async () => {
  const r = await call('POST', '/101/start', session('anna'));
  assert.is(r.status, 202);
  assert.equal(r.body, { data: { task: 't' } });
});
H('should answer 403 when the role lacks the privilege (VMUser may not delete)', async () => {
  const r = await call('DELETE', '/101', session('anna'));
  assert.is(r.status, 403);
});
H('should answer a delete that worked with 204 and no body', async () => {
  const r = await call('DELETE', '/notes/1', session('anna'));
  assert.is(r.status, 204);
  assert.is(r.body, null);
});
H('should refuse a valid ticket of a disabled user', async () => {
  const r = await call('GET', '/101', cookie('off'));
  assert.is(r.status, 401);
  assert.match(r.body.error.message, 'disabled');
});
H('should answer an unexpected error as 500 without details', async () => {
  const r = await call('GET', '/boom/x', cookie('anna'));
  assert.is(r.status, 500);
  assert.equal(r.body, { error: { code: 'internal', message: 'internal error; see the server log' } });
});
H('should keep the status and message of an HttpError', async () => {
  const r = await call('GET', '/teapot/x', cookie('anna'));
  assert.is(r.status, 409);
  assert.equal(r.body.error, { code: 'conflict', message: 'the guest is running' });
});
// [body, status, message, why]: a route that takes no body ('none')
const NO_BODY: [string, number, RegExp | null, string][] = [
  ['', 202, null, 'no body at all'],
  ['{}', 202, null, 'an empty object'],
  ['{"force":true}', 400, /^force: unknown field$/, 'a field it would ignore'],
  ['[1]', 400, /^the body must be a JSON object$/, 'an array'],
  ['{"a":', 400, /^the body is not valid JSON$/, 'malformed JSON, without the parser\'s words'],
];
for (const [body, status, message, why] of NO_BODY) {
  H(`should answer ${status} to a route that takes no body, given ${why}`, async () => {
    const r = await call('POST', '/101/start', session('anna'), body);
    assert.is(r.status, status);
    if (message) assert.match(r.body.error.message, message);
  });
}
H('should check the route exists before authenticating (404 for anonymous)', async () => {
  const r = await call('GET', '/101/nothing');
  assert.is(r.status, 404);
});
H.run();

const E = suite('errorResponse');
E('should give every 429 a Retry-After, also when its thrower named none', () => {
  const r = errorResponse(new HttpError('too_many_requests', 'slow down'), { method: 'POST', path: '/ticket' });
  assert.is(r.status, 429);
  assert.equal(r.headers.filter(([k]) => k === 'Retry-After'), [['Retry-After', '1']]);
});
E('should keep the Retry-After its thrower set', () => {
  const r = errorResponse(new HttpError('too_many_requests', 'slow down').withHeader('Retry-After', '30'), { method: 'POST', path: '/ticket' });
  assert.equal(r.headers.filter(([k]) => k === 'Retry-After'), [['Retry-After', '30']]);
});
E('should send the message of an HttpError and keep its detail for the log', () => {
  const err = new HttpError('exec_failed', 'qemu-img failed (exit 1)', 'argv=["qemu-img","info","/var/lib/vz/x"] stderr=secret');
  err.said = 'Could not open /var/lib/vz/x';
  const r = errorResponse(err, { method: 'GET', path: '/101' });
  const text = (r.body as Buffer).toString();
  assert.equal(JSON.parse(text), { error: { code: 'exec_failed', message: 'qemu-img failed (exit 1)' } });
  assert.not.match(text, /var\/lib|secret|Could not/);
});
E.run();

const W = suite('writeHead');
W('should mark every API answer no-store, nosniff, and not to be framed or run as a page', () => {
  const out = new PassThrough();
  writeHead(out, 200, [['Content-Type', 'application/json; charset=utf-8']]);
  const head = out.read().toString();
  assert.match(head, /^Status: 200 OK\r\n/);
  for (const [k, v] of API_HEADERS) assert.ok(head.includes(`${k}: ${v}\r\n`), `${k} in ${head}`);
  assert.match(head, "X-Content-Type-Options: nosniff\r\n");
  assert.match(head, "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n");
});
W('should let an answer set its own Cache-Control', () => {
  const out = new PassThrough();
  writeHead(out, 200, [['Cache-Control', 'max-age=60']]);
  const head = out.read().toString();
  assert.is(head.match(/Cache-Control/g)!.length, 1);
  assert.match(head, 'Cache-Control: max-age=60');
});
W.run();
