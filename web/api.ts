/**
 * The browser's client of the node API: JSON in and out, the CSRF header on
 * every non-GET request, ticket renewal before the 2 h expiry, and one error
 * type.
 *
 *   const vms = await api.get<Vm[]>('/api/vm');             // the "data" of {"data": …}
 *   await api.post('/api/vm/101/start');                      // + X-Ramvm-CSRF
 *   // {"error":{"code":"conflict","message":"guest 101 is running"}} with 409
 *   //   → throws ApiError { status: 409, code: 'conflict', message: 'guest 101 is running' }
 *
 * The ticket itself is an HttpOnly cookie the browser sends; this module only
 * keeps the CSRF token, in memory and in sessionStorage so a reload of the
 * tab stays logged in. A request made more than RENEW_AFTER_MS after the last
 * login or renewal first posts the cookie (no password) to
 * /api/access/ticket for a fresh ticket and token. A 401 anywhere but the
 * login itself ends the session and tells the shell (onUnauthenticated),
 * which shows the login page with a message.
 *
 * At page load a tab goes on with the session it stored; a tab without one
 * (a new tab, a browser started again) shows the login and sends nothing:
 * a renewal needs the CSRF token, which only a session holds. A console
 * opened in a window of its own gets a copy of its opener's sessionStorage
 * from the browser, and with it the session.
 */

import type { MeView, TicketView } from '../node-cgi/api-types';

/** A ticket lives 2 h on the node; renew well before. */
export const RENEW_AFTER_MS = 60 * 60 * 1000; // 1 h
/** sessionStorage key of the session. */
export const SESSION_STORAGE_KEY = 'ramvm.session';
export const CSRF_HEADER = 'X-Ramvm-CSRF';


export class ApiError extends Error {
  /** HTTP status; 0 when the node could not be reached. */
  readonly status: number;
  /** The node's machine-readable code ("conflict", "invalid", …), "network" or "bad_response". */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface Session {
  username: string;
  csrf: string;
  node: string;
  /** When the ticket was issued or renewed, by this browser's clock (ms). */
  at: number;
}

/** GET /api/access/me (the node's own type, imported type-only). */
export type Me = MeView;

export interface ApiDeps {
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  /** Where the session survives a reload (sessionStorage). */
  storage: () => Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  now: () => number;
}

export interface RequestOptions {
  /** A 401 is the caller's business (login, renewal): no session end. */
  quiet401?: boolean;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** POST /api/access/ticket: what of it the browser keeps (the ticket itself is an HttpOnly cookie). */
type Ticket = Pick<TicketView, 'username' | 'csrf'> & Partial<Pick<TicketView, 'node'>>;

export type Api = ReturnType<typeof createApi>;

export function createApi(deps: ApiDeps) {
  let session: Session | null = null;
  let renewing: Promise<void> | null = null;
  const unauthListeners = new Set<(e: ApiError) => void>();
  const taskListeners = new Set<(id: string) => void>();

  function save(s: Session | null): void {
    session = s;
    const st = deps.storage();
    try {
      if (s) st?.setItem(SESSION_STORAGE_KEY, JSON.stringify(s));
      else st?.removeItem(SESSION_STORAGE_KEY);
    } catch {
      /* storage full or disabled: the session lives in memory only */
    }
  }

  function restore(): Session | null {
    try {
      const v = JSON.parse(deps.storage()?.getItem(SESSION_STORAGE_KEY) ?? 'null') as Session | null;
      return v && typeof v.csrf === 'string' && typeof v.username === 'string' ? v : null;
    } catch {
      return null;
    }
  }

  function adopt(t: Ticket): Session {
    const s: Session = { username: t.username, csrf: t.csrf, node: t.node ?? session?.node ?? '', at: deps.now() };
    save(s);
    return s;
  }

  function end(err: ApiError): void {
    save(null);
    for (const fn of unauthListeners) fn(err);
  }

  async function send<T>(method: string, path: string, body: unknown, opts: RequestOptions): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    let payload: BodyInit | undefined;
    if (body instanceof Blob) {
      payload = body;
      headers['content-type'] ??= body.type || 'application/octet-stream';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    if (method !== 'GET' && session) headers[CSRF_HEADER] = session.csrf;
    // A 401 ends the session it was sent under only: a poll still under way
    // when the user logs out (or the ticket is renewed) must not call the
    // logout an expiry.
    const sentUnder = session;
    let res: Response;
    try {
      res = await deps.fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        ...(payload !== undefined ? { body: payload } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError(0, 'network', (e as Error).message || 'network error');
    }
    const text = await res.text();
    let json: { data?: T; error?: { code?: string; message?: string } } | undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = json?.error
        ? new ApiError(res.status, json.error.code ?? 'error', json.error.message ?? res.statusText)
        : new ApiError(res.status, 'bad_response', `HTTP ${res.status} ${res.statusText}`.trim());
      if (res.status === 401 && !opts.quiet401 && session === sentUnder) end(err);
      throw err;
    }
    if (text && json === undefined) throw new ApiError(res.status, 'bad_response', `the node answered ${path} with no JSON`);
    const data = json?.data as T;
    const task = (data as { task?: unknown } | null | undefined)?.task;
    if (res.status === 202 && typeof task === 'string') for (const fn of taskListeners) fn(task);
    return data;
  }

  /** Renew the ticket when it is due; a failed renewal over the network is retried with the next request. */
  function fresh(): Promise<void> {
    if (!session || deps.now() - session.at < RENEW_AFTER_MS) return Promise.resolve();
    renewing ??= send<Ticket>('POST', '/api/access/ticket', {}, { quiet401: true })
      .then(adopt, (e: ApiError) => {
        if (e.status === 400 || e.status === 401) end(e);
      })
      .then(() => {
        renewing = null;
      });
    return renewing;
  }

  async function request<T = unknown>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    await fresh();
    return send<T>(method, path, body, opts);
  }

