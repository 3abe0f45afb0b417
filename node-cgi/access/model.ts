/**
 * Users, groups, ACL entries and API tokens as data: request bodies are
 * checked into typed changes, and each change is applied to an
 * AccessConfig draft by a pure function that throws an HttpError (400, 404,
 * 409) when it cannot apply. The handler runs them inside updateAccess().
 *
 *   parseUserCreate({"username":"anna","password":"s3cret-pw","groups":["staff"]}, now)
 *   → { username: "anna", password: "s3cret-pw", groups: ["staff"], enabled: true, expire: 0 }
 *   applyUserCreate(draft, that, "scrypt$…", now)   // 409 when anna exists, 400 when staff does not
 */
import { badRequest, conflict, invalid, notFound } from '../lib/errors';
import { checkedBool, checkedHostname, checkedName, checkedUsername, checkedVmid, only } from '../lib/validate';
import { isRole, type Privilege, type RoleName } from './privileges';
import { pathAncestors, type AclEntry } from './permissions';
import type { AccessConfig, TokenRecord, UserRecord } from './store';

export const PASSWORD_MIN_CHARS = 8;
export const PASSWORD_MAX_CHARS = 1024;
/** Full names, comments. */
export const TEXT_MAX_CHARS = 256;
export const EMAIL_MAX_CHARS = 254;
/** API tokens one user may hold. */
export const TOKENS_PER_USER_MAX = 32;

type Body = Record<string, unknown>;

export function checkedPassword(v: unknown, field = 'password'): string {
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  if ([...v].length < PASSWORD_MIN_CHARS) throw invalid(field, `must have at least ${PASSWORD_MIN_CHARS} characters`);
  if (v.length > PASSWORD_MAX_CHARS) throw invalid(field, `must have at most ${PASSWORD_MAX_CHARS} characters`);
  return v;
}

