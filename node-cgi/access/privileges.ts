/**
 * Privileges and the built-in roles. A role is a set of privileges; an ACL
 * entry grants a role on a path to a user or a group (see permissions.ts).
 * Every route declares the privilege it needs on which path.
 */

export const PRIVILEGES = [
  'VM.Audit', // see a guest, its config and status
  'VM.PowerMgmt', // start, shutdown, stop, reset, pause, resume
  'VM.Console', // open the guest's console
  'VM.Monitor', // QEMU monitor (HMP can do anything: Administrator only by default)
  'VM.Config', // change a guest's hardware and options
  'VM.Allocate', // create and delete guests
  'VM.Backup', // back up and restore a guest
  'VM.Migrate', // move a guest between nodes
  'Datastore.Audit', // list ISO images, storages and backups
  'Datastore.Upload', // upload and delete ISO images
  'Datastore.Allocate', // configure storages and backup jobs
  'Sys.Audit', // see nodes, tasks of others, the audit log
  'Sys.Modify', // change node and cluster settings
  'User.Modify', // manage users, groups, ACL and others' tokens
] as const;

export type Privilege = (typeof PRIVILEGES)[number];

export const ROLES = {
  Administrator: [...PRIVILEGES],
  VMAdmin: [
    'VM.Audit', 'VM.PowerMgmt', 'VM.Console', 'VM.Config', 'VM.Allocate', 'VM.Backup', 'VM.Migrate',
    'Datastore.Audit',
  ],
  VMUser: ['VM.Audit', 'VM.PowerMgmt', 'VM.Console'],
  VMAuditor: ['VM.Audit'],
  NoAccess: [],
} as const satisfies Record<string, readonly Privilege[]>;

export type RoleName = keyof typeof ROLES;

export function isRole(name: unknown): name is RoleName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(ROLES, name);
}
