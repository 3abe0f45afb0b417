/**
 * web/client.ts as data: each call of the client becomes the request a
 * recording transport sees (method, path, body), names encoded; and the
 * URLs the browser loads itself. The real transport (web/api.ts) has its
 * own tests, and test/browser drives both against a real node.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { createClient, query, urls, type Client, type Method } from '../../../web/client';

interface Sent {
  method: Method;
  path: string;
  body?: unknown;
}

/** A client whose every call resolves to the request it would send. */
const recorder: Client = createClient(async <T>(method: Method, path: string, body?: unknown) => ({ method, path, ...(body === undefined ? {} : { body }) }) as T);
const sent = (p: Promise<unknown>) => p as Promise<Sent>;

const calls = suite('createClient');

const ID = 'local:101:20261125T220000Z';
const CALLS: Array<[string, (c: Client) => Promise<unknown>, Sent]> = [
  ['vms.list', (c) => c.vms.list(), { method: 'GET', path: '/api/vm' }],
  ['vms.get', (c) => c.vms.get(101), { method: 'GET', path: '/api/vm/101' }],
  ['vms.check', (c) => c.vms.check({ name: 'x' }), { method: 'POST', path: '/api/vm?dryrun=1', body: { name: 'x' } }],
  ['vms.update', (c) => c.vms.update(101, { onboot: true }), { method: 'PUT', path: '/api/vm/101', body: { onboot: true } }],
  ['vms.setCdrom', (c) => c.vms.setCdrom(101, null), { method: 'PUT', path: '/api/vm/101/cdrom', body: { cdrom: null } }],
  ['vms.power', (c) => c.vms.power(101, 'reset'), { method: 'POST', path: '/api/vm/101/reset' }],
  ['vms.start', (c) => c.vms.start(101), { method: 'POST', path: '/api/vm/101/start' }],
  ['vms.stop', (c) => c.vms.stop(102), { method: 'POST', path: '/api/vm/102/stop' }],
  ['vms.remove', (c) => c.vms.remove(101), { method: 'DELETE', path: '/api/vm/101' }],
  ['vms.addDisk replicated', (c) => c.vms.addDisk(101, { size: '64M', format: 'raw', replicated: true }), {
    method: 'POST', path: '/api/vm/101/disks', body: { size: '64M', format: 'raw', replicated: true },
  }],
  ['vms.replicateDisk, no body', (c) => c.vms.replicateDisk(101, 'disk1'), { method: 'POST', path: '/api/vm/101/disks/disk1/replicate' }],
  ['vms.update back to the node\'s accelerator', (c) => c.vms.update(101, { accel: null }), { method: 'PUT', path: '/api/vm/101', body: { accel: null } }],
  ['nodes.resources', (c) => c.nodes.resources('pve1'), { method: 'GET', path: '/api/node/pve1/resources' }],
  ['nodes.settings', (c) => c.nodes.settings('pve 1'), { method: 'GET', path: '/api/node/pve%201/settings' }],
  ['nodes.setSettings', (c) => c.nodes.setSettings('pve1', { accel: 'tcg' }), { method: 'PUT', path: '/api/node/pve1/settings', body: { accel: 'tcg' } }],
  ['isos.remove encodes the name', (c) => c.isos.remove('a+b #1.iso'), { method: 'DELETE', path: '/api/iso/a%2Bb%20%231.iso' }],
  ['storages.list', (c) => c.storages.list(), { method: 'GET', path: '/api/storage' }],
  ['backups.list without a filter', (c) => c.backups.list(), { method: 'GET', path: '/api/backup' }],
  ['backups.list by guest and storage', (c) => c.backups.list({ vmid: 101, storage: 'nas 1' }), { method: 'GET', path: '/api/backup?vmid=101&storage=nas+1' }],
  ['backups.list leaves out an empty filter', (c) => c.backups.list({ vmid: '', storage: 'local' }), { method: 'GET', path: '/api/backup?storage=local' }],
  ['backups.get encodes the id', (c) => c.backups.get(ID), { method: 'GET', path: '/api/backup/local%3A101%3A20261125T220000Z' }],
  ['backups.log', (c) => c.backups.log(ID), { method: 'GET', path: '/api/backup/local%3A101%3A20261125T220000Z/log' }],
  ['backups.run', (c) => c.backups.run({ vmid: 101, storage: 'local', mode: 'snapshot', compress: 'zstd' }), {
    method: 'POST', path: '/api/backup/run', body: { vmid: 101, storage: 'local', mode: 'snapshot', compress: 'zstd' },
  }],
  ['backups.restore', (c) => c.backups.restore(ID, { vmid: 105 }), { method: 'POST', path: '/api/backup/local%3A101%3A20261125T220000Z/restore', body: { vmid: 105 } }],
  ['backups.boot', (c) => c.backups.boot(ID), { method: 'POST', path: '/api/backup/local%3A101%3A20261125T220000Z/boot', body: {} }],
  ['backups.bootcheck', (c) => c.backups.bootcheck(ID), { method: 'GET', path: '/api/backup/local%3A101%3A20261125T220000Z/bootcheck' }],
  ['backups.checkBoot', (c) => c.backups.checkBoot(ID), { method: 'POST', path: '/api/backup/local%3A101%3A20261125T220000Z/bootcheck', body: {} }],
  ['backups.alerts', (c) => c.backups.alerts(), { method: 'GET', path: '/api/backup/alerts' }],
  ['backups.acknowledge some', (c) => c.backups.acknowledge(['t1']), { method: 'POST', path: '/api/backup/alerts/ack', body: { tasks: ['t1'] } }],
  ['backups.acknowledge all', (c) => c.backups.acknowledge(), { method: 'POST', path: '/api/backup/alerts/ack', body: {} }],
  ['backups.jobs.get encodes the id', (c) => c.backups.jobs.get('night/ly'), { method: 'GET', path: '/api/backup/jobs/night%2Fly' }],
  ['backups.jobs.update', (c) => c.backups.jobs.update('nightly', { enabled: false }), { method: 'PUT', path: '/api/backup/jobs/nightly', body: { enabled: false } }],
  ['backups.jobs.run', (c) => c.backups.jobs.run('nightly'), { method: 'POST', path: '/api/backup/jobs/nightly/run' }],
  ['backups.jobs.remove', (c) => c.backups.jobs.remove('nightly'), { method: 'DELETE', path: '/api/backup/jobs/nightly' }],
  ['restores.list', (c) => c.restores.list(), { method: 'GET', path: '/api/restore' }],
  ['restores.link', (c) => c.restores.link(9001, false), { method: 'POST', path: '/api/restore/9001/link', body: { up: false } }],
  ['restores.keep', (c) => c.restores.keep(9001), { method: 'POST', path: '/api/restore/9001/keep', body: {} }],
  ['tasks.list', (c) => c.tasks.list(100), { method: 'GET', path: '/api/task?limit=100' }],
  ['tasks.get encodes the id', (c) => c.tasks.get('UPID:a/b'), { method: 'GET', path: '/api/task/UPID%3Aa%2Fb' }],
  ['tasks.log', (c) => c.tasks.log('t1', 2000), { method: 'GET', path: '/api/task/t1/log?tail=2000' }],
  ['cluster.get', (c) => c.cluster.get(), { method: 'GET', path: '/api/cluster' }],
  ['cluster.create', (c) => c.cluster.create('office'), { method: 'POST', path: '/api/cluster', body: { name: 'office' } }],
  ['cluster.token', (c) => c.cluster.token(), { method: 'POST', path: '/api/cluster/token', body: {} }],
  ['cluster.join', (c) => c.cluster.join({ master: 'https://10.0.0.1:8007', token: 'rjt_x', fingerprint: 'AA:BB' }), {
    method: 'POST', path: '/api/cluster/join', body: { master: 'https://10.0.0.1:8007', token: 'rjt_x', fingerprint: 'AA:BB' },
  }],
  ['cluster.promote', (c) => c.cluster.promote(), { method: 'POST', path: '/api/cluster/promote', body: {} }],
  ['cluster.removeNode encodes the name', (c) => c.cluster.removeNode('pve 2'), { method: 'DELETE', path: '/api/cluster/nodes/pve%202' }],
  ['monitor.run', (c) => c.monitor.run(101, 'info status'), { method: 'POST', path: '/api/monitor/101', body: { command: 'info status' } }],
  ['access.me', (c) => c.access.me(), { method: 'GET', path: '/api/access/me' }],
  ['access.password', (c) => c.access.password({ oldpassword: 'a', password: 'b' }), { method: 'PUT', path: '/api/access/password', body: { oldpassword: 'a', password: 'b' } }],
  ['access.audit', (c) => c.access.audit({ limit: 200, user: 'anna' }), { method: 'GET', path: '/api/access/audit?limit=200&user=anna' }],
  ['access.users.update encodes the name', (c) => c.access.users.update('anna@pve', { enabled: false }), { method: 'PUT', path: '/api/access/users/anna%40pve', body: { enabled: false } }],
  ['access.users.remove', (c) => c.access.users.remove('anna'), { method: 'DELETE', path: '/api/access/users/anna' }],
  ['access.groups.setMembers', (c) => c.access.groups.setMembers('staff', ['anna']), { method: 'PUT', path: '/api/access/groups/staff', body: { members: ['anna'] } }],
  ['access.acl.list of all', (c) => c.access.acl.list(), { method: 'GET', path: '/api/access/acl' }],
  ['access.acl.list of a path', (c) => c.access.acl.list('/vms/101'), { method: 'GET', path: '/api/access/acl?path=%2Fvms%2F101' }],
  ['access.acl.remove', (c) => c.access.acl.remove({ path: '/', token: 'anna!ci' }), { method: 'DELETE', path: '/api/access/acl?path=%2F&token=anna%21ci' }],
  ['access.tokens.remove', (c) => c.access.tokens.remove('ci'), { method: 'DELETE', path: '/api/access/tokens/ci' }],
];
for (const [name, call, want] of CALLS) {
  calls(`${name} → ${want.method} ${want.path}`, async () => {
    assert.equal(await sent(call(recorder)), want);
  });
}

