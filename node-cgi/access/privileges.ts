/**
 * Privileges and the built-in roles. A role is a set of privileges; an ACL
 * entry grants a role on a path to a user, a group or an API token (see
 * permissions.ts). Every route declares the privilege it needs on which
 * path; docs/API.md lists the same table.
 *
 *   ROLES.VMUser → ["VM.Audit", "VM.PowerMgmt", "VM.Console"]
 */

/** Every privilege with what it allows, in the order the docs list them. */
export const PRIVILEGE_INFO = {
  'VM.Audit': 'see a guest, its configuration and status',
  'VM.PowerMgmt': 'start, shut down, stop, reset, pause and resume a guest',
  'VM.Console': "open a guest's console",
  'VM.Monitor': "use a guest's QEMU monitor: its read-only commands (every other command needs Sys.Modify on / too)",
  'VM.Config': "change a guest's hardware and options",
  'VM.Allocate': 'create and delete guests',
  'VM.Backup': 'back up and restore a guest',
  'VM.Migrate': 'move a guest between nodes',
  'Datastore.Audit': 'list ISO images, storages and backups',
  'Datastore.Upload': 'upload and delete ISO images',
  'Datastore.Allocate': 'configure storages and backup jobs',
  'Sys.Audit': "see nodes, other users' tasks, users, the ACL and the audit log",
  'Sys.Modify': 'change node and cluster settings',
  'User.Modify': "manage users, groups, ACL entries and others' API tokens",
} as const;

export type Privilege = keyof typeof PRIVILEGE_INFO;

export const PRIVILEGES = Object.keys(PRIVILEGE_INFO) as Privilege[];

export const ROLES = {
  Administrator: [...PRIVILEGES],
  VMAdmin: [
    'VM.Audit', 'VM.PowerMgmt', 'VM.Console', 'VM.Config', 'VM.Allocate', 'VM.Backup', 'VM.Migrate',
    'Datastore.Audit',
  ],
  VMUser: ['VM.Audit', 'VM.PowerMgmt', 'VM.Console'],
  VMAuditor: ['VM.Audit'],
  Auditor: ['VM.Audit', 'Datastore.Audit', 'Sys.Audit'],
  NoAccess: [],
} as const satisfies Record<string, readonly Privilege[]>;

export type RoleName = keyof typeof ROLES;

export const ROLE_INFO: Record<RoleName, string> = {
  Administrator: 'everything',
  VMAdmin: 'configure, power, console, back up, migrate, create and delete guests',
  VMUser: 'power and console of guests',
  VMAuditor: 'view guests only',
  Auditor: 'view everything, change nothing',
  NoAccess: 'nothing; takes away what a parent path grants',
};

export function isRole(name: unknown): name is RoleName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(ROLES, name);
}

export function isPrivilege(name: unknown): name is Privilege {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(PRIVILEGE_INFO, name);
}
