/**
 * Login tickets and CSRF tokens, HMAC-SHA256-signed with the cluster key
 * (cluster/key.ts: etc/ramvm/priv/authkey; a node outside a cluster has its
 * own), so a ticket of one node is good on every node of its cluster.
 *
 *   ticket: "RAMVM:anna:6740A1F3::<sig>"   sig = HMAC(key, "RAMVM:anna:6740A1F3")
 *   csrf:   "6740A1F3:<sig>"               sig = HMAC(key, "csrf:anna:6740A1F3")
 *
 * The hex number is the issue time in Unix seconds. Both are valid for
 * TICKET_LIFETIME_S; a client renews by posting its valid ticket for a new one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { clusterKey } from '../cluster/key';

/** A ticket is valid this long after it was issued. */
export const TICKET_LIFETIME_S = 2 * 60 * 60; // 2 h
/** Tickets dated this far in the future (clock skew between nodes) are accepted. */
const CLOCK_SKEW_S = 300;

/** The key tickets are signed with: the cluster key. */
export const authKey = clusterKey;

function sign(text: string): string {
  return createHmac('sha256', authKey()).update(text).digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function issueTicket(username: string, nowS = Math.floor(Date.now() / 1000)): string {
  const plain = `RAMVM:${username}:${nowS.toString(16).toUpperCase()}`;
  return `${plain}::${sign(plain)}`;
}

/** The user name of a valid ticket, or null (forged, malformed or expired). */
export function verifyTicket(ticket: string, nowS = Math.floor(Date.now() / 1000)): { username: string; issued: number } | null {
  const m = /^(RAMVM:([^:]+):([0-9A-F]{1,12}))::([A-Za-z0-9_-]+)$/.exec(ticket);
  if (!m) return null;
  const [, plain, username, hex, sig] = m as unknown as [string, string, string, string, string];
  if (!sameText(sig, sign(plain))) return null;
  const issued = parseInt(hex, 16);
  if (nowS - issued > TICKET_LIFETIME_S || issued - nowS > CLOCK_SKEW_S) return null;
  return { username, issued };
}

export function issueCsrf(username: string, nowS = Math.floor(Date.now() / 1000)): string {
  const hex = nowS.toString(16).toUpperCase();
  return `${hex}:${sign(`csrf:${username}:${hex}`)}`;
}

export function verifyCsrf(token: string, username: string, nowS = Math.floor(Date.now() / 1000)): boolean {
  const m = /^([0-9A-F]{1,12}):([A-Za-z0-9_-]+)$/.exec(token);
  if (!m) return false;
  const issued = parseInt(m[1]!, 16);
  if (nowS - issued > TICKET_LIFETIME_S || issued - nowS > CLOCK_SKEW_S) return false;
  return sameText(m[2]!, sign(`csrf:${username}:${m[1]}`));
}