/** A group name: letters, digits, ".", "_", "-"; 1..64, starting with a letter or digit. */
export function checkedGroupName(v: unknown, field = 'group'): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) {
    throw invalid(field, 'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  return v;
}

/** A token id as it appears in "user!tokenid=secret". */
export function checkedTokenId(v: unknown, field = 'tokenid'): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) {
    throw invalid(field, 'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  return v;
}

/** "anna!backup" → ["anna", "backup"] */
export function checkedFullTokenId(v: unknown, field = 'token'): [string, string] {
  const s = typeof v === 'string' ? v : '';
  const i = s.indexOf('!');
  if (i < 0) throw invalid(field, 'must be "user!tokenid"');
  return [checkedUsername(s.slice(0, i), field), checkedTokenId(s.slice(i + 1), field)];
}

/** A one-line text (full name, comment): no control characters. */
export function checkedText(v: unknown, field: string, max = TEXT_MAX_CHARS): string {
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  if (v.length > max) throw invalid(field, `must have at most ${max} characters`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw invalid(field, 'must not contain control characters');
  return v;
}

export function checkedEmail(v: unknown, field = 'email'): string {
  if (v === '') return '';
  if (typeof v !== 'string' || v.length > EMAIL_MAX_CHARS || !/^[^\s@<>()",;:\\]+@[^\s@<>()",;:\\]+$/.test(v)) {
    throw invalid(field, 'must be an e-mail address like anna@example.com');
  }
  return v;
}

/** Unix seconds, 0 = never; a date in the past is refused. */
export function checkedExpire(v: unknown, nowS: number, field = 'expire'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 40) {
    throw invalid(field, 'must be Unix seconds (an integer), 0 for never');
  }
  if (v !== 0 && v <= nowS) throw invalid(field, 'lies in the past');
  return v;
}

export function checkedGroupList(v: unknown, field = 'groups'): string[] {
  if (!Array.isArray(v)) throw invalid(field, 'must be an array of group names');
  const out = v.map((g, i) => checkedGroupName(g, `${field}[${i}]`));
  return [...new Set(out)].sort();
}

export function checkedUserList(v: unknown, field = 'members'): string[] {
  if (!Array.isArray(v)) throw invalid(field, 'must be an array of user names');
  const out = v.map((u, i) => checkedUsername(u, `${field}[${i}]`));
  return [...new Set(out)].sort();
}

/** The ACL paths: "/", "/vms", "/vms/<vmid>", "/iso", "/storage", "/storage/<name>", "/nodes", "/nodes/<node>", "/access". */
export const ACL_PATH_FORMS = ['/', '/vms', '/vms/<vmid>', '/iso', '/storage', '/storage/<name>', '/nodes', '/nodes/<node>', '/access'];

export function checkedAclPath(v: unknown, field = 'path'): string {
  const bad = () => invalid(field, `must be one of ${ACL_PATH_FORMS.join(', ')}`);
  if (typeof v !== 'string' || !v.startsWith('/')) throw bad();
  if (v === '/') return v;
  const parts = v.slice(1).split('/');
  const [top, name, ...rest] = parts;
  if (rest.length > 0 || name === '') throw bad();
  if (!['vms', 'iso', 'storage', 'nodes', 'access'].includes(top!)) throw bad();
  if (name === undefined) return v;
  if (top === 'vms') {
    const vmid = checkedVmid(name, field);
    if (String(vmid) !== name) throw invalid(field, 'vmid must be written without leading zeros');
    return v;
  }
  if (top === 'storage') return `/storage/${checkedName(name, field, 64)}`;
  if (top === 'nodes') return `/nodes/${checkedHostname(name, field)}`;
  throw bad();
}

export function checkedRole(v: unknown, field = 'role'): RoleName {
  if (!isRole(v)) throw invalid(field, 'no such role (see GET /api/access/roles)');
  return v;
}

// ---- login and own password ----

/** POST /api/access/ticket: the ticket (also set as cookie) and the CSRF token for non-GET requests. */
export interface TicketView {
  username: string;
  ticket: string;
  csrf: string;
  node: string;
}

/** GET /api/access/me: who is logged in and what they may do on "/" or anywhere below. */
export interface MeView {
  username: string;
  node: string;
  tokenid: string | null;
  groups: string[];
  privileges: Privilege[];
}

/** GET /api/access/roles */
export interface RoleView {
  role: RoleName;
  description: string;
  privileges: Privilege[];
}

/** GET /api/access/privileges */
export interface PrivilegeView {
  privilege: Privilege;
  description: string;
}

/** Longest user name a login tries (longer ones exist nowhere). */
const LOGIN_NAME_MAX_CHARS = 64;

export type Login = { renew: true } | { renew: false; username: string; password: string };

/**
 * POST /api/access/ticket: {username, password} logs in; a body without a
 * password renews the ticket of the cookie (the handler checks that).
 */
export function parseLogin(body: Body): Login {
  if (body.password === undefined) {
    // A name without a password is a login gone wrong, not a renewal.
    if (body.username !== undefined) throw badRequest('password is required');
    return { renew: true };
  }
  if (typeof body.username !== 'string' || typeof body.password !== 'string' || body.username.length > LOGIN_NAME_MAX_CHARS) {
    throw badRequest('username and password must be strings');
  }
  return { renew: false, username: body.username, password: body.password };
}

/** PUT /api/access/password {oldpassword, password}: a user's own password. */
export function parsePasswordChange(body: Body): { oldpassword: string; password: string } {
  only(body, ['oldpassword', 'password']);
  if (typeof body.oldpassword !== 'string') throw invalid('oldpassword', 'is required');
  return { oldpassword: body.oldpassword, password: checkedPassword(body.password) };
}

/** Audit entries one request may read. */
export const AUDIT_LIMIT_MAX = 1000;

/** GET /api/access/audit?limit=&user=&action= (limit 100 unless given, at most AUDIT_LIMIT_MAX). */
export function parseAuditQuery(q: URLSearchParams): { limit: number; user?: string; action?: string } {
  const limitText = q.get('limit') ?? '100';
  if (!/^[0-9]{1,6}$/.test(limitText) || Number(limitText) < 1) throw invalid('limit', 'must be a positive integer');
  const user = q.get('user');
  const action = q.get('action');
  return { limit: Math.min(Number(limitText), AUDIT_LIMIT_MAX), ...(user !== null ? { user } : {}), ...(action !== null ? { action } : {}) };
}

// ---- users ----

export interface UserCreate {
  username: string;
  password: string;
  groups: string[];
  enabled: boolean;
  expire: number;
  email?: string;
  fullname?: string;
  comment?: string;
}

export function parseUserCreate(body: Body, nowS: number): UserCreate {
  only(body, ['username', 'password', 'groups', 'email', 'fullname', 'comment', 'enabled', 'expire']);
  const u: UserCreate = {
    username: checkedUsername(body.username),
    password: checkedPassword(body.password),
    groups: body.groups === undefined ? [] : checkedGroupList(body.groups),
    enabled: body.enabled === undefined ? true : checkedBool(body.enabled, 'enabled'),
    expire: body.expire === undefined ? 0 : checkedExpire(body.expire, nowS),
  };
  if (body.email !== undefined && body.email !== '') u.email = checkedEmail(body.email);
  if (body.fullname !== undefined && body.fullname !== '') u.fullname = checkedText(body.fullname, 'fullname');
  if (body.comment !== undefined && body.comment !== '') u.comment = checkedText(body.comment, 'comment');
  return u;
}

function assertGroupsExist(draft: AccessConfig, groups: readonly string[], field = 'groups'): void {
  const missing = groups.filter((g) => !draft.groups.groups[g]);
  if (missing.length > 0) throw invalid(field, `no such group: ${missing.join(', ')}`);
}

export function applyUserCreate(draft: AccessConfig, u: UserCreate, passwordHash: string, nowS: number): void {
  if (draft.users.users[u.username]) throw conflict(`user ${u.username} exists already`);
  assertGroupsExist(draft, u.groups);
  const rec: UserRecord = { enabled: u.enabled, expire: u.expire, groups: u.groups, password: passwordHash, ticketsSince: nowS };
  if (u.email) rec.email = u.email;
  if (u.fullname) rec.fullname = u.fullname;
  if (u.comment) rec.comment = u.comment;
  draft.users.users[u.username] = rec;
}

export interface UserUpdate {
  password?: string;
  groups?: string[];
  enabled?: boolean;
  expire?: number;
  /** "" removes the field. */
  email?: string;
  fullname?: string;
  comment?: string;
}

export function parseUserUpdate(body: Body, nowS: number): UserUpdate {
  only(body, ['password', 'groups', 'email', 'fullname', 'comment', 'enabled', 'expire']);
  if (Object.keys(body).length === 0) throw badRequest('nothing to change: give at least one field');
  const u: UserUpdate = {};
  if (body.password !== undefined) u.password = checkedPassword(body.password);
  if (body.groups !== undefined) u.groups = checkedGroupList(body.groups);
  if (body.enabled !== undefined) u.enabled = checkedBool(body.enabled, 'enabled');
  if (body.expire !== undefined) u.expire = checkedExpire(body.expire, nowS);
  if (body.email !== undefined) u.email = checkedEmail(body.email);
  if (body.fullname !== undefined) u.fullname = checkedText(body.fullname, 'fullname');
  if (body.comment !== undefined) u.comment = checkedText(body.comment, 'comment');
  return u;
}

export function existingUser(draft: AccessConfig, username: string): UserRecord {
  const u = draft.users.users[username];
  if (!u) throw notFound(`no such user: ${username}`);
  return u;
}

/** `passwordHash` is the hash of upd.password (hashed before the lock is taken). */
export function applyUserUpdate(draft: AccessConfig, username: string, upd: UserUpdate, passwordHash: string | undefined, nowS: number): void {
  const u = existingUser(draft, username);
  if (upd.groups) {
    assertGroupsExist(draft, upd.groups);
    u.groups = upd.groups;
  }
  if (upd.enabled !== undefined) u.enabled = upd.enabled;
  if (upd.expire !== undefined) u.expire = upd.expire;
  for (const k of ['email', 'fullname', 'comment'] as const) {
    if (upd[k] === undefined) continue;
    if (upd[k] === '') delete u[k];
    else u[k] = upd[k];
  }
  if (passwordHash !== undefined) setPassword(u, passwordHash, nowS);
}

/** A new password voids every ticket issued before it. */
export function setPassword(u: UserRecord, passwordHash: string, nowS: number): void {
  u.password = passwordHash;
  u.ticketsSince = nowS;
}

/** Deleting a user removes their ACL entries and API tokens too. */
export function applyUserDelete(draft: AccessConfig, username: string): void {
  existingUser(draft, username);
  const prefix = `${username}!`;
  for (const id of Object.keys(draft.tokens.tokens)) if (id.startsWith(prefix)) delete draft.tokens.tokens[id];
  draft.acl.acl = draft.acl.acl.filter((e) => e.user !== username && !e.token?.startsWith(prefix));
  delete draft.users.users[username];
}

export interface UserView {
  username: string;
  fullname: string;
  email: string;
  comment: string;
  enabled: boolean;
  expire: number;
  groups: string[];
  tokens: number;
}

/** A user as the API shows it: never the password hash. */
export function userView(cfg: AccessConfig, username: string): UserView {
  const u = cfg.users.users[username]!;
  const prefix = `${username}!`;
  return {
    username,
    fullname: u.fullname ?? '',
    email: u.email ?? '',
    comment: u.comment ?? '',
    enabled: u.enabled,
    expire: u.expire,
    groups: [...u.groups],
    tokens: Object.keys(cfg.tokens.tokens).filter((id) => id.startsWith(prefix)).length,
  };
}

// ---- groups ----

export interface GroupCreate {
  group: string;
  comment?: string;
  members?: string[];
}

export function parseGroupCreate(body: Body): GroupCreate {
  only(body, ['group', 'comment', 'members']);
  const g: GroupCreate = { group: checkedGroupName(body.group) };
  if (body.comment !== undefined && body.comment !== '') g.comment = checkedText(body.comment, 'comment');
  if (body.members !== undefined) g.members = checkedUserList(body.members);
  return g;
}

export interface GroupUpdate {
  comment?: string;
  /** The full member list: users not in it leave the group. */
  members?: string[];
}

export function parseGroupUpdate(body: Body): GroupUpdate {
  only(body, ['comment', 'members']);
  if (Object.keys(body).length === 0) throw badRequest('nothing to change: give comment or members');
  const g: GroupUpdate = {};
  if (body.comment !== undefined) g.comment = checkedText(body.comment, 'comment');
  if (body.members !== undefined) g.members = checkedUserList(body.members);
  return g;
}

function setMembers(draft: AccessConfig, group: string, members: readonly string[]): void {
  const missing = members.filter((m) => !draft.users.users[m]);
  if (missing.length > 0) throw invalid('members', `no such user: ${missing.join(', ')}`);
  for (const [name, u] of Object.entries(draft.users.users)) {
    const want = members.includes(name);
    const has = u.groups.includes(group);
    if (want && !has) u.groups = [...u.groups, group].sort();
    if (!want && has) u.groups = u.groups.filter((g) => g !== group);
  }
}

export function applyGroupCreate(draft: AccessConfig, g: GroupCreate): void {
  if (draft.groups.groups[g.group]) throw conflict(`group ${g.group} exists already`);
  draft.groups.groups[g.group] = g.comment ? { comment: g.comment } : {};
  if (g.members) setMembers(draft, g.group, g.members);
}

export function applyGroupUpdate(draft: AccessConfig, group: string, g: GroupUpdate): void {
  const rec = draft.groups.groups[group];
  if (!rec) throw notFound(`no such group: ${group}`);
  if (g.comment !== undefined) {
    if (g.comment === '') delete rec.comment;
    else rec.comment = g.comment;
  }
  if (g.members) setMembers(draft, group, g.members);
}

/** Deleting a group removes its ACL entries and its members' membership. */
export function applyGroupDelete(draft: AccessConfig, group: string): void {
  if (!draft.groups.groups[group]) throw notFound(`no such group: ${group}`);
  draft.acl.acl = draft.acl.acl.filter((e) => e.group !== group);
  setMembers(draft, group, []);
  delete draft.groups.groups[group];
}

/** A group as GET /api/access/groups shows it. */
export interface GroupView {
  group: string;
  comment: string;
  members: string[];
}

export function groupView(cfg: AccessConfig, group: string): GroupView {
  return {
    group,
    comment: cfg.groups.groups[group]?.comment ?? '',
    members: Object.keys(cfg.users.users).filter((u) => cfg.users.users[u]!.groups.includes(group)).sort(),
  };
}

// ---- ACL ----

export type AclPrincipal = { user: string } | { group: string } | { token: string };

export interface AclChange {
  path: string;
  principal: AclPrincipal;
  /** Required to set; optional to delete (then every role of the principal on the path). */
  role?: RoleName;
  propagate: boolean;
}

/**
 * {"path","user"|"group"|"token","role","propagate"?}. Exactly one of user,
 * group, token. `forDelete` makes role optional.
 */
export function parseAclChange(body: Body, forDelete = false): AclChange {
  only(body, ['path', 'user', 'group', 'token', 'role', 'propagate']);
  const path = checkedAclPath(body.path);
  const named = (['user', 'group', 'token'] as const).filter((k) => body[k] !== undefined);
  if (named.length !== 1) throw badRequest('give exactly one of user, group or token');
  const k = named[0]!;
  let principal: AclPrincipal;
  if (k === 'user') principal = { user: checkedUsername(body.user, 'user') };
  else if (k === 'group') principal = { group: checkedGroupName(body.group) };
  else principal = { token: checkedFullTokenId(body.token).join('!') };
  const change: AclChange = { path, principal, propagate: body.propagate === undefined ? true : checkedBool(body.propagate, 'propagate') };
  if (body.role !== undefined || !forDelete) change.role = checkedRole(body.role);
  return change;
}

function sameEntryTarget(e: AclEntry, path: string, p: AclPrincipal): boolean {
  if (e.path !== path) return false;
  if ('user' in p) return e.user === p.user;
  if ('group' in p) return e.group === p.group;
  return e.token === p.token;
}

/**
 * Set the role of a principal on a path: one entry per (path, principal),
 * so granting VMAdmin where VMUser stood replaces it. The principal must
 * exist (400 otherwise). Returns the entry as stored.
 */
export function applyAclSet(draft: AccessConfig, c: AclChange): AclEntry {
  const p = c.principal;
  if ('user' in p && !draft.users.users[p.user]) throw invalid('user', `no such user: ${p.user}`);
  if ('group' in p && !draft.groups.groups[p.group]) throw invalid('group', `no such group: ${p.group}`);
  if ('token' in p && !draft.tokens.tokens[p.token]) throw invalid('token', `no such API token: ${p.token}`);
  const entry: AclEntry = { path: c.path, ...p, role: c.role!, propagate: c.propagate };
  const i = draft.acl.acl.findIndex((e) => sameEntryTarget(e, c.path, p));
  if (i >= 0) draft.acl.acl[i] = entry;
  else draft.acl.acl.push(entry);
  return entry;
}

/** Remove the principal's entry on the path (only with that role, when given); 404 when none. */
export function applyAclDelete(draft: AccessConfig, c: AclChange): AclEntry[] {
  const gone = draft.acl.acl.filter((e) => sameEntryTarget(e, c.path, c.principal) && (!c.role || e.role === c.role));
  if (gone.length === 0) throw notFound(`no such ACL entry on ${c.path}`);
  draft.acl.acl = draft.acl.acl.filter((e) => !gone.includes(e));
  return gone;
}

/** Entries that bear on `path`: its own and those of propagating ancestors (marked inherited). */
/** An ACL entry as GET /api/access/acl shows it (with ?path=, whether it comes from a parent path). */
export type AclEntryView = AclEntry & { propagate: boolean; inherited?: boolean };

export function aclAffecting(acl: readonly AclEntry[], path: string): (AclEntryView & { inherited: boolean })[] {
  const chain = pathAncestors(path);
  return acl
    .filter((e) => e.path === path || (chain.includes(e.path) && e.propagate !== false))
    .map((e) => ({ ...e, propagate: e.propagate !== false, inherited: e.path !== path }));
}

// ---- tokens ----

export interface TokenCreate {
  tokenid: string;
  expire: number;
  privsep: boolean;
  comment?: string;
  /** Another user's token (needs User.Modify on /access). */
  user?: string;
}

export function parseTokenCreate(body: Body, nowS: number): TokenCreate {
  only(body, ['tokenid', 'expire', 'privsep', 'comment', 'user']);
  const t: TokenCreate = {
    tokenid: checkedTokenId(body.tokenid),
    expire: body.expire === undefined ? 0 : checkedExpire(body.expire, nowS),
    privsep: body.privsep === undefined ? false : checkedBool(body.privsep, 'privsep'),
  };
  if (body.comment !== undefined && body.comment !== '') t.comment = checkedText(body.comment, 'comment');
  if (body.user !== undefined) t.user = checkedUsername(body.user, 'user');
  return t;
}

export function applyTokenCreate(draft: AccessConfig, username: string, t: TokenCreate, hash: string, nowS: number): void {
  existingUser(draft, username);
  const id = `${username}!${t.tokenid}`;
  if (draft.tokens.tokens[id]) throw conflict(`API token ${id} exists already`);
  const count = Object.keys(draft.tokens.tokens).filter((k) => k.startsWith(`${username}!`)).length;
  if (count >= TOKENS_PER_USER_MAX) throw conflict(`${username} holds ${TOKENS_PER_USER_MAX} API tokens already; delete one first`);
  const rec: TokenRecord = { hash, expire: t.expire, privsep: t.privsep, created: nowS };
  if (t.comment) rec.comment = t.comment;
  draft.tokens.tokens[id] = rec;
}

/** Deleting a token removes its ACL entries too. */
export function applyTokenDelete(draft: AccessConfig, username: string, tokenid: string): void {
  const id = `${username}!${tokenid}`;
  if (!draft.tokens.tokens[id]) throw notFound(`no such API token: ${id}`);
  delete draft.tokens.tokens[id];
  draft.acl.acl = draft.acl.acl.filter((e) => e.token !== id);
}

/** An API token as GET /api/access/tokens shows it: never its secret or hash. */
export interface TokenView {
  /** "anna!backup" */
  id: string;
  user: string;
  tokenid: string;
  /** Unix seconds; 0 = never. */
  expire: number;
  expired: boolean;
  privsep: boolean;
  comment: string;
  /** Unix seconds. */
  created: number;
}

/** POST /api/access/tokens: the one answer that holds the secret. */
export interface NewToken {
  tokenid: string;
  secret: string;
  id: string;
  user: string;
  expire: number;
  privsep: boolean;
}

export function tokenViews(cfg: AccessConfig, username: string, nowS: number): TokenView[] {
  const prefix = `${username}!`;
  return Object.entries(cfg.tokens.tokens)
    .filter(([id]) => id.startsWith(prefix))
    .map(([id, t]) => ({
      id,
      user: username,
      tokenid: id.slice(prefix.length),
      expire: t.expire,
      expired: t.expire !== 0 && t.expire <= nowS,
      privsep: t.privsep,
      comment: t.comment ?? '',
      created: t.created ?? 0,
    }))
    .sort((a, b) => a.tokenid.localeCompare(b.tokenid));
}
