/**
 * Run from backup through the real API with real QEMU: the guest runs off
 * qcow2 overlays on the backup, its network cable unplugged as the guest
 * itself sees it (the link probe boot sector reads the RTL8139's link
 * status), the original's warning in the answer, the mark in the guest
 * lists, connecting the network on request, and on stop the overlays go
 * while the backup's SHA-256 stays what it was.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { waitFor, waitForSerial } from '../helpers/guest';
import {
  backupDir, backupSums, guestWrite, makeBackup, makeProbeGuest, sh, startProbeGuest, taskLog, waitTask, PROBE_MARKER,
} from './restore-fixture';

const MiB = 1 << 20;
let backup: string;
let compressed: string;

const B = suite('run from backup');
const fx = useNode(B);
B.before(async () => {
  await makeProbeGuest(fx, 101, { sizeMiB: 64, filledMiB: 6, format: 'raw', reference: join(fx.root, 'ref-101.raw') });
  backup = (await makeBackup(fx.admin, 101)).id;
  await makeProbeGuest(fx, 102, { sizeMiB: 32, filledMiB: 4, format: 'qcow2', reference: join(fx.root, 'ref-102.raw') });
  compressed = (await makeBackup(fx.admin, 102, 'zstd')).id;
});

const boot = (id: string, body: Record<string, unknown> = {}) => fx.admin.post(`/api/backup/${encodeURIComponent(id)}/boot`, body);
const images = (vmid: number) => join(fx.root, 'var/lib/vz/images', String(vmid));

B('should run a guest straight off the backup, unplugged, marked, and leave no trace but an unchanged backup when it stops', async () => {
  await startProbeGuest(fx, 101);
  const dir = backupDir(fx.root, backup);
  const sums = backupSums(dir);
  const r = await boot(backup);
  assert.is(r.status, 200, r.text);
  const { vmid, warnings, task } = r.json.data as { vmid: number; warnings: string[]; task: string };
  assert.is(vmid, 103, 'the next free VMID');
  assert.ok(warnings.some((w) => w.startsWith('network disconnected: net0 starts with the link down') && w.includes('This copy has the IP addresses of guest 101') && w.includes('gives IP conflicts')), warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes('guest 101 (rs101), the original of this backup, is running on this node now')), warnings.join('\n'));
  assert.ok(warnings.some((w) => w.startsWith('changes are discarded when guest 103 stops')), warnings.join('\n'));

  // The guest sees its cable unplugged from its first instruction on.
  const serial = await waitForSerial(fx.runFile(vmid, 'serial.log'), 'LINK-DOWN', 60_000);
  assert.match(serial, `${PROBE_MARKER}\r\nLINK-DOWN\r\n`);
  assert.not.match(serial, 'LINK-UP');
  // Its disk is an overlay whose backing file is the backup's image.
  const overlay = join(images(vmid), `vm-${vmid}-disk-0.qcow2`);
  const info = JSON.parse(sh(['qemu-img', 'info', '-U', '--output=json', overlay]).out);
  assert.is(info['full-backing-filename'], join(dir, 'vm-101-disk-0.qcow2'));
  assert.is(info['backing-filename-format'], 'qcow2');

  const list = (await fx.admin.get('/api/vm')).json.data as { vmid: number; status: string; temporary?: { backup: string; source: number; purpose: string; task?: string } }[];
  const tmp = list.find((g) => g.vmid === vmid)!;
  assert.equal([tmp.status, tmp.temporary?.backup, tmp.temporary?.source, tmp.temporary?.purpose, tmp.temporary?.task], ['running', backup, 101, 'run', task]);
  assert.is(list.find((g) => g.vmid === 101)!.temporary, undefined, 'the original is not marked');
  const mac = (await fx.admin.get('/api/vm/101')).json.data.nics[0].mac;
  const cfg = (await fx.admin.get(`/api/vm/${vmid}`)).json.data;
  assert.is(cfg.nics[0].linkDown, true);
  assert.is.not(cfg.nics[0].mac, mac, 'guest 101 holds the backup\'s MAC on this node: the copy gets another');
  assert.ok(warnings.some((w) => w === `net0: new MAC address ${cfg.nics[0].mac}: guest 101 uses the backup's ${mac}`), warnings.join('\n'));
  assert.equal((await fx.admin.get('/api/restore')).json.data.map((g: { vmid: number; linkDown: boolean }) => [g.vmid, g.linkDown]), [[vmid, true]]);

  // Writes land in the overlay only.
  await guestWrite(fx.runFile(vmid, 'qmp'), 'drive-disk0', 2 * MiB, 2 * MiB, 0x3c);
  // Connecting is explicit.
  const up = await fx.admin.post(`/api/restore/${vmid}/link`, { up: true });
  assert.is(up.status, 200, up.text);
  assert.is(up.json.data.nics[0].linkDown, undefined);
  await waitForSerial(fx.runFile(vmid, 'serial.log'), 'LINK-UP');
  const down = await fx.admin.post(`/api/restore/${vmid}/link`, { up: false });
  assert.is(down.json.data.nics[0].linkDown, true);
  await waitFor('the guest to see the cable unplugged again', () => readFileSync(fx.runFile(vmid, 'serial.log'), 'latin1').endsWith('LINK-UP\r\nLINK-DOWN\r\n'));

  await fx.stopGuest(vmid);
  const t = await waitTask(fx.admin, task, 60_000);
  assert.is(t.status, 'ok', await taskLog(fx.admin, task));
  assert.match(t.message, `guest ${vmid} stopped: its overlays were discarded; backup ${backup} is unchanged`);
  assert.is((await fx.admin.get(`/api/vm/${vmid}`)).status, 404);
  assert.not.ok(existsSync(images(vmid)), 'overlays gone');
  assert.not.ok(existsSync(join(fx.root, 'etc/ramvm/vms', `${vmid}.json`)));
  assert.equal(backupSums(dir), sums, 'the backup\'s files have the SHA-256 they had');
  await fx.stopGuest(101);
});

B('should run a zstd-compressed qcow2 backup of a guest that is gone, with its own MAC and the original\'s warning', async () => {
  const mac = (await fx.admin.get('/api/vm/102')).json.data.nics[0].mac;
  assert.is((await fx.admin.del('/api/vm/102')).status, 204);
  const sums = backupSums(backupDir(fx.root, compressed));
  const r = await boot(compressed, { vmid: 150 });
  assert.is(r.status, 200, r.text);
  const { warnings, task } = r.json.data;
  assert.is(r.json.data.vmid, 150);
  await waitForSerial(fx.runFile(150, 'serial.log'), 'LINK-DOWN', 60_000);
  assert.is((await fx.admin.get('/api/vm/150')).json.data.nics[0].mac, mac, 'nobody else holds it');
  assert.ok(warnings.some((w: string) => w.includes('IP addresses and MAC addresses of guest 102: if that guest runs anywhere at the same time, connecting the copy gives IP and MAC conflicts')), warnings.join('\n'));
  assert.not.ok(warnings.some((w: string) => w.includes('is running on this node')), 'guest 102 is gone');
  // QEMU ends without a stop through the API (as when the guest powers off): the watcher discards just the same.
  process.kill((await fx.admin.get('/api/vm/150/status')).json.data.pid, 'SIGTERM');
  assert.is((await waitTask(fx.admin, task, 60_000)).status, 'ok');
  assert.is((await fx.admin.get('/api/vm/150')).status, 404);
  assert.equal(backupSums(backupDir(fx.root, compressed)), sums);
});

B('should refuse what it cannot run, and leave nothing behind', async () => {
  const cases: [string, Record<string, unknown>, number, string, string][] = [
    [backup, { vmid: 101 }, 409, 'VMID 101 is already in use', 'a VMID in use'],
    [backup, { vmid: 42 }, 400, 'vmid: must be between', 'VMID out of range'],
    [backup, { live: 'yes' }, 400, 'live: must be true or false', 'live not a boolean'],
    [backup, { bwlimit: -1 }, 400, 'bwlimit: must be MiB/s', 'negative speed'],
    [backup, { network: true }, 400, 'network: unknown field', 'unknown field'],
    ['local:101:20990101T000000Z', {}, 404, 'no such backup', 'no such backup'],
    ['local:abc:20990101T000000Z', {}, 404, 'no such backup', 'not a backup id'],
  ];
  for (const [id, body, status, msg, reason] of cases) {
    const r = await boot(id, body);
    assert.is(r.status, status, `${reason}: ${r.text}`);
    assert.match(r.json.error.message, msg, reason);
  }
  const names = (await fx.admin.get('/api/vm')).json.data.map((g: { vmid: number }) => g.vmid);
  assert.equal(names, [101]);
  assert.is((await fx.admin.post('/api/restore/101/link', { up: true })).status, 409, 'guest 101 is stopped');
  assert.is((await fx.admin.post('/api/restore/101/link', {})).status, 400);
  assert.is((await fx.admin.post('/api/restore/101/keep', {})).status, 409, 'guest 101 does not run from a backup');
});

B('should refuse to run a backup that failed verification unless forced', async () => {
  const dir = backupDir(fx.root, backup);
  const file = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  const saved = JSON.stringify(m, null, 2) + '\n';
  m.verification = { ok: false, time: Date.now(), durationMs: 1, problems: ['vm-101-disk-0.qcow2: SHA-256 differs'] };
  writeFileSync(file, JSON.stringify(m));
  try {
    const r = await boot(backup);
    assert.is(r.status, 409);
    assert.match(r.json.error.message, 'failed its last verification (vm-101-disk-0.qcow2: SHA-256 differs); send "force": true');
    const f = await boot(backup, { force: true });
    assert.is(f.status, 200, f.text);
    assert.ok(f.json.data.warnings.some((w: string) => w.includes('failed its last verification')));
    await fx.stopGuest(f.json.data.vmid);
    assert.is((await waitTask(fx.admin, f.json.data.task, 60_000)).status, 'ok');
  } finally {
    writeFileSync(file, saved);
  }
});

B.run();
