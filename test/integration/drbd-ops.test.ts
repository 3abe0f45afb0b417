/**
 * What cluster-mode backups and replicated live migrations do with DRBD,
 * for real, between two lab nodes (the node image, TCG here), every step
 * through each node's root helper as the node's user asks for it:
 *
 *   1. a replicated disk on both nodes, node1 primary (as the drbd test makes it)
 *   2. cluster mode's middle: node1 (the guest's) disconnects; its later
 *      writes stay off node2's replica, which node2's user copies (the first
 *      device bytes of the backing file, convertArgs as the peer's task
 *      does) as it was at the disconnect; reconnected, DRBD resyncs only
 *      the blocks written meanwhile
 *   3. a live migration's DRBD part: a second primary refused, then allowed
 *      by the helper's two-primaries on both nodes; node2 primary beside
 *      node1, reads what node1 wrote; node1 secondary, one-primary again
 *
 * A guest whose QEMU opens /dev/drbdN comes with replicated disks in the
 * API; until then this test drives the devices as the QEMU user, and the
 * pure plans of both operations are table-tested in test/unit.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../build/image/image';
import { startHub, type Hub } from '../../build/lab/hub';
import { acquireLabLock, type LabLock } from '../../build/lab/lock';
import { LAB_NET_PREFIX, NodeVm, ensureSparseDisk, labAccel } from '../../build/lab/node-vm';
import type { DrbdHelperStep } from '../../node-cgi/drbd/commands';
import { readProcDrbd, type DrbdRunner } from '../../node-cgi/drbd/edge';
import { deviceOf, type DrbdDeviceState, type ProcDrbd } from '../../node-cgi/drbd/proc';
import { drbdRecordText, type DrbdRecord } from '../../node-cgi/drbd/record';
import { drbdDevice, drbdResource } from '../../node-cgi/drbd/resource';
import { replicaProblem } from '../../node-cgi/drbd/replica';
import { replicaBackupProblem } from '../../node-cgi/backup/cluster';
import { convertArgs } from '../../node-cgi/tools/qemu-img';
import { parseNodeRecord, type NodeRecord } from '../../node-cgi/lib/separation';
import { freePort } from '../helpers/node';
import { rejection } from '../helpers/rejection';

/** Generous: a TCG boot, while other suites may share the machine's two cores. */
const SERVE_TIMEOUT_MS = 420_000;
const STATE_TIMEOUT_MS = 120_000;
const PASSWORD = 'drbd-ops-test-pw';
const DISK_BYTES = 64 * 2 ** 20; // 64 MiB
const VMID = 101;
const MINOR = 0;
const DEV = drbdDevice(MINOR);

/** ' quoted for the node's sh. */
const shq = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/** A lab node's root console: sh, and a program found on PATH as a spawn finds it (the console's busybox ash would run its own applet of the name). */
function consoleRunner(vm: NodeVm): DrbdRunner & { sh(cmd: string): Promise<string> } {
  const sh = async (cmd: string) => {
    const r = await vm.exec(cmd, STATE_TIMEOUT_MS);
    if (r.code !== 0) throw new Error(`${vm.config.name}: ${cmd} → exit ${r.code}: ${r.out.slice(-800)}`);
    return r.out;
  };
  return {
    sh,
    run: ([cmd, ...args]) => sh(`p=$(which ${shq(cmd!)}) && "$p" ${args.map(shq).join(' ')} 2>&1`),
    write: async (file, text) => {
      const dir = file.slice(0, file.lastIndexOf('/'));
      await sh(`mkdir -p ${shq(dir)} && echo ${Buffer.from(text).toString('base64')} | base64 -d > ${shq(file)}`);
    },
    read: (file) => sh(`cat ${shq(file)}`),
  };
}

const T = suite('cluster backup and dual primary in the lab');
let dir: string;
let hub: Hub | undefined;
let lock: LabLock | undefined;
const vms: NodeVm[] = [];
const runners: ReturnType<typeof consoleRunner>[] = [];
/** Each node's record for its root helper (users, the helper's path) and its key. */
const nodes: { rec: NodeRecord; key: string }[] = [];
const captureDir = process.env.RAMVM_DRBD_CAPTURE;

const record: DrbdRecord = {
  resource: `vm-${VMID}-disk-0`, minor: MINOR, bytes: DISK_BYTES,
  hosts: [{ name: 'node1', address: `${LAB_NET_PREFIX}1` }, { name: 'node2', address: `${LAB_NET_PREFIX}2` }],
};
const resource = drbdResource(VMID, 0, MINOR, record.hosts);
const imagesDir = `/var/lib/vz/images/${VMID}`;
const file = `${imagesDir}/${resource.name}.drbd`;

/** Runs `cmd` (a shell command) on node i as user `u`, with that user's groups. */
const asUserCmd = (i: number, u: 'cgi' | 'qemu', cmd: string) => {
  const x = nodes[i]!.rec[u];
  return `$(which setpriv) --reuid=${x.uid} --regid=${x.gid} --init-groups sh -c ${shq(cmd)}`;
};

