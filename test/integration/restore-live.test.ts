/**
 * Live restore through the real API with real QEMU: while a guest runs
 * from a backup and writes to its disk, its data is copied into the node's
 * disk folder (raw original: blockdev-mirror; qcow2 original: block-stream).
 * At the end the guest keeps every write, the backup can be moved away
 * while the guest runs on, and it boots again from its own disk. A copy
 * that fails (full target filesystem) leaves the guest running on the
 * backup and the task failed; a second try succeeds.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { waitFor, waitForSerial } from '../helpers/guest';
import { withQmp } from '../../node-cgi/qemu/qmp';
import {
  allocated, backupDir, backupSums, guestWrite, makeBackup, makeProbeGuest, openFiles, sh, startProbeGuest, taskLog, waitTask, PROBE_MARKER,
} from './restore-fixture';

const MiB = 1 << 20;
let rawBackup: string;
let qcowBackup: string;

const L = suite('live restore');
const fx = useNode(L);
L.before(async () => {
  await makeProbeGuest(fx, 101, { sizeMiB: 64, filledMiB: 8, format: 'raw', reference: join(fx.root, 'ref-101.raw') });
  rawBackup = (await makeBackup(fx.admin, 101)).id;
  await makeProbeGuest(fx, 102, { sizeMiB: 32, filledMiB: 6, format: 'qcow2', reference: join(fx.root, 'ref-102.raw') });
  qcowBackup = (await makeBackup(fx.admin, 102, 'zstd')).id;
});

const images = (vmid: number) => join(fx.root, 'var/lib/vz/images', String(vmid));
type Job = { id: string; status: string };
const jobs = (vmid: number) => withQmp(fx.runFile(vmid, 'qmp'), (q) => q.execute<Job[]>('query-jobs'));

/** Writes through QEMU while the copy runs: [offset, size, pattern]. */
const WRITES: [number, number, number][] = [
  [1 * MiB, MiB, 0x51], // inside the backup's data
  [30 * MiB, 2 * MiB, 0x52], // where the backup has a hole
  [63 * MiB, MiB, 0x53], // the last MiB
];

/** The reference with the writes applied: what the guest's disk must hold at the end. */
function expected(reference: string, writes: readonly [number, number, number][]): string {
  const out = join(mkdtempSync(join(fx.root, 'expect-')), 'expected.raw');
  copyFileSync(reference, out);
  for (const [off, size, p] of writes) sh(['qemu-io', '-f', 'raw', '-c', `write -P ${p} ${off} ${size}`, out]);
  return out;
}

L('should copy a raw disk off the backup while the guest writes, keep every write, and end independent of the backup', async () => {
  const dir = backupDir(fx.root, rawBackup);
  const sums = backupSums(dir);
  const r = await fx.admin.post(`/api/backup/${encodeURIComponent(rawBackup)}/boot`, { live: true, bwlimit: 1 });
  assert.is(r.status, 200, r.text);
  const { vmid, task: watcher, liveTask } = r.json.data as { vmid: number; task: string; liveTask: string };
  assert.ok(liveTask, 'the live restore started with the guest');
  const qmp = fx.runFile(vmid, 'qmp');
  await waitFor('the mirror job to run', async () => (await jobs(vmid)).some((j) => j.id === `ramvm-restore-${vmid}-disk0` && j.status === 'running'), 60_000);
  for (const [off, size, p] of WRITES) await guestWrite(qmp, 'drive-disk0', off, size, p);
  assert.ok((await jobs(vmid)).some((j) => j.id === `ramvm-restore-${vmid}-disk0` && ['running', 'ready'].includes(j.status)), 'the writes landed while the copy ran');
  const t = await waitTask(fx.admin, liveTask, 240_000);
  const log = await taskLog(fx.admin, liveTask);
  assert.is(t.status, 'ok', log);
  assert.match(t.message, `guest ${vmid} no longer depends on backup ${rawBackup}`);
  assert.match(log, 'disk0 mirror, 1048576 bytes/s');

  const cfg = (await fx.admin.get(`/api/vm/${vmid}`)).json.data;
  assert.is(cfg.temporary, undefined, 'a normal guest now');
  assert.equal(cfg.disks.map((d: { file: string; format: string }) => [d.file, d.format]), [[`vm-${vmid}-disk-0.raw`, 'raw']]);
  assert.equal(readdirSync(images(vmid)), [`vm-${vmid}-disk-0.raw`], 'the overlay is gone');
  assert.is((await waitTask(fx.admin, watcher, 30_000)).message, `guest ${vmid} was kept: it no longer depends on the backup`);

  // The backup goes away; the guest runs on, and its writes still reach its disk.
  const away = `${dir}.away`;
  renameSync(dir, away);
  fx.cleanups.push(() => existsSync(away) && renameSync(away, dir));
  const pid = (await fx.admin.get(`/api/vm/${vmid}/status`)).json.data.pid as number;
  const open = openFiles(pid);
  assert.not.ok(open.some((f) => f.startsWith(dir) || f.startsWith(away)), `QEMU holds nothing of the backup: ${open.join(' ')}`);
  assert.ok(open.includes(join(images(vmid), `vm-${vmid}-disk-0.raw`)));
  await guestWrite(qmp, 'drive-disk0', 40 * MiB, MiB, 0x54);
  assert.is((await fx.admin.get(`/api/vm/${vmid}/status`)).json.data.status, 'running');
  const disk = join(images(vmid), `vm-${vmid}-disk-0.raw`);
  const want = expected(join(fx.root, 'ref-101.raw'), [...WRITES, [40 * MiB, MiB, 0x54]]);
  assert.is(sh(['qemu-img', 'compare', '-U', '-f', 'raw', '-F', 'raw', want, disk], { allowFail: true }).code, 0, 'backup data and every write');
  assert.ok(allocated(disk) <= 20 * MiB, `still sparse: ${allocated(disk)} bytes of 64 MiB`);

  // It boots again from its own disk, with the backup still away.
  await fx.stopGuest(vmid);
  await startProbeGuest(fx, vmid);
  await waitForSerial(fx.runFile(vmid, 'serial.log'), 'LINK-DOWN');
  await fx.stopGuest(vmid);
  renameSync(away, dir);
  assert.equal(backupSums(dir), sums, 'the backup was never written');
});

