import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { ApiError, createApi, RENEW_AFTER_MS, SESSION_STORAGE_KEY, type Session } from '../../../web/api';
import { fakeFetch, type FakeAnswer } from './dom';

const ME = { username: 'admin', node: 'pve1', tokenid: null, privileges: ['VM.Audit'] };
const TICKET = (csrf: string): FakeAnswer => [200, { data: { username: 'admin', ticket: 'RAMVM:admin:1::x', csrf, node: 'pve1' } }];

function memoryStorage() {
  const m = new Map<string, string>();
  return {
    map: m,
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  };
}

/** A client over a fake fetch, a memory storage and a clock the test moves. */
function setup(routes: Record<string, FakeAnswer>, stored?: Session) {
  const fake = fakeFetch(routes);
  const storage = memoryStorage();
  if (stored) storage.setItem(SESSION_STORAGE_KEY, JSON.stringify(stored));
  const clock = { now: 1_000_000 };
  const api = createApi({ fetch: fake.fetch, storage: () => storage, now: () => clock.now });
  const ended: ApiError[] = [];
  api.onUnauthenticated((e) => ended.push(e));
  return { api, fake, storage, clock, ended };
}

async function rejects(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    return e as ApiError;
  }
  throw new Error('expected a rejection');
}

const login = suite('api.login');

login('should post the credentials, keep the CSRF token and return who is logged in', async () => {
  const { api, fake, storage } = setup({ 'POST /api/access/ticket': TICKET('A:1'), 'GET /api/access/me': [200, { data: ME }] });
  const me = await api.login('admin', 'pw');
  assert.equal(me, ME);
  assert.equal(fake.calls[0]!.body, { username: 'admin', password: 'pw' });
  assert.is(fake.calls[0]!.headers['content-type'], 'application/json');
  assert.is(api.session()!.csrf, 'A:1');
  assert.is(JSON.parse(storage.getItem(SESSION_STORAGE_KEY)!).csrf, 'A:1');
});

login('should reject a wrong password with the node\'s error and not end any session', async () => {
  const { api, ended } = setup({ 'POST /api/access/ticket': [401, { error: { code: 'unauthenticated', message: 'wrong user name or password' } }] });
  const e = await rejects(api.login('admin', 'nope'));
  assert.instance(e, ApiError);
  assert.is(e.status, 401);
  assert.is(e.code, 'unauthenticated');
  assert.is(e.message, 'wrong user name or password');
  assert.is(ended.length, 0);
  assert.is(api.session(), null);
});

login.run();

const requests = suite('api.get / post / put / del');

const SESSION: Session = { username: 'admin', csrf: 'C:1', node: 'pve1', at: 1_000_000 };

requests('should send GET without and every other method with the CSRF header', async () => {
  const ok: FakeAnswer = [200, { data: 1 }];
  const { api, fake } = setup({ 'GET /api/x': ok, 'POST /api/x': ok, 'PUT /api/x': ok, 'DELETE /api/x': ok }, SESSION);
  await api.resume().catch(() => undefined);
  fake.calls.length = 0;
  await api.get('/api/x');
  await api.post('/api/x', { a: 1 });
  await api.put('/api/x', { a: 2 });
  await api.del('/api/x');
  assert.equal(
    fake.calls.map((c) => [c.method, c.headers['x-ramvm-csrf'] ?? null]),
    [['GET', null], ['POST', 'C:1'], ['PUT', 'C:1'], ['DELETE', 'C:1']],
  );
  assert.equal(fake.calls[1]!.body, { a: 1 });
});

requests('should return the data of {"data": …}', async () => {
  const { api } = setup({ 'GET /api/vm': [200, { data: [{ vmid: 101 }] }] });
  assert.equal(await api.get('/api/vm'), [{ vmid: 101 }]);
});

requests('should turn {"error"} into an ApiError with status, code and message', async () => {
  const { api, ended } = setup({ 'DELETE /api/vm/101': [409, { error: { code: 'conflict', message: 'guest 101 is running' } }] });
  const e = await rejects(api.del('/api/vm/101'));
  assert.equal([e.status, e.code, e.message], [409, 'conflict', 'guest 101 is running']);
  assert.is(ended.length, 0);
});

requests('should name a non-JSON error answer by its status', async () => {
  const { api } = setup({ 'GET /api/x': [502, '<html>Bad Gateway</html>'] });
  const e = await rejects(api.get('/api/x'));
  assert.equal([e.status, e.code], [502, 'bad_response']);
});

requests('should take a delete answered 204 without a body as done', async () => {
  const { api, fake } = setup({ 'DELETE /api/vm/101': [204, null] });
  assert.is(await api.del('/api/vm/101'), undefined);
  assert.equal(fake.calls.map((c) => `${c.method} ${c.url}`), ['DELETE /api/vm/101']);
});

