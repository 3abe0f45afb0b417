/**
 * A replicated disk between two lab nodes, for real: the node image booted
 * twice (TCG here) on the lab's LAN, DRBD 8.4 from Debian's kernel. The
 * steps are those of node-cgi/drbd (createSteps, drbdadmArgs, …) carried
 * out by applySteps with a runner that types each argv into the node's
 * root console, as the root helper will carry them out on a node:
 *
 *   1. a new 64 MiB disk on both nodes: sparse file, loop device, resource
 *      file, meta-data, up; they connect, both Inconsistent
 *   2. skip-sync on node1: both UpToDate, nothing copied, both files sparse
 *   3. node1 primary writes a pattern; node2 primary reads it back
 *   4. node2 disconnected while node1 writes; reconnected, it resyncs
 *   5. down on both, loop devices free
 *
 * /proc/drbd is read at each state and checked with parseProcDrbd; with
 * RAMVM_DRBD_CAPTURE=<dir> each sample is also written there (the parser's
 * fixtures under test/unit/drbd/fixtures came from such a run).
 *
 * Not passing yet: on the lab nodes `drbdadm create-md --force` gives no
 * answer on the console within 120 s (the nodes boot, the 8.4 module is
 * loaded, the file and its loop device /dev/loop1000 are made), and the
 * steps after it fail for want of the resource.
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
import { createSteps, deactivateSteps, drbdadmArgs, loopBackingArgs, type NodeDisk } from '../../node-cgi/drbd/commands';
import { applySteps, readProcDrbd, type DrbdRunner } from '../../node-cgi/drbd/edge';
import { deviceOf, type DrbdDeviceState, type ProcDrbd } from '../../node-cgi/drbd/proc';
import { backingFileBytes, drbdDevice, drbdResource, drbdResourceConfig, loopDevice } from '../../node-cgi/drbd/resource';
import { freePort } from '../helpers/node';

/** Generous: a TCG boot, while other suites may share the machine's two cores. */
const SERVE_TIMEOUT_MS = 360_000;
const STATE_TIMEOUT_MS = 120_000;
const PASSWORD = 'drbd-test-pw';
const DISK_BYTES = 64 * 2 ** 20; // 64 MiB
const VMID = 101;
const MINOR = 0;
/** Allocated bytes each backing file may hold after a skipped sync: meta-data, no data. */
const SPARSE_LIMIT_BYTES = 2 ** 20; // 1 MiB

/** ' quoted for the node's sh. */
const shq = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/** Runs steps on a lab node's root console. */
function consoleRunner(vm: NodeVm): DrbdRunner {
  const sh = async (cmd: string) => {
    const r = await vm.exec(cmd, STATE_TIMEOUT_MS);
    if (r.code !== 0) throw new Error(`${vm.config.name}: ${cmd} → exit ${r.code}: ${r.out.slice(-500)}`);
    return r.out;
  };
  return {
    // The program found on PATH as a CGI's spawn finds it: the console's busybox ash would run its own applet of the name instead.
    run: ([cmd, ...args]) => sh(`p=$(which ${shq(cmd!)}) && "$p" ${args.map(shq).join(' ')} 2>&1`),
    write: async (file, text) => {
      const dir = file.slice(0, file.lastIndexOf('/'));
      await sh(`mkdir -p ${shq(dir)} && echo ${Buffer.from(text).toString('base64')} | base64 -d > ${shq(file)}`);
    },
    read: (file) => sh(`cat ${shq(file)}`),
  };
}

const T = suite('drbd in the lab');
let dir: string;
let hub: Hub | undefined;
let lock: LabLock | undefined;
const vms: NodeVm[] = [];
const runners: DrbdRunner[] = [];
const disks: NodeDisk[] = [];
const captureDir = process.env.RAMVM_DRBD_CAPTURE;

const resource = drbdResource(VMID, 0, MINOR, [
  { name: 'node1', address: `${LAB_NET_PREFIX}1` },
  { name: 'node2', address: `${LAB_NET_PREFIX}2` },
]);
const config = drbdResourceConfig(resource);
const file = `/var/lib/vz/images/${VMID}/${resource.name}.drbd`;

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

/** Bytes the backing file of node i really holds (allocated blocks × 512). */
async function allocated(i: number): Promise<{ size: number; used: number }> {
  const out = await runners[i]!.run(['stat', '-c', '%s %b %B', file]);
  const [size, blocks, unit] = out.trim().split(' ').map(Number);
  return { size: size!, used: blocks! * unit! };
}

