/**
 * The one error type of ramvm. Anything thrown inside a handler becomes an
 * HTTP answer in exactly one place (`errorResponse` in cgi.ts): an HttpError
 * keeps its status, code and message; anything else is logged with its stack
 * and answered as 500 "internal" without details.
 */

/** Machine-readable error codes, stable for scripts. */
export type ErrorCode =
  | 'bad_request'
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'too_large'
  | 'too_many_requests'
  | 'insufficient_storage'
  | 'internal'
  | 'unavailable'
  | 'timeout'
  | 'exec_failed'
  | 'upgrade_required'
  | 'precondition_failed'
  | 'gone'
  | 'unsupported_media_type';

export class HttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  /** For the server log only; never sent to the client. */
  readonly detail?: string;
  /** Headers the answer must carry (Allow on 405, Upgrade on 426, Retry-After on 429). */
  readonly headers: [string, string][] = [];

  constructor(status: number, code: ErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    if (detail !== undefined) this.detail = detail;
  }

  /** Add a response header; returns this, for `throw new HttpError(…).withHeader(…)`. */
  withHeader(name: string, value: string): this {
    this.headers.push([name, value]);
    return this;
  }
}

export const badRequest = (message: string) => new HttpError(400, 'bad_request', message);
/** A field failed validation; the message names the field. */
export const invalid = (field: string, message: string) =>
  new HttpError(400, 'invalid', `${field}: ${message}`);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);
export const forbidden = (message = 'permission denied') => new HttpError(403, 'forbidden', message);
export const unauthenticated = (message = 'authentication required') =>
  new HttpError(401, 'unauthenticated', message);
