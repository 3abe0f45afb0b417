/**
 * Backup mode through the real API with real QEMU, on a node whose backup
 * storage is mounted read-only as the set-up of a node booted from a
 * backup disk leaves it (build/image/node-setup.ts backupMode(): storage
 * "backupdisk", run/ramvm/backup-mode.json): here a read-only bind mount of
 * the node's own dump folder. The boot from a real USB disk is the lab's
 * (bootdisk.test.ts); this suite checks the listing, the run straight off
 * the read-only backup with the guest seeing its cable unplugged, and that
 * nothing of the backup changes.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { waitForSerial } from '../helpers/guest';
import { backupSums, enterBackupMode, makeBackup, makeProbeGuest, sh, waitTask } from './restore-fixture';

const B = suite('backup mode');
const fx = useNode(B);
let backup: string;
let mnt: string;

B.before(async () => {
  await makeProbeGuest(fx, 101, { sizeMiB: 32, filledMiB: 4, format: 'qcow2', reference: join(fx.root, 'ref-101.raw') });
  backup = (await makeBackup(fx.admin, 101)).id;
});

B('should say a node booted as usual is not in backup mode', async () => {
  const r = await fx.admin.get('/api/restore/backup-mode');
  assert.is(r.status, 200, r.text);
  assert.equal(r.json.data, { active: false });
});

B('should list the read-only backup disk\'s guests and run one straight off it, unplugged, changing nothing', async () => {
  mnt = await enterBackupMode(fx);

  const mode = (await fx.admin.get('/api/restore/backup-mode')).json.data;
  assert.is(mode.active, true);
  assert.is(mode.readOnly, true);
  assert.is(mode.device, '/dev/sda3');
  const mac = (await fx.admin.get('/api/vm/101')).json.data.nics[0].mac.toLowerCase();
  assert.equal(mode.guests.map((g: { vmid: number; name: string; macs: string[] }) => [g.vmid, g.name, g.macs]), [[101, 'rs101', [mac]]]);
  const id = `backupdisk:${backup.split(':').slice(1).join(':')}`;
  assert.equal(mode.guests[0].backups.map((b: { id: string }) => b.id), [id]);
  assert.is(mode.guests[0].warning, `guest 101 starts with its network unplugged: a copy has the IP address and MAC ${mac} of the original, so connect it only while the original is off.`);

  const dir = join(mnt, 'ramvm', ...id.split(':').slice(1));
  const sums = backupSums(dir);
  const r = await fx.admin.post(`/api/backup/${encodeURIComponent(id)}/boot`, {});
  assert.is(r.status, 200, r.text);
  const { vmid, warnings, task } = r.json.data as { vmid: number; warnings: string[]; task: string };
  assert.ok(warnings.some((w) => w.startsWith('network disconnected: net0 starts with the link down')), warnings.join('\n'));
  // The guest sees its cable unplugged from its first instruction on.
  const serial = await waitForSerial(fx.runFile(vmid, 'serial.log'), 'LINK-DOWN', 60_000);
  assert.not.match(serial, 'LINK-UP');
  assert.is((await fx.admin.get(`/api/vm/${vmid}`)).json.data.status, 'running');

  await fx.stopGuest(vmid);
  const t = await waitTask(fx.admin, task, 60_000);
  assert.is(t.status, 'ok', t.message);
  assert.equal(backupSums(dir), sums);
  // The storage really is read-only: a write is refused by the kernel.
  const w = sh(['touch', join(mnt, 'ramvm', 'x')], { allowFail: true });
  assert.match(w.err, /Read-only file system/);
});

B.run();
