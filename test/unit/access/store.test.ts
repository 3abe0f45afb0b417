import { suite } from '../../helpers/suite';
import { useTempRoot } from '../../helpers/temp-root';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { paths } from '../../../node-cgi/lib/paths';
import { HttpError } from '../../../node-cgi/lib/errors';
import { aclFile, groupsFile, readAccess, tokensFile, updateAccess, usersFile } from '../../../node-cgi/access/store';

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