requests('should refuse a success answer that is no JSON', async () => {
  const { api } = setup({ 'GET /api/x': [200, '<html>index</html>'] });
  const e = await rejects(api.get('/api/x'));
  assert.equal([e.status, e.code], [200, 'bad_response']);
});

requests('should report an unreachable node as status 0, code "network"', async () => {
  const api = createApi({ fetch: () => Promise.reject(new TypeError('Failed to fetch')), storage: () => null, now: () => 0 });
  const e = await rejects(api.get('/api/x'));
  assert.instance(e, ApiError);
  assert.equal([e.status, e.code, e.message], [0, 'network', 'Failed to fetch']);
});

requests('should end the session on a 401 and tell the shell', async () => {
  const { api, ended, storage } = setup(
    { 'GET /api/access/me': [200, { data: ME }], 'GET /api/vm': [401, { error: { code: 'unauthenticated', message: 'the ticket is invalid or has expired; log in again' } }] },
    SESSION,
  );
  assert.equal(await api.resume(), ME);
  await rejects(api.get('/api/vm'));
  assert.is(ended.length, 1);
  assert.is(ended[0]!.status, 401);
  assert.is(api.session(), null);
  assert.is(storage.getItem(SESSION_STORAGE_KEY), null);
});

requests('should call onTaskStarted with the id of a 202 {"task"} answer', async () => {
  const { api } = setup({ 'POST /api/backup/run': [202, { data: { task: 'T1' } }], 'POST /api/vm/101/start': [200, { data: null }] });
  const started: string[] = [];
  const off = api.onTaskStarted((id) => started.push(id));
  await api.post('/api/backup/run', { vmid: 101 });
  await api.post('/api/vm/101/start');
  off();
  await api.post('/api/backup/run', { vmid: 101 });
  assert.equal(started, ['T1']);
});

requests('should send a Blob as it is, with its type', async () => {
  const { api, fake } = setup({ 'PUT /api/iso/x.iso': [201, { data: null }] });
  const blob = new Blob([new Uint8Array([1, 2, 3])]);
  await api.put('/api/iso/x.iso', blob);
  assert.is(fake.calls[0]!.body, blob);
  assert.is(fake.calls[0]!.headers['content-type'], 'application/octet-stream');
});

requests.run();

const renew = suite('ticket renewal');

renew('should not renew a ticket younger than RENEW_AFTER_MS', async () => {
  const { api, fake, clock } = setup({ 'GET /api/access/me': [200, { data: ME }], 'GET /api/x': [200, { data: 1 }] }, SESSION);
  await api.resume();
  clock.now += RENEW_AFTER_MS - 1;
  await api.get('/api/x');
  assert.equal(fake.calls.map((c) => `${c.method} ${c.url}`), ['GET /api/access/me', 'GET /api/x']);
});

renew('should renew first when due, then use the new CSRF token', async () => {
  const { api, fake, clock, storage } = setup(
    { 'GET /api/access/me': [200, { data: ME }], 'POST /api/access/ticket': TICKET('C:2'), 'POST /api/x': [200, { data: 1 }] },
    SESSION,
  );
  await api.resume();
  clock.now += RENEW_AFTER_MS;
  await api.post('/api/x');
  assert.equal(fake.calls.map((c) => `${c.method} ${c.url}`), ['GET /api/access/me', 'POST /api/access/ticket', 'POST /api/x']);
  const renewal = fake.calls[1]!;
  assert.equal(renewal.body, {}, 'no password: the cookie renews');
  assert.is(renewal.headers['x-ramvm-csrf'], 'C:1');
  assert.is(fake.calls[2]!.headers['x-ramvm-csrf'], 'C:2');
  assert.is(api.session()!.at, clock.now);
  assert.is(JSON.parse(storage.getItem(SESSION_STORAGE_KEY)!).csrf, 'C:2');
});

renew('should renew once for requests made together', async () => {
  const { api, fake, clock } = setup(
    { 'GET /api/access/me': [200, { data: ME }], 'POST /api/access/ticket': TICKET('C:2'), 'GET /api/x': [200, { data: 1 }] },
    SESSION,
  );
  await api.resume();
  clock.now += RENEW_AFTER_MS + 5;
  await Promise.all([api.get('/api/x'), api.get('/api/x'), api.get('/api/x')]);
  assert.is(fake.calls.filter((c) => c.url === '/api/access/ticket').length, 1);
});

