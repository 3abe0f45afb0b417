/**
 * Node-to-node transport over real TLS: the peer client against a real
 * node's cluster socket (lighttpd, HTTPS, the node's own certificate) and
 * the receiving checks of signed requests: pinned fingerprint (nothing sent
 * on a mismatch), signature, time window, replay, body hash, HTTPS only.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { startTestNode, type Client, type TestNode } from '../helpers/node';
import { connectPeer, peerJson, PeerError, type PeerAddress } from '../../node-cgi/cluster/peer';
import { bodyHash, signedHeaders, type SignedFields } from '../../node-cgi/cluster/sign';
import { fingerprintOf } from '../../node-cgi/cluster/identity';

let node: TestNode;
let admin: Client;
let peer: PeerAddress;
let key: Buffer;

interface Raw {
  status: number;
  json: any;
}

/** A request to the node's cluster socket with the headers given (no pinning: the test knows the node). */
function raw(method: string, target: string, headers: Record<string, string>, body?: Buffer, base = node.server.clusterUrl): Promise<Raw> {
  const u = new URL(base);
  return new Promise((res, rej) => {
    const req = (u.protocol === 'https:' ? httpsRequest : require('node:http').request)(
      { host: u.hostname, port: u.port, path: target, method, headers: { ...headers, ...(body ? { 'content-length': String(body.length), 'content-type': 'application/json' } : {}) }, rejectUnauthorized: false },
      (r: import('node:http').IncomingMessage) => {
        let text = '';
        r.on('data', (c) => (text += c));
        r.on('end', () => res({ status: r.statusCode!, json: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

function fields(over: Partial<SignedFields> = {}): SignedFields {
  return { node: 'testnode', time: Math.floor(Date.now() / 1000), nonce: randomBytes(16).toString('hex'), bodyHash: bodyHash(null), identity: null, epoch: 1, generation: 1, ...over };
}

const T = suite('cluster transport over TLS');

T.before(async () => {
  node = await startTestNode({ node: 'testnode' });
  admin = await node.login('admin', node.adminPassword);
  const c = await admin.post('/api/cluster', { name: 'solo' });
  assert.is(c.status, 200, c.text);
  key = Buffer.from(readFileSync(join(node.root, 'etc/ramvm/priv/authkey'), 'utf8').trim(), 'hex');
  peer = { name: 'testnode', url: node.server.clusterUrl, fingerprint: fingerprintOf(readFileSync(join(node.root, 'etc/ramvm/priv/node.crt'), 'utf8')) };
});
T.after(async () => node.stop());

T('should serve the cluster socket over HTTPS with the certificate whose fingerprint GET /api/cluster shows', async () => {
  const view = (await admin.get('/api/cluster')).json.data;
  assert.is(view.nodes[0].fingerprint, peer.fingerprint);
  assert.is(view.nodes[0].url, node.server.clusterUrl);
  const sock = await connectPeer(peer);
  assert.is(sock.getPeerCertificate().fingerprint256, peer.fingerprint);
  sock.destroy();
});

T('should answer a signed request of a node of the cluster', async () => {
  const a = await peerJson<{ name: string; cluster: string }>(peer, { method: 'GET', target: '/api/cluster/status', sign: { key, node: 'testnode', epoch: 1, generation: 1, identity: null } });
  assert.is(a.status, 200);
  assert.is(a.data.name, 'testnode');
  assert.is(a.data.cluster, 'solo');
  assert.is(a.headers['x-ramvm-master'], 'testnode');
});

T('should refuse a certificate with another fingerprint before sending a byte', async () => {
  // A TLS server with another certificate that records what arrives.
  const other = createTlsServer({ cert: readFileSync(join(node.root, 'etc/ramvm/priv/node.crt')), key: readFileSync(join(node.root, 'etc/ramvm/priv/node.key')) });
  let received = 0;
  other.on('secureConnection', (s) => s.on('data', (d: Buffer) => (received += d.length)));
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  const port = (other.address() as { port: number }).port;
  const wrong = '00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF';
  try {
    await peerJson({ name: 'x', url: `https://127.0.0.1:${port}`, fingerprint: wrong }, { method: 'POST', target: '/api/secret', body: Buffer.from('{"token":"rjt_x"}'), sign: null });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, PeerError);
    assert.is((e as PeerError).failure, 'fingerprint');
    assert.match((e as Error).message, `has fingerprint ${peer.fingerprint}, not ${wrong}`);
    assert.match((e as Error).message, 'nothing was sent');
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.is(received, 0, 'no application byte reached the server');
  other.close();
});

T('should report a node that does not listen as unreachable, naming it', async () => {
  try {
    await connectPeer({ name: 'gone', url: 'https://127.0.0.1:9', fingerprint: peer.fingerprint });
    assert.unreachable();
  } catch (e) {
    assert.is((e as PeerError).failure, 'unreachable');
    assert.match((e as Error).message, /node gone does not answer at https:\/\/127.0.0.1:9 \(connection refused\)/);
    assert.is((e as PeerError).status, 503);
  }
});

T('should refuse a forged signature (another key)', async () => {
  const r = await raw('GET', '/api/cluster/status', signedHeaders(randomBytes(32), 'GET', '/api/cluster/status', fields()));
  assert.is(r.status, 401);
  assert.match(r.json.error.message, /signature of node testnode does not match/);
});

T('should refuse an expired request, saying by how far the clocks differ', async () => {
  const r = await raw('GET', '/api/cluster/status', signedHeaders(key, 'GET', '/api/cluster/status', fields({ time: Math.floor(Date.now() / 1000) - 600 })));
  assert.is(r.status, 401);
  assert.match(r.json.error.message, /signed 60\d s ago; nodes accept 120 s/);
});

T('should refuse a replayed request (the same nonce again)', async () => {
  const h = signedHeaders(key, 'GET', '/api/cluster/status', fields());
  assert.is((await raw('GET', '/api/cluster/status', h)).status, 200);
  const again = await raw('GET', '/api/cluster/status', h);
  assert.is(again.status, 401);
  assert.match(again.json.error.message, /seen before \(a replay\)/);
});

T('should refuse a request signed for another path', async () => {
  const r = await raw('GET', '/api/cluster/state', signedHeaders(key, 'GET', '/api/cluster/status', fields()));
  assert.is(r.status, 401);
  assert.match(r.json.error.message, /does not match/);
});

T('should refuse a body that is not the one signed', async () => {
  const body = Buffer.from(JSON.stringify({ epoch: 1, generation: 99, files: {} }));
  const h = signedHeaders(key, 'PUT', '/api/cluster/state', fields({ bodyHash: bodyHash(Buffer.from('{}')) }));
  const r = await raw('PUT', '/api/cluster/state', h, body);
  assert.is(r.status, 401);
  assert.match(r.json.error.message, /the body is not the one testnode signed/);
});

T('should refuse a sender that is not a node of the cluster', async () => {
  const r = await raw('GET', '/api/cluster/status', signedHeaders(key, 'GET', '/api/cluster/status', fields({ node: 'stranger' })));
  assert.is(r.status, 403);
  assert.match(r.json.error.message, /stranger is not a member of cluster solo/);
});

T('should refuse node requests on the plain-HTTP UI socket', async () => {
  const r = await raw('GET', '/api/cluster/status', signedHeaders(key, 'GET', '/api/cluster/status', fields()), undefined, node.url);
  assert.is(r.status, 403);
  assert.match(r.json.error.message, /only over HTTPS/);
});

T('should refuse an unsigned request to a node-to-node path', async () => {
  const r = await raw('GET', '/api/cluster/state', {});
  assert.is(r.status, 401);
  assert.match(r.json.error.message, /requests of cluster nodes only/);
});

T.run();
