import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { privilegesAt, hasPrivilegeBelow, keyholders, pathAncestors, userActive, type AclEntry, type Principal, type UserState } from '../../../node-cgi/access/permissions';
import { PRIVILEGES, ROLES } from '../../../node-cgi/access/privileges';

const anna: Principal = { username: 'anna', groups: ['staff'], active: true };
function tokenOf(id: string): Principal {
  return { username: id, groups: [], active: true };
}
const P = suite('privilegesAt');

const cases: [string, AclEntry[], Principal, string, string[]][] = [
  ['no entries: nothing', [], anna, '/vms/101', []],
  ['user entry on the object', [{ path: '/vms/101', user: 'anna', role: 'VMUser' }], anna, '/vms/101', ['VM.Audit', 'VM.PowerMgmt', 'VM.Console']],
  ['entry on another object does not leak', [{ path: '/vms/101', user: 'anna', role: 'VMUser' }], anna, '/vms/102', []],
  ['propagating parent grants below', [{ path: '/vms', user: 'anna', role: 'VMAuditor', propagate: true }], anna, '/vms/7', ['VM.Audit']],
  ['non-propagating parent grants only itself', [{ path: '/vms', user: 'anna', role: 'VMAuditor', propagate: false }], anna, '/vms/7', []],
  ['non-propagating entry still holds on its own path', [{ path: '/vms', user: 'anna', role: 'VMAuditor', propagate: false }], anna, '/vms', ['VM.Audit']],
  ['deeper path beats parent (even when fewer rights)', [
    { path: '/', user: 'anna', role: 'Administrator' },
    { path: '/vms/101', user: 'anna', role: 'VMAuditor' },
  ], anna, '/vms/101', ['VM.Audit']],
  ['user entry beats group entry at the same depth', [
    { path: '/vms/101', group: 'staff', role: 'VMAdmin' },
    { path: '/vms/101', user: 'anna', role: 'VMAuditor' },
  ], anna, '/vms/101', ['VM.Audit']],
  ['group entry applies to members', [{ path: '/vms', group: 'staff', role: 'VMAuditor' }], anna, '/vms/5', ['VM.Audit']],
  ['group entry does not apply to others', [{ path: '/vms', group: 'ops', role: 'VMAuditor' }], anna, '/vms/5', []],
  ['disabled user has nothing', [{ path: '/', user: 'anna', role: 'Administrator' }], { ...anna, active: false }, '/vms/1', []],
  ['NoAccess below a grant takes it away', [
    { path: '/vms', user: 'anna', role: 'VMUser' },
    { path: '/vms/9', user: 'anna', role: 'NoAccess' },
  ], anna, '/vms/9', []],
  ['unknown role in the file is ignored', [{ path: '/', user: 'anna', role: 'Wizard' as never }], anna, '/', []],
  ['deeper group entry beats a user entry on the parent', [
    { path: '/vms', user: 'anna', role: 'VMAdmin' },
    { path: '/vms/101', group: 'staff', role: 'VMAuditor' },
  ], anna, '/vms/101', ['VM.Audit']],
  ['two group entries at the same depth add up', [
    { path: '/', group: 'staff', role: 'VMAuditor' },
    { path: '/', group: 'ops', role: 'Auditor' },
  ], { ...anna, groups: ['staff', 'ops'] }, '/iso', ['VM.Audit', 'Datastore.Audit', 'Sys.Audit']],
  ['a non-propagating entry on the parent leaves the deeper decision to the parent above it', [
    { path: '/', user: 'anna', role: 'VMUser' },
    { path: '/vms', user: 'anna', role: 'NoAccess', propagate: false },
  ], anna, '/vms/3', ['VM.Audit', 'VM.PowerMgmt', 'VM.Console']],
  ['a user entry does not apply to a token of the user', [{ path: '/', user: 'anna', role: 'Administrator' }], tokenOf('anna!ci'), '/vms/1', []],
  ['a token entry applies to the token', [{ path: '/vms/101', token: 'anna!ci', role: 'VMUser' }], tokenOf('anna!ci'), '/vms/101', ['VM.Audit', 'VM.PowerMgmt', 'VM.Console']],
  ['a token entry does not apply to the user', [{ path: '/vms/101', token: 'anna!ci', role: 'VMUser' }], anna, '/vms/101', []],
  ["a token entry does not apply to the user's other token", [{ path: '/vms/101', token: 'anna!ci', role: 'VMUser' }], tokenOf('anna!cd'), '/vms/101', []],
  ['a user named like a token gets nothing from token entries', [{ path: '/', token: 'anna!ci', role: 'Administrator' }], { username: 'anna', groups: [], active: true }, '/', []],
];

