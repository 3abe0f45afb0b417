/**
 * What lighttpd answers itself, through the real server and the built
 * unknown.cgi as its error handler: a POST without a body (no
 * Content-Length, as `curl -X POST URL` sends it) reaches its handler, and
 * every error lighttpd makes on its own is JSON like the API's.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { startTestNode, type Client, type TestNode } from '../helpers/node';
import { suite } from '../helpers/suite';

let node: TestNode;
let admin: Client;

interface Raw {
  status: number;
  headers: string;
  body: string;
}

/** curl as a user types it; the status from -w. */
function curl(args: string[]): { status: number; body: string } {
  const r = spawnSync('curl', ['-s', '-w', '\n%{http_code}', ...args], { encoding: 'utf8' });
  const i = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
}

/** Bytes as they are, for requests no client library would send; the answer up to the close. */
function raw(text: string | Buffer): Promise<Raw> {
  const { hostname, port } = new URL(node.url);
  return new Promise((res, rej) => {
    const s = connect(Number(port), hostname, () => s.end(text));
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString('latin1')));
    s.on('error', rej);
    s.on('close', () => {
      const [head = '', ...rest] = got.split('\r\n\r\n');
      let body = rest.join('\r\n\r\n');
      if (/transfer-encoding: chunked/i.test(head)) body = dechunk(body);
      res({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body });
    });
  });
}

function dechunk(body: string): string {
  let out = '';
  for (let at = 0; ;) {
    const eol = body.indexOf('\r\n', at);
    const size = parseInt(body.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

const P = suite('a POST without a body');
P.before(async () => {
  node = await startTestNode();
  admin = await node.login('admin', node.adminPassword);
});
P.after(async () => node?.stop());

P('should reach its handler: curl -X POST renews a ticket', () => {
  const r = curl(['-X', 'POST', '-b', admin.cookie!, '-H', `X-Ramvm-CSRF: ${admin.csrf}`, `${node.url}/api/access/ticket`]);
  assert.is(r.status, 200, r.body);
  assert.is(JSON.parse(r.body).data.username, 'admin');
});

P('should be checked by its handler like any request', () => {
  const r = curl(['-X', 'POST', `${node.url}/api/vm/101/start`]);
  assert.is(r.status, 401, r.body);
  assert.equal(JSON.parse(r.body), { error: { code: 'unauthenticated', message: 'authentication required' } });
});

P('should keep its query string', () => {
  const r = curl(['-X', 'POST', '-b', admin.cookie!, '-H', `X-Ramvm-CSRF: ${admin.csrf}`, `${node.url}/api/vm/101/start?x=1`]);
  assert.is(r.status, 404, r.body);
  assert.equal(JSON.parse(r.body).error.code, 'not_found');
});

P('should answer 404 for an /api/ path of no handler', () => {
  const r = curl(['-X', 'POST', `${node.url}/api/nothing/here`]);
  assert.is(r.status, 404, r.body);
  assert.equal(JSON.parse(r.body), { error: { code: 'not_found', message: 'no such API path: /api/nothing/here' } });
});

P('should answer 411 for a handler\'s own root, where lighttpd hides whether a body was chunked', () => {
  const r = curl(['-X', 'POST', `${node.url}/api/vm`]);
  assert.is(r.status, 411, r.body);
  assert.is(JSON.parse(r.body).error.code, 'bad_request');
});

P('should never turn a chunked body into an empty one', async () => {
  // Login shows whether its handler got the body: without one it answers 400 "username and password are required".
  const chunked = async (body: string) => {
    const chunk = `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`;
    return raw(`POST /api/access/ticket HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk}0\r\n\r\n`);
  };
  const small = await chunked(JSON.stringify({ username: 'admin', password: node.adminPassword }));
  assert.is(small.status, 200, `lighttpd read the whole small body and passed it on: ${small.body}`);
  assert.is(JSON.parse(small.body).data.username, 'admin');
  // Over the 64 KiB lighttpd reads ahead: it cannot know the length when the handler would start, and refuses it whole.
  const big = await chunked(JSON.stringify({ username: 'admin', password: 'x'.repeat(300_000) }));
  assert.is(big.status, 411, big.body);
  assert.equal(JSON.parse(big.body), { error: { code: 'bad_request', message: 'a request with a body needs Content-Length' } });
});

P.run();

const E = suite('errors lighttpd answers itself');
E.before(async () => {
  node = await startTestNode();
});
E.after(async () => node?.stop());

E('should answer a missing static file with a JSON 404', () => {
  const r = curl([`${node.url}/nothing.html`]);
  assert.is(r.status, 404);
  assert.equal(JSON.parse(r.body), { error: { code: 'not_found', message: 'no such file: /nothing.html' } });
});

E('should answer a malformed request with a JSON 400', async () => {
  const r = await raw('GET /api/task HTTP/1.1\r\nHost: x\r\nNo colon here\r\nConnection: close\r\n\r\n');
  assert.is(r.status, 400, r.headers);
  assert.match(r.headers, /content-type: application\/json/i);
  assert.is(JSON.parse(r.body).error.code, 'bad_request');
});

E('should answer headers that are too large with a JSON 431', async () => {
  const r = await raw(`GET /api/task HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\nConnection: close\r\n\r\n`);
  assert.is(r.status, 431, r.headers);
  assert.is(JSON.parse(r.body).error.code, 'bad_request');
});

E('should answer a body over the server\'s limit with a JSON 413 before reading it', async () => {
  const r = await raw('PUT /api/iso/x.iso HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999999\r\nConnection: close\r\n\r\n');
  assert.is(r.status, 413, r.headers);
  assert.equal(JSON.parse(r.body), { error: { code: 'too_large', message: 'the request body is larger than this node accepts' } });
});

E('should leave the answers of the API\'s own handlers alone', () => {
  const r = curl([`${node.url}/api/task`]);
  assert.is(r.status, 401);
  assert.equal(JSON.parse(r.body), { error: { code: 'unauthenticated', message: 'authentication required' } });
});

E.run();
