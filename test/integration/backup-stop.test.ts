/**
 * Stop mode with real guests made through the API: the guest is shut down
 * with the ACPI button, copied offline and started again — also when the
 * copy fails (a target that fills up).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, type Client, type TestNode } from '../helpers/node';
import { killGuests } from '../helpers/guest';
import { makeGuest, sh, taskLog, waitTask, type TestGuest } from './backup-fixture';

let node: TestNode;
let admin: Client;
let guest: TestGuest;
let reference: string;
const cleanups: (() => void)[] = [];

const S = suite('stop mode');
S.before(async () => {
  node = await startTestNode();
  admin = await node.login('admin', node.adminPassword);
  reference = join(node.root, 'ref-104.raw');
  guest = await makeGuest(admin, node.root, 104, { sizeMiB: 32, filledMiB: 24, format: 'raw', reference });
  await guest.start();
});
S.after(async () => {
  if (node) await killGuests(node.root);
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch (e) {
      process.stderr.write(`cleanup: ${(e as Error).message}\n`);
    }
  }
  await node?.stop();
});

S('should shut the guest down, back it up offline and start it again', async () => {
  const before = await guest.pid();
  assert.ok(before);
  const r = await admin.post('/api/backup/run', { vmid: 104, mode: 'stop', compress: 'zstd' });
  assert.is(r.status, 202, r.text);
  const t = await waitTask(admin, r.json.data.task);
  const log = await taskLog(admin, r.json.data.task);
  assert.is(t.status, 'ok', log);
  assert.match(log, 'stop mode: shutting guest 104 down');
  assert.match(log, /guest 104 started again after \d+ ms\n/);
  assert.not.match(log, 'did not power off', 'the ACPI button was enough');
  assert.is(await guest.status(), 'running');
  const after = await guest.pid();
  assert.ok(after && after !== before, 'a new QEMU process');
  const b = (await admin.get('/api/backup?vmid=104')).json.data[0];
  assert.equal([b.mode, b.method, b.verified], ['stop', 'offline', true]);
  const [, vmid, stamp] = b.id.split(':');
  const dir = join(node.root, 'var/lib/vz/dump/ramvm', vmid, stamp);
  assert.is(sh(['qemu-img', 'compare', '-f', 'raw', '-F', 'qcow2', reference, join(dir, 'vm-104-disk-0.qcow2')], { allowFail: true }).code, 0);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.ok(m.timings.downtime > 0, 'downtime recorded');
});

S('should start the guest again when the backup fails', async () => {
  const mnt = join(node.root, 'mnt-tiny');
  mkdirSync(mnt);
  sh(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'ramvm-backup-test', mnt]);
  cleanups.push(() => sh(['umount', mnt]));
  assert.is((await admin.post('/api/storage', { name: 'tiny', type: 'dir', path: mnt, mountpoint: true })).status, 201);
  const before = await guest.pid();
  const r = await admin.post('/api/backup/run', { vmid: 104, storage: 'tiny', mode: 'stop', compress: 'none' });
  const t = await waitTask(admin, r.json.data.task);
  const log = await taskLog(admin, r.json.data.task);
  assert.is(t.status, 'failed', log);
  assert.match(t.message, /No space left on device/i);
  assert.match(log, '(although the backup failed)');
  assert.is(await guest.status(), 'running');
  assert.ok((await guest.pid()) !== before, 'it was really stopped and started');
  assert.equal((await admin.get('/api/backup?storage=tiny')).json.data, []);
  assert.equal(readdirSync(join(mnt, 'ramvm/104')), []);
  const alerts = (await admin.get('/api/backup/alerts')).json.data;
  assert.ok(alerts.some((a: { task: string }) => a.task === r.json.data.task));
});
S.run();