for (const [name, acl, who, path, want] of cases) {
  P(`should give ${name}`, () => {
    assert.equal([...privilegesAt(acl, who, path)].sort(), [...want].sort());
  });
}
P.run();

const A = suite('pathAncestors');
A('should list root first and the path last', () => {
  assert.equal(pathAncestors('/vms/101'), ['/', '/vms', '/vms/101']);
  assert.equal(pathAncestors('/'), ['/']);
});
A.run();

const B = suite('hasPrivilegeBelow');
B('should be true when the privilege is held on any child', () => {
  const acl: AclEntry[] = [{ path: '/vms/101', user: 'anna', role: 'VMUser' }];
  assert.ok(hasPrivilegeBelow(acl, anna, '/vms', 'VM.Audit'));
  assert.not.ok(hasPrivilegeBelow(acl, anna, '/vms', 'VM.Config'));
  assert.not.ok(hasPrivilegeBelow(acl, anna, '/iso', 'VM.Audit'));
});
B.run();

const K = suite('keyholders');
const admin: UserState = { enabled: true, expire: 0, groups: [] };
const ADMIN_ACL: AclEntry[] = [{ path: '/', user: 'admin', role: 'Administrator' }];
const kcases: [string, Record<string, UserState>, AclEntry[], string[]][] = [
  ['the first admin', { admin }, ADMIN_ACL, ['admin']],
  ['nobody without entries', { admin }, [], []],
  ['not a disabled admin', { admin: { ...admin, enabled: false } }, ADMIN_ACL, []],
  ['not an admin with an expiry (it will lapse)', { admin: { ...admin, expire: 4_000_000_000 } }, ADMIN_ACL, []],
  ['a member of a group holding Administrator on /', { bob: { ...admin, groups: ['wheel'] } }, [{ path: '/', group: 'wheel', role: 'Administrator' }], ['bob']],
  ['not an admin whose own entry on / is lesser than the group one', { bob: { ...admin, groups: ['wheel'] } }, [
    { path: '/', group: 'wheel', role: 'Administrator' },
    { path: '/', user: 'bob', role: 'VMAdmin' },
  ], []],
  ['not an admin whose grant on / does not propagate (no User.Modify on /access)', { admin }, [{ path: '/', user: 'admin', role: 'Administrator', propagate: false }], []],
  ['not an admin shut out of /access', { admin }, [...ADMIN_ACL, { path: '/access', user: 'admin', role: 'NoAccess' }], []],
  ['still an admin shut out of one guest', { admin }, [...ADMIN_ACL, { path: '/vms/101', user: 'admin', role: 'NoAccess' }], ['admin']],
  ['not a user holding Administrator on /vms only', { admin }, [{ path: '/vms', user: 'admin', role: 'Administrator' }], []],
  ['several, sorted', { zed: admin, admin }, [...ADMIN_ACL, { path: '/', user: 'zed', role: 'Administrator' }], ['admin', 'zed']],
];
for (const [name, users, acl, want] of kcases) {
  K(`should find ${name}`, () => assert.equal(keyholders(users, acl), want));
}
K.run();

const U = suite('userActive');
U('should be false for a missing, disabled or expired user and true otherwise', () => {
  const now = 1_800_000_000;
  assert.not.ok(userActive(undefined, now));
  assert.not.ok(userActive({ ...admin, enabled: false }, now));
  assert.not.ok(userActive({ ...admin, expire: now }, now));
  assert.ok(userActive({ ...admin, expire: now + 1 }, now));
  assert.ok(userActive(admin, now));
});
U.run();

const R = suite('ROLES');
R('should give Administrator every privilege and keep the others within it', () => {
  assert.equal([...ROLES.Administrator].sort(), [...PRIVILEGES].sort());
  for (const privs of Object.values(ROLES)) for (const p of privs) assert.ok(PRIVILEGES.includes(p));
});
R('should keep VMUser and VMAuditor away from config, deletion and the monitor', () => {
  for (const role of [ROLES.VMUser, ROLES.VMAuditor] as readonly (readonly string[])[]) {
    for (const p of ['VM.Config', 'VM.Allocate', 'VM.Monitor', 'User.Modify']) assert.not.ok(role.includes(p), p);
  }
  assert.not.ok((ROLES.VMAuditor as readonly string[]).includes('VM.PowerMgmt'));
});
R.run();