L('should stream a qcow2 disk of a compressed backup into its overlay when the user keeps the guest', async () => {
  const r = await fx.admin.post(`/api/backup/${encodeURIComponent(qcowBackup)}/boot`, {});
  assert.is(r.status, 200, r.text);
  const { vmid } = r.json.data as { vmid: number };
  await waitForSerial(fx.runFile(vmid, 'serial.log'), PROBE_MARKER, 60_000);
  const qmp = fx.runFile(vmid, 'qmp');
  const k = await fx.admin.post(`/api/restore/${vmid}/keep`, { bwlimit: 1 });
  assert.is(k.status, 202, k.text);
  await waitFor('the stream job to run', async () => (await jobs(vmid)).some((j) => j.id === `ramvm-restore-${vmid}-disk0` && j.status === 'running'), 60_000);
  const writes: [number, number, number][] = [[2 * MiB, MiB, 0x61], [20 * MiB, MiB, 0x62]];
  for (const [off, size, p] of writes) await guestWrite(qmp, 'drive-disk0', off, size, p);
  const t = await waitTask(fx.admin, k.json.data.task, 240_000);
  assert.is(t.status, 'ok', await taskLog(fx.admin, k.json.data.task));
  const cfg = (await fx.admin.get(`/api/vm/${vmid}`)).json.data;
  assert.is(cfg.temporary, undefined);
  const disk = join(images(vmid), `vm-${vmid}-disk-0.qcow2`);
  assert.equal(cfg.disks.map((d: { file: string; format: string }) => [d.file, d.format]), [[`vm-${vmid}-disk-0.qcow2`, 'qcow2']]);
  await withQmp(qmp, (q) => q.execute('human-monitor-command', { 'command-line': 'qemu-io drive-disk0 flush' }));
  const info = JSON.parse(sh(['qemu-img', 'info', '-U', '--output=json', disk]).out);
  assert.is(info['backing-filename'], undefined, 'no backing file any more');
  const want = expected(join(fx.root, 'ref-102.raw'), writes);
  sh(['truncate', '-s', '32M', want]);
  assert.is(sh(['qemu-img', 'compare', '-U', '-f', 'raw', '-F', 'qcow2', want, disk], { allowFail: true }).code, 0);
  await fx.stopGuest(vmid);
});

L('should leave the guest running on the backup when the copy fails, and succeed when tried again', async () => {
  const r = await fx.admin.post(`/api/backup/${encodeURIComponent(rawBackup)}/boot`, {});
  assert.is(r.status, 200, r.text);
  const { vmid, task: watcher } = r.json.data as { vmid: number; task: string };
  await waitForSerial(fx.runFile(vmid, 'serial.log'), PROBE_MARKER, 60_000);
  // A full filesystem under the guest's disk folder: QEMU keeps its overlay open, the raw copy finds 2 MiB.
  sh(['mount', '-t', 'tmpfs', '-o', 'size=2m', 'ramvm-restore-test', images(vmid)]);
  const mounted = () => sh(['mountpoint', '-q', images(vmid)], { allowFail: true }).code === 0;
  fx.cleanups.push(() => mounted() && sh(['umount', images(vmid)]));
  const k = await fx.admin.post(`/api/restore/${vmid}/keep`, {});
  const t = await waitTask(fx.admin, k.json.data.task, 120_000);
  const log = await taskLog(fx.admin, k.json.data.task);
  assert.is(t.status, 'failed', log);
  assert.match(t.message, 'No space left on device');
  assert.match(log, `disk0: copy failed; guest ${vmid} keeps running on the backup`);
  assert.equal(readdirSync(images(vmid)), [], 'the partial copy was removed');
  sh(['umount', images(vmid)]);
  assert.equal((await jobs(vmid)).filter((j) => j.id.startsWith('ramvm-restore-')), [], 'no job left');
  const cfg = (await fx.admin.get(`/api/vm/${vmid}`)).json.data;
  assert.equal([cfg.status, cfg.temporary?.backup, cfg.disks[0].file], ['running', rawBackup, `vm-${vmid}-disk-0.qcow2`]);
  await guestWrite(fx.runFile(vmid, 'qmp'), 'drive-disk0', 5 * MiB, MiB, 0x71);

  const again = await fx.admin.post(`/api/restore/${vmid}/keep`, {});
  const t2 = await waitTask(fx.admin, again.json.data.task, 120_000);
  assert.is(t2.status, 'ok', await taskLog(fx.admin, again.json.data.task));
  const disk = join(images(vmid), `vm-${vmid}-disk-0.raw`);
  assert.is(sh(['qemu-img', 'compare', '-U', '-f', 'raw', '-F', 'raw', expected(join(fx.root, 'ref-101.raw'), [[5 * MiB, MiB, 0x71]]), disk], { allowFail: true }).code, 0);
  await fx.stopGuest(vmid);
  assert.is((await waitTask(fx.admin, watcher, 30_000)).status, 'ok');
  assert.is((await fx.admin.get(`/api/vm/${vmid}`)).status, 200, 'kept: stopping no longer discards it');
});

L.run();
