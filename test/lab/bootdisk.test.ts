/**
 * The system on a node's disk, booted for real (TCG here), three boots of
 * one blank sparse disk:
 *
 *   1. the ISO through GRUB, its "keep the system on the data disk" entry
 *      chosen on the serial console: the node partitions the blank disk,
 *      formats boot and data partitions, copies kernel and initrd from the
 *      ISO, writes GRUB; admin and a guest are made. The boot partition,
 *      read on this machine through a loop device, then gets an older
 *      release's name, as a disk of an older release would have it.
 *   2. the ISO again, default entry: the node keeps admin and the guest and
 *      rewrites the boot partition with this release (an update: /ram.log
 *      says from which to which).
 *   3. the data disk alone (no ISO, no -kernel): GRUB from the disk, the
 *      same node with its admin and guest. A blank USB disk is plugged in,
 *      laid out for a device storage that boots, and a job backs the guest
 *      up onto it with this release's ISO as the rescue image.
 *   4. the USB disk alone, a fresh node: GRUB from the USB disk, backup
 *      mode (the console asks for the IP settings; Enter: DHCP), the guest
 *      of the backup listed and run straight off it with its network
 *      unplugged; the USB disk byte for byte as it was.
 *
 * Then a network boot: iPXE from QEMU's TFTP server, kernel + initrd and
 * the lab's parameters, RAM only.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type ImageBuild } from '../../build/image/image';
import { acquireLabLock, type LabLock } from '../../build/lab/lock';
import { writeTftpDir } from '../../build/lab/lab';
import { NodeVm, ensureSparseDisk, labAccel, type Accel, type NodeVmConfig } from '../../build/lab/node-vm';
import { freePort, loginClient } from '../helpers/node';
import { waitTask } from '../helpers/cluster';
import { waitFor } from '../helpers/guest';

/** SHA-256 of a (sparse, GiB-sized) disk file, streamed. */
async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Generous: TCG guests of other suites may share the machine's two cores. */
const SERVE_TIMEOUT_MS = 360_000;
const PASSWORD = 'bootdisk-test-pw';
const OLDER = '0.0.0-older';
/** The ISO's GRUB entries (layout.ts GRUB_ENTRIES): the fourth keeps the system on the data disk. */
const DOWN = '\x1b[B';

const T = suite('system on the data disk');
let image: ImageBuild;
let dir: string;
let lock: LabLock | undefined;
let accel: Accel;
const vms: NodeVm[] = [];

T.before(async () => {
  lock = await acquireLabLock({ what: 'the system-on-disk test', wait: true, onWait: (h) => process.stderr.write(`bootdisk test: waiting for the lab lock (${h})\n`) });
  accel = (await labAccel()).accel;
  image = await buildImage({ iso: true });
  dir = mkdtempSync(join(tmpdir(), 'ramvm-bootdisk-test-'));
  ensureSparseDisk(join(dir, 'data.img'), 4);
});

