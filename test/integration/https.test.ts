/**
 * HTTPS mode: a self-signed certificate made on first start, reused after,
 * and the ticket cookie marked Secure.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { request } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../build/server';
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
H.run();