T.before(async () => {
  lock = await acquireLabLock({ what: 'the drbd test', wait: true, onWait: (h) => process.stderr.write(`drbd test: waiting for the lab lock (${h})\n`) });
  const accel = (await labAccel()).accel;
  const image = await buildImage({ iso: false });
  dir = mkdtempSync(join(tmpdir(), 'ramvm-drbd-test-'));
  if (captureDir) mkdirSync(captureDir, { recursive: true });
  hub = await startHub();
  for (const i of [1, 2]) {
    const disk = join(dir, `node${i}.img`);
    ensureSparseDisk(disk, 2);
    const vm = new NodeVm({
      name: `node${i}`, index: i, boot: { kernel: image.vmlinux, initrd: image.initrd }, dataDisk: disk,
      memoryMiB: 1024, cpus: 1, accel, hubPort: hub.port, webPort: await freePort(), adminPassword: PASSWORD,
      shell: true, runDir: join(dir, `node${i}`),
    });
    vms.push(vm);
    vm.start();
  }
  await Promise.all(vms.map((v) => v.waitServing(PASSWORD, SERVE_TIMEOUT_MS)));
  for (const vm of vms) runners.push(consoleRunner(vm));
  for (const i of [0, 1]) {
    disks.push({ resource, configFile: `/run/ramvm/drbd/${resource.name}.res`, config, file, bytes: DISK_BYTES });
    await runners[i]!.run(['mkdir', '-p', `/var/lib/vz/images/${VMID}`]);
  }
});

T.after(async () => {
  // Whatever a failed test left: down (ignoring "not up") and loop devices free, then power off.
  for (const [i, r] of runners.entries()) {
    await r.run(['sh', '-c', `drbdadm -c ${disks[i]?.configFile} down ${resource.name}; losetup -d ${loopDevice(MINOR)}; true`]).catch(() => undefined);
  }
  await Promise.all(vms.map((v) => v.stop()));
  await hub?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  lock?.release();
});

let connectMs = 0;

T('should bring a new disk up on both nodes and connect them, both Inconsistent', async () => {
  const p = await proc(0, 'loaded');
  assert.match(p.version, /^8\.4\./, 'the 8.4 module is loaded at boot');
  await Promise.all([0, 1].map((i) => applySteps(createSteps(disks[i]!), runners[i]!)));
  const started = Date.now();
  await until(0, 'connected', (d) => d.connection === 'Connected');
  connectMs = Date.now() - started;
  const [a, b] = [await proc(0, 'connected-inconsistent'), await proc(1, 'connected-inconsistent')];
  for (const p of [a, b]) {
    assert.equal(deviceOf(p, MINOR), {
      minor: MINOR, connection: 'Connected', role: 'Secondary', peerRole: 'Secondary', disk: 'Inconsistent', peerDisk: 'Inconsistent', protocol: 'C',
      outOfSyncKiB: deviceOf(p, MINOR)!.outOfSyncKiB,
    });
  }
  const back = await runners[0]!.run(loopBackingArgs(loopDevice(MINOR)));
  assert.is(back.trim(), file, 'the loop device by number is over the backing file');
  const size = Number((await runners[0]!.run(['blockdev', '--getsize64', drbdDevice(MINOR)])).trim());
  assert.ok(size >= DISK_BYTES, `the DRBD device has ${size} bytes, at least the disk's ${DISK_BYTES}`);
  process.stdout.write(`\n  connected ${connectMs} ms after up; ${drbdDevice(MINOR)} ${size} bytes over a ${backingFileBytes(DISK_BYTES)}-byte file\n`);
});

