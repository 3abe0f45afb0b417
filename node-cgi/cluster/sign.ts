/**
 * Requests from one node to another are signed with the cluster key
 * (HMAC-SHA256). Pure: the caller supplies the key, the clock and the nonce;
 * nonces.ts remembers which nonces were seen, so a captured request cannot
 * be replayed within the window.
 *
 * The signature covers one line per field:
 *
 *   POST                                  method
 *   /api/vm/101/start?x=1                 request target, as sent
 *   1767225600                            X-Ramvm-Time (Unix seconds)
 *   3f9a0c7e5b2d4e6f8a1b3c5d7e9f0a2b      X-Ramvm-Nonce (32 hex)
 *   e3b0c442…b855                         X-Ramvm-Content-Sha256 (hex of the body, or UNSIGNED-PAYLOAD for a streamed one)
 *   anna!backup!privsep                   the forwarded identity ("" for a node's own request)
 *   n1                                    X-Ramvm-Node (the sender)
 *   3                                     X-Ramvm-Epoch
 *   17                                    X-Ramvm-Generation
 *
 *   X-Ramvm-Signature: base64url(HMAC-SHA256(requestKey, those lines joined by "\n"))
 *
 * The request key is derived from the cluster key (HMAC(clusterKey,
 * "ramvm node request v1")), so a request signature can never pass for a
 * login ticket, which is signed with the cluster key itself.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../lib/errors';
import { checkedHostname, checkedUsername } from '../lib/validate';

/** A request is accepted this far from the receiver's clock (either way). */
export const SIGNATURE_WINDOW_S = 120;
/** The body hash of a request whose body is streamed (not hashed before sending). */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export const HEADER = {
  node: 'x-ramvm-node',
  time: 'x-ramvm-time',
  nonce: 'x-ramvm-nonce',
  bodyHash: 'x-ramvm-content-sha256',
  epoch: 'x-ramvm-epoch',
  generation: 'x-ramvm-generation',
  signature: 'x-ramvm-signature',
  user: 'x-ramvm-forwarded-user',
  token: 'x-ramvm-forwarded-token',
  privsep: 'x-ramvm-forwarded-privsep',
} as const;

/** The user a forwarded request acts for, as the first node authenticated them. */
export interface ForwardedIdentity {
  username: string;
  tokenid?: string;
  privsep?: boolean;
}

export interface SignedFields {
  /** Sender node name. */
  node: string;
  /** Unix seconds. */
  time: number;
  nonce: string;
  /** sha256 hex of the body, or UNSIGNED_PAYLOAD. */
  bodyHash: string;
  identity: ForwardedIdentity | null;
  epoch: number;
  generation: number;
}

export function requestKey(clusterKey: Buffer): Buffer {
  return createHmac('sha256', clusterKey).update('ramvm node request v1').digest();
}

/** sha256 hex of a body (an absent body hashes as empty). */
export function bodyHash(body: Buffer | string | null | undefined): string {
  return createHash('sha256').update(body ?? '').digest('hex');
}

/** "anna", "anna!backup", "anna!backup!privsep"; "" for none. */
export function identityLine(id: ForwardedIdentity | null): string {
  if (!id) return '';
  return id.tokenid ? `${id.username}!${id.tokenid}${id.privsep ? '!privsep' : ''}` : id.username;
}

export function signatureBase(method: string, target: string, f: SignedFields): string {
  return [method.toUpperCase(), target, String(f.time), f.nonce, f.bodyHash, identityLine(f.identity), f.node, String(f.epoch), String(f.generation)].join('\n');
}

export function signature(key: Buffer, method: string, target: string, f: SignedFields): string {
  return createHmac('sha256', requestKey(key)).update(signatureBase(method, target, f)).digest('base64url');
}

/** The headers that sign a request. */
export function signedHeaders(key: Buffer, method: string, target: string, f: SignedFields): Record<string, string> {
  const h: Record<string, string> = {
    [HEADER.node]: f.node,
    [HEADER.time]: String(f.time),
    [HEADER.nonce]: f.nonce,
    [HEADER.bodyHash]: f.bodyHash,
    [HEADER.epoch]: String(f.epoch),
    [HEADER.generation]: String(f.generation),
    [HEADER.signature]: signature(key, method, target, f),
  };
  if (f.identity) {
    h[HEADER.user] = f.identity.username;
    if (f.identity.tokenid) {
      h[HEADER.token] = f.identity.tokenid;
      h[HEADER.privsep] = f.identity.privsep ? '1' : '0';
    }
  }
  return h;
}

/** True when the request carries a node signature at all. */
export function isSigned(headers: Record<string, string | undefined>): boolean {
  return headers[HEADER.signature] !== undefined;
}

const refuse = (why: string) => new HttpError('unauthenticated', `node request refused: ${why}`);

function wholeNumber(v: string | undefined, name: string): number {
  if (v === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(v)) throw refuse(`${name} is missing or malformed`);
  return Number(v);
}

/** The signed fields of a request's headers, checked for form only (no key). */
export function parseSignedHeaders(h: Record<string, string | undefined>): SignedFields {
  const node = h[HEADER.node];
  try {
    checkedHostname(node, 'node');
  } catch {
    throw refuse('the sending node name is missing or malformed');
  }
  const nonce = h[HEADER.nonce];
  if (!nonce || !/^[0-9a-f]{32}$/.test(nonce)) throw refuse('the nonce is missing or malformed');
  const hash = h[HEADER.bodyHash];
  if (!hash || !(hash === UNSIGNED_PAYLOAD || /^[0-9a-f]{64}$/.test(hash))) throw refuse('the body hash is missing or malformed');
  let identity: ForwardedIdentity | null = null;
  const user = h[HEADER.user];
  if (user !== undefined) {
    try {
      identity = { username: checkedUsername(user) };
    } catch {
      throw refuse('the forwarded user name is malformed');
    }
    const token = h[HEADER.token];
    if (token !== undefined) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(token)) throw refuse('the forwarded token id is malformed');
      identity.tokenid = token;
      identity.privsep = h[HEADER.privsep] === '1';
    }
  }
  return {
    node: node!,
    time: wholeNumber(h[HEADER.time], 'the time'),
    nonce,
    bodyHash: hash,
    identity,
    epoch: wholeNumber(h[HEADER.epoch], 'the epoch'),
    generation: wholeNumber(h[HEADER.generation], 'the generation'),
  };
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Check a signed request: form, signature, then time window. Throws 401
 * naming what is wrong (a forged signature, a clock too far off); the nonce
 * is the caller's to check against what it has seen.
 */
export function verifySignedRequest(key: Buffer, method: string, target: string, h: Record<string, string | undefined>, nowS: number): SignedFields {
  const f = parseSignedHeaders(h);
  const got = h[HEADER.signature] ?? '';
  if (!sameText(got, signature(key, method, target, f))) throw refuse(`the signature of node ${f.node} does not match (another cluster key, or a changed request)`);
  const skew = f.time - nowS;
  if (Math.abs(skew) > SIGNATURE_WINDOW_S) {
    throw refuse(`it was signed ${Math.abs(skew)} s ${skew < 0 ? 'ago' : 'ahead'}; nodes accept ${SIGNATURE_WINDOW_S} s (are the clocks of ${f.node} and this node set?)`);
  }
  return f;
}
