/**
 * The CGI kernel: one request in, one answer out. A handler file lists its
 * routes and calls `runCgi(routes, authorizer, dispatch)`; this module parses the
 * request, has the authorizer say who sends it, matches the route, checks
 * the route's declared privilege, runs it and writes the answer. Errors
 * become JSON here and nowhere else.
 *
 *   GET /api/vm/101  →  vm.cgi with PATH_INFO=/101
 *   route { method: 'GET', path: '/:vmid', perm: { path: '/vms/:vmid', priv: 'VM.Audit' } }
 *   → Status: 200 OK  {"data": {...}}
 *
 * The kernel knows nothing of users, tickets or the ACL: the handlers hand
 * it the node's authorizer (auth/authorize.ts), whose privilege names type
 * the routes (`Route<Privilege>`). Nor of clusters: `dispatch`
 * (cluster/dispatch.ts) sends a request whose object lives on another node
 * there, as the route's `home` says.
 */
import type { Readable } from 'node:stream';
import { HttpError, forbidden, STATUS_OF_CODE } from './errors';
import { parseRequest, type Method, type Request } from './request';
import { only } from './validate';

/** Who sends a request, as the authorizer found out. */
export interface Caller {
  username: string;
  /** Set when the request came with an API token. */
  tokenid?: string;
  /** A privilege-separated token holds only what the ACL grants "user!tokenid" as well. */
  privsep?: boolean;
  via: 'ticket' | 'token';
  /** Set when another node of the cluster sent the request for this user (signed). */
  peer?: string;
}

/** What a caller may do: privilege `priv` on an ACL path. */
export interface Permissions<P extends string = string> {
  can(path: string, priv: P): boolean;
  /** True when the caller holds priv on path or anywhere below (for lists). */
  canBelow(path: string, priv: P): boolean;
}

/** The node's access control, as the kernel asks it. */
export interface Authorizer<P extends string = string> {
  /** The caller of a request; throws 401 (HttpError "unauthenticated") when there is none. */
  authenticate(req: Request): Caller;
  permissions(caller: Caller): Permissions<P>;
}

export type Perm<P extends string = string> =
  /** No authentication (login only). */
  | 'public'
  /** Any authenticated user; the handler filters or checks itself (ctx.can). */
  | 'authenticated'
  /** The privilege on an ACL path; ":name" parts are filled from the route's params. */
  | { path: string; priv: P };

/**
 * What a route does with a request body (GET ignores it):
 *   'json'  default: the handler reads a JSON object and refuses fields it
 *           does not know (lib/validate.ts only())
 *   'none'  the kernel refuses any body but an empty one or {} before the
 *           handler runs, so `{"force": true}` cannot pass unnoticed
 *   'raw'   the handler reads the stream itself (an upload)
 */
export type BodyKind = 'json' | 'none' | 'raw';

/**
 * Where the object of a request lives, for a cluster (the kernel's
 * `dispatch` hook acts on it; a single node runs everything itself):
 *   'master'    it changes cluster-wide settings: the master runs it
 *   { guest }   it acts on this guest: the node the guest lives on runs it
 *   { node }    it is for this node (a node's resources, a task by its id)
 * Routes without `home` run where they arrive.
 */
export type Home<P extends string = string> =
  | 'master'
  | { guest: (ctx: Context<P>) => number | null | Promise<number | null> }
  | { node: (ctx: Context<P>) => string | null | Promise<string | null> };

export interface Route<P extends string = string> {
  method: Method;
  /** "/", "/:vmid", "/:vmid/start"; a final "/*rest" matches the remaining path. */
  path: string;
  perm: Perm<P>;
  body?: BodyKind;
  home?: Home<P>;
  /** Checks that belong to the node the request arrived at, before it may go elsewhere (a console's Origin). */
  guard?(ctx: Context<P>): void;
  handle(ctx: Context<P>): unknown | Promise<unknown>;
}

/** A whole answer: a forwarded request's, or one the kernel writes. */
export interface Answer {
  status: number;
  headers: [string, string][];
  body: Buffer | Readable | null;
}

/**
 * The kernel's hook for a cluster (cluster/dispatch.ts): node requests are
 * checked before anything else, a request whose object lives on another
 * node is sent there after the route's privilege check, and what a route
 * changed here is settled before its answer is written.
 */