calls('should send what the node answers back to the caller unchanged', async () => {
  const c = createClient(async <T>() => [{ vmid: 101 }] as T);
  assert.equal(await c.vms.list(), [{ vmid: 101 }]);
});

calls.run();

const q = suite('query');

q('should write the given values and leave out undefined and empty ones', () => {
  assert.is(query({}), '');
  assert.is(query({ a: undefined, b: '' }), '');
  assert.is(query({ limit: 200, user: 'an na', action: undefined }), '?limit=200&user=an+na');
  assert.is(query({ path: '/vms/101', ok: true }), '?path=%2Fvms%2F101&ok=true');
});

q.run();

const u = suite('urls');

u('should build the URLs the browser loads itself', () => {
  assert.is(urls.screenshot(101, 160), '/api/monitor/101/screenshot?width=160');
  assert.is(urls.screenshot(101, 640, { n: 3 }), '/api/monitor/101/screenshot?width=640&n=3');
  assert.is(urls.bootcheckShot(ID, 1764065700000), '/api/backup/local%3A101%3A20261125T220000Z/screenshot?t=1764065700000');
  assert.is(urls.isoUpload('a+b.iso', {}), '/api/iso/a%2Bb.iso');
  assert.is(urls.isoUpload('d.iso', { sha256: 'ab', replace: true }), '/api/iso/d.iso?sha256=ab&replace=1');
});

u('should open the console over ws, or wss on an HTTPS page', () => {
  assert.is(urls.console({ protocol: 'http:', host: 'pve1:8006' }, 101), 'ws://pve1:8006/api/console/101');
  assert.is(urls.console({ protocol: 'https:', host: 'pve1' }, 102), 'wss://pve1/api/console/102');
});

u.run();
