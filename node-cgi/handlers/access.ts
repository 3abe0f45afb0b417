/**
 * /api/access: login tickets, users, groups, ACL entries, API tokens, roles
 * and the audit log. Checks and changes are data (access/model.ts); every
 * change runs in one updateAccess() transaction, which also refuses to lock
 * the cluster out, and is written to the audit log.
 *
 *   POST   /ticket {"username","password"} → {"username","ticket","csrf"} + cookie;  DELETE /ticket
 *   GET    /me, /permissions?path=, /roles, /privileges, /audit?limit=
 *   GET|POST /users;   GET|PUT|DELETE /users/<name>;   PUT /password {"oldpassword","password"}
 *   GET|POST /groups;  PUT|DELETE /groups/<name>
 *   GET|PUT|DELETE /acl {"path","user"|"group"|"token","role","propagate"?}
 *   GET|POST /tokens;  DELETE /tokens/<tokenid>   (?user= for another user's)
 *
 * Who may: managing users, groups and others' tokens needs User.Modify on
 * /access. Changing ACL entries on a path needs User.Modify on /access or on
 * that path; a user may also grant their own API tokens (with a login
 * ticket, not with a token). Lists are filtered to what the caller may see.
 */
import { randomBytes } from 'node:crypto';
import { HttpError, forbidden, unauthenticated } from '../lib/errors';
import { log, runCgi, Reply } from '../lib/cgi';
import { changesOnMaster, clusterDispatch } from '../cluster/dispatch';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { checkedUsername } from '../lib/validate';
import { nodeName } from '../lib/paths';
import { principalOf, readAccess, readUsers, updateAccess, userActive, type AccessConfig } from '../access/store';
import { PRIVILEGES, PRIVILEGE_INFO, ROLES, ROLE_INFO, type RoleName } from '../access/privileges';
import { privilegesAt, type AclEntry } from '../access/permissions';
import {
  aclAffecting, applyAclDelete, applyAclSet, applyGroupCreate, applyGroupDelete, applyGroupUpdate, applyTokenCreate,
  applyTokenDelete, applyUserCreate, applyUserDelete, applyUserUpdate, checkedAclPath, checkedGroupName,
  checkedTokenId, existingUser, groupView, parseAclChange, parseAuditQuery, parseGroupCreate, parseGroupUpdate, parseLogin,
  parsePasswordChange, parseTokenCreate, parseUserCreate, parseUserUpdate, setPassword, tokenViews, userView, type AclChange, type MeView, type NewToken,
  type PrivilegeView, type RoleView, type TicketView,
} from '../access/model';
import { audit, readAudit, type AuditAction, type AuditEvent } from '../access/audit';
import { hashPassword, verifyPassword } from '../auth/password';
import { COOKIE_NAME, authenticate, checkCsrf, parseCookies, sessionUser, tokenHash } from '../auth/authenticate';
import { issueCsrf, issueTicket, TICKET_LIFETIME_S } from '../auth/ticket';
import { recordFailure, recordSuccess, throttleWait } from '../auth/throttle';

// A hash to verify against when the user does not exist, so timing does not tell.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
/** Bytes of randomness in an API token secret (43 base64url characters). */
const TOKEN_SECRET_BYTES = 32;

const nowS = () => Math.floor(Date.now() / 1000);

function cookie(ctx: ApiContext, value: string, maxAgeS: number): string {
  const secure = ctx.req.https ? '; Secure' : '';
  return `${COOKIE_NAME}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`;
}

function grant(ctx: ApiContext, username: string): TicketView {
  const ticket = issueTicket(username);
  ctx.headers.push(['Set-Cookie', cookie(ctx, ticket, TICKET_LIFETIME_S)]);
  return { username, ticket, csrf: issueCsrf(username), node: nodeName() };
}

/** Who acted, for the audit log. */
function actor(ctx: ApiContext): Pick<AuditEvent, 'user' | 'token' | 'addr'> {
  const me = ctx.me;
  return { user: me.username, ...(me.tokenid ? { token: `${me.username}!${me.tokenid}` } : {}), addr: ctx.req.remoteAddr };
}

