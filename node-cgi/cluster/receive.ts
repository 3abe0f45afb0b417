/**
 * The receiving end of node-to-node requests: a request that carries a node
 * signature is accepted only over HTTPS (the cluster socket), only from a
 * node of this node's cluster, only with a valid signature within the time
 * window, and only once (its nonce). Its body, when read, must have the
 * hash that was signed.
 *
 *   const f = verifiedPeer(ctx.req);   // { node: 'n1', identity: { username: 'anna' }, epoch, generation, … }
 *
 * Verified once per request (the nonce is spent on the first check); later
 * calls return the same fields.
 */
import { HttpError, forbidden } from '../lib/errors';
import type { Request } from '../lib/request';
import { clusterKey } from './key';
import { rememberNonce } from './nonces';
import { bodyHash, isSigned, verifySignedRequest, UNSIGNED_PAYLOAD, type SignedFields } from './sign';
import { readCluster } from './state';

const verified = new WeakMap<Request, SignedFields>();

export { isSigned };

/** The fields of the request's valid node signature; throws 401/403 naming why not. */
export function verifiedPeer(req: Request, nowS = Math.floor(Date.now() / 1000)): SignedFields {
  const seen = verified.get(req);
  if (seen) return seen;
  if (!isSigned(req.headers)) throw new HttpError('unauthenticated', 'this path answers requests of cluster nodes only (signed with the cluster key)');
  if (!req.https) throw forbidden('node requests are accepted only over HTTPS, on the cluster socket');
  const f = verifySignedRequest(clusterKey(), req.method, req.uri, req.headers, nowS);
  const c = readCluster();
  if (!c) throw new HttpError('unauthenticated', `node request from ${f.node} refused: this node is in no cluster`);
  if (!c.nodes.some((n) => n.name === f.node)) {
    throw forbidden(`node request refused: ${f.node} is not a member of cluster ${c.name}`).withHeader('X-Ramvm-Member', 'no');
  }
  rememberNonce(f.nonce);
  if (f.bodyHash !== UNSIGNED_PAYLOAD) {
    const read = req.body.bind(req);
    let checked: Promise<Buffer> | undefined;
    req.body = (limit?: number) =>
      (checked ??= read(limit).then((b) => {
        if (bodyHash(b) !== f.bodyHash) throw new HttpError('unauthenticated', `node request refused: the body is not the one ${f.node} signed`);
        return b;
      }));
  }
  verified.set(req, f);
  return f;
}