renew('should end the session when the ticket can no longer be renewed', async () => {
  const { api, clock, ended } = setup(
    {
      'GET /api/access/me': [200, { data: ME }],
      'POST /api/access/ticket': [400, { error: { code: 'bad_request', message: 'username and password are required' } }],
      'GET /api/x': [401, { error: { code: 'unauthenticated', message: 'no ticket' } }],
    },
    SESSION,
  );
  await api.resume();
  clock.now += 3 * RENEW_AFTER_MS;
  await rejects(api.get('/api/x'));
  assert.ok(ended.length >= 1);
  assert.is(api.session(), null);
});

renew('should keep the session when renewal fails for the network, and retry', async () => {
  let down = true;
  const { api, fake, clock, ended } = setup(
    {
      'GET /api/access/me': [200, { data: ME }],
      'POST /api/access/ticket': () => (down ? [503, { error: { code: 'unavailable', message: 'busy' } }] : [200, { data: { username: 'admin', csrf: 'C:3', ticket: 't' } }]),
      'GET /api/x': [200, { data: 1 }],
    },
    SESSION,
  );
  await api.resume();
  clock.now += RENEW_AFTER_MS;
  await api.get('/api/x');
  assert.is(api.session()!.csrf, 'C:1');
  down = false;
  await api.get('/api/x');
  assert.is(api.session()!.csrf, 'C:3');
  assert.is(ended.length, 0);
  assert.is(fake.calls.filter((c) => c.url === '/api/access/ticket').length, 2);
});

renew.run();

const session = suite('api.resume / api.logout');

session('should resume the stored session of this tab', async () => {
  const { api, fake } = setup({ 'GET /api/access/me': [200, { data: ME }] }, SESSION);
  assert.equal(await api.resume(), ME);
  assert.is(api.session()!.csrf, 'C:1');
  assert.equal(fake.calls.map((c) => c.url), ['/api/access/me']);
});

session('should send nothing and answer null when this tab holds no session', async () => {
  const { api, ended, fake } = setup({});
  assert.is(await api.resume(), null);
  assert.equal(fake.calls, [], 'no renewal: without a session there is no CSRF token for it');
  assert.is(ended.length, 0);
});

session('should answer null when the stored session has expired on the node', async () => {
  const { api, storage, ended } = setup({ 'GET /api/access/me': [401, { error: { code: 'unauthenticated', message: 'expired' } }] }, SESSION);
  assert.is(await api.resume(), null);
  assert.is(storage.getItem(SESSION_STORAGE_KEY), null);
  assert.is(ended.length, 0);
});

session('should ignore a damaged stored session', async () => {
  const { api, storage, fake } = setup({});
  storage.setItem(SESSION_STORAGE_KEY, '{not json');
  assert.is(await api.resume(), null);
  assert.equal(fake.calls, []);
});

session('should delete the ticket with the CSRF header and forget the session on logout', async () => {
  const { api, fake, storage } = setup({ 'GET /api/access/me': [200, { data: ME }], 'DELETE /api/access/ticket': [204, null] }, SESSION);
  await api.resume();
  await api.logout();
  const del = fake.calls.find((c) => c.method === 'DELETE')!;
  assert.is(del.headers['x-ramvm-csrf'], 'C:1');
  assert.is(api.session(), null);
  assert.is(storage.getItem(SESSION_STORAGE_KEY), null);
});

session('should not call a logout an expiry when a request sent before it comes back 401 after it', async () => {
  let answerPoll: (a: [number, unknown]) => void = () => undefined;
  const { api, ended } = setup(
    {
      'GET /api/access/me': [200, { data: ME }],
      'GET /api/tasks': () => new Promise<[number, unknown]>((resolve) => (answerPoll = resolve)),
      'DELETE /api/access/ticket': [204, null],
    },
    SESSION,
  );
  await api.resume();
  const poll = rejects(api.get('/api/tasks'));
  await api.logout();
  answerPoll([401, { error: { code: 'unauthenticated', message: 'the ticket is invalid or has expired; log in again' } }]);
  assert.is((await poll).status, 401, 'the caller still gets its error');
  assert.equal(ended, [], 'the shell is not told the session expired');
});

session('should forget the session on logout even when the node is unreachable', async () => {
  const storage = memoryStorage();
  storage.setItem(SESSION_STORAGE_KEY, JSON.stringify(SESSION));
  let calls = 0;
  const api = createApi({
    fetch: async (url) => {
      calls++;
      if (url === '/api/access/me') return new Response(JSON.stringify({ data: ME }), { status: 200 });
      throw new TypeError('Failed to fetch');
    },
    storage: () => storage,
    now: () => 1_000_000,
  });
  await api.resume();
  await rejects(api.logout());
  assert.is(calls, 2);
  assert.is(api.session(), null);
  assert.is(storage.getItem(SESSION_STORAGE_KEY), null);
});

session.run();
