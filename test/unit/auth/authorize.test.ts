import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { useTempRoot } from '../../helpers/temp-root';
import { paths } from '../../../node-cgi/lib/paths';
import { permissionsFor } from '../../../node-cgi/auth/authorize';


/** anna may use guest 101 (VMUser) and see all guests (VMAuditor on /vms); her token "ro" was granted VMAuditor on /vms/101 only. */
function writeFixture(): void {
  mkdirSync(paths().etc, { recursive: true });
  for (const f of [paths().users, paths().acl, paths().tokens, paths().groups]) rmSync(f, { force: true });
  writeFileSync(paths().users, JSON.stringify({ users: { anna: { enabled: true, expire: 0, groups: [], password: 'x' } } }));
  writeFileSync(paths().acl, JSON.stringify({
    acl: [
      { path: '/vms', user: 'anna', role: 'VMAuditor' },
      { path: '/vms/101', user: 'anna', role: 'VMUser' },
      { path: '/vms/101', token: 'anna!ro', role: 'VMAuditor' },
    ],
  }));
}

const P = suite('permissionsFor');
useTempRoot(P);
P.before(writeFixture);
P('should give a user what the ACL grants her', () => {
  const p = permissionsFor({ username: 'anna', via: 'ticket' });
  assert.ok(p.can('/vms/101', 'VM.PowerMgmt'));
  assert.ok(p.can('/vms/102', 'VM.Audit'));
  assert.not.ok(p.can('/vms/102', 'VM.PowerMgmt'));
  assert.ok(p.canBelow('/', 'VM.PowerMgmt'));
});
P('should give a token without privilege separation what its user holds', () => {
  const p = permissionsFor({ username: 'anna', tokenid: 'ro', privsep: false, via: 'token' });
  assert.ok(p.can('/vms/101', 'VM.PowerMgmt'));
});
P('should give a privilege-separated token only what both its user and its own entries grant', () => {
  const p = permissionsFor({ username: 'anna', tokenid: 'ro', privsep: true, via: 'token' });
  assert.ok(p.can('/vms/101', 'VM.Audit'), 'both grant VM.Audit on 101');
  assert.not.ok(p.can('/vms/101', 'VM.PowerMgmt'), 'only the user holds VM.PowerMgmt');
  assert.not.ok(p.can('/vms/102', 'VM.Audit'), 'only the user holds anything on 102');
  assert.not.ok(p.canBelow('/', 'VM.PowerMgmt'));
});
P('should give an unknown user nothing', () => {
  assert.not.ok(permissionsFor({ username: 'nobody', via: 'ticket' }).can('/vms/101', 'VM.Audit'));
});
P.run();