const isUserAdmin = (ctx: ApiContext) => ctx.can('/access', 'User.Modify');
const isUserAuditor = (ctx: ApiContext) => isUserAdmin(ctx) || ctx.can('/access', 'Sys.Audit');

/**
 * One change of the access configuration: `fn` on the draft in the
 * store's transaction, then its line in the audit log (`detail` may look
 * at what the change returned).
 */
function change<T>(ctx: ApiContext, action: AuditAction, object: string, fn: (d: AccessConfig) => T, detail?: (r: T) => unknown): T {
  const r = updateAccess(fn);
  audit({ ...actor(ctx), action, object, ok: true, ...(detail ? { detail: detail(r) } : {}) });
  return r;
}

/** Own password and own tokens are managed with a login, so a token cannot widen itself. */
function requireTicket(ctx: ApiContext, what: string): void {
  if (ctx.me.via !== 'ticket') throw forbidden(`${what} needs a login ticket, not an API token`);
}

// ---- login ----

async function login(ctx: ApiContext) {
  const body = parseLogin(await ctx.req.json());
  const addr = ctx.req.remoteAddr;
  if (body.renew) {
    // Renewal: a valid ticket cookie (and, being a POST, the CSRF header) for a fresh ticket.
    const ticket = parseCookies(ctx.req.headers['cookie'])[COOKIE_NAME];
    if (!ticket) throw unauthenticated('no session to renew: log in with username and password');
    const username = sessionUser(ticket);
    checkCsrf(ctx.req, username);
    return grant(ctx, username);
  }
  const username = body.username;
  const keys = [`user:${username}`, `addr:${addr}`];
  const wait = throttleWait(keys);
  if (wait > 0) {
    // Counted too: hammering during the wait keeps doubling it.
    recordFailure(keys);
    log(`login throttled for ${username} from ${addr}`);
    audit({ user: username, addr, action: 'login.throttled', ok: false });
    throw new HttpError('too_many_requests', `too many failed logins; try again in ${Math.ceil(wait / 1000)} s`);
  }
  const user = readUsers().users[username];
  const passwordOk = verifyPassword(body.password, user?.password ?? DUMMY_HASH);
  if (!passwordOk || !userActive(user)) {
    recordFailure(keys);
    const reason = !user ? 'unknown user' : !passwordOk ? 'wrong password' : 'account disabled or expired';
    log(`login failed for ${username} from ${addr}`);
    audit({ user: username, addr, action: 'login.failed', ok: false, detail: { reason } });
    throw new HttpError('unauthenticated', 'wrong user name or password');
  }
  recordSuccess(`user:${username}`);
  log(`login ok for ${username} from ${addr}`);
  audit({ user: username, addr, action: 'login', ok: true });
  return grant(ctx, username);
}

function logout(ctx: ApiContext) {
  // Logging out needs no valid ticket: an expired one may still be cleared.
  try {
    const who = authenticate(ctx.req);
    audit({ user: who.username, addr: ctx.req.remoteAddr, action: 'logout', ok: true });
  } catch {
    /* nothing to record */
  }
  ctx.headers.push(['Set-Cookie', cookie(ctx, '', 0)]);
  return new Reply(204, null);
}

// ---- who may do what ----

function me(ctx: ApiContext): MeView {
  const u = readUsers().users[ctx.me.username];
  return {
    username: ctx.me.username,
    node: nodeName(),
    tokenid: ctx.me.tokenid ?? null,
    groups: u?.groups ?? [],
    // Privileges held on "/" or anywhere below: what the UI may offer.
    privileges: PRIVILEGES.filter((p) => ctx.canBelow('/', p)),
  };
}

/** {"/": [...], "/vms/101": [...]}: the caller's (or ?user='s) privileges per ACL path. */
function permissions(ctx: ApiContext) {
  const q = ctx.req.query;
  const cfg = readAccess();
  const asked = q.get('path');
  const paths = asked !== null ? [checkedAclPath(asked)] : [...new Set(['/', ...cfg.acl.acl.map((e) => e.path)])].sort();
  const other = q.get('user');
  if (other !== null && other !== ctx.me.username) {
    if (!isUserAuditor(ctx)) throw forbidden('seeing another user\'s permissions needs Sys.Audit or User.Modify on /access');
    const name = checkedUsername(other, 'user');
    existingUser(cfg, name);
    const who = principalOf(name, cfg.users);
    return Object.fromEntries(paths.map((p) => [p, [...privilegesAt(cfg.acl.acl, who, p)].sort()]));
  }
  return Object.fromEntries(paths.map((p) => [p, PRIVILEGES.filter((priv) => ctx.can(p, priv))]));
}

