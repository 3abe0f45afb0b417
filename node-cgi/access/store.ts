/**
 * The access configuration on disk, one file each under etc/ramvm:
 *
 *   users.json  { "users": { "anna": { "enabled": true, "expire": 0, "groups": ["staff"],
 *                                      "password": "scrypt$…", "email": "…", "fullname": "…" } } }
 *   groups.json { "groups": { "staff": { "comment": "…" } } }
 *   acl.json    { "acl": [ { "path": "/vms/101", "user": "anna", "role": "VMUser", "propagate": true } ] }
 *   tokens.json { "tokens": { "anna!backup": { "hash": "<sha256 hex>", "expire": 0, "privsep": true } } }
 */
import { join } from 'node:path';
import { paths } from '../lib/paths';
import { readJson } from '../lib/store';
import type { AclEntry, Principal } from './permissions';

export interface UserRecord {
  enabled: boolean;
  /** Unix seconds; 0 = never. */
  expire: number;
  groups: string[];
  password: string;
  email?: string;
  fullname?: string;
  comment?: string;
}

export interface UsersFile {
  users: Record<string, UserRecord>;
}
export interface GroupsFile {
  groups: Record<string, { comment?: string }>;
}
export interface AclFile {
  acl: AclEntry[];
}
export interface TokenRecord {
  hash: string;
  expire: number;
  privsep: boolean;
  comment?: string;
}
export interface TokensFile {
  tokens: Record<string, TokenRecord>;
}

export const usersFile = () => join(paths().etc, 'users.json');
export const groupsFile = () => join(paths().etc, 'groups.json');
export const aclFile = () => join(paths().etc, 'acl.json');
export const tokensFile = () => join(paths().etc, 'tokens.json');

export const readUsers = (): UsersFile => readJson<UsersFile>(usersFile(), { users: {} });
export const readGroups = (): GroupsFile => readJson<GroupsFile>(groupsFile(), { groups: {} });
export const readAcl = (): AclFile => readJson<AclFile>(aclFile(), { acl: [] });
export const readTokens = (): TokensFile => readJson<TokensFile>(tokensFile(), { tokens: {} });

export function userActive(u: UserRecord | undefined, nowS = Math.floor(Date.now() / 1000)): boolean {
  return !!u && u.enabled && (u.expire === 0 || u.expire > nowS);
}

export function principalOf(username: string, users: UsersFile, nowS?: number): Principal {
  const u = users.users[username];
  return { username, groups: u?.groups ?? [], active: userActive(u, nowS) };
}
