/**
 * Who is asking: from the ticket cookie (browsers; non-GET requests also need
 * the CSRF header) or an API token (curl; no CSRF). Throws 401 for a missing,
 * expired or forged credential, for a disabled, expired or deleted user, and
 * for a ticket issued before the user's last password change. Permission
 * checks come after, in the router.
 *
 *   Cookie: RamvmAuth=RAMVM:anna:6740A1F3::<sig>   + X-Ramvm-CSRF: 6740A1F3:<sig>
 *   Authorization: RamvmToken anna!backup=<secret>
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { unauthenticated } from '../lib/errors';
import type { Caller } from '../lib/cgi';
import type { Request } from '../lib/request';
import { readTokens, readUsers, userActive } from '../access/store';
import { verifyCsrf, verifyTicket } from './ticket';
import { isSigned, verifiedPeer } from '../cluster/receive';

export const COOKIE_NAME = 'RamvmAuth';
export const CSRF_HEADER = 'x-ramvm-csrf';

/** Who sends a request: a user, with a ticket or one of their API tokens. */
export type AuthUser = Caller;

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (!k || k in out) continue;
    try {
      out[k] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      out[k] = part.slice(i + 1).trim();
    }
  }
  return out;
}

/** Authorization: RamvmToken anna!backup=3f9c… */
const TOKEN_RE = /^RamvmToken\s+([A-Za-z0-9][A-Za-z0-9._@-]{0,63})!([A-Za-z0-9][A-Za-z0-9._-]{0,63})=([A-Za-z0-9_-]{16,128})$/;

/** sha256 of a token secret, hex: what tokens.json stores. */
export function tokenHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The user of a valid ticket whose user may still log in; 401 otherwise. */
export function sessionUser(ticket: string, nowS = Math.floor(Date.now() / 1000)): string {
  const t = verifyTicket(ticket, nowS);
  if (!t) throw unauthenticated('the ticket is invalid or has expired; log in again');
  const u = readUsers().users[t.username];
  if (!userActive(u, nowS)) throw unauthenticated('the account is disabled, expired or deleted');
  if (u!.ticketsSince !== undefined && t.issued < u!.ticketsSince) {
    throw unauthenticated('the password has changed since this ticket was issued; log in again');
  }
  return t.username;
}

/** 401 unless a non-GET request carries the CSRF header of `username`. */
export function checkCsrf(req: Request, username: string, nowS = Math.floor(Date.now() / 1000)): void {
  if (req.method === 'GET' || req.method === 'HEAD') return;
  const csrf = req.headers[CSRF_HEADER];
  if (!csrf || !verifyCsrf(csrf, username, nowS)) throw unauthenticated('the X-Ramvm-CSRF header is missing or invalid');
}

export function authenticate(req: Request, nowS = Math.floor(Date.now() / 1000)): AuthUser {
  if (isSigned(req.headers)) return forwardedUser(req, nowS);
  const authz = req.headers['authorization'];
  if (authz) return authenticateToken(authz, nowS);
  const ticket = parseCookies(req.headers['cookie'])[COOKIE_NAME];
  if (!ticket) throw unauthenticated();
  const username = sessionUser(ticket, nowS);
  checkCsrf(req, username, nowS);
  return { username, via: 'ticket' };
}

function authenticateToken(header: string, nowS: number): AuthUser {
  const m = TOKEN_RE.exec(header.trim());
  if (!m) throw unauthenticated('malformed Authorization header; expected "RamvmToken user!tokenid=secret"');
  const [, username, tokenid, secret] = m as unknown as [string, string, string, string];
  const rec = readTokens().tokens[`${username}!${tokenid}`];
  const got = Buffer.from(tokenHash(secret), 'hex');
  const want = Buffer.from(rec?.hash ?? '00'.repeat(32), 'hex');
  const ok = want.length === got.length && timingSafeEqual(got, want);
  if (!rec || !ok) throw unauthenticated('unknown API token or wrong secret');
  if (rec.expire !== 0 && rec.expire <= nowS) throw unauthenticated('the API token has expired');
  if (!userActive(readUsers().users[username], nowS)) throw unauthenticated('the account is disabled, expired or deleted');
  return { username, tokenid, privsep: rec.privsep, via: 'token' };
}

/**
 * The user a node of the cluster sent a request for (cluster/receive.ts
 * checks the signature). The user (and a token) must exist and be active
 * here too: the cluster-wide access files are the same on every node.
 */
function forwardedUser(req: Request, nowS: number): AuthUser {
  const f = verifiedPeer(req);
  if (!f.identity) throw unauthenticated(`the request of node ${f.node} acts for no user`);
  const { username, tokenid, privsep } = f.identity;
  if (!userActive(readUsers().users[username], nowS)) throw unauthenticated(`the account ${username} is disabled, expired or deleted`);
  if (tokenid) {
    const rec = readTokens().tokens[`${username}!${tokenid}`];
    if (!rec || (rec.expire !== 0 && rec.expire <= nowS)) throw unauthenticated(`the API token ${username}!${tokenid} is gone or has expired`);
  }
  return { username, ...(tokenid ? { tokenid, privsep: !!privsep } : {}), via: tokenid ? 'token' : 'ticket', peer: f.node };
}
