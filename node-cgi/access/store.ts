/**
 * The access configuration on disk, one file each under etc/ramvm:
 *
 *   users.json  { "users": { "anna": { "enabled": true, "expire": 0, "groups": ["staff"],
 *                                      "password": "scrypt$…", "email": "…", "fullname": "…",
 *                                      "ticketsSince": 1767225600 } } }
 *   groups.json { "groups": { "staff": { "comment": "…" } } }
 *   acl.json    { "acl": [ { "path": "/vms/101", "user": "anna", "role": "VMUser", "propagate": true } ] }
 *   tokens.json { "tokens": { "anna!backup": { "hash": "<sha256 hex>", "expire": 0, "privsep": true,
 *                                              "created": 1767225600 } } }
 *
 * Every change goes through updateAccess(): one lock ("access") over all
 * four files, so a change that reads one file and writes another (deleting a
 * user removes their ACL entries and tokens) never races another change.
 * Only files that changed are written, in the order tokens → acl → users →
 * groups, so a crash between two writes leaves references removed before
 * what they referred to: never an ACL entry that a re-created user of the
 * same name would inherit. The same transaction refuses any change that
 * leaves no keyholder (permissions.ts) when there was one.
 */
import { paths } from '../lib/paths';
import { readJson, withLock, writeJsonAtomic } from '../lib/store';
import { conflict } from '../lib/errors';
import { keyholders, userActive as activeAt, type AclEntry, type Principal } from './permissions';

export interface UserRecord {
  enabled: boolean;
  /** Unix seconds; 0 = never. */
  expire: number;
  groups: string[];
  password: string;
  email?: string;
  fullname?: string;
  comment?: string;
  /** Unix seconds; tickets issued before are void (set at creation and on every password change). */
  ticketsSince?: number;
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
  /** sha256 of the secret, hex. */
  hash: string;
  /** Unix seconds; 0 = never. */
  expire: number;
  privsep: boolean;
  comment?: string;
  /** Unix seconds. */
  created?: number;
}
export interface TokensFile {
  /** Keyed "user!tokenid". */
  tokens: Record<string, TokenRecord>;
}

export interface AccessConfig {
  users: UsersFile;
  groups: GroupsFile;
  acl: AclFile;
  tokens: TokensFile;
}

export const usersFile = () => paths().users;
export const groupsFile = () => paths().groups;
export const aclFile = () => paths().acl;
export const tokensFile = () => paths().tokens;

export const readUsers = (): UsersFile => readJson<UsersFile>(usersFile(), { users: {} });
export const readGroups = (): GroupsFile => readJson<GroupsFile>(groupsFile(), { groups: {} });
export const readAcl = (): AclFile => readJson<AclFile>(aclFile(), { acl: [] });
export const readTokens = (): TokensFile => readJson<TokensFile>(tokensFile(), { tokens: {} });

export function readAccess(): AccessConfig {
  return { users: readUsers(), groups: readGroups(), acl: readAcl(), tokens: readTokens() };
}

/** The one lock that guards all access files. */
export const ACCESS_LOCK = 'access';
/**
 * Waiting longer than the store's default: a burst of user creations queues
 * behind one another, each holding the lock for two fsyncs (~11 ms here),
 * and a busy node stretches that; a late answer beats a 503.
 */
export const ACCESS_LOCK_TIMEOUT_MS = 30_000;

/** Write order and file mode: hashes stay readable by the node's own user only. */
const FILES: readonly [keyof AccessConfig, () => string, number][] = [
  ['tokens', tokensFile, 0o600],
  ['acl', aclFile, 0o640],
  ['users', usersFile, 0o600],
  ['groups', groupsFile, 0o640],
];

/**
 * Read-modify-write of the access configuration under its lock. `fn`
 * mutates the draft and may throw to abort (nothing is written). Throws 409
 * when the result would leave no keyholder.
 */
export function updateAccess<T>(fn: (draft: AccessConfig) => T): T {
  return withLock(ACCESS_LOCK, () => {
    const before = readAccess();
    const draft = structuredClone(before);
    const result = fn(draft);
    assertNoLockout(before, draft);
    for (const [key, file, mode] of FILES) {
      if (JSON.stringify(before[key]) !== JSON.stringify(draft[key])) writeJsonAtomic(file(), draft[key], mode);
    }
    return result;
  }, ACCESS_LOCK_TIMEOUT_MS);
}

/** 409 when `after` has no keyholder but `before` had one. */
export function assertNoLockout(before: AccessConfig, after: AccessConfig): void {
  const had = keyholders(before.users.users, before.acl.acl);
  if (had.length === 0) return;
  if (keyholders(after.users.users, after.acl.acl).length > 0) return;
  throw conflict(
    `refused: no enabled, never-expiring user would hold Administrator on "/" any more (now: ${had.join(', ')}); ` +
      'grant it to another user first',
  );
}

export function userActive(u: UserRecord | undefined, nowS = Math.floor(Date.now() / 1000)): boolean {
  return activeAt(u, nowS);
}

export function principalOf(username: string, users: UsersFile, nowS?: number): Principal {
  const u = users.users[username];
  return { username, groups: u?.groups ?? [], active: userActive(u, nowS) };
}
