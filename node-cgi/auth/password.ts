/**
 * Password hashes with scrypt (node:crypto), self-describing:
 *
 *   "scrypt$16384$8$1$<salt b64>$<hash b64>"  (N, r, p, 16-byte salt, 32-byte key)
 *
 * N=2^14 costs ~40 ms on these machines: slow for an attacker, fast enough
 * for a CGI that verifies a login once per two hours.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, KEY_BYTES, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function verifyPassword(password: string, stored: string): boolean {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const want = Buffer.from(keyB64, 'base64');
  const got = scryptSync(password, Buffer.from(saltB64, 'base64'), want.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 256 * 1024 * 1024,
  });
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A random password for the first admin: 18 bytes, base64url (24 chars). */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}