T.after(async () => {
  await Promise.all(vms.map((v) => v.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
  lock?.release();
});

async function boot(run: string, bootOf: NodeVmConfig['boot'], o: Partial<NodeVmConfig> = {}): Promise<NodeVm> {
  const vm = new NodeVm({
    name: 'sysdisk', index: 5, boot: bootOf, dataDisk: join(dir, 'data.img'), memoryMiB: 1536, cpus: 1, accel,
    webPort: await freePort(), adminPassword: PASSWORD, shell: false, runDir: join(dir, run), ...o,
  });
  vms.push(vm);
  vm.start();
  return vm;
}

T('should partition a blank disk and put the system on it when the ISO\'s entry asks', async () => {
  const vm = await boot('boot1', { iso: image.iso! });
  try {
    // GRUB's menu on the serial console: the fourth entry.
    await vm.waitSerial(/keep the system on the data disk/, SERVE_TIMEOUT_MS);
    await vm.typeSerial([DOWN, DOWN, DOWN, '\r']);
    await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
    const log = vm.serialLog();
    assert.match(log, /kernel command line: .*ramvm\.sysdisk=1/);
    assert.match(log, /system on disk: \/dev\/vda is blank: GPT with ramvm-boot \(512 MiB\), bios-boot \(1 MiB\), ramvm-data \(3582 MiB\)/);
    assert.match(log, /data disk \/dev\/vda3 \(datadisk=\/dev\/vda\): blank, making ext4/);
    assert.match(log, /system on disk: setting on \(ramvm\.sysdisk=1\), kept on the data disk/);
    assert.match(log, new RegExp(`system on disk /dev/vda: release \\(none\\) → ${image.release}: kernel, initrd, grub.cfg and GRUB written to /dev/vda1`));
    assert.match(log, /set-up done/);
    assert.not.match(log, /FAILED/);

    const api = await loginClient(vm.url, 'admin', PASSWORD);
    const created = await api.post('/api/vm', { name: 'ondisk', memory: 32, disks: [{ size: '16M' }] });
    assert.is(created.status, 201, created.text);
  } finally {
    await vm.stop();
  }
  // The boot partition, read on this machine: this release, the ISO's initrd whole, a grub.cfg.
  await withBootPartition((mnt) => {
    assert.is(readFileSync(join(mnt, 'ramvm-release'), 'utf8').trim(), image.release);
    assert.is(statSync(join(mnt, 'initrd.img')).size, statSync(image.initrd).size);
    assert.match(readFileSync(join(mnt, 'grub/grub.cfg'), 'utf8'), /linux \/vmlinuz .*ramvm\.sysdisk=1/);
    // As the boot partition of an older release names itself.
    writeFileSync(join(mnt, 'ramvm-release'), OLDER + '\n');
  });
});

/** Partition 1 of the test's disk mounted on this machine (a loop device at its offset), for `fn`. */
async function withBootPartition(fn: (mnt: string) => void): Promise<void> {
  const mnt = join(dir, 'boot-mnt');
  mkdirSync(mnt, { recursive: true });
  const lo = spawnSync('losetup', ['-f', '--show', '-o', String(1024 * 1024), '--sizelimit', String(512 * 1024 * 1024), join(dir, 'data.img')], { encoding: 'utf8' });
  assert.is(lo.status, 0, lo.stderr);
  const dev = lo.stdout.trim();
  try {
    const m = spawnSync('mount', ['-t', 'ext2', dev, mnt], { encoding: 'utf8' });
    assert.is(m.status, 0, m.stderr);
    try {
      fn(mnt);
    } finally {
      spawnSync('umount', [mnt]);
    }
  } finally {
    spawnSync('losetup', ['-d', dev]);
  }
}

T('should rewrite the boot partition when a newer release boots, keeping admin and guests', async () => {
  const vm = await boot('boot2', { iso: image.iso! });
  try {
    await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
    const serial = vm.serialLog();
    assert.match(serial, /data disk \/dev\/vda3 \(the filesystem labelled ramvm-data\): ext4 filesystem/);
    assert.match(serial, new RegExp(`system on disk /dev/vda: release ${OLDER} → ${image.release}: kernel, initrd, grub.cfg and GRUB written to /dev/vda1`));
    assert.match(serial, /users kept from the data disk/);
    const api = await loginClient(vm.url, 'admin', PASSWORD);
    assert.equal((await api.get('/api/vm')).json.data.map((g: { name: string }) => g.name), ['ondisk']);
  } finally {
    await vm.stop();
  }
});

/** The node booted from its disk, left running for the backup disk's test. */
let fromDisk: NodeVm | undefined;

T('should boot the same node from the data disk alone', async () => {
  // With a USB controller: the next test plugs a USB disk in.
  const vm = await boot('boot3', { disk: true }, { usb: {} });
  fromDisk = vm;
  await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
  const serial = vm.serialLog();
  assert.match(serial, new RegExp(`ramvm ${image.release} from this disk`), 'GRUB of the disk shows its menu');
  assert.match(serial, /kernel command line: .*ramvm\.node=ramvm-727705 .*ramvm\.sysdisk=1/);
  assert.match(serial, new RegExp(`system on disk /dev/vda: release ${image.release}, up to date`));
  assert.match(serial, /users kept from the data disk/);
  const api = await loginClient(vm.url, 'admin', PASSWORD);
  assert.equal((await api.get('/api/vm')).json.data.map((g: { name: string }) => g.name), ['ondisk']);
});

/** The blank USB disk a backup job makes bootable: big enough for the boot partitions and a 1 GiB backup filesystem. */
const USB_DISK_GIB = 2;
const USB_LABEL = 'RVBACKUP';

T('should take a backup onto a USB disk that then boots a fresh node in backup mode, running the guest off it and writing nothing', async () => {
  const vm = fromDisk;
  if (!vm) throw new Error('the node booted from its disk did not start');
  const usb = join(dir, 'usb.img');
  let vmid: number;
  let backupTask: string;
  try {
    const api = await loginClient(vm.url, 'admin', PASSWORD);
    vmid = (await api.get('/api/vm')).json.data[0].vmid;
    // A blank USB disk plugged in; a device storage that boots; the disk laid out for it.
    ensureSparseDisk(usb, USB_DISK_GIB);
    await vm.plugUsbDisk(usb);
    const st = await api.post('/api/storage', { name: 'usb', type: 'device', label: USB_LABEL, boot: true });
    assert.is(st.status, 201, st.text);
    const laid = await waitFor('the USB disk as sda', async () => {
      const r = await api.post('/api/storage/usb/disk', { device: 'sda' });
      return r.status === 404 ? null : r;
    }, 60_000, 1000);
    assert.is(laid.status, 201, laid.text);
    assert.match(laid.json.data.notes.join('\n'), new RegExp(`/dev/sda3: ext4 labelled ${USB_LABEL}`));
    // Never over a disk with something on it.
    const again = await api.post('/api/storage/usb/disk', { device: 'sda' });
    assert.is(again.status, 409, again.text);
    assert.match(again.json.error.message, /sda is not blank/);
    // This release's ISO as the rescue image; a job backs the guest up onto the disk.
    const up = await api.request('PUT', '/api/iso/ramvm-rescue.iso', { body: readFileSync(image.iso!) });
    assert.is(up.status, 201, up.text);
    assert.is((await api.put('/api/restore/medium', { image: 'ramvm-rescue.iso' })).status, 200);
    const job = await api.post('/api/backup/jobs', { id: 'tousb', storage: 'usb', vmids: [vmid], mode: 'snapshot', compress: 'none', enabled: false });
    assert.is(job.status, 201, job.text);
    const run = await api.post('/api/backup/jobs/tousb/run');
    assert.is(run.status, 202, run.text);
    backupTask = run.json.data.task;
    const done = await waitTask(api, backupTask, SERVE_TIMEOUT_MS);
    const log = (await api.get(`/api/task/${backupTask}/log`)).json.data.lines.join('\n');
    assert.is(done.status, 'ok', `${done.message}\n${log}`);
    assert.match(log, /rescue image ramvm-rescue\.iso copied to the storage/);
    assert.match(log, new RegExp(`boot partition /dev/sda1: release \\(none\\) → ${image.release} from rescue image ramvm-rescue\\.iso: .*ramvm\\.backup=[0-9a-f-]+\\).*; /dev/sda3 untouched`));
  } finally {
    await vm.stop();
  }
  const before = await sha256File(usb);

  // A fresh node: the USB disk alone, no data disk.
  const fresh = await boot('backupmode', { usb: true }, { dataDisk: undefined, usb: { disk: usb }, name: 'fresh', index: 7 });
  try {
    await fresh.waitSerial(/backup mode, disk usb/, SERVE_TIMEOUT_MS);
    // The console asks only for the IP settings: Enter takes DHCP.
    await fresh.waitSerial(/IP address\/prefix \(e\.g\. 192\.168\.1\.10\/24\): /, SERVE_TIMEOUT_MS);
    await fresh.typeSerial(['\r']);
    await fresh.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
    const serial = fresh.serialLog();
    assert.match(serial, /kernel command line: .*ramvm\.backup=[0-9a-f-]+ ramvm\.ip=ask/);
    assert.match(serial, new RegExp(`backup mode: /dev/sda3 \\(disk /dev/sda\\) mounted read-only at /mnt/backup as storage backupdisk: backups of 1 guest \\(${vmid}\\); settings stay in RAM`));
    assert.match(serial, /data disk: none \(ramonly/);

    const api = await loginClient(fresh.url, 'admin', PASSWORD);
    const mode = (await api.get('/api/restore/backup-mode')).json.data;
    assert.is(mode.active, true);
    assert.is(mode.readOnly, true);
    assert.equal(mode.guests.map((g: { vmid: number; name: string }) => [g.vmid, g.name]), [[vmid, 'ondisk']]);
    assert.match(mode.guests[0].warning, /starts with its network unplugged: a copy has the IP address and MAC/);
    const id = mode.guests[0].backups[0].id;
    assert.match(id, new RegExp(`^backupdisk:${vmid}:`));

    const booted = await api.post(`/api/backup/${encodeURIComponent(id)}/boot`, {});
    assert.is(booted.status, 200, booted.text);
    assert.match(booted.json.data.warnings.join('\n'), /network disconnected: net0 starts with the link down/);
    const guest = await waitFor('the guest from the backup running', async () => {
      const r = await api.get(`/api/vm/${booted.json.data.vmid}`);
      return r.json.data?.status === 'running' ? r.json.data : null;
    }, 60_000, 500);
    assert.is(guest.nics[0].linkDown, true);
  } finally {
    await fresh.stop();
  }
  assert.is(await sha256File(usb), before, 'backup mode wrote nothing to the USB disk');
});

T('should boot over the network: iPXE, QEMU\'s TFTP server, kernel + initrd + the lab\'s parameters', async () => {
  const config: NodeVmConfig = {
    name: 'pxenode', index: 6, boot: { disk: true }, memoryMiB: 1536, cpus: 1, accel,
    webPort: await freePort(), adminPassword: PASSWORD, shell: false, runDir: join(dir, 'pxe'),
  };
  config.boot = { pxe: { tftpDir: writeTftpDir(join(dir, 'tftp'), image.kernel, image.initrd, config) } };
  const vm = new NodeVm(config);
  vms.push(vm);
  vm.start();
  try {
    await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
    const serial = vm.serialLog();
    assert.match(serial, /kernel command line: .*ramvm\.node=pxenode .*ramonly/);
    assert.match(serial, /data disk: none \(ramonly/);
  } finally {
    await vm.stop();
  }
});

T.run();
