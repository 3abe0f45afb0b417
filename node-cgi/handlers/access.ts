/**
 * /api/access: login tickets (and, with the access-control work, users,
 * groups, ACL and API tokens).
 *
 *   POST   /api/access/ticket {"username","password"} → {"username","ticket","csrf"} + cookie
 *   POST   /api/access/ticket (with a valid ticket cookie, no password) → renewed ticket
 *   DELETE /api/access/ticket → clears the cookie
 *   GET    /api/access/me     → who am I, and what may I do at the top level
 */
import { HttpError, badRequest } from '../lib/errors';
import { runCgi, Reply, type Context, type Route } from '../lib/cgi';
import { readUsers, userActive } from '../access/store';
import { verifyPassword } from '../auth/password';
import { COOKIE_NAME, authenticate, parseCookies } from '../auth/authenticate';
import { issueCsrf, issueTicket, verifyTicket, TICKET_LIFETIME_S } from '../auth/ticket';
import { recordFailure, recordSuccess, throttleWait } from '../auth/throttle';
import { PRIVILEGES } from '../access/privileges';
import { nodeName } from '../lib/paths';
import { log } from '../lib/cgi';

// A hash to verify against when the user does not exist, so timing does not tell.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

function cookie(ctx: Context, value: string, maxAgeS: number): string {
  const secure = ctx.req.https ? '; Secure' : '';
  return `${COOKIE_NAME}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`;
}

function grant(ctx: Context, username: string) {
  const ticket = issueTicket(username);
  ctx.headers.push(['Set-Cookie', cookie(ctx, ticket, TICKET_LIFETIME_S)]);
  return { username, ticket, csrf: issueCsrf(username), node: nodeName() };
}

async function login(ctx: Context) {
  const body = await ctx.req.json<{ username?: unknown; password?: unknown }>();
  // Renewal: a valid ticket cookie and no password.
  if (body.password === undefined) {
    const t = verifyTicket(parseCookies(ctx.req.headers['cookie'])[COOKIE_NAME] ?? '');
    if (t && userActive(readUsers().users[t.username])) return grant(ctx, t.username);
    throw badRequest('username and password are required');
  }
  if (typeof body.username !== 'string' || typeof body.password !== 'string' || body.username.length > 64) {
    throw badRequest('username and password must be strings');
  }
  const username = body.username;
  const keys = [`user:${username}`, `addr:${ctx.req.remoteAddr}`];
  const wait = throttleWait(keys);
  if (wait > 0) {
    log(`login throttled for ${username} from ${ctx.req.remoteAddr}`);
    throw new HttpError(429, 'too_many_requests', `too many failed logins; try again in ${Math.ceil(wait / 1000)} s`);
  }
  const user = readUsers().users[username];
  const ok = verifyPassword(body.password, user?.password ?? DUMMY_HASH) && userActive(user);
  if (!ok) {
    recordFailure(keys);
    log(`login failed for ${username} from ${ctx.req.remoteAddr}`);
    throw new HttpError(401, 'unauthenticated', 'wrong user name or password');
  }
  recordSuccess(`user:${username}`);
  log(`login ok for ${username} from ${ctx.req.remoteAddr}`);
  return grant(ctx, username);
}

export const routes: Route[] = [
  { method: 'POST', path: '/ticket', perm: 'public', handle: login },
  {
    method: 'DELETE',
    path: '/ticket',
    perm: 'public',
    handle: (ctx) => {
      // Logging out needs no valid ticket, but a browser's logout carries the CSRF header.
      try {
        authenticate(ctx.req);
      } catch {
        /* an expired ticket may still be cleared */
      }
      ctx.headers.push(['Set-Cookie', cookie(ctx, '', 0)]);
      return new Reply(200, null);
    },
  },
  {
    method: 'GET',
    path: '/me',
    perm: 'authenticated',
    handle: (ctx) => ({
      username: ctx.me.username,
      node: nodeName(),
      tokenid: ctx.me.tokenid ?? null,
      // Privileges held on "/" or anywhere below: what the UI may offer.
      privileges: PRIVILEGES.filter((p) => ctx.canBelow('/', p)),
    }),
  },
];

if (require.main === module) runCgi(routes);
