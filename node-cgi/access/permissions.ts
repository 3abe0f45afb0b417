/**
 * Effective permissions: one pure function of the ACL, a principal (a user,
 * or an API token) and a path.
 *
 * An ACL entry { path: "/vms", user: "anna", role: "VMUser", propagate: true }
 * grants VMUser on /vms and, because it propagates, on /vms/101 too. For a
 * given path the deepest path with any entry for the principal (or its
 * groups) decides; at that depth a user (or token) entry beats group
 * entries, and several winning entries add up. There is no built-in
 * superuser: `admin` is an ordinary user holding Administrator on "/".
 *
 *   acl = [{ path: "/", group: "staff", role: "VMAuditor", propagate: true },
 *          { path: "/vms/101", user: "anna", role: "VMUser" }]
 *   privilegesAt(acl, anna∈staff, "/vms/101") → VM.Audit, VM.PowerMgmt, VM.Console
 *   privilegesAt(acl, anna∈staff, "/vms/102") → VM.Audit
 *
 * A token principal is named "anna!backup" and matches entries
 * { token: "anna!backup" }; a privilege-separated token holds what both its
 * user and its own entries grant (the intersection, in lib/cgi.ts).
 */
import { PRIVILEGES, ROLES, isRole, type Privilege, type RoleName } from './privileges';

export interface AclEntry {
  path: string;
  /** Exactly one of user, group, token names who the entry is for. */
  user?: string;
  group?: string;
  /** "anna!backup": an API token of anna. */
  token?: string;
  role: RoleName;
  /** Default true: the grant also holds below `path`. */
  propagate?: boolean;
}

export interface Principal {
  /** A user name, or "user!tokenid" for a token. */
  username: string;
  groups: readonly string[];
  /** False for disabled or expired users (and their tokens): they have nothing. */
  active: boolean;
}

/** The minimal view of a user that permission questions need. */
export interface UserState {
  enabled: boolean;
  /** Unix seconds; 0 = never. */
  expire: number;
  groups: readonly string[];
}

/** "/vms/101" → ["/", "/vms", "/vms/101"] */
export function pathAncestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  const out = ['/'];
  for (let i = 1; i <= parts.length; i++) out.push('/' + parts.slice(0, i).join('/'));
  return out;
}

/** True when the entry names the principal itself (not one of its groups). */
function namesPrincipal(e: AclEntry, who: Principal): boolean {
  return who.username.includes('!') ? e.token === who.username : e.user === who.username;
}

export function privilegesAt(acl: readonly AclEntry[], who: Principal, path: string): Set<Privilege> {
  if (!who.active) return new Set();
  const chain = pathAncestors(path);
  let decided: Set<Privilege> | undefined;
  chain.forEach((p, depth) => {
    const exact = depth === chain.length - 1;
    const here = acl.filter((e) => e.path === p && (exact || e.propagate !== false) && isRole(e.role));
    const mine = here.filter((e) => namesPrincipal(e, who));
    const groups = here.filter((e) => e.group !== undefined && who.groups.includes(e.group));
    const winners = mine.length > 0 ? mine : groups;
    if (winners.length === 0) return;
    decided = new Set(winners.flatMap((e) => [...ROLES[e.role]]));
  });
  return decided ?? new Set();
}

export function hasPrivilege(acl: readonly AclEntry[], who: Principal, path: string, priv: Privilege): boolean {
  return privilegesAt(acl, who, path).has(priv);
}

/** True when `who` holds `priv` on `path` or anywhere below it (for lists and menus). */
export function hasPrivilegeBelow(acl: readonly AclEntry[], who: Principal, path: string, priv: Privilege): boolean {
  if (hasPrivilege(acl, who, path, priv)) return true;
  const prefix = path === '/' ? '/' : path + '/';
  return acl.some((e) => e.path.startsWith(prefix) && hasPrivilege(acl, who, e.path, priv));
}

export function userActive(u: UserState | undefined, nowS: number): boolean {
  return !!u && u.enabled && (u.expire === 0 || u.expire > nowS);
}

/**
 * The users who can repair everything: enabled, never expiring, holding
 * every privilege on "/" and User.Modify on "/access". A change that would
 * leave none of them (when there was one) locks the cluster out and is
 * refused.
 *
 *   users { admin: {enabled, expire: 0} }, acl [{ path: "/", user: "admin", role: "Administrator" }]
 *   → ["admin"]
 */
export function keyholders(users: Readonly<Record<string, UserState>>, acl: readonly AclEntry[]): string[] {
  return Object.entries(users)
    .filter(([, u]) => u.enabled && u.expire === 0)
    .filter(([name, u]) => {
      const who: Principal = { username: name, groups: u.groups, active: true };
      const root = privilegesAt(acl, who, '/');
      return PRIVILEGES.every((p) => root.has(p)) && hasPrivilege(acl, who, '/access', 'User.Modify');
    })
    .map(([name]) => name)
    .sort();
}
