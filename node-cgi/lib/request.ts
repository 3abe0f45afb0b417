/**
 * The CGI/1.1 request as lighttpd hands it over: meta-variables in the
 * environment (RFC 3875 §4.1), the body on stdin.
 *
 *   REQUEST_METHOD=PUT  PATH_INFO=/101  QUERY_STRING=a=1  HTTP_COOKIE=…
 *   → { method: 'PUT', path: '/101', query: a=1, headers: { cookie: … } }
 */
import type { Readable } from 'node:stream';
import { HttpError, badRequest } from './errors';

/** Largest JSON body a handler reads (uploads stream instead). */
export const JSON_BODY_MAX_BYTES = 1024 * 1024; // 1 MiB

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Request {
  method: string;
  /** PATH_INFO below the handler, always starting with "/". */
  path: string;
  /** The request target as the client sent it (REQUEST_URI): "/api/vm/101?x=1". */
  uri: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string>;
  remoteAddr: string;
  https: boolean;
  contentLength: number | null;
  stream: Readable;
  /** The body as bytes; 413 beyond `limit`. */
  body(limit?: number): Promise<Buffer>;
  /** The body parsed as a JSON object; 400 when malformed, `{}` when empty. */
  json<T = Record<string, unknown>>(): Promise<T>;
}

export function parseRequest(env: NodeJS.ProcessEnv, stream: Readable): Request {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('HTTP_') && v !== undefined) headers[k.slice(5).toLowerCase().replace(/_/g, '-')] = v;
  }
  if (env.CONTENT_TYPE) headers['content-type'] = env.CONTENT_TYPE;
  if (env.CONTENT_LENGTH) headers['content-length'] = env.CONTENT_LENGTH;
  const cl = env.CONTENT_LENGTH ? Number(env.CONTENT_LENGTH) : null;
  let consumed: Promise<Buffer> | undefined;
  const req: Request = {
    method: (env.REQUEST_METHOD ?? 'GET').toUpperCase(),
    path: normalisePath(env.PATH_INFO ?? ''),
    uri: env.REQUEST_URI ?? normalisePath(env.PATH_INFO ?? ''),
    query: new URLSearchParams(env.QUERY_STRING ?? ''),
    headers,
    remoteAddr: env.REMOTE_ADDR ?? '',
    https: env.HTTPS === 'on',
    contentLength: cl !== null && Number.isFinite(cl) && cl >= 0 ? cl : null,
    stream,
    body(limit = JSON_BODY_MAX_BYTES) {
      consumed ??= readBody(stream, req.contentLength, limit);
      return consumed;
    },
    async json<T>() {
      const buf = await req.body();
      if (buf.length === 0) return {} as T;
      const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type && type !== 'application/json') {
        throw new HttpError('unsupported_media_type', 'the body must be JSON (Content-Type: application/json)');
      }
      let value: unknown;
      try {
        value = JSON.parse(buf.toString('utf8'));
      } catch (e) {
        throw badRequest(`malformed JSON: ${(e as Error).message}`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw badRequest('the body must be a JSON object');
      }
      return value as T;
    },
  };
  return req;
}

/** Collapse empty and trailing segments: "" → "/", "/101/" → "/101". */
export function normalisePath(p: string): string {
  const parts = p.split('/').filter((s) => s.length > 0);
  return '/' + parts.join('/');
}

async function readBody(stream: Readable, contentLength: number | null, limit: number): Promise<Buffer> {
  if (contentLength !== null && contentLength > limit) {
    stream.resume();
    throw new HttpError('too_large', `the request body is larger than ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let len = 0;
  for await (const chunk of stream) {
    len += (chunk as Buffer).length;
    if (len > limit) throw new HttpError('too_large', `the request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