const roles = (): RoleView[] =>
  (Object.keys(ROLES) as RoleName[]).map((role) => ({ role, description: ROLE_INFO[role], privileges: [...ROLES[role]] }));

const privileges = (): PrivilegeView[] => PRIVILEGES.map((privilege) => ({ privilege, description: PRIVILEGE_INFO[privilege] }));

// ---- users ----

function listUsers(ctx: ApiContext) {
  const cfg = readAccess();
  const names = Object.keys(cfg.users.users).sort();
  if (isUserAuditor(ctx)) return names.map((n) => userView(cfg, n));
  // A delegated administrator (User.Modify on some guest) picks users to grant by name.
  if (ctx.canBelow('/', 'User.Modify')) return names.map((n) => ({ username: n, fullname: cfg.users.users[n]!.fullname ?? '' }));
  return names.filter((n) => n === ctx.me.username).map((n) => userView(cfg, n));
}

async function createUser(ctx: ApiContext) {
  const u = parseUserCreate(await ctx.req.json(), nowS());
  const hash = hashPassword(u.password);
  const cfg = change(ctx, 'user.create', u.username, (d) => (applyUserCreate(d, u, hash, nowS()), d), () => ({ groups: u.groups, enabled: u.enabled, expire: u.expire }));
  return new Reply(201, userView(cfg, u.username));
}

function getUser(ctx: ApiContext) {
  const name = checkedUsername(ctx.params.username);
  if (name !== ctx.me.username && !isUserAuditor(ctx)) throw forbidden('seeing another user needs Sys.Audit or User.Modify on /access');
  const cfg = readAccess();
  existingUser(cfg, name);
  return userView(cfg, name);
}

async function updateUser(ctx: ApiContext) {
  const name = checkedUsername(ctx.params.username);
  const upd = parseUserUpdate(await ctx.req.json(), nowS());
  const hash = upd.password !== undefined ? hashPassword(upd.password) : undefined;
  const { password: _, ...shown } = upd;
  const cfg = change(ctx, 'user.update', name, (d) => (applyUserUpdate(d, name, upd, hash, nowS()), d), () => ({ ...shown, ...(hash ? { password: 'reset' } : {}) }));
  return userView(cfg, name);
}

function deleteUser(ctx: ApiContext) {
  const name = checkedUsername(ctx.params.username);
  change(ctx, 'user.delete', name, (d) => applyUserDelete(d, name));
  return null;
}

/** A user's own password: needs the old one; throttled like logins; voids older tickets. */
async function changeOwnPassword(ctx: ApiContext) {
  requireTicket(ctx, 'changing your password');
  const body = parsePasswordChange(await ctx.req.json());
  const password = body.password;
  const name = ctx.me.username;
  const keys = [`user:${name}`, `addr:${ctx.req.remoteAddr}`];
  const wait = throttleWait(keys);
  if (wait > 0) {
    recordFailure(keys);
    throw new HttpError('too_many_requests', `too many wrong passwords; try again in ${Math.ceil(wait / 1000)} s`);
  }
  const stored = readUsers().users[name]?.password ?? DUMMY_HASH;
  if (!verifyPassword(body.oldpassword, stored)) {
    recordFailure(keys);
    audit({ ...actor(ctx), action: 'user.password', object: name, ok: false, detail: { reason: 'wrong old password' } });
    throw forbidden('the old password is wrong');
  }
  const hash = hashPassword(password);
  updateAccess((d) => setPassword(existingUser(d, name), hash, nowS()));
  recordSuccess(`user:${name}`);
  audit({ ...actor(ctx), action: 'user.password', object: name, ok: true });
  // Older tickets are void now; this session goes on with a fresh one.
  return grant(ctx, name);
}

// ---- groups ----

