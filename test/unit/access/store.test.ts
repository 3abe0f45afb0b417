import { suite } from '../../helpers/suite';
import { useTempRoot } from '../../helpers/temp-root';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { paths } from '../../../node-cgi/lib/paths';
import { HttpError } from '../../../node-cgi/lib/errors';
import {
  aclFile, assertKeyholdersKept, groupsFile, readAccess, tokensFile, updateAccess, usersFile, type AccessConfig, type Actor,
} from '../../../node-cgi/access/store';

const U = suite('updateAccess');
useTempRoot(U);

function seed(): void {
  rmSync(paths().etc, { recursive: true, force: true });
  updateAccess((d) => {
    d.users.users.admin = { enabled: true, expire: 0, groups: [], password: 'scrypt$x' };
    d.users.users.anna = { enabled: true, expire: 0, groups: [], password: 'scrypt$y' };
    d.acl.acl.push({ path: '/', user: 'admin', role: 'Administrator', propagate: true });
  });
}

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    assert.instance(e, HttpError);
    return (e as HttpError).status;
  }
  return 0;
}

U.before.each(seed);

U('should write the changed files and leave the others unwritten', () => {
  assert.ok(existsSync(usersFile()));
  assert.ok(existsSync(aclFile()));
  assert.not.ok(existsSync(groupsFile()), 'groups never changed');
  const acl = statSync(aclFile()).ino;
  updateAccess((d) => {
    d.groups.groups.staff = {};
  });
  assert.ok(existsSync(groupsFile()));
  assert.not.ok(existsSync(tokensFile()));
  assert.is(statSync(aclFile()).ino, acl, 'acl.json not rewritten');
});

U('should write nothing when the change throws', () => {
  const before = JSON.stringify(readAccess());
  assert.throws(() =>
    updateAccess((d) => {
      d.users.users.bob = { enabled: true, expire: 0, groups: [], password: 'x' };
      throw new Error('abort');
    }),
    /^abort$/,
  );
  assert.is(JSON.stringify(readAccess()), before);
  assert.equal(readdirSync(paths().etc).filter((f) => f.endsWith('.tmp')), []);
});

U('should keep hashes readable by the owner only', () => {
  updateAccess((d) => {
    d.tokens.tokens['anna!ci'] = { hash: 'ab', expire: 0, privsep: false };
  });
  assert.is(statSync(usersFile()).mode & 0o777, 0o600);
  assert.is(statSync(tokensFile()).mode & 0o777, 0o600);
});

const lockouts: [string, (d: ReturnType<typeof readAccess>) => void][] = [
  ['deleting the last admin', (d) => void delete d.users.users.admin],
  ['disabling the last admin', (d) => void (d.users.users.admin!.enabled = false)],
  ['giving the last admin an expiry', (d) => void (d.users.users.admin!.expire = 4_000_000_000)],
  ['removing the last Administrator entry on /', (d) => void (d.acl.acl = [])],
  ['turning it into a lesser role', (d) => void (d.acl.acl[0]!.role = 'VMAdmin')],
  ['making it stop propagating', (d) => void (d.acl.acl[0]!.propagate = false)],
  ['a NoAccess for the admin on /access', (d) => void d.acl.acl.push({ path: '/access', user: 'admin', role: 'NoAccess' })],
];
for (const [name, change] of lockouts) {
  U(`should refuse ${name} with 409 and write nothing`, () => {
    const before = JSON.stringify(readAccess());
    assert.is(status(() => updateAccess(change)), 409);
    assert.is(JSON.stringify(readAccess()), before);
  });
}

U('should allow removing one admin while another remains', () => {
  updateAccess((d) => void d.acl.acl.push({ path: '/', user: 'anna', role: 'Administrator' }));
  assert.is(status(() => updateAccess((d) => void delete d.users.users.admin)), 0);
  assert.is(status(() => updateAccess((d) => void (d.users.users.anna!.enabled = false))), 409);
});

U('should allow admins through a group, and refuse emptying that group of the last one', () => {
  updateAccess((d) => {
    d.groups.groups.wheel = {};
    d.users.users.anna!.groups = ['wheel'];
    d.acl.acl.push({ path: '/', group: 'wheel', role: 'Administrator' });
  });
  assert.is(status(() => updateAccess((d) => void (d.acl.acl = d.acl.acl.filter((e) => e.user !== 'admin')))), 0);
  assert.is(status(() => updateAccess((d) => void (d.users.users.anna!.groups = []))), 409);
});

U.run();

const K = suite('assertKeyholdersKept');
/**
 * admin: the keyholder. dele: Administrator of guest 101 only (a delegated
 * admin). ua: a user admin (User.Modify on /access), no keyholder. staff: a
 * group admin is in.
 */
