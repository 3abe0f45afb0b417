/**
 * Who is asking: from the ticket cookie (browsers; non-GET requests also need
 * the CSRF header) or an API token (curl; no CSRF). Throws 401 for a missing,
 * expired or forged credential. Permission checks come after, in the router.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { unauthenticated, HttpError } from '../lib/errors';
import type { Request } from '../lib/request';
import { readTokens, readUsers, userActive } from '../access/store';
import { verifyCsrf, verifyTicket } from './ticket';

export const COOKIE_NAME = 'RamvmAuth';
export const CSRF_HEADER = 'x-ramvm-csrf';

export interface AuthUser {
  username: string;
  /** Set when the request came with an API token. */
  tokenid?: string;
  /** A privilege-separated token holds only what the ACL grants "user!tokenid". */
  privsep?: boolean;
  via: 'ticket' | 'token';
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (k && !(k in out)) out[k] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

/** Authorization: RamvmToken anna!backup=3f9c… */
const TOKEN_RE = /^RamvmToken\s+([A-Za-z0-9][A-Za-z0-9._@-]{0,63})!([A-Za-z0-9][A-Za-z0-9._-]{0,63})=([A-Za-z0-9_-]{16,128})$/;

export function authenticate(req: Request, nowS = Math.floor(Date.now() / 1000)): AuthUser {
  const authz = req.headers['authorization'];
  if (authz) return authenticateToken(authz, nowS);
  const ticket = parseCookies(req.headers['cookie'])[COOKIE_NAME];
  if (!ticket) throw unauthenticated();
  const t = verifyTicket(ticket, nowS);
  if (!t) throw unauthenticated('the ticket is invalid or has expired; log in again');
  if (!userActive(readUsers().users[t.username], nowS)) throw unauthenticated('the account is disabled or has expired');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const csrf = req.headers[CSRF_HEADER];
    if (!csrf || !verifyCsrf(csrf, t.username, nowS)) {
      throw new HttpError(401, 'unauthenticated', 'the X-Ramvm-CSRF header is missing or invalid');
    }
  }
  return { username: t.username, via: 'ticket' };
}

function authenticateToken(header: string, nowS: number): AuthUser {
  const m = TOKEN_RE.exec(header.trim());
  if (!m) throw unauthenticated('malformed Authorization header; expected "RamvmToken user!tokenid=secret"');
  const [, username, tokenid, secret] = m as unknown as [string, string, string, string];
  const rec = readTokens().tokens[`${username}!${tokenid}`];
  const got = createHash('sha256').update(secret).digest();
  const want = Buffer.from(rec?.hash ?? '00'.repeat(32), 'hex');
  const ok = want.length === got.length && timingSafeEqual(got, want);
  if (!rec || !ok) throw unauthenticated('unknown API token or wrong secret');
  if (rec.expire !== 0 && rec.expire <= nowS) throw unauthenticated('the API token has expired');
  if (!userActive(readUsers().users[username], nowS)) throw unauthenticated('the account is disabled or has expired');
  return { username, tokenid, privsep: rec.privsep, via: 'token' };
}