function listGroups(ctx: ApiContext) {
  const cfg = readAccess();
  const names = Object.keys(cfg.groups.groups).sort();
  if (isUserAuditor(ctx)) return names.map((g) => groupView(cfg, g));
  const mine = cfg.users.users[ctx.me.username]?.groups ?? [];
  const delegated = ctx.canBelow('/', 'User.Modify');
  return names
    .filter((g) => delegated || mine.includes(g))
    .map((g) => ({ group: g, comment: cfg.groups.groups[g]!.comment ?? '' }));
}

async function createGroup(ctx: ApiContext) {
  const g = parseGroupCreate(await ctx.req.json());
  const cfg = change(ctx, 'group.create', g.group, (d) => (applyGroupCreate(d, g), d), () => ({ members: g.members ?? [] }));
  return new Reply(201, groupView(cfg, g.group));
}

async function updateGroup(ctx: ApiContext) {
  const name = checkedGroupName(ctx.params.group);
  const g = parseGroupUpdate(await ctx.req.json());
  const cfg = change(ctx, 'group.update', name, (d) => (applyGroupUpdate(d, name, g), d), () => g);
  return groupView(cfg, name);
}

function deleteGroup(ctx: ApiContext) {
  const name = checkedGroupName(ctx.params.group);
  change(ctx, 'group.delete', name, (d) => applyGroupDelete(d, name));
  return null;
}

// ---- ACL ----

function listAcl(ctx: ApiContext) {
  const cfg = readAccess();
  const asked = ctx.req.query.get('path');
  const entries =
    asked !== null
      ? aclAffecting(cfg.acl.acl, checkedAclPath(asked))
      : cfg.acl.acl.map((e) => ({ ...e, propagate: e.propagate !== false }));
  const all = isUserAuditor(ctx);
  const name = ctx.me.username;
  const groups = cfg.users.users[name]?.groups ?? [];
  const visible = (e: AclEntry) =>
    all ||
    ctx.can(e.path, 'User.Modify') ||
    ctx.can(e.path, 'Sys.Audit') ||
    e.user === name ||
    (e.group !== undefined && groups.includes(e.group)) ||
    (e.token !== undefined && e.token.startsWith(`${name}!`));
  return entries.filter(visible);
}

/** User.Modify on /access or on the path; or a grant to one's own token, made with a login. */
function mayChangeAcl(ctx: ApiContext, c: AclChange): void {
  if (isUserAdmin(ctx) || ctx.can(c.path, 'User.Modify')) return;
  const p = c.principal;
  if ('token' in p && p.token.startsWith(`${ctx.me.username}!`)) {
    requireTicket(ctx, "granting your own API token");
    return;
  }
  throw forbidden(`permission denied: changing ACL entries on ${c.path} needs User.Modify on /access or on ${c.path}`);
}

async function aclBody(ctx: ApiContext): Promise<Record<string, unknown>> {
  const body = await ctx.req.json();
  if (Object.keys(body).length > 0) return body;
  // DELETE bodies are awkward for some clients: the query works too.
  const q: Record<string, unknown> = {};
  for (const [k, v] of ctx.req.query) q[k] = k === 'propagate' ? v === '1' || v === 'true' : v;
  return q;
}

async function setAcl(ctx: ApiContext) {
  const c = parseAclChange(await ctx.req.json());
  mayChangeAcl(ctx, c);
  return change(ctx, 'acl.set', c.path, (d) => applyAclSet(d, c), () => ({ ...c.principal, role: c.role, propagate: c.propagate }));
}

async function deleteAcl(ctx: ApiContext) {
  const c = parseAclChange(await aclBody(ctx), true);
  mayChangeAcl(ctx, c);
  change(ctx, 'acl.delete', c.path, (d) => applyAclDelete(d, c), (gone) => ({ ...c.principal, roles: gone.map((e) => e.role) }));
  return null;
}

// ---- API tokens ----

/** Whose tokens: the caller's own, or (?user= / "user") another's with the right privilege. */
function tokenOwner(ctx: ApiContext, asked: string | null | undefined, needs: 'User.Modify' | 'audit'): string {
  if (asked === null || asked === undefined || asked === ctx.me.username) return ctx.me.username;
  const name = checkedUsername(asked, 'user');
  const allowed = needs === 'audit' ? isUserAuditor(ctx) : isUserAdmin(ctx);
  if (!allowed) throw forbidden(`another user's API tokens need ${needs === 'audit' ? 'Sys.Audit or User.Modify' : 'User.Modify'} on /access`);
  return name;
}

