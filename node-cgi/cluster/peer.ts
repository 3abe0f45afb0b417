/**
 * The one client for node-to-node traffic: HTTPS to another node's cluster
 * socket with its certificate pinned by fingerprint, connect and answer
 * timeouts, and the request signed with the cluster key (sign.ts) unless it
 * is a join (token-authenticated, the joiner has no key yet).
 *
 *   const res = await peerRequest(n2, { method: 'GET', target: '/api/vm/101', sign });
 *   res.statusCode, res.headers, and the body as a stream
 *   const { status, data } = await peerJson(n2, { method: 'GET', target: '/api/cluster/status', sign });
 *   const { socket, head } = await peerUpgrade(n2, { method: 'GET', target: '/api/console/101', headers: { upgrade: 'websocket', … }, sign });
 *
 * The certificate is checked on the TLS socket before the request is
 * written: on a mismatch nothing is sent. The certificates are self-signed,
 * so the usual chain check is off; the fingerprint is the whole check.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { HttpError, STATUS_OF_CODE, type ErrorCode } from '../lib/errors';
import { bodyHash, signedHeaders, UNSIGNED_PAYLOAD, type ForwardedIdentity } from './sign';

/** Time for TCP and TLS to connect; an unreachable node is reported after this. */
export const PEER_CONNECT_TIMEOUT_MS = 2_000;
/** Time from the request sent to the answer's status line, by default. */
export const PEER_ANSWER_TIMEOUT_MS = 30_000;
/** Largest answer body peerJson reads. */
export const PEER_JSON_MAX_BYTES = 16 * 1024 * 1024; // 16 MiB

/** Where another node is and how to recognise it. */
export interface PeerAddress {
  name: string;
  /** "https://10.0.0.2:8007" */
  url: string;
  /** "AA:BB:…" (identity.ts) */
  fingerprint: string;
}

/** What signs a request: the cluster key and the sender's view of the cluster. */
export interface Signer {
  key: Buffer;
  node: string;
  epoch: number;
  generation: number;
  identity: ForwardedIdentity | null;
}

export interface PeerCall {
  method: string;
  /** Path and query as sent: "/api/vm/101?x=1". */
  target: string;
  headers?: Record<string, string>;
  /**
   * A Buffer is hashed into the signature; a stream is sent as
   * UNSIGNED-PAYLOAD and needs its length in headers['content-length']
   * (lighttpd takes no chunked body).
   */
  body?: Buffer | Readable | null;
  /** Null: an unsigned request (a join, with its token in the body). */
  sign: Signer | null;
  connectTimeoutMs?: number;
  answerTimeoutMs?: number;
}

export type PeerFailure = 'unreachable' | 'timeout' | 'fingerprint' | 'protocol';

/** A node that cannot be reached or is not who it should be: 503 naming the node. */
export class PeerError extends HttpError {
  constructor(
    readonly peer: string,
    readonly failure: PeerFailure,
    message: string,
    detail?: string,
  ) {
    super('unavailable', message, detail);
    this.name = 'PeerError';
  }
}

/** host and port of a cluster URL (checked when it was stored: model.ts checkedNodeUrl). */
export function urlHostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  if (u.protocol !== 'https:') throw new Error(`not an https URL: ${url}`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 443) };
}

/**
 * A TLS connection to `peer` whose certificate has the pinned fingerprint.
 * Rejects with PeerError (unreachable, timeout, fingerprint) otherwise.
 */
export function connectPeer(peer: PeerAddress, timeoutMs = PEER_CONNECT_TIMEOUT_MS): Promise<TLSSocket> {
  const { host, port } = urlHostPort(peer.url);
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(isIP(host) ? {} : { servername: host }) });
    const fail = (e: PeerError) => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new PeerError(peer.name, 'timeout', `node ${peer.name} does not answer at ${peer.url} (no connection within ${timeoutMs / 1000} s)`)),
      timeoutMs,
    );
    sock.once('error', (e: NodeJS.ErrnoException) =>
      fail(new PeerError(peer.name, 'unreachable', `node ${peer.name} does not answer at ${peer.url} (${e.code === 'ECONNREFUSED' ? 'connection refused' : e.code ?? e.message})`, e.message)),
    );
    sock.once('secureConnect', () => {
      const got = sock.getPeerCertificate()?.fingerprint256;
      if (got !== peer.fingerprint) {
        fail(
          new PeerError(
            peer.name,
            'fingerprint',
            `the certificate at ${peer.url} has fingerprint ${got ?? 'none'}, not ${peer.fingerprint} as expected for node ${peer.name}; nothing was sent`,
          ),
        );
        return;
      }
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
  });
}

function requestHeaders(peer: PeerAddress, call: PeerCall): Record<string, string> {
  const { host, port } = urlHostPort(peer.url);
  const h: Record<string, string> = { host: `${isIP(host) === 6 ? `[${host}]` : host}:${port}`, ...call.headers };
  const body = call.body;
  if (Buffer.isBuffer(body)) h['content-length'] = String(body.length);
  else if (!body && call.method !== 'GET' && call.method !== 'HEAD') h['content-length'] = '0';
  if (call.sign) {
    const hash = body && !Buffer.isBuffer(body) ? UNSIGNED_PAYLOAD : bodyHash(body ?? null);
    Object.assign(
      h,
      signedHeaders(call.sign.key, call.method, call.target, {
        node: call.sign.node,
        time: Math.floor(Date.now() / 1000),
        nonce: randomBytes(16).toString('hex'),
        bodyHash: hash,
        identity: call.sign.identity,
        epoch: call.sign.epoch,
        generation: call.sign.generation,
      }),
    );
  }
  return h;
}

