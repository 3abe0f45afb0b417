import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { useTempRoot } from '../../helpers/temp-root';
import { handleRequest, Reply } from '../../../node-cgi/lib/cgi';
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
  { method: 'POST', path: '/:vmid/start', perm: { path: '/vms/:vmid', priv: 'VM.PowerMgmt' }, handle: () => new Reply(202, { task: 't' }) },
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

async function call(method: string, path: string, headers: Record<string, string> = {}) {
  const res = await handleRequest(routes, parseRequest(env(method, path, headers), Readable.from([])), authorizer);
  const body = Buffer.isBuffer(res.body) ? JSON.parse(res.body.toString()) : null;
  return { status: res.status, body, headers: res.headers };
}

const cookie = (user: string) => ({ cookie: `RamvmAuth=${encodeURIComponent(issueTicket(user))}` });

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
  const r = await call('POST', '/101/start', { ...cookie('anna'), 'x-ramvm-csrf': issueCsrf('bob') });
  assert.is(r.status, 401);
});
H('should run a non-GET request with ticket and CSRF header', async () => {
  const r = await call('POST', '/101/start', { ...cookie('anna'), 'x-ramvm-csrf': issueCsrf('anna') });
  assert.is(r.status, 202);
  assert.equal(r.body, { data: { task: 't' } });
});
H('should answer 403 when the role lacks the privilege (VMUser may not delete)', async () => {
  const r = await call('DELETE', '/101', { ...cookie('anna'), 'x-ramvm-csrf': issueCsrf('anna') });
  assert.is(r.status, 403);
});
H('should answer a delete that worked with 204 and no body', async () => {
  const r = await call('DELETE', '/notes/1', { ...cookie('anna'), 'x-ramvm-csrf': issueCsrf('anna') });
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
H('should check the route exists before authenticating (404 for anonymous)', async () => {
  const r = await call('GET', '/101/nothing');
  assert.is(r.status, 404);
});
H.run();