T('should skip the initial sync of the empty disk: both UpToDate, both files sparse', async () => {
  await runners[0]!.run(drbdadmArgs('skip-sync', disks[0]!.configFile, resource.name));
  for (const i of [0, 1]) {
    const { dev } = await until(i, 'UpToDate on both sides', (d) => d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
    assert.is(dev.connection, 'Connected');
    assert.is(dev.outOfSyncKiB, 0);
    await proc(i, 'connected-uptodate');
  }
  for (const i of [0, 1]) {
    const { size, used } = await allocated(i);
    process.stdout.write(`  node${i + 1}: backing file ${size} bytes, ${used} allocated\n`);
    assert.is(size, backingFileBytes(DISK_BYTES));
    assert.ok(used < SPARSE_LIMIT_BYTES, `node${i + 1}'s file holds ${used} bytes: the sync was skipped`);
  }
});

const PATTERN = 'ramvm-drbd-pattern-';

T('should read on node2 what node1 wrote as primary, after switching the primary', async () => {
  await runners[0]!.run(drbdadmArgs('primary', disks[0]!.configFile, resource.name));
  await until(1, 'seeing node1 primary', (d) => d.peerRole === 'Primary');
  await proc(0, 'primary');
  await proc(1, 'secondary');
  const pattern = PATTERN + 'x'.repeat(4096 - PATTERN.length - 1) + '\n';
  // 4 KiB at 1 MiB and at the last 4 KiB of the device, written through DRBD and flushed.
  const size = Number((await runners[0]!.run(['blockdev', '--getsize64', drbdDevice(MINOR)])).trim());
  for (const at of [2 ** 20, size - 4096]) {
    await runners[0]!.run(['sh', '-c', `printf %s '${pattern.trimEnd()}' | dd of=${drbdDevice(MINOR)} bs=4096 seek=${at / 4096} conv=sync,fsync 2>/dev/null`]);
  }
  await runners[0]!.run(drbdadmArgs('secondary', disks[0]!.configFile, resource.name));
  await runners[1]!.run(drbdadmArgs('primary', disks[1]!.configFile, resource.name));
  const { dev } = await until(1, 'primary', (d) => d.role === 'Primary');
  assert.is(dev.peerRole, 'Secondary');
  for (const at of [2 ** 20, size - 4096]) {
    const out = await runners[1]!.run(['sh', '-c', `dd if=${drbdDevice(MINOR)} bs=4096 skip=${at / 4096} count=1 2>/dev/null | head -c ${PATTERN.length}`]);
    assert.is(out, PATTERN, `node2 reads node1's write at ${at}`);
  }
  await runners[1]!.run(drbdadmArgs('secondary', disks[1]!.configFile, resource.name));
});

T('should resync to the peer what it missed while disconnected', async () => {
  await runners[0]!.run(drbdadmArgs('primary', disks[0]!.configFile, resource.name));
  await runners[1]!.run(drbdadmArgs('disconnect', disks[1]!.configFile, resource.name));
  await until(0, 'waiting for its peer', (d) => d.connection === 'WFConnection');
  await proc(0, 'wfconnection');
  await proc(1, 'standalone');
  await runners[0]!.run(['dd', 'if=/dev/urandom', `of=${drbdDevice(MINOR)}`, 'bs=1M', 'count=48', 'conv=fsync']);
  const p = deviceOf(await proc(0, 'wfconnection-outofsync'), MINOR)!;
  assert.ok(p.outOfSyncKiB! >= 48 * 1024, `48 MiB out of sync, /proc/drbd says ${p.outOfSyncKiB} KiB`);
  await runners[1]!.run(drbdadmArgs('connect', disks[1]!.configFile, resource.name));
  // Catch the resync under way (it may also be over before the first look).
  let seen: DrbdDeviceState | undefined;
  const started = Date.now();
  while (Date.now() - started < STATE_TIMEOUT_MS) {
    const d = deviceOf(await proc(0, seen ? undefined : 'syncsource'), MINOR)!;
    if (d.sync && !seen) {
      seen = d;
      await proc(1, 'synctarget');
    }
    if (d.connection === 'Connected' && d.peerDisk === 'UpToDate') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  process.stdout.write(`  resync of 48 MiB: ${seen ? `seen at ${seen.sync!.percent}% (${seen.connection})` : 'over before the first look'}, done in ${Date.now() - started} ms\n`);
  const { dev } = await until(1, 'UpToDate again', (d) => d.connection === 'Connected' && d.disk === 'UpToDate');
  assert.is(dev.outOfSyncKiB, 0);
  if (seen) {
    assert.is(seen.connection, 'SyncSource');
    assert.is(seen.sync!.kind, 'sync');
    assert.ok(seen.sync!.percent >= 0 && seen.sync!.percent <= 100);
  }
  await runners[0]!.run(drbdadmArgs('secondary', disks[0]!.configFile, resource.name));
});

T('should take the resource down and free the loop device on both nodes', async () => {
  await Promise.all([0, 1].map((i) => applySteps(deactivateSteps(disks[i]!), runners[i]!)));
  for (const i of [0, 1]) {
    const d = deviceOf(await proc(i, 'down'), MINOR);
    assert.ok(!d || d.connection === 'Unconfigured', `node${i + 1}: ${JSON.stringify(d)}`);
    const back = await runners[i]!.run(['sh', '-c', `losetup ${loopDevice(MINOR)} 2>&1; true`]);
    assert.not.match(back, /\.drbd/, `node${i + 1}: the loop device is free`);
  }
});

T.run();
