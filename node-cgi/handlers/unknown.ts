/**
 * Answers, as JSON, everything no other handler answers:
 *
 *   GET /api/nothing                 → 404 {"error": {"code": "not_found", …}}
 *
 * and is lighttpd's `server.error-handler`, so an error lighttpd answers
 * itself is JSON too. lighttpd then runs this CGI with the error's status in
 * REDIRECT_STATUS and the request's own URI in REQUEST_URI:
 *
 *   REDIRECT_STATUS=413 REQUEST_URI=/api/iso/big.iso → 413 too_large
 *   REDIRECT_STATUS=500 REQUEST_URI=/api/vm/101      → 500 internal (a CGI ended without answering)
 *   REDIRECT_STATUS=404 REQUEST_URI=/nothing.html    → 404 not_found (no such static file)
 *
 * One of them is no error: lighttpd 1.4.69 answers 411 to a POST that has no
 * body and so no Content-Length (`curl -X POST URL`) before any CGI runs. That
 * request goes to its handler here, as the POST with an empty body it is.
 * lighttpd also answers 411 when a CGI would get a chunked body (any method),
 * and then, having routed the request to its handler already, it passes that
 * handler's PATH_INFO on (measured: `POST /api/vm/101/start` chunked arrives
 * with PATH_INFO=/101/start, body-less without PATH_INFO). So only a request
 * without PATH_INFO whose URI names a path below its handler is handed on;
 * for `/api/<handler>` alone the two cannot be told apart, and both get 411.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorResponse, writeHead } from '../lib/cgi';
import { HttpError, notFound, type ErrorCode } from '../lib/errors';
import { paths } from '../lib/paths';

/** Errors lighttpd answers itself, as the API's codes and messages. */
const LIGHTTPD_ERRORS: Record<number, [ErrorCode, string]> = {
  400: ['bad_request', 'malformed request'],
  403: ['forbidden', 'access denied'],
  404: ['not_found', 'no such file'],
  405: ['method_not_allowed', 'method not allowed here'],
  408: ['timeout', 'the request was not sent in time'],
  411: ['bad_request', 'a request with a body needs Content-Length'],
  413: ['too_large', 'the request body is larger than this node accepts'],
  414: ['bad_request', 'the URL is too long'],
  416: ['bad_request', 'the requested range is not satisfiable'],
  417: ['bad_request', 'the expectation cannot be met'],
  431: ['bad_request', 'the request headers are too large'],
  500: ['internal', 'internal error; see the server log'],
  501: ['method_not_allowed', 'method not implemented'],
  502: ['internal', 'internal error; see the server log'],
  503: ['unavailable', 'the node is busy; try again'],
  504: ['timeout', 'the node did not answer in time'],
};

/** What to do with a request lighttpd handed to its error handler. */
export type ErrorPlan =
  /** Run handler `<name>.cgi` with this environment: a body-less POST. */
  | { kind: 'handler'; name: string; env: NodeJS.ProcessEnv }
  /** `status` is lighttpd's own (411, 431, …), kept as it decided; the body is the API's error for `error`. */
  | { kind: 'error'; status: number; error: HttpError };

/** Path segments a body-less POST may be handed on with (no dot segments, no encoded "/"). */
const SEGMENT = /^(?!\.\.?$)(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%(?!2[Ff])[0-9A-Fa-f]{2})+$/;

/** Percent-decoding as lighttpd does for PATH_INFO (SEGMENT has already refused "%2F"). */
function decodePath(p: string): string {
  return Buffer.from(p.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

/**
 * The plan for a call of this CGI as lighttpd's error handler, or null when
 * lighttpd ran it for an /api/ path of no handler (REDIRECT_STATUS 200).
 */
export function lighttpdErrorPlan(env: NodeJS.ProcessEnv, handlers: readonly string[]): ErrorPlan | null {
  const status = Number(env.REDIRECT_STATUS ?? '200');
  if (!Number.isInteger(status) || status < 400 || status > 599) return null;
  const uri = env.REQUEST_URI ?? '';
  const [path = '', query] = uri.split(/\?(.*)/s);
  if (status === 411 && env.PATH_INFO === undefined) {
    const m = /^\/api\/([a-z]+)((?:\/[^/]*)*)$/.exec(path);
    const rest = m?.[2] ?? '';
    if (path.startsWith('/api/') && !(m && handlers.includes(m[1]!))) return { kind: 'error', status: 404, error: notFound(`no such API path: ${path.slice(0, 200)}`) };
    if (m && rest !== '' && rest.split('/').slice(1).every((s) => s === '' || SEGMENT.test(s))) {
      const next: NodeJS.ProcessEnv = {
        ...env, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '0', PATH_INFO: decodePath(rest), QUERY_STRING: query ?? '',
        SCRIPT_NAME: `/cgi/${m[1]}.cgi`, REDIRECT_STATUS: '200',
      };
      delete next.REDIRECT_URI;
      return { kind: 'handler', name: m[1]!, env: next };
    }
  }
  const [code, message] = LIGHTTPD_ERRORS[status] ?? (status >= 500 ? ['internal', 'internal error'] : ['bad_request', 'bad request']);
  return { kind: 'error', status, error: new HttpError(code, status === 404 ? `${message}: ${path.slice(0, 200)}` : message) };
}

/** The handlers of this build (dist/cgi/<name>.cgi), this one excepted. */
function handlerNames(): string[] {
  return readdirSync(join(paths().dist, 'cgi'))
    .filter((f) => /^[a-z]+\.cgi$/.test(f) && f !== 'unknown.cgi')
    .map((f) => f.slice(0, -'.cgi'.length));
}

function answer(error: HttpError, method: string, path: string, status = error.status): void {
  const { headers, body } = errorResponse(error, { method, path });
  writeHead(process.stdout, status, headers);
  process.stdout.write(body);
}

if (require.main === module) {
  const plan = lighttpdErrorPlan(process.env, handlerNames());
  if (plan === null) {
    const path = process.env.PATH_INFO || '/';
    answer(notFound(`no such API path: /api${path}`), process.env.REQUEST_METHOD ?? 'GET', path);
  } else if (plan.kind === 'error') {
    answer(plan.error, process.env.REQUEST_METHOD ?? 'GET', process.env.REQUEST_URI ?? '', plan.status);
  } else {
    // The handler writes the whole answer to lighttpd itself.
    const child = spawn(process.execPath, [join(paths().dist, 'cgi', `${plan.name}.cgi`)], { env: plan.env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (process.exitCode = code ?? 1));
  }
}
