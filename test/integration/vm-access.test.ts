/**
 * Who may do what with guests: the list shows only guests a user may audit,
 * and every route checks its privilege (VM.Audit, VM.PowerMgmt, VM.Config,
 * VM.Allocate) on /vms/<vmid> or /vms.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { makeClient, type Client } from '../helpers/node';
import { installBootSector } from '../helpers/guest';

const test = suite('guest permissions');
const fx = useNode(test);
let anna: Client; // VMUser on /vms/101 only
let bob: Client; // VMAdmin on /vms
let carl: Client; // no grants
let dora: Client; // VMUser on /vms, NoAccess on /vms/102
const PASSWORD = 'guest-access-pw';

test.before(async () => {
  for (const username of ['anna', 'bob', 'carl', 'dora']) {
    const r = await fx.admin.post('/api/access/users', { username, password: PASSWORD });
    assert.is(r.status, 201, r.text);
  }
  const grants: [string, string, string][] = [
    ['/vms/101', 'anna', 'VMUser'],
    ['/vms', 'bob', 'VMAdmin'],
    ['/vms', 'dora', 'VMUser'],
    ['/vms/102', 'dora', 'NoAccess'],
  ];
  for (const [path, user, role] of grants) {
    const r = await fx.admin.put('/api/access/acl', { path, user, role });
    assert.is(r.status, 200, r.text);
  }
  for (const name of ['a101', 'a102']) {
    const r = await fx.admin.post('/api/vm', { name, memory: 32, disks: [{ size: '1M', format: 'raw' }], nics: [] });
    assert.is(r.status, 201, r.text);
  }
  installBootSector(join(fx.root, 'var/lib/vz/images/101/vm-101-disk-0.raw'), 'raw');
  anna = await fx.node.login('anna', PASSWORD);
  bob = await fx.node.login('bob', PASSWORD);
  carl = await fx.node.login('carl', PASSWORD);
  dora = await fx.node.login('dora', PASSWORD);
});

test('should list only the guests a user may audit', async () => {
  assert.equal((await fx.admin.get('/api/vm')).json.data.map((g: any) => g.vmid), [101, 102]);
  assert.equal((await anna.get('/api/vm')).json.data.map((g: any) => g.vmid), [101]);
  assert.equal((await bob.get('/api/vm')).json.data.map((g: any) => g.vmid), [101, 102]);
  assert.equal((await carl.get('/api/vm')).json.data, []);
});

test('should let a VMUser see and power her guest but not change, create or delete guests', async () => {
  assert.is((await anna.get('/api/vm/101')).status, 200);
  assert.is((await anna.get('/api/vm/102')).status, 403);
  assert.is((await anna.get('/api/vm/999')).status, 403, 'no hint whether a guest she may not see exists');
  const start = await anna.post('/api/vm/101/start');
  assert.is(start.status, 200, start.text);
  assert.is((await anna.post('/api/vm/102/start')).status, 403);
  assert.is((await anna.put('/api/vm/101', { memory: 64 })).status, 403);
  assert.is((await anna.put('/api/vm/101/cdrom', { cdrom: null })).status, 403);
  assert.is((await anna.post('/api/vm/101/disks', { size: '1M' })).status, 403);
  assert.is((await anna.post('/api/vm/101/disks', { size: '64M', replicated: true })).status, 403, 'a replicated disk takes VM.Config too');
  assert.is((await anna.post('/api/vm/101/disks/disk0/replicate')).status, 403, 'so does making a disk replicated');
  assert.is((await anna.post('/api/vm/101/check')).status, 403);
  assert.is((await anna.post('/api/vm', { memory: 32 })).status, 403);
  assert.is((await anna.del('/api/vm/101')).status, 403);
  assert.is((await anna.get('/api/node/testnode/resources')).status, 403);
  assert.is((await anna.post('/api/vm/101/stop')).status, 200);
});

test('should let a VMAdmin on /vms create and delete guests but not change node settings', async () => {
  const r = await bob.post('/api/vm', { name: 'bobs', memory: 32, disks: [], nics: [] });
  assert.is(r.status, 201, r.text);
  assert.is((await bob.put(`/api/vm/${r.json.data.vmid}`, { memory: 48 })).status, 200);
  assert.is((await bob.del(`/api/vm/${r.json.data.vmid}`)).status, 204);
  assert.is((await bob.put('/api/node/testnode/settings', { memoryOvercommit: 2 })).status, 403);
  assert.is((await carl.post('/api/vm', {})).status, 403);
});

test("should drop a deleted guest's ACL entries so a new guest with its VMID is not shared", async () => {
  assert.is((await fx.admin.del('/api/vm/101')).status, 204);
  const acl = (await fx.admin.get('/api/access/acl')).json.data;
  assert.ok(Array.isArray(acl), JSON.stringify(acl));
  assert.not.ok(acl.some((e: any) => e.path === '/vms/101'));
  const audit = readFileSync(join(fx.root, 'var/log/ramvm/audit.log'), 'utf8');
  assert.match(audit, /"action":"acl.delete","object":"\/vms\/101"/);
  assert.is((await fx.admin.post('/api/vm', { vmid: 101, memory: 32, disks: [], nics: [] })).status, 201);
  assert.equal((await anna.get('/api/vm')).json.data, []);
});

test('should not let another spelling of a VMID slip past an ACL entry', async () => {
  assert.equal((await dora.get('/api/vm')).json.data.map((g: any) => g.vmid), [101]);
  assert.is((await dora.get('/api/vm/102')).status, 403);
  assert.is((await dora.post('/api/vm/102/start')).status, 403);
  // "/vms/0102" has no entry of its own and inherits VMUser from /vms: the VMID itself must be refused.
  const r = await dora.post('/api/vm/0102/start');
  assert.is(r.status, 400, r.text);
  assert.is((await fx.admin.get('/api/vm/102')).json.data.status, 'stopped');
});

test('should refuse requests without a ticket or without the CSRF header', async () => {
  assert.is((await fx.node.anon().get('/api/vm')).status, 401);
  const cookieOnly = makeClient(fx.node.url, { cookie: fx.admin.cookie! });
  assert.is((await cookieOnly.get('/api/vm')).status, 200);
  assert.is((await cookieOnly.post('/api/vm/102/start')).status, 401);
  assert.is((await cookieOnly.post('/api/vm', { memory: 32 })).status, 401);
});

test.run();
