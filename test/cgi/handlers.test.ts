/**
 * Every built handler (dist/cgi/<h>.cgi) run as lighttpd runs it: each of
 * its routes refuses a request without credentials (401), a ticket without
 * the CSRF header on a change (401), and a user without the route's
 * declared privilege (403); and each handler answers bad input with its
 * status and code and writes nothing. access.cgi has its own table of bad
 * inputs in access.test.ts.
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DIST } from '../../build/build';
import type { Route } from '../../node-cgi/lib/cgi';
import { suite } from '../helpers/suite';
import { configTree } from '../helpers/config-tree';
import { ADMIN_PASSWORD, cgiLogin, cgiRoot, parseCgiOutput, runCgi, type CgiCall } from './run-cgi';

const HANDLERS = ['access', 'backup', 'console', 'iso', 'monitor', 'node', 'restore', 'storage', 'task', 'vm'];

/** A value for each route parameter: what a client would send. */
const SAMPLE: Record<string, string> = {
  vmid: '101', name: 'x.iso', node: 'cginode', id: 'local:101:20260101T000000Z', job: 'nightly', disk: 'disk1',
  username: 'anna', group: 'staff', tokenid: 'ci', task: '20260101T000000Z-backup-replica-abc123',
};

/** A route's path with its parameters filled in: "/:vmid/start" → "/101/start". */
export function samplePath(route: Pick<Route, 'path'>): string {
  return route.path.replace(/[:*]([a-z]+)/gi, (_, k: string) => {
    const v = SAMPLE[k];
    if (v === undefined) throw new Error(`no sample value for :${k} in ${route.path}`);
    return v;
  });
}

function routesOf(handler: string): Route[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(`../../node-cgi/handlers/${handler}`) as { routes: Route[] }).routes;
}

let root: string;
let admin: Record<string, string>;
let anna: Record<string, string>;

const call = (handler: string, c: Omit<CgiCall, 'root'>) => runCgi(handler, { ...c, root });

const A = suite('every route: who may call it');
A.before(async () => {
  root = cgiRoot('ramvm-cgi-handlers-');
  const a = await cgiLogin(root, 'admin', ADMIN_PASSWORD);
  admin = { cookie: a.cookie, 'x-ramvm-csrf': a.csrf };
  const made = await call('access', { method: 'POST', path: '/users', headers: admin, json: { username: 'anna', password: 'anna-password' } });
  assert.is(made.status, 201, made.text);
  const n = await cgiLogin(root, 'anna', 'anna-password');
  anna = { cookie: n.cookie, 'x-ramvm-csrf': n.csrf };
});
A.after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

A('should know a sample for every route parameter of every handler', () => {
  const routes = HANDLERS.flatMap((h) => routesOf(h).map((r) => `${h} ${r.method} ${samplePath(r)}`));
  assert.ok(routes.length > 80, `${routes.length} routes`);
});

A('should refuse every route but login and logout without credentials, with 401', async () => {
  const wrong: string[] = [];
  for (const h of HANDLERS) {
    for (const r of routesOf(h)) {
      if (r.perm === 'public') continue;
      const res = await call(h, { method: r.method, path: samplePath(r), ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { json: {} }) });
      if (res.status !== 401 || res.json?.error?.code !== 'unauthenticated') wrong.push(`${h} ${r.method} ${r.path}: ${res.status} ${res.text.slice(0, 120)}`);
    }
  }
  assert.equal(wrong, []);
});

A('should refuse every change made with a ticket but without the CSRF header, with 401', async () => {
  const wrong: string[] = [];
  for (const h of HANDLERS) {
    for (const r of routesOf(h)) {
      if (r.perm === 'public' || r.method === 'GET') continue;
      const res = await call(h, { method: r.method, path: samplePath(r), headers: { cookie: admin.cookie! }, json: {} });
      if (res.status !== 401 || !/X-Ramvm-CSRF/.test(res.json?.error?.message ?? '')) wrong.push(`${h} ${r.method} ${r.path}: ${res.status} ${res.text.slice(0, 120)}`);
    }
  }
  assert.equal(wrong, []);
});