function listTokens(ctx: ApiContext) {
  const owner = tokenOwner(ctx, ctx.req.query.get('user'), 'audit');
  const cfg = readAccess();
  existingUser(cfg, owner);
  return tokenViews(cfg, owner, nowS());
}

async function createToken(ctx: ApiContext) {
  const t = parseTokenCreate(await ctx.req.json(), nowS());
  const owner = tokenOwner(ctx, t.user, 'User.Modify');
  if (!isUserAdmin(ctx)) requireTicket(ctx, 'creating an API token');
  const secret = randomBytes(TOKEN_SECRET_BYTES).toString('base64url');
  const id = `${owner}!${t.tokenid}`;
  change(ctx, 'token.create', id, (d) => applyTokenCreate(d, owner, t, tokenHash(secret), nowS()), () => ({ privsep: t.privsep, expire: t.expire }));
  // The secret is shown this once; only its hash is kept.
  return new Reply(201, { tokenid: t.tokenid, secret, id, user: owner, expire: t.expire, privsep: t.privsep } satisfies NewToken);
}

function deleteToken(ctx: ApiContext) {
  const tokenid = checkedTokenId(ctx.params.tokenid);
  const owner = tokenOwner(ctx, ctx.req.query.get('user'), 'User.Modify');
  change(ctx, 'token.delete', `${owner}!${tokenid}`, (d) => applyTokenDelete(d, owner, tokenid));
  return null;
}

// ---- audit log ----

function auditLog(ctx: ApiContext) {
  return readAudit(parseAuditQuery(ctx.req.query));
}

const USER_ADMIN = { path: '/access', priv: 'User.Modify' } as const;

export const routes: ApiRoute[] = changesOnMaster([
  { method: 'POST', path: '/ticket', perm: 'public', handle: login },
  { method: 'DELETE', path: '/ticket', perm: 'public', handle: logout },
  { method: 'GET', path: '/me', perm: 'authenticated', handle: me },
  { method: 'GET', path: '/permissions', perm: 'authenticated', handle: permissions },
  { method: 'GET', path: '/roles', perm: 'authenticated', handle: roles },
  { method: 'GET', path: '/privileges', perm: 'authenticated', handle: privileges },
  { method: 'GET', path: '/users', perm: 'authenticated', handle: listUsers },
  { method: 'POST', path: '/users', perm: USER_ADMIN, handle: createUser },
  { method: 'GET', path: '/users/:username', perm: 'authenticated', handle: getUser },
  { method: 'PUT', path: '/users/:username', perm: USER_ADMIN, handle: updateUser },
  { method: 'DELETE', path: '/users/:username', perm: USER_ADMIN, handle: deleteUser },
  { method: 'PUT', path: '/password', perm: 'authenticated', handle: changeOwnPassword },
  { method: 'GET', path: '/groups', perm: 'authenticated', handle: listGroups },
  { method: 'POST', path: '/groups', perm: USER_ADMIN, handle: createGroup },
  { method: 'PUT', path: '/groups/:group', perm: USER_ADMIN, handle: updateGroup },
  { method: 'DELETE', path: '/groups/:group', perm: USER_ADMIN, handle: deleteGroup },
  { method: 'GET', path: '/acl', perm: 'authenticated', handle: listAcl },
  { method: 'PUT', path: '/acl', perm: 'authenticated', handle: setAcl },
  { method: 'DELETE', path: '/acl', perm: 'authenticated', handle: deleteAcl },
  { method: 'GET', path: '/tokens', perm: 'authenticated', handle: listTokens },
  { method: 'POST', path: '/tokens', perm: 'authenticated', handle: createToken },
  { method: 'DELETE', path: '/tokens/:tokenid', perm: 'authenticated', handle: deleteToken },
  { method: 'GET', path: '/audit', perm: { path: '/access', priv: 'Sys.Audit' }, handle: auditLog },
]);

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