  return {
    request,
    get: <T = unknown>(path: string, opts?: RequestOptions) => request<T>('GET', path, undefined, opts),
    post: <T = unknown>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, body, opts),
    put: <T = unknown>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('PUT', path, body, opts),
    del: <T = unknown>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('DELETE', path, body, opts),

    /**
     * Take over a ticket the node handed out in another answer (PUT
     * /api/access/password ends older sessions and answers with a new one).
     */
    adoptTicket(ticket: Ticket): void {
      adopt(ticket);
    },

    /** The current session, or null when logged out. */
    session: (): Session | null => session,
    /** Headers for a request made outside this module (an upload through XMLHttpRequest for its progress). */
    authHeaders: (): Record<string, string> => (session ? { [CSRF_HEADER]: session.csrf } : {}),

    async login(username: string, password: string): Promise<Me> {
      const t = await send<Ticket>('POST', '/api/access/ticket', { username, password }, { quiet401: true });
      adopt(t);
      return request<Me>('GET', '/api/access/me');
    },

    async logout(): Promise<void> {
      try {
        await send('DELETE', '/api/access/ticket', undefined, { quiet401: true });
      } finally {
        save(null);
      }
    },

    /** Pick up the session this tab stored at page load (renewed when due). Null: log in. */
    async resume(): Promise<Me | null> {
      session = restore();
      if (!session) return null;
      try {
        await fresh();
        if (!session) return null;
        return await send<Me>('GET', '/api/access/me', undefined, { quiet401: true });
      } catch (e) {
        if (e instanceof ApiError && (e.status === 400 || e.status === 401)) {
          save(null);
          return null;
        }
        throw e;
      }
    },

    /** Called when the node answers 401: the session is over. Returns an unsubscribe function. */
    onUnauthenticated(fn: (e: ApiError) => void): () => void {
      unauthListeners.add(fn);
      return () => void unauthListeners.delete(fn);
    },

    /** Called with the id whenever an answer is 202 {"task": id} (the task panel polls at once). */
    onTaskStarted(fn: (id: string) => void): () => void {
      taskListeners.add(fn);
      return () => void taskListeners.delete(fn);
    },
  };
}

/** The app's client, on this page's origin. */
export const api = createApi({
  fetch: (url, init) => fetch(url, init),
  storage: () => (typeof sessionStorage === 'undefined' ? null : sessionStorage),
  now: () => Date.now(),
});
