import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { privilegesAt, hasPrivilegeBelow, pathAncestors, type AclEntry, type Principal } from '../../../node-cgi/access/permissions';

const anna: Principal = { username: 'anna', groups: ['staff'], active: true };
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
