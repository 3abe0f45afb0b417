/**
 * Effective permissions: one pure function of the ACL, the user and a path.
 *
 * An ACL entry { path: "/vms", user: "anna", role: "VMUser", propagate: true }
 * grants VMUser on /vms and, because it propagates, on /vms/101 too. For a
 * given path the deepest path with any entry for the user (or their groups)
 * decides; at that depth a user entry beats group entries. The special user
 * "root@pam"-like superuser does not exist: `admin` is an ordinary user that
 * holds Administrator on "/".
 *
 *   acl = [{ path: "/", group: "staff", role: "VMAuditor", propagate: true },
 *          { path: "/vms/101", user: "anna", role: "VMUser" }]
 *   privilegesAt(acl, anna∈staff, "/vms/101") → VM.Audit, VM.PowerMgmt, VM.Console
 *   privilegesAt(acl, anna∈staff, "/vms/102") → VM.Audit
 */
import { ROLES, isRole, type Privilege, type RoleName } from './privileges';

export interface AclEntry {
  path: string;
  user?: string;
  group?: string;
  role: RoleName;
  /** Default true: the grant also holds below `path`. */
  propagate?: boolean;
}

export interface Principal {
  username: string;
  groups: readonly string[];
  /** False for disabled or expired users: they have nothing. */
  active: boolean;
}

/** "/vms/101" → ["/", "/vms", "/vms/101"] */
export function pathAncestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  const out = ['/'];
  for (let i = 1; i <= parts.length; i++) out.push('/' + parts.slice(0, i).join('/'));
  return out;
}

export function privilegesAt(acl: readonly AclEntry[], who: Principal, path: string): Set<Privilege> {
  if (!who.active) return new Set();
  const chain = pathAncestors(path);
  let decided: Set<Privilege> | undefined;
  chain.forEach((p, depth) => {
    const exact = depth === chain.length - 1;
    const here = acl.filter((e) => e.path === p && (exact || e.propagate !== false) && isRole(e.role));
    const mine = here.filter((e) => e.user === who.username);
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
