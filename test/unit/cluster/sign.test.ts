import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { bodyHash, identityLine, parseSignedHeaders, signatureBase, signedHeaders, verifySignedRequest, HEADER, SIGNATURE_WINDOW_S, UNSIGNED_PAYLOAD, type SignedFields } from '../../../node-cgi/cluster/sign';

const KEY = Buffer.alloc(32, 7);
const NOW = 1767225600;
const FIELDS: SignedFields = {
  node: 'n1',
  time: NOW,
  nonce: '3f9a0c7e5b2d4e6f8a1b3c5d7e9f0a2b',
  bodyHash: bodyHash(Buffer.from('{"a":1}')),
  identity: { username: 'anna', tokenid: 'backup', privsep: true },
  epoch: 3,
  generation: 17,
};

const B = suite('signatureBase');
B('should put one field a line in the documented order', () => {
  assert.is(
    signatureBase('post', '/api/vm/101/start?x=1', FIELDS),
    ['POST', '/api/vm/101/start?x=1', String(NOW), FIELDS.nonce, FIELDS.bodyHash, 'anna!backup!privsep', 'n1', '3', '17'].join('\n'),
  );
});
B('should write an absent identity as an empty line', () => {
  assert.is(signatureBase('GET', '/api/cluster/state', { ...FIELDS, identity: null }).split('\n')[5], '');
});
B.run();

const I = suite('identityLine');
I('should tell a user, a token and a privilege-separated token apart', () => {
  assert.is(identityLine({ username: 'anna' }), 'anna');
  assert.is(identityLine({ username: 'anna', tokenid: 'cli' }), 'anna!cli');
  assert.is(identityLine({ username: 'anna', tokenid: 'cli', privsep: true }), 'anna!cli!privsep');
  assert.is(identityLine(null), '');
});
I.run();

const H = suite('bodyHash');
H('should be the sha256 hex of the body, of nothing for no body', () => {
  assert.is(bodyHash(null), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.is(bodyHash(Buffer.from('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});
H.run();

const V = suite('verifySignedRequest');
const headers = (f = FIELDS, key = KEY, method = 'POST', target = '/api/vm/101/start') => signedHeaders(key, method, target, f);

V('should accept what signedHeaders signed and give back the fields', () => {
  const f = verifySignedRequest(KEY, 'POST', '/api/vm/101/start', headers(), NOW + 5);
  assert.equal(f, FIELDS);
});
V('should refuse a signature made with another key (forged)', () => {
  assert.throws(() => verifySignedRequest(KEY, 'POST', '/api/vm/101/start', headers(FIELDS, Buffer.alloc(32, 8)), NOW), /signature of node n1 does not match/);
});
V('should refuse a request whose target, method or identity was changed', () => {
  assert.throws(() => verifySignedRequest(KEY, 'POST', '/api/vm/102/start', headers(), NOW), /does not match/);
  assert.throws(() => verifySignedRequest(KEY, 'DELETE', '/api/vm/101/start', headers(), NOW), /does not match/);
  const h = headers();
  h[HEADER.user] = 'admin';
  assert.throws(() => verifySignedRequest(KEY, 'POST', '/api/vm/101/start', h, NOW), /does not match/);
  const g = headers();
  g[HEADER.generation] = '18';
  assert.throws(() => verifySignedRequest(KEY, 'POST', '/api/vm/101/start', g, NOW), /does not match/);
});
V('should refuse a request signed longer ago than the window (expired), saying by how much', () => {
  assert.throws(() => verifySignedRequest(KEY, 'POST', '/api/vm/101/start', headers(), NOW + SIGNATURE_WINDOW_S + 1), /signed 121 s ago; nodes accept 120 s/);
});
V('should refuse a request from too far in the future', () => {
  assert.throws(() => verifySignedRequest(KEY, 'POST', '/api/vm/101/start', headers(), NOW - 500), /500 s ahead/);
});
V('should accept the edges of the window', () => {
  verifySignedRequest(KEY, 'POST', '/api/vm/101/start', headers(), NOW + SIGNATURE_WINDOW_S);
  verifySignedRequest(KEY, 'POST', '/api/vm/101/start', headers(), NOW - SIGNATURE_WINDOW_S);
});
V('should answer 401 "unauthenticated"', () => {
  try {
    verifySignedRequest(KEY, 'POST', '/api/vm/101/start', headers(FIELDS, Buffer.alloc(32)), NOW);
    assert.unreachable();
  } catch (e) {
    assert.is((e as { status: number }).status, 401);
    assert.is((e as { code: string }).code, 'unauthenticated');
  }
});
V.run();

const P = suite('parseSignedHeaders');
const CASES: [string, (h: Record<string, string>) => void, RegExp][] = [
  ['a node name with a slash', (h) => (h[HEADER.node] = '../n1'), /sending node name/],
  ['no nonce', (h) => delete h[HEADER.nonce], /nonce is missing/],
  ['a short nonce', (h) => (h[HEADER.nonce] = 'abc'), /nonce is missing or malformed/],
  ['a body hash that is neither hex nor UNSIGNED-PAYLOAD', (h) => (h[HEADER.bodyHash] = 'x'.repeat(64)), /body hash/],
  ['a time with letters', (h) => (h[HEADER.time] = '12a'), /the time is missing or malformed/],
  ['a negative epoch', (h) => (h[HEADER.epoch] = '-1'), /the epoch/],
  ['a forwarded user with a path in it', (h) => (h[HEADER.user] = 'anna/../root'), /forwarded user name/],
  ['a forwarded token id with a space', (h) => (h[HEADER.token] = 'a b'), /forwarded token id/],
];
for (const [why, spoil, re] of CASES) {
  P(`should refuse ${why}`, () => {
    const h = headers();
    spoil(h);
    assert.throws(() => parseSignedHeaders(h), re);
  });
}
P('should take UNSIGNED-PAYLOAD for a streamed body', () => {
  assert.is(parseSignedHeaders(headers({ ...FIELDS, bodyHash: UNSIGNED_PAYLOAD })).bodyHash, UNSIGNED_PAYLOAD);
});
P.run();
