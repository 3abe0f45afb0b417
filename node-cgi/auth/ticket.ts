/**
 * Login tickets and CSRF tokens, HMAC-SHA256-signed with the cluster key
 * (cluster/key.ts: etc/ramvm/priv/authkey; a node outside a cluster has its
 * own), so a ticket of one node is good on every node of its cluster.
 *
 *   ticket: "RAMVM:anna:6740A1F3:2::<sig>"   sig = HMAC(key, "RAMVM:anna:6740A1F3:2")
 *   csrf:   "<sig>"                           sig = HMAC(key, "csrf:" + ticket)
 *
 * The hex number is the issue time in Unix seconds, the last number the
 * user's session epoch when it was issued: logging out and a new password
 * raise the epoch (users.json `sessions`), which ends every ticket issued
 * before (authenticate.ts checks it). A ticket is valid for
 * TICKET_LIFETIME_S; a client renews by posting its valid ticket for a new
 * one. The CSRF token belongs to its ticket alone, so it ends with it.
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

/** A ticket of `username` in session epoch `epoch`. */
export function issueTicket(username: string, epoch: number, nowS = Math.floor(Date.now() / 1000)): string {
  const plain = `RAMVM:${username}:${nowS.toString(16).toUpperCase()}:${epoch}`;
  return `${plain}::${sign(plain)}`;
}

export interface TicketFacts {
  username: string;
  /** Unix seconds. */
  issued: number;
  /** The user's session epoch when it was issued. */
  epoch: number;
}

/**
 * What a genuine ticket says, or null (forged or malformed). `lifetime`
 * false takes an expired one too (an open console outlives its ticket).
 */
export function verifyTicket(ticket: string, nowS = Math.floor(Date.now() / 1000), lifetime = true): TicketFacts | null {
  const m = /^(RAMVM:([^:]+):([0-9A-F]{1,12}):(0|[1-9][0-9]{0,8}))::([A-Za-z0-9_-]+)$/.exec(ticket);
  if (!m) return null;
  const [, plain, username, hex, epoch, sig] = m as unknown as [string, string, string, string, string, string];
  if (!sameText(sig, sign(plain))) return null;
  const issued = parseInt(hex, 16);
  if (lifetime && (nowS - issued > TICKET_LIFETIME_S || issued - nowS > CLOCK_SKEW_S)) return null;
  return { username, issued, epoch: Number(epoch) };
}

/** The CSRF token of a ticket: good with that ticket only. */
export function issueCsrf(ticket: string): string {
  return sign(`csrf:${ticket}`);
}

export function verifyCsrf(token: string, ticket: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(token) && sameText(token, issueCsrf(ticket));
}
