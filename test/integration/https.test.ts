/**
 * HTTPS mode: a self-signed certificate made on first start, reused after,
 * and the ticket cookie marked Secure; as a node image runs it, with a
 * cluster socket of its own and plain HTTP only redirecting to the UI.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lighttpdConfig, startServer } from '../../build/server';
import { freePort } from '../helpers/node';

function post(url: string, body: string): Promise<{ status: number; cookie: string; cert: string }> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } },
      (r) => {
        const cert = (r.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
        r.resume();
        r.on('end', () => res({ status: r.statusCode!, cookie: String(r.headers['set-cookie'] ?? ''), cert }));
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

const H = suite('https mode');
H('should serve over TLS with a self-signed certificate and a Secure cookie', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ramvm-https-'));
  const opts = { root, listen: '127.0.0.1', node: 'tlsnode', https: true, quiet: true, env: { RAMVM_ADMIN_PASSWORD: 'tls-test-pw' } };
  let server = await startServer({ ...opts, port: await freePort() });
  try {
    assert.match(server.url, /^https:\/\//);
    const r = await post(`${server.url}/api/access/ticket`, JSON.stringify({ username: 'admin', password: 'tls-test-pw' }));
    assert.is(r.status, 200);
    assert.match(r.cookie, '; Secure');
    const pem = readFileSync(join(root, 'etc/ramvm/priv/node.pem'), 'utf8');
    assert.match(pem, 'BEGIN CERTIFICATE');
    await server.stop();
    server = await startServer({ ...opts, port: await freePort() });
    const again = await post(`${server.url}/api/access/ticket`, JSON.stringify({ username: 'admin', password: 'tls-test-pw' }));
    assert.is(again.cert, r.cert, 'the certificate is kept across restarts');
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
H('should keep a cluster socket of its own and answer plain HTTP only with a redirect to the HTTPS UI', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ramvm-https-'));
  const [port, clusterPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const server = await startServer({ root, listen: '127.0.0.1', port, clusterPort, httpRedirectPort: httpPort, node: 'tlsnode', https: true, quiet: true, env: { RAMVM_ADMIN_PASSWORD: 'tls-test-pw' } });
  try {
    const ui = await post(`${server.url}/api/access/ticket`, JSON.stringify({ username: 'admin', password: 'tls-test-pw' }));
    assert.is(ui.status, 200);
    const cluster = await post(`https://127.0.0.1:${clusterPort}/api/access/ticket`, JSON.stringify({ username: 'admin', password: 'tls-test-pw' }));
    assert.is(cluster.cert, ui.cert, 'the cluster socket speaks TLS with the same certificate');
    const r = await fetch(`http://127.0.0.1:${httpPort}/api/vm?full=1`, { redirect: 'manual' });
    assert.is(r.status, 301);
    assert.is(r.headers.get('location'), `https://127.0.0.1:${port}/api/vm?full=1`);
    // fetch() sends its own Host: a plain request names the node as a browser on the LAN would.
    const named = await new Promise<string | undefined>((res, rej) => {
      httpGet({ host: '127.0.0.1', port: httpPort, path: '/', headers: { host: 'node1.lan' } }, (x) => (x.resume(), res(x.headers.location))).on('error', rej);
    });
    assert.is(named, `https://node1.lan:${port}/`, 'the host the browser asked for, on the UI port');
    const login = await fetch(`http://127.0.0.1:${httpPort}/api/access/ticket`, { method: 'POST', redirect: 'manual', body: '{"username":"admin","password":"tls-test-pw"}' });
    assert.is(login.status, 301, 'nothing is served over plain HTTP, not even a login');
    const plain = await fetch(`http://127.0.0.1:${port}/`).then((x) => `status ${x.status}`, (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message);
    assert.is(plain, 'UND_ERR_SOCKET', 'the UI port answers no plain HTTP: lighttpd closes the connection');
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
H('should refuse a redirect port without HTTPS or on a port already in use', () => {
  assert.throws(() => lighttpdConfig({ root: '/', listen: '0.0.0.0', port: 8006, httpRedirectPort: 80 }), /an HTTP redirect port needs https/);
  assert.throws(() => lighttpdConfig({ root: '/', listen: '0.0.0.0', port: 8006, https: true, clusterPort: 8007, httpRedirectPort: 8007 }), /the HTTP redirect port must be a free port number of its own, not 8007/);
});
H.run();