interface Sent {
  res?: IncomingMessage;
  upgraded?: { res: IncomingMessage; socket: Duplex; head: Buffer };
  /** The local address this node used (a joiner's own address, as the master sees it). */
  localAddress: string;
}

function send(peer: PeerAddress, call: PeerCall, upgrade: boolean): Promise<Sent> {
  return connectPeer(peer, call.connectTimeoutMs).then(
    (sock) =>
      new Promise<Sent>((resolve, reject) => {
        const answerMs = call.answerTimeoutMs ?? PEER_ANSWER_TIMEOUT_MS;
        const localAddress = sock.localAddress ?? '';
        const req = httpRequest({
          method: call.method,
          path: call.target,
          headers: requestHeaders(peer, call),
          createConnection: () => sock,
        });
        const timer = setTimeout(() => {
          req.destroy();
          reject(new PeerError(peer.name, 'timeout', `node ${peer.name} did not answer ${call.method} ${call.target.split('?')[0]} within ${answerMs / 1000} s`));
        }, answerMs);
        req.once('error', (e: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          reject(new PeerError(peer.name, 'unreachable', `node ${peer.name} broke off the request (${e.code ?? e.message})`, e.message));
        });
        req.once('response', (res) => {
          clearTimeout(timer);
          resolve({ res, localAddress });
        });
        if (upgrade) {
          req.once('upgrade', (res, socket, head) => {
            clearTimeout(timer);
            resolve({ upgraded: { res, socket, head }, localAddress });
          });
        }
        const body = call.body;
        if (body && !Buffer.isBuffer(body)) {
          body.once('error', (e) => req.destroy(e));
          body.pipe(req);
        } else {
          req.end(body ?? undefined);
        }
      }),
  );
}

/** The answer as a stream (status, headers, body): for forwarding as it is. */
export async function peerRequest(peer: PeerAddress, call: PeerCall): Promise<IncomingMessage & { localAddress: string }> {
  const sent = await send(peer, call, false);
  return Object.assign(sent.res!, { localAddress: sent.localAddress });
}

/** An upgrade (websocket): resolves with the socket after the peer's 101, or with the answer when it refused. */
export async function peerUpgrade(
  peer: PeerAddress,
  call: PeerCall,
): Promise<{ upgraded: true; res: IncomingMessage; socket: Duplex; head: Buffer } | { upgraded: false; res: IncomingMessage }> {
  const sent = await send(peer, call, true);
  if (sent.upgraded) return { upgraded: true, ...sent.upgraded };
  return { upgraded: false, res: sent.res! };
}

/** Read a whole answer body (at most `max` bytes). */
export async function readAll(res: Readable, max = PEER_JSON_MAX_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let len = 0;
  for await (const c of res) {
    len += (c as Buffer).length;
    if (len > max) {
      res.destroy();
      throw new Error(`answer larger than ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface PeerAnswer<T> {
  status: number;
  headers: IncomingHttpHeaders;
  data: T;
  localAddress: string;
}

/**
 * A JSON call: the `data` of a 2xx answer. An error answer of the peer is
 * thrown again as the same HttpError (status, code), its message prefixed
 * with the node's name; anything not JSON is a PeerError "protocol".
 */
export async function peerJson<T = unknown>(peer: PeerAddress, call: PeerCall): Promise<PeerAnswer<T>> {
  return jsonAnswer<T>(peer.name, await peerRequest(peer, call));
}

/** The JSON answer `res` of node `peer` read as peerJson reads it (for a call made with peerRequest). */
export async function jsonAnswer<T = unknown>(peer: string, res: IncomingMessage & { localAddress?: string }): Promise<PeerAnswer<T>> {
  let parsed: { data?: T; error?: { code?: string; message?: string } };
  try {
    const text = (await readAll(res)).toString('utf8');
    parsed = text ? JSON.parse(text) : {};
  } catch (e) {
    throw new PeerError(peer, 'protocol', `node ${peer} sent an answer that is not JSON (HTTP ${res.statusCode})`, (e as Error).message);
  }
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return { status, headers: res.headers, data: parsed.data as T, localAddress: res.localAddress ?? '' };
  const err = parsed.error;
  const code = err?.code && Object.hasOwn(STATUS_OF_CODE, err.code) ? (err.code as ErrorCode) : 'internal';
  throw new PeerAnswerError(peer, code, `node ${peer}: ${err?.message ?? `HTTP ${status}`}`, res.headers);
}

/** An error answer of another node, with its code (and so its status) kept. */
export class PeerAnswerError extends HttpError {
  constructor(
    readonly peer: string,
    code: ErrorCode,
    message: string,
    readonly answerHeaders: IncomingHttpHeaders,
  ) {
    super(code, message);
    this.name = 'PeerAnswerError';
  }
}
