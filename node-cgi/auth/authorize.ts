/**
 * The node's answer to the CGI kernel's two questions (lib/cgi.ts
 * Authorizer): who sends this request (a ticket cookie or an API token,
 * authenticate.ts), and what may they do (the ACL, access/permissions.ts).
 * Every handler gives it to the kernel:
 *
 *   export const routes: ApiRoute[] = [ … { perm: { path: '/vms/:vmid', priv: 'VM.Audit' } } … ];
 *   if (require.main === module) runCgi(routes, authorizer);
 *
 * A privilege-separated API token holds what both its user and its own ACL
 * entries grant (the intersection).
 */
import type { Authorizer, Caller, Context, Permissions, Route } from '../lib/cgi';
import { hasPrivilege, hasPrivilegeBelow, type Principal } from '../access/permissions';
import type { Privilege } from '../access/privileges';
import { principalOf, readAcl, readUsers } from '../access/store';
import { authenticate } from './authenticate';

/** A route of the node's API: its privileges are the node's. */
export type ApiRoute = Route<Privilege>;
export type ApiContext = Context<Privilege>;

/** What `caller` may do, read from the ACL now. */
export function permissionsFor(caller: Caller): Permissions<Privilege> {
  const acl = readAcl().acl;
  const users = readUsers();
  const subject = principalOf(caller.username, users);
  const token: Principal | null =
    caller.tokenid && caller.privsep ? { username: `${caller.username}!${caller.tokenid}`, groups: [], active: subject.active } : null;
  return {
    can: (path, priv) => hasPrivilege(acl, subject, path, priv) && (!token || hasPrivilege(acl, token, path, priv)),
    canBelow: (path, priv) => hasPrivilegeBelow(acl, subject, path, priv) && (!token || hasPrivilegeBelow(acl, token, path, priv)),
  };
}

export const authorizer: Authorizer<Privilege> = { authenticate: (req) => authenticate(req), permissions: permissionsFor };