function world(): AccessConfig {
  const user = (groups: string[] = []) => ({ enabled: true, expire: 0, groups, password: 'scrypt$x' });
  return {
    users: { users: { admin: user(['staff']), dele: user(), ua: user(), anna: user() } },
    groups: { groups: { staff: {} } },
    acl: {
      acl: [
        { path: '/', user: 'admin', role: 'Administrator', propagate: true },
        { path: '/vms/101', user: 'dele', role: 'Administrator', propagate: true },
        { path: '/access', user: 'ua', role: 'Administrator', propagate: true },
        { path: '/vms/101', user: 'anna', role: 'VMUser', propagate: true },
      ],
    },
    tokens: { tokens: { 'admin!cli': { hash: 'h', expire: 0, privsep: false } } },
  };
}
// [change, by, refusal (null: allowed), why]
const KEPT: [(d: AccessConfig) => void, Actor, RegExp | null, string][] = [
  [(d) => d.acl.acl.push({ path: '/vms/101', user: 'admin', role: 'NoAccess', propagate: true }), { username: 'dele' },
    /^refused: it would take every privilege on \/vms\/101 from admin, who holds the keys/, 'NoAccess for admin on the delegate\'s guest (finding 3)'],
  [(d) => d.acl.acl.push({ path: '/vms/101', user: 'admin', role: 'VMAuditor', propagate: true }), { username: 'dele' },
    /take .*VM\.PowerMgmt.* on \/vms\/101 from admin/, 'a lesser role is a loss too'],
  [(d) => d.acl.acl.push({ path: '/vms/101', group: 'staff', role: 'NoAccess', propagate: true }), { username: 'dele' },
    /on \/vms\/101 from admin/, 'NoAccess for a group admin is in: a deeper entry of a group wins'],
  [(d) => { d.acl.acl[0]!.propagate = false; }, { username: 'ua' },
    /take every privilege on \/ \(below it\) from admin/, 'the keyholder\'s entry on / made non-propagating takes everything below'],
  [(d) => { d.users.users.admin!.enabled = false; }, { username: 'ua' }, /it would change the account of admin/, 'a user admin disables the keyholder'],
  [(d) => { d.users.users.admin!.password = 'scrypt$mine'; }, { username: 'ua' }, /account of admin/, 'a user admin sets the keyholder\'s password'],
  [(d) => { delete d.users.users.admin; }, { username: 'ua' }, /account of admin/, 'a user admin deletes the keyholder'],
  [(d) => { d.users.users.admin!.groups = []; }, { username: 'ua' }, /account of admin/, 'takes the keyholder out of a group'],
  [(d) => { d.tokens.tokens['admin!mine'] = { hash: 'h2', expire: 0, privsep: false }; }, { username: 'ua' }, /API tokens of admin/, 'a token for the keyholder, whose secret the maker knows'],
  [(d) => { delete d.tokens.tokens['admin!cli']; }, { username: 'ua' }, /API tokens of admin/, 'deletes the keyholder\'s token'],
  [(d) => d.acl.acl.push({ path: '/vms/101', user: 'admin', role: 'NoAccess', propagate: true }), { username: 'admin', privsep: true },
    /from admin/, 'the keyholder\'s own privilege-separated token is no keyholder'],
  [(d) => d.acl.acl.push({ path: '/vms/101', user: 'anna', role: 'NoAccess', propagate: true }), { username: 'dele' }, null, 'NoAccess for another user'],
  [(d) => d.acl.acl.push({ path: '/vms/101', user: 'admin', role: 'Administrator', propagate: true }), { username: 'dele' }, null, 'granting the keyholder what it holds takes nothing'],
  [(d) => { d.users.users.anna!.enabled = false; }, { username: 'ua' }, null, 'a user admin disables another user'],
  [(d) => d.acl.acl.push({ path: '/vms/101', user: 'admin', role: 'NoAccess', propagate: true }), { username: 'admin' }, null, 'a keyholder restricts itself'],
  [(d) => { d.users.users.admin!.sessions = 1; }, { username: 'admin' }, null, 'a keyholder logs out'],
];
for (const [change, by, refusal, why] of KEPT) {
  K(`should ${refusal ? 'refuse' : 'allow'} ${why}`, () => {
    const before = world();
    const after = structuredClone(before);
    change(after);
    if (!refusal) return assertKeyholdersKept(before, after, by);
    try {
      assertKeyholdersKept(before, after, by);
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).status, 403);
      assert.match((e as HttpError).message, refusal);
      return;
    }
    assert.unreachable('allowed');
  });
}
K.run();