/** A step of the disk through node i's root helper, asked by the node's user as a CGI asks (sudo -n, the one sudoers line). */
async function helper(i: number, step: DrbdHelperStep): Promise<{ resource: string; device: string; splitBrain?: boolean }> {
  const { rec, key } = nodes[i]!;
  const out = await runners[i]!.sh(`${asUserCmd(i, 'cgi', `$(which sudo) -n ${rec.node} ${rec.helper} ${key} drbd ${step} ${VMID} 0`)} 2>&1; true`);
  const a = JSON.parse(out.trim().split('\n').pop()!) as { ok?: { resource: string; device: string; splitBrain?: boolean }; error?: { message: string } };
  if (!a.ok) throw new Error(`node${i + 1}: drbd ${step}: ${out.trim()}`);
  return a.ok;
}

/** /proc/drbd of node i (0-based), parsed, the raw text kept under `name` when capturing. */
async function proc(i: number, name?: string): Promise<ProcDrbd> {
  const text = await runners[i]!.read('/proc/drbd');
  if (captureDir && name) writeFileSync(join(captureDir, `${name}.node${i + 1}.txt`), text);
  return readProcDrbd({ ...runners[i]!, read: async () => text });
}

/** Polls node i's /proc/drbd until `ok` holds for the resource's minor; returns it and the ms it took. */
async function until(i: number, what: string, ok: (d: DrbdDeviceState) => boolean): Promise<{ dev: DrbdDeviceState; ms: number }> {
  const started = Date.now();
  let last: DrbdDeviceState | undefined;
  while (Date.now() - started < STATE_TIMEOUT_MS) {
    last = deviceOf(await proc(i), MINOR);
    if (last && ok(last)) return { dev: last, ms: Date.now() - started };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`node${i + 1}: not ${what} after ${STATE_TIMEOUT_MS / 1000} s: ${JSON.stringify(last)}`);
}

/** 4 KiB of `tag` written by the QEMU user at 4 KiB block `block` of the DRBD device, flushed. */
const writeBlock = (i: number, block: number, tag: string) =>
  runners[i]!.sh(asUserCmd(i, 'qemu', `printf %s ${shq(tag)} | dd of=${DEV} bs=4096 seek=${block} conv=sync,fsync 2>/dev/null`));
/** What the QEMU user reads back there, `bytes` long. */
const readBlock = (i: number, block: number, bytes: number) =>
  runners[i]!.sh(asUserCmd(i, 'qemu', `dd if=${DEV} bs=4096 skip=${block} count=1 2>/dev/null | head -c ${bytes}`));

async function boot(i: number): Promise<number> {
  const vm = vms[i]!;
  vm.start();
  const ms = await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
  runners[i] = consoleRunner(vm);
  const key = (await runners[i]!.sh('ls /run/ramvm-root | grep -E "^[0-9a-f]{16}$"')).trim();
  nodes[i] = { key, rec: parseNodeRecord(await runners[i]!.read(`/run/ramvm-root/${key}/node.json`)) };
  return ms;
}

T.before(async () => {
  lock = await acquireLabLock({ what: 'the drbd-ops test', wait: true, onWait: (h) => process.stderr.write(`drbd-ops test: waiting for the lab lock (${h})\n`) });
  const accel = (await labAccel()).accel;
  const image = await buildImage({ iso: false });
  dir = mkdtempSync(join(tmpdir(), 'ramvm-drbd-ops-test-'));
  if (captureDir) mkdirSync(captureDir, { recursive: true });
  hub = await startHub();
  for (const i of [1, 2]) {
    const disk = join(dir, `node${i}.img`);
    ensureSparseDisk(disk, 2);
    vms.push(new NodeVm({
      name: `node${i}`, index: i, boot: { kernel: image.vmlinux, initrd: image.initrd }, dataDisk: disk,
      memoryMiB: 1024, cpus: 1, accel, hubPort: hub.port, webPort: await freePort(), adminPassword: PASSWORD,
      shell: true, runDir: join(dir, `node${i}`),
    }));
  }
  const ms = await Promise.all([0, 1].map(boot));
  process.stdout.write(`\n  nodes serving ${ms.map((m) => `${(m / 1000).toFixed(0)} s`).join(', ')} after power-on\n`);
  for (const i of [0, 1]) {
    // The disk's record, written by the node's user as the API writes it.
    const rec = nodes[i]!.rec.cgi;
    await runners[i]!.sh(`mkdir -p ${imagesDir} && chown ${rec.uid}:${rec.gid} ${imagesDir}`);
    await runners[i]!.sh(asUserCmd(i, 'cgi', `echo ${Buffer.from(drbdRecordText(record)).toString('base64')} | base64 -d > ${file}.json`));
  }
});