export interface Dispatch {
  prepare(req: Request): Promise<void>;
  route<P extends string>(route: Route<P>, ctx: Context<P>): Promise<Answer | typeof HANDLED | null>;
  finish<P extends string>(ctx: Context<P>): Promise<void>;
}

export interface Context<P extends string = string> {
  req: Request;
  params: Record<string, string>;
  /** Null only on 'public' routes. */
  user: Caller | null;
  /** The authenticated user; throws on 'public' routes. */
  readonly me: Caller;
  can(path: string, priv: P): boolean;
  /** True when the user holds priv on path or anywhere below (for lists). */
  canBelow(path: string, priv: P): boolean;
  /** Throws 403 unless can(path, priv). */
  check(path: string, priv: P): void;
  /** Extra response headers (e.g. Set-Cookie). */
  headers: [string, string][];
}

/**
 * A non-200 JSON answer, or a raw body. Plain return values answer 200
 * {"data": value}; a DELETE that returns nothing answers 204 No Content,
 * so every delete of the API answers alike.
 */
export class Reply {
  constructor(
    readonly status: number,
    readonly data: unknown,
    readonly raw?: { contentType: string; body: Buffer | Readable; headers?: [string, string][] },
  ) {}
}

/** Returned by a handler that has written the whole answer itself (websocket upgrade). */
export const HANDLED = Symbol('handled');

export const STATUS_TEXT: Record<number, string> = {
  101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 412: 'Precondition Failed',
  413: 'Payload Too Large', 415: 'Unsupported Media Type', 426: 'Upgrade Required', 429: 'Too Many Requests',
  500: 'Internal Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout', 507: 'Insufficient Storage',
};

export interface Match<P extends string = string> {
  route: Route<P>;
  params: Record<string, string>;
}

/** Find the route for method and path; 404 for no path, 405 (with Allow) for a wrong method. */
export function matchRoute<P extends string>(routes: readonly Route<P>[], method: string, path: string): Match<P> {
  const allowed: string[] = [];
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (!params) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  if (allowed.length > 0) {
    throw new HttpError('method_not_allowed', `${method} is not allowed here; use ${allowed.join(', ')}`).withHeader(
      'Allow',
      allowed.join(', '),
    );
  }
  throw new HttpError('not_found', `no such API path: ${path}`);
}

/** decodeURIComponent that answers 400 for a malformed escape ("%E0", "%zz"). */
function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError('bad_request', `malformed percent-escape in the path: ${s.slice(0, 100)}`);
  }
}

export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.startsWith('*')) {
      params[w.slice(1)] = got.slice(i).map(decodeSegment).join('/');
      return params;
    }
    const g = got[i];
    if (g === undefined) return null;
    if (w.startsWith(':')) params[w.slice(1)] = decodeSegment(g);
    else if (w !== g) return null;
  }
  return got.length === want.length ? params : null;
}

/** "/vms/:vmid" with { vmid: "101" } → "/vms/101" */
export function fillPath(pattern: string, params: Record<string, string>): string {
  return pattern.replace(/:([a-z]+)/gi, (_, k: string) => {
    const v = params[k];
    if (v === undefined || v.includes('/')) throw new Error(`route param ${k} missing for ${pattern}`);
    return v;
  });
}

export async function handleRequest<P extends string>(
  routes: readonly Route<P>[],
  req: Request,
  authorizer: Authorizer<P>,
  dispatch?: Dispatch,
): Promise<Answer> {
  const headers: [string, string][] = [];
  let ctx: Context<P> | undefined;
  try {
    await dispatch?.prepare(req);
    const { route, params } = matchRoute(routes, req.method, req.path);
    const user = route.perm === 'public' ? null : authorizer.authenticate(req);
    let perms: Permissions<P> | undefined;
    const p = () => (perms ??= authorizer.permissions(user!));
    ctx = {
      req,
      params,
      user,
      get me() {
        if (!user) throw new Error('ctx.me on a public route');
        return user;
      },
      can: (path, priv) => !!user && p().can(path, priv),
      canBelow: (path, priv) => !!user && p().canBelow(path, priv),
      check(path, priv) {
        if (!ctx!.can(path, priv)) throw forbidden(`permission denied: ${priv} on ${path}`);
      },
      headers,
    };
    if (typeof route.perm === 'object') ctx.check(fillPath(route.perm.path, params), route.perm.priv);
    if (route.body === 'none' && req.method !== 'GET') only(await req.json(), []);
    route.guard?.(ctx);
    const elsewhere = dispatch ? await dispatch.route(route, ctx) : null;
    if (elsewhere === HANDLED) return { status: 0, headers, body: null };
    if (elsewhere) return elsewhere;
    const result = await route.handle(ctx);
    await dispatch?.finish(ctx);
    if (result === HANDLED) return { status: 0, headers, body: null };
    if (result instanceof Reply) {
      if (result.raw) {
        headers.push(['Content-Type', result.raw.contentType], ...(result.raw.headers ?? []));
        return { status: result.status, headers, body: result.raw.body };
      }
      if (result.status === 204) return { status: 204, headers, body: null };
      return { status: result.status, headers, body: jsonBody({ data: result.data ?? null }, headers) };
    }
    if (req.method === 'DELETE' && (result === null || result === undefined)) return { status: 204, headers, body: null };
    return { status: 200, headers, body: jsonBody({ data: result ?? null }, headers) };
  } catch (err) {
    // What the route changed before it failed is settled too (a cluster replicates it).
    if (ctx) await dispatch?.finish(ctx).catch((e) => log(`after a failed request: ${(e as Error).message}`));
    const answer = errorResponse(err, req);
    return { ...answer, headers: [...headers.filter(([k]) => k.startsWith('X-Ramvm-')), ...answer.headers] };
  }
}