A('should refuse a user without the route\'s privilege, with 403, before the handler runs', async () => {
  const wrong: string[] = [];
  const before = configTree(root);
  for (const h of HANDLERS) {
    for (const r of routesOf(h)) {
      if (typeof r.perm !== 'object') continue;
      const res = await call(h, { method: r.method, path: samplePath(r), headers: anna, ...(r.method === 'GET' ? {} : { json: {} }) });
      if (res.status !== 403 || res.json?.error?.code !== 'forbidden' || !res.json.error.message.includes(r.perm.priv)) {
        wrong.push(`${h} ${r.method} ${r.path}: ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
  }
  assert.equal(wrong, []);
  assert.equal(configTree(root), before, 'nothing written');
});

A.run();

/** [handler, what, the call as admin, status, code, message part] */
const BAD: [string, string, Omit<CgiCall, 'root'>, number, string, string][] = [
  ['vm', 'a malformed VMID', { method: 'GET', path: '/0101' }, 400, 'invalid', 'vmid'],
  ['vm', 'a memory that is no size', { method: 'POST', path: '/', json: { memory: 'lots' } }, 400, 'invalid', 'memory:'],
  ['vm', 'malformed JSON', { method: 'POST', path: '/', body: '{"name":', headers: { 'content-type': 'application/json' } }, 400, 'bad_request', 'the body is not valid JSON'],
  ['backup', 'a VMID that is no number', { method: 'POST', path: '/run', json: { vmid: 'x' } }, 400, 'invalid', 'vmid'],
  ['backup', 'a job id with a slash', { method: 'POST', path: '/jobs', json: { id: 'a/b' } }, 400, 'invalid', 'id:'],
  ['iso', 'a name that is no image', { method: 'PUT', path: '/notes.txt', body: 'x' }, 400, 'invalid', 'name'],
  ['iso', 'a hidden name', { method: 'GET', path: '/.x.iso' }, 400, 'invalid', 'name'],
  ['monitor', 'a malformed VMID', { method: 'POST', path: '/abc', json: { command: 'info status' } }, 400, 'invalid', 'vmid'],
  ['console', 'a malformed VMID', { method: 'GET', path: '/abc', headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } }, 400, 'invalid', 'vmid'],
  ['node', 'an overcommit out of range', { method: 'PUT', path: '/cginode/settings', json: { memoryOvercommit: 0 } }, 400, 'invalid', 'memoryOvercommit'],
  ['node', 'another node\'s name', { method: 'GET', path: '/othernode/resources' }, 404, 'not_found', 'othernode'],
  ['restore', 'a malformed VMID', { method: 'POST', path: '/abc/link', json: { up: true } }, 400, 'invalid', 'vmid'],
  ['storage', 'a directory without a path', { method: 'POST', path: '/', json: { name: 'usb', type: 'dir' } }, 400, 'invalid', 'path'],
  ['storage', 'a storage of no known type', { method: 'POST', path: '/', json: { name: 'usb', type: 'cloud' } }, 400, 'invalid', 'type'],
  ['task', 'a task id with a slash', { method: 'GET', path: '/..%2Fetc' }, 404, 'not_found', 'task'],
];

const B = suite('every handler: bad input');
B.before(async () => {
  root = cgiRoot('ramvm-cgi-bad-');
  const a = await cgiLogin(root, 'admin', ADMIN_PASSWORD);
  admin = { cookie: a.cookie, 'x-ramvm-csrf': a.csrf };
});
B.after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

B('should have a case for every handler', () => {
  assert.equal([...new Set(BAD.map(([h]) => h))].sort(), HANDLERS.filter((h) => h !== 'access').sort());
});

for (const [h, what, c, status, code, message] of BAD) {
  B(`${h}.cgi should refuse ${what} with ${status} ${code} and write nothing`, async () => {
    const before = configTree(root);
    const r = await call(h, { ...c, headers: { ...admin, ...c.headers } });
    assert.equal([r.status, r.json?.error?.code], [status, code], r.text);
    assert.match(r.json.error.message, message);
    assert.equal(configTree(root), before);
  });
}

B.run();

const U = suite('unknown.cgi');
U.before(() => {
  root = cgiRoot('ramvm-cgi-unknown-');
});
U.after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

U('should answer an /api/ path of no handler with a JSON 404', async () => {
  const r = await call('unknown', { method: 'GET', path: '/nothing/here' });
  assert.equal([r.status, r.headers['content-type'], r.json], [404, 'application/json; charset=utf-8', { error: { code: 'not_found', message: 'no such API path: /api/nothing/here' } }]);
});

U('should answer an error lighttpd made itself as JSON with its status', async () => {
  // What lighttpd sets when it runs its error handler (measured with 1.4.69).
  const r = await runCgiWithEnv({ REDIRECT_STATUS: '413', REQUEST_URI: '/api/iso/big.iso', REQUEST_METHOD: 'GET' });
  assert.equal([r.status, r.json], [413, { error: { code: 'too_large', message: 'the request body is larger than this node accepts' } }]);
});

U('should hand a body-less POST lighttpd refused with 411 to its handler', async () => {
  const r = await runCgiWithEnv({ REDIRECT_STATUS: '411', REQUEST_URI: '/api/vm/101/start', REQUEST_METHOD: 'GET', CONTENT_LENGTH: '0' });
  // vm.cgi answered, as for any POST without credentials.
  assert.equal([r.status, r.json], [401, { error: { code: 'unauthenticated', message: 'authentication required' } }]);
});

U.run();

/** unknown.cgi with meta-variables lighttpd sets only for its error handler. */
function runCgiWithEnv(extra: Record<string, string>) {
  return new Promise<{ status: number; json: any }>((res, rej) => {
    const p = spawn(process.execPath, [join(DIST, 'cgi/unknown.cgi')], {
      env: { PATH: process.env.PATH, RAMVM_ROOT: root, RAMVM_DIST: DIST, RAMVM_NODE: 'cginode', SCRIPT_NAME: '/cgi/unknown.cgi', REDIRECT_URI: '/cgi/unknown.cgi', ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.on('error', rej);
    p.on('close', () => {
      const r = parseCgiOutput(Buffer.concat(out));
      res({ status: r.status, json: JSON.parse(r.body.toString()) });
    });
  });
}
