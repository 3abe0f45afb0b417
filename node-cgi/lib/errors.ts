/**
 * The one error type of ramvm and its one mapping to HTTP. A thrower names
 * a code from the closed set below; the status follows from the code here
 * and nowhere else, as firecracker's api_server turns its error enum into
 * statuses in one match:
 *
 *   throw conflict('guest 101 is running')     → 409 {"error": {"code": "conflict", …}}
 *   throw new HttpError('timeout', 'QEMU did not answer query-status within 2000 ms')  → 504
 *
 * Anything thrown that is not an HttpError becomes 500 "internal" without
 * details (errorResponse in cgi.ts); the stack goes to the server log only.
 */

/** Machine-readable error codes, stable for scripts, with the status each answers. */
export const STATUS_OF_CODE = {
  /** Malformed request: bad JSON, a path escape, a missing body. */
  bad_request: 400,
  /** A field failed validation; the message names the field. */
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  /** The object's state forbids it (a running guest, a name in use). */
  conflict: 409,
  /** It was good once and is no more (a join token used or expired). */
  gone: 410,
  too_large: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  too_many_requests: 429,
  internal: 500,
  /** An external program (qemu-img, QEMU's monitor) failed. */
  exec_failed: 500,
  /** Configuration busy (lock timeout), try again; or, in a cluster, a node that does not answer. */
  unavailable: 503,
  /** QEMU or a tool did not answer in time. */
  timeout: 504,
  /** The target filesystem is full, or there is no room left (VMIDs). */
  insufficient_storage: 507,
} as const;

export type ErrorCode = keyof typeof STATUS_OF_CODE;

export class HttpError extends Error {
  readonly code: ErrorCode;
  /** For the server log only; never sent to the client. */
  readonly detail?: string;
  /** Headers the answer must carry (Allow on 405, Upgrade on 426, Retry-After on 429). */
  readonly headers: [string, string][] = [];

  constructor(code: ErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    if (detail !== undefined) this.detail = detail;
  }

  /** The HTTP status of the code. */
  get status(): number {
    return STATUS_OF_CODE[this.code];
  }

  /** Add a response header; returns this, for `throw new HttpError(…).withHeader(…)`. */
  withHeader(name: string, value: string): this {
    this.headers.push([name, value]);
    return this;
  }
}

export const badRequest = (message: string) => new HttpError('bad_request', message);
/** A field failed validation; the message names the field. */
export const invalid = (field: string, message: string) => new HttpError('invalid', `${field}: ${message}`);
export const notFound = (message: string) => new HttpError('not_found', message);
export const conflict = (message: string) => new HttpError('conflict', message);
export const forbidden = (message = 'permission denied') => new HttpError('forbidden', message);
export const unauthenticated = (message = 'authentication required') => new HttpError('unauthenticated', message);
/** Something failed that the client cannot fix; the message is shown (say what, not how). */
export const internal = (message: string, detail?: string) => new HttpError('internal', message, detail);