function jsonBody(value: unknown, headers: [string, string][]): Buffer {
  headers.push(['Content-Type', 'application/json; charset=utf-8']);
  return Buffer.from(JSON.stringify(value));
}

/** Seconds a 429 asks to wait when its thrower named none. */
const RETRY_AFTER_DEFAULT_S = 1;

/**
 * The one place where errors become answers. The message of an HttpError
 * is ours (a thrower puts a tool's own words into `detail`, which goes to
 * the log only); anything else is a 500 that says no more than that.
 */
export function errorResponse(err: unknown, req: Pick<Request, 'method' | 'path'>) {
  const headers: [string, string][] = [];
  let status = 500;
  let code = 'internal';
  let message = 'internal error; see the server log';
  if (err instanceof HttpError) {
    status = err.status;
    code = err.code;
    message = err.message;
    headers.push(...err.headers);
    if (status >= 500 || err.detail) log(`${req.method} ${req.path}: ${status} ${message}${err.detail ? ` (${err.detail})` : ''}`);
  } else {
    log(`${req.method} ${req.path}: ${(err as Error)?.stack ?? String(err)}`);
  }
  if (status === STATUS_OF_CODE.too_many_requests && !headers.some(([k]) => k.toLowerCase() === 'retry-after')) {
    headers.push(['Retry-After', String(RETRY_AFTER_DEFAULT_S)]);
  }
  return { status, headers, body: jsonBody({ error: { code, message } }, headers) };
}

/** One line to stderr, which lighttpd writes to its error log. */
export function log(line: string): void {
  process.stderr.write(`ramvm[${process.argv[1]?.split('/').pop() ?? 'cgi'}]: ${line}\n`);
}

/**
 * Headers every API answer carries: never cached unless it says so, never
 * sniffed into another type, and, opened as a page, allowed to load and run
 * nothing and to be framed by no one.
 */
export const API_HEADERS: readonly [string, string][] = [
  ['Cache-Control', 'no-store'],
  ['X-Content-Type-Options', 'nosniff'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
];

export function writeHead(out: NodeJS.WritableStream, status: number, headers: readonly [string, string][]): void {
  let head = `Status: ${status} ${STATUS_TEXT[status] ?? ''}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  for (const [k, v] of API_HEADERS) if (!headers.some(([h]) => h.toLowerCase() === k.toLowerCase())) head += `${k}: ${v}\r\n`;
  out.write(head + '\r\n');
}

/** Entry point of every CGI handler file. */
export function runCgi<P extends string>(routes: readonly Route<P>[], authorizer: Authorizer<P>, dispatch?: Dispatch): void {
  const req = parseRequest(process.env, process.stdin);
  handleRequest(routes, req, authorizer, dispatch)
    .then(async ({ status, headers, body }) => {
      if (status === 0) return;
      writeHead(process.stdout, status, headers);
      if (Buffer.isBuffer(body)) {
        process.stdout.write(body);
      } else if (body !== null) {
        for await (const chunk of body) {
          if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
        }
      }
      // The answer ends here, even while work of this process goes on (a KVM probe a status started).
      process.stdout.end();
    })
    .catch((e) => {
      log(`failed to answer: ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    });
}