T.after(async () => {
  // Whatever a failed test left: down (ignoring "not up") and loop devices free, then power off.
  for (const [i, vm] of vms.entries()) {
    if (vm.running() && nodes[i]) await helper(i, 'down').catch(() => undefined);
  }
  await Promise.all(vms.map((v) => v.stop()));
  await hub?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  lock?.release();
});

T('should make a replicated disk, UpToDate on both nodes, node1 primary', async () => {
  await Promise.all([0, 1].map((i) => helper(i, 'create')));
  await until(0, 'connected', (d) => d.connection === 'Connected');
  await helper(0, 'skip-sync');
  for (const i of [0, 1]) await until(i, 'UpToDate on both sides', (d) => d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
  await helper(0, 'primary');
  const { dev } = await until(0, 'primary', (d) => d.role === 'Primary');
  assert.is(replicaProblem(dev, resource.name), null, 'fit for a cluster backup and a migration');
});

const BEFORE = 'ramvm-before-the-disconnect';
const AFTER = 'ramvm-after-the-disconnect';

T('should leave on the disconnected replica the disk as it was, copy it on node2, and resync only what changed', async () => {
  await writeBlock(0, 256, BEFORE);
  await helper(0, 'disconnect');
  const { dev } = await until(1, 'disconnected', (d) => d.connection !== 'Connected');
  assert.is(replicaBackupProblem(dev, resource.name, 'node2'), null, `node2's replica can be backed up: ${JSON.stringify(dev)}`);
  // The guest writes on: 4 KiB at block 256 again, 4 KiB at block 1000.
  await writeBlock(0, 256, AFTER);
  await writeBlock(0, 1000, AFTER);
  const oos = deviceOf(await proc(0), MINOR)!.outOfSyncKiB!;
  assert.is(oos, 8, `node1 knows the 8 KiB written since the disconnect (${oos} KiB out of sync)`);
  // The peer's copy: the device's bytes of the backing file, as the node's user, with the argv the peer's task uses.
  const bytes = Number((await runners[1]!.sh('cat /sys/block/drbd0/size')).trim()) * 512;
  assert.ok(bytes >= DISK_BYTES, `/dev/drbd0 has ${bytes} bytes`);
  const copy = '/tmp/replica-copy.qcow2';
  const argv = convertArgs({ file, format: 'raw', bytes }, { file: copy, format: 'qcow2' }, 'zstd');
  await runners[1]!.sh(asUserCmd(1, 'cgi', `$(which ${argv[0]}) ${argv.slice(1).map(shq).join(' ')} >/dev/null`));
  const back = '/tmp/replica-copy.raw';
  const raw = convertArgs({ file: copy, format: 'qcow2' }, { file: back, format: 'raw' });
  await runners[1]!.sh(asUserCmd(1, 'cgi', `$(which ${raw[0]}) ${raw.slice(1).map(shq).join(' ')} >/dev/null`));
  const size = Number((await runners[1]!.sh(`stat -c %s ${back}`)).trim());
  assert.is(size, bytes, 'the copy is the guest\'s disk, without DRBD\'s meta-data');
  const at = (block: number) => runners[1]!.sh(`dd if=${back} bs=4096 skip=${block} count=1 2>/dev/null | head -c ${BEFORE.length}`);
  assert.is(await at(256), BEFORE, 'the copy holds the block as it was at the disconnect');
  assert.is((await at(1000)).replace(/\0/g, ''), '', 'and nothing written after it');
  await runners[1]!.sh(`rm -f ${copy} ${back}`);
  const started = Date.now();
  await helper(0, 'connect');
  await until(0, 'connected and in sync', (d) => d.connection === 'Connected' && d.peerDisk === 'UpToDate' && d.outOfSyncKiB === 0);
  process.stdout.write(`\n  reconnected and resynced ${oos} KiB in ${Date.now() - started} ms\n`);
});

T('should refuse a second primary until both nodes allow two, then hand the disk to node2 and forbid two again', async () => {
  assert.match((await rejection(helper(1, 'primary'), Error)).message, /Multiple primaries not allowed/, 'DRBD refuses a second primary');
  await Promise.all([0, 1].map((i) => helper(i, 'two-primaries')));
  await helper(1, 'primary');
  const { dev } = await until(1, 'primary beside node1', (d) => d.role === 'Primary' && d.peerRole === 'Primary');
  assert.is(dev.connection, 'Connected');
  assert.is(await readBlock(1, 256, AFTER.length), AFTER, 'node2 reads what node1 wrote last');
  // The source's QEMU is gone after a migration: node1 steps down, and two primaries are forbidden again.
  await helper(0, 'secondary');
  await Promise.all([0, 1].map((i) => helper(i, 'one-primary')));
  const after = await until(1, 'the only primary', (d) => d.role === 'Primary' && d.peerRole === 'Secondary');
  assert.is(after.dev.disk, 'UpToDate');
  assert.is(after.dev.peerDisk, 'UpToDate');
  assert.match((await rejection(helper(0, 'primary'), Error)).message, /Multiple primaries not allowed/, 'a second primary is refused again');
  await helper(1, 'secondary');
});

T.run();
