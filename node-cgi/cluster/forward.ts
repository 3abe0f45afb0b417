/**
 * Sending a user's request on to the node that owns its object, and its
 * answer back unchanged: same method, target and body; status, type and
 * body streamed back. The request is signed for the user it came from
 * (sign.ts), so the owner knows who acts.
 *
 *   POST /api/vm/105/start  (on the master, 105 lives on n2)
 *   → https://n2:8007/api/vm/105/start  signed, X-Ramvm-Forwarded-User: anna
 *   ← 200 {"data": …}  written to the client as it came
 *
 * A websocket (the console) is forwarded as an upgrade: the owner gets the
 * client's Sec-WebSocket-Key; once it answered 101, the same 101 goes to
 * the client and the raw bytes are piped both ways.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Answer } from '../lib/cgi';
import { log, STATUS_TEXT } from '../lib/cgi';
import { HttpError } from '../lib/errors';
import { JSON_BODY_MAX_BYTES, type Request } from '../lib/request';
import { callNode, requireCluster, signer } from './members';
import { findNode } from './model';
import { peerUpgrade, PeerError } from './peer';
import type { ForwardedIdentity } from './sign';

/** Request headers a forward carries on (everything else is the first node's business). */
const PASS_REQUEST = ['content-type', 'accept', 'x-ramvm-sha256'];
/** Answer headers brought back. */
const PASS_ANSWER = ['content-type', 'content-disposition', 'allow', 'retry-after', 'location', 'cache-control', 'x-ramvm-task'];
/** Upgrade headers of a websocket (RFC 6455 §4.1). */
const PASS_UPGRADE = ['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol'];

/** A forwarded request may wait this long for the owner's answer (long calls: a shutdown with a timeout answers at once, as a task). */
export const FORWARD_ANSWER_TIMEOUT_MS = 120_000;

function picked(headers: Record<string, string | string[] | undefined>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = headers[n];
    if (typeof v === 'string') out[n] = v;
  }
  return out;
}

/** 503 naming the node and what waits for it, when it cannot be reached. */
export function unreachable(node: string, e: unknown, what: string): HttpError {
  if (e instanceof PeerError) return new HttpError('unavailable', `${e.message}; ${what}`, e.detail);
  return e instanceof HttpError ? e : new HttpError('unavailable', `node ${node}: ${(e as Error).message}; ${what}`);
}

/** Forward `req` to `node` for `identity`; the answer as it came. */
export async function forwardRequest(node: string, req: Request, identity: ForwardedIdentity, what: string): Promise<Answer> {
  const headers = picked(req.headers, PASS_REQUEST);
  let body: Buffer | Request['stream'] | null = null;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    if (req.contentLength !== null && req.contentLength > JSON_BODY_MAX_BYTES) {
      // Streamed as it arrives (an upload); signed as UNSIGNED-PAYLOAD, its length told.
      body = req.stream;
      headers['content-length'] = String(req.contentLength);
    } else {
      body = await req.body();
    }
  }
  let res: IncomingMessage;
  try {
    res = await callNode(node, { method: req.method, target: req.uri, headers, body, answerTimeoutMs: FORWARD_ANSWER_TIMEOUT_MS }, identity);
  } catch (e) {
    throw unreachable(node, e, what);
  }
  return { status: res.statusCode ?? 502, headers: Object.entries(picked(res.headers, PASS_ANSWER)), body: res };
}

/**
 * Forward a websocket upgrade to `node`; after its 101, pipe the raw stream
 * between the client (stdin/stdout of this CGI) and the owner until either
 * side ends. An answer other than 101 is returned like any answer.
 */
export async function forwardUpgrade(node: string, req: Request, identity: ForwardedIdentity, what: string, out: NodeJS.WritableStream = process.stdout): Promise<Answer | null> {
  const c = requireCluster();
  const n = findNode(c, node);
  if (!n) throw new HttpError('not_found', `no node ${node} in cluster ${c.name}`);
  let r: Awaited<ReturnType<typeof peerUpgrade>>;
  try {
    r = await peerUpgrade(
      { name: n.name, url: n.url, fingerprint: n.fingerprint },
      { method: 'GET', target: req.uri, headers: picked(req.headers, PASS_UPGRADE), sign: signer(identity, c) },
    );
  } catch (e) {
    throw unreachable(node, e, what);
  }
  if (!r.upgraded) {
    return { status: r.res.statusCode ?? 502, headers: Object.entries(picked(r.res.headers, PASS_ANSWER)), body: r.res };
  }
  const h = r.res.headers;
  let head = `Status: 101 ${STATUS_TEXT[101]}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${h['sec-websocket-accept'] ?? ''}\r\n`;
  if (typeof h['sec-websocket-protocol'] === 'string') head += `Sec-WebSocket-Protocol: ${h['sec-websocket-protocol']}\r\n`;
  out.write(head + '\r\n');
  if (r.head.length) out.write(r.head);
  await pipeBoth(req.stream, out, r.socket);
  return null;
}

/** Pipe client ⇄ owner until one side ends; then end the other. */
function pipeBoth(clientIn: NodeJS.ReadableStream, clientOut: NodeJS.WritableStream, owner: Duplex): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const end = (why: string) => {
      if (done) return;
      done = true;
      owner.destroy();
      (clientIn as unknown as Duplex).destroy?.();
      log(`forwarded websocket ended: ${why}`);
      resolve();
    };
    owner.on('data', (b: Buffer) => {
      if (!clientOut.write(b)) {
        owner.pause();
        clientOut.once('drain', () => owner.resume());
      }
    });
    clientIn.on('data', (b: Buffer) => {
      if (!owner.write(b)) {
        clientIn.pause();
        owner.once('drain', () => clientIn.resume());
      }
    });
    owner.on('end', () => end('the owner closed'));
    owner.on('error', (e) => end(`owner: ${e.message}`));
    clientIn.on('end', () => end('the client closed'));
    clientIn.on('error', (e: Error) => end(`client: ${e.message}`));
  });
}
