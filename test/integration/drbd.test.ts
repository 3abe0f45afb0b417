/**
 * Replicated disks between two lab nodes, for real: the node image booted
 * twice (TCG here) on the lab's LAN, DRBD 8.4 from Debian's kernel, every
 * DRBD step asked of the node's root helper by the node's user through its
 * sudoers line, as the CGIs ask (root/drbd.ts):
 *
 *   setpriv --reuid=ramvm … sudo -n /usr/bin/node …/ramvm-root <key> drbd <step> 101 0
 *
 * One booted pair for all checks:
 *   1. a new 64 MiB disk on both nodes: record, create (sparse file, loop
 *      device, meta-data, up); they connect, both Inconsistent
 *   2. skip-sync: both UpToDate, nothing copied, both files sparse
 *   3. node1 primary; the QEMU user writes a pattern through /dev/drbd0
 *      (the device itself: a guest under TCG would add minutes, not checks)
 *   4. node1 powered off; node2 promoted reads the pattern (failover)
 *   5. node1 boots again; up; it resyncs from node2 to UpToDate
 *   6. a split brain made on purpose is seen (the helper's split-brain step)
 *      and solved by discarding node1's changes
 *   7. down on both, loop devices free
 *   8. through the API: the nodes form a cluster; node1 makes a guest with
 *      a replicated disk (both sides UpToDate at once, GET shows it), its
 *      QEMU opens /dev/drbd1 while primary, secondary after the stop; the
 *      delete removes both sides
 *
 * /proc/drbd is read at each state and checked with parseProcDrbd; with
 * RAMVM_DRBD_CAPTURE=<dir> each sample is also written there (the parser's
 * fixtures under test/unit/drbd/fixtures came from such runs).
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
import { backingFileBytes, drbdDevice, drbdResource, loopDevice } from '../../node-cgi/drbd/resource';
import { parseNodeRecord, type NodeRecord } from '../../node-cgi/lib/separation';
import { freePort, loginClient, type Client } from '../helpers/node';
import { waitTask } from '../helpers/cluster';
import { waitFor } from '../helpers/guest';

/** Generous: a TCG boot, while other suites may share the machine's two cores. */
const SERVE_TIMEOUT_MS = 420_000;
const STATE_TIMEOUT_MS = 120_000;
const PASSWORD = 'drbd-test-pw';
const DISK_BYTES = 64 * 2 ** 20; // 64 MiB
const VMID = 101;
const MINOR = 0;
/** Allocated bytes each backing file may hold after a skipped sync: meta-data, no data. */
const SPARSE_LIMIT_BYTES = 2 ** 20; // 1 MiB
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

const T = suite('drbd in the lab');
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

/** Bytes the backing file of node i really holds (allocated blocks × 512). */
async function allocated(i: number): Promise<{ size: number; used: number }> {
  const out = await runners[i]!.run(['stat', '-c', '%s %b %B', file]);
  const [size, blocks, unit] = out.trim().split(' ').map(Number);
  return { size: size!, used: blocks! * unit! };
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
  lock = await acquireLabLock({ what: 'the drbd test', wait: true, onWait: (h) => process.stderr.write(`drbd test: waiting for the lab lock (${h})\n`) });
  const accel = (await labAccel()).accel;
  const image = await buildImage({ iso: false });
  dir = mkdtempSync(join(tmpdir(), 'ramvm-drbd-test-'));
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
    // Flushed, as the API's atomic write does: node1 is powered off later and must find it after its boot.
    await runners[i]!.sh(asUserCmd(i, 'cgi', `echo ${Buffer.from(drbdRecordText(record)).toString('base64')} | base64 -d > ${file}.json && sync`));
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

T('should create a new disk on both nodes through the root helper and connect them, both Inconsistent', async () => {
  const p = await proc(0, 'loaded');
  assert.match(p.version, /^8\.4\./, 'the 8.4 module is loaded at boot');
  const started = Date.now();
  await Promise.all([0, 1].map((i) => helper(i, 'create')));
  await until(0, 'connected', (d) => d.connection === 'Connected');
  const connectMs = Date.now() - started;
  for (const i of [0, 1]) {
    const d = deviceOf(await proc(i, 'connected-inconsistent'), MINOR)!;
    assert.equal({ ...d, outOfSyncKiB: 0 }, {
      minor: MINOR, connection: 'Connected', role: 'Secondary', peerRole: 'Secondary', disk: 'Inconsistent', peerDisk: 'Inconsistent', protocol: 'C', outOfSyncKiB: 0,
    });
  }
  const back = await runners[0]!.run(['losetup', '--list', '--noheadings', '--output', 'BACK-FILE', loopDevice(MINOR)]);
  assert.is(back.trim(), file, 'the loop device by number is over the backing file');
  // A secondary's device does not open (Wrong medium type): its size from sysfs.
  const size = Number((await runners[0]!.read(`/sys/block/drbd${MINOR}/size`)).trim()) * 512;
  assert.ok(size >= DISK_BYTES, `the DRBD device has ${size} bytes, at least the disk's ${DISK_BYTES}`);
  const res = await runners[0]!.sh(`ls /run/ramvm-root/${nodes[0]!.key}/drbd/`);
  assert.match(res, /vm-101-disk-0\.res/, 'the resource file is in root\'s folder');
  process.stdout.write(`  create on both + connect: ${connectMs} ms; ${DEV} ${size} bytes over a ${backingFileBytes(DISK_BYTES)}-byte file\n`);
});

T('should skip the initial sync of the empty disk: both UpToDate, both files sparse', async () => {
  await helper(0, 'skip-sync');
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

const PATTERN = 'ramvm-drbd-pattern-1';
let lastBlock = 0;

T('should let the QEMU user write through the primary, and not the secondary', async () => {
  await helper(0, 'primary');
  await until(1, 'seeing node1 primary', (d) => d.peerRole === 'Primary');
  await proc(0, 'primary');
  await proc(1, 'secondary');
  const owner = await runners[0]!.sh(`stat -c %u ${DEV}`);
  assert.is(Number(owner.trim()), nodes[0]!.rec.qemu.uid, 'the primary\'s device is the QEMU user\'s');
  const size = Number((await runners[0]!.run(['blockdev', '--getsize64', DEV])).trim());
  lastBlock = size / 4096 - 1;
  for (const b of [256, lastBlock]) await writeBlock(0, b, `${PATTERN}@${b}`);
  assert.is(await readBlock(0, 256, PATTERN.length + 4), `${PATTERN}@256`);
  const denied = await runners[1]!.sh(`${asUserCmd(1, 'qemu', `dd if=${DEV} bs=4096 count=1 of=/dev/null 2>&1`)}; echo exit=$?`);
  assert.match(denied, /exit=1/, 'the secondary\'s device is not the QEMU user\'s');
});

T('should fail over: node1 powered off, node2 promoted reads what node1 wrote', async () => {
  await vms[0]!.stop();
  const { ms } = await until(1, 'without its peer', (d) => d.connection === 'WFConnection' && d.peerDisk === 'DUnknown');
  await proc(1, 'peer-gone');
  const started = Date.now();
  await helper(1, 'primary');
  const { dev } = await until(1, 'primary', (d) => d.role === 'Primary');
  assert.is(dev.disk, 'UpToDate');
  for (const b of [256, lastBlock]) assert.is(await readBlock(1, b, `${PATTERN}@${b}`.length), `${PATTERN}@${b}`, `node2 reads node1's write at block ${b}`);
  // What the survivor writes now, node1 must get when it is back.
  await runners[1]!.run(['dd', 'if=/dev/urandom', `of=${DEV}`, 'bs=1M', 'count=8', 'seek=8', 'conv=fsync']);
  await writeBlock(1, 512, 'written-on-node2');
  process.stdout.write(`  node2 saw its peer gone ${ms} ms after node1's power-off; promoted and read back in ${Date.now() - started} ms\n`);
});

T('should bring node1 back as secondary and resync it from node2 to UpToDate', async () => {
  const bootMs = await boot(0);
  const started = Date.now();
  await helper(0, 'up');
  let seen: DrbdDeviceState | undefined;
  while (Date.now() - started < STATE_TIMEOUT_MS) {
    const d = deviceOf(await proc(0, seen ? undefined : 'synctarget'), MINOR);
    if (d?.sync && !seen) seen = d;
    if (d?.connection === 'Connected' && d.disk === 'UpToDate') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const { dev } = await until(0, 'UpToDate again', (d) => d.connection === 'Connected' && d.disk === 'UpToDate');
  assert.is(dev.role, 'Secondary');
  assert.is(dev.peerRole, 'Primary');
  assert.is(dev.outOfSyncKiB, 0);
  if (seen) assert.is(seen.connection, 'SyncTarget');
  process.stdout.write(`  node1 back: serving ${(bootMs / 1000).toFixed(0)} s after power-on; up to UpToDate in ${Date.now() - started} ms (${seen ? `seen at ${seen.sync!.percent}%` : 'resync over before the first look'})\n`);
  // node1 holds what node2 wrote while it was off.
  await helper(1, 'secondary');
  await helper(0, 'primary');
  assert.is(await readBlock(0, 512, 'written-on-node2'.length), 'written-on-node2');
});

T('should see a split brain made on purpose, and solve it by discarding one side\'s changes', async () => {
  // node1 is primary; node2 cut off and promoted: both write.
  await helper(1, 'disconnect');
  await until(0, 'waiting for its peer', (d) => d.connection === 'WFConnection');
  await helper(1, 'primary');
  await writeBlock(0, 600, 'node1-side');
  await writeBlock(1, 601, 'node2-side');
  await helper(1, 'secondary');
  await helper(1, 'connect');
  await until(1, 'StandAlone after the handshake', (d) => d.connection === 'StandAlone');
  await until(0, 'StandAlone after the handshake', (d) => d.connection === 'StandAlone');
  await proc(0, 'split-brain');
  assert.is((await helper(0, 'split-brain')).splitBrain, true, 'node1 sees the split brain');
  assert.is((await helper(1, 'split-brain')).splitBrain, true, 'node2 sees the split brain');
  // Keep node1's changes: node2's are discarded.
  await helper(1, 'discard');
  await helper(0, 'connect');
  await until(1, 'resynced from node1', (d) => d.connection === 'Connected' && d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
  assert.is((await helper(1, 'split-brain')).splitBrain, false, 'solved');
  await helper(0, 'secondary');
  await helper(1, 'primary');
  assert.is(await readBlock(1, 600, 'node1-side'.length), 'node1-side', 'node1\'s change kept');
  assert.not.equal(await readBlock(1, 601, 'node2-side'.length), 'node2-side', 'node2\'s change discarded');
  await helper(1, 'secondary');
});

T('should take the resource down and free the loop device on both nodes', async () => {
  await Promise.all([0, 1].map((i) => helper(i, 'down')));
  for (const i of [0, 1]) {
    const d = deviceOf(await proc(i, 'down'), MINOR);
    assert.ok(!d || d.connection === 'Unconfigured', `node${i + 1}: ${JSON.stringify(d)}`);
    const back = await runners[i]!.sh(`$(which losetup) ${loopDevice(MINOR)} 2>&1; true`);
    assert.not.match(back, /\.drbd/, `node${i + 1}: the loop device is free`);
  }
});

// Through the API, as an admin makes one: the two lab nodes form a cluster, node1 makes a guest with a replicated disk.
const API_VMID = 102;
let api: Client[] = [];

T('should form a cluster of the two lab nodes through the API', async () => {
  const [m, n] = await Promise.all(vms.map((v) => loginClient(v.url, 'admin', PASSWORD)));
  // Made over the lab's LAN (node2's console asks node1 at 10.99.0.1): a node's cluster URL is the
  // address the create came in on, and the test's own way in is QEMU's user network (10.0.2.15).
  const script = `(async()=>{const u='https://${LAB_NET_PREFIX}1:8006';` +
    `let r=await fetch(u+'/api/access/ticket',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({username:'admin',password:${JSON.stringify(PASSWORD)}})});` +
    `const t=(await r.json()).data;` +
    `r=await fetch(u+'/api/cluster',{method:'POST',headers:{'content-type':'application/json',cookie:'RamvmAuth='+encodeURIComponent(t.ticket),'X-Ramvm-CSRF':t.csrf},body:JSON.stringify({name:'lab'})});` +
    `console.log(r.status,await r.text())})()`;
  // The node serves its own self-signed certificate; this one-off call inside the lab trusts it.
  const created = await runners[1]!.sh(`NODE_TLS_REJECT_UNAUTHORIZED=0 $(which node) --no-warnings -e ${shq(script)} 2>&1`);
  assert.match(created, /^200 /, created);
  const tok = await m!.post('/api/cluster/token', {});
  assert.is(tok.status, 200, tok.text);
  const j = await n!.post('/api/cluster/join', { master: `https://${LAB_NET_PREFIX}1:8007`, token: tok.json.data.token, fingerprint: tok.json.data.fingerprint });
  assert.is(j.status, 202, j.text);
  const t = await waitTask(n!, j.json.data.task, STATE_TIMEOUT_MS, () => loginClient(vms[1]!.url, 'admin', PASSWORD));
  assert.is(t.status, 'ok', t.message);
  api = await Promise.all(vms.map((v) => loginClient(v.url, 'admin', PASSWORD)));
  // node2 serves again once its join has restarted it: node1 sees it online within a poll or two.
  const st = await waitFor('node2 online in node1\'s view', async () => {
    const r = await api[0]!.get('/api/cluster');
    return r.status === 200 && r.json.data.nodes.every((x: { online: boolean }) => x.online) ? r : null;
  }, STATE_TIMEOUT_MS, 1000);
  assert.equal(st.json.data.nodes.map((x: { name: string; online: boolean }) => [x.name, x.online]), [['node1', true], ['node2', true]]);
  process.stdout.write(`  cluster URLs: ${st.json.data.nodes.map((x: { url: string }) => x.url).join(', ')}\n`);
});

T('should create a guest with a replicated disk on node1 through the API: both sides UpToDate, no sync, shown in GET', async () => {
  const started = Date.now();
  const r = await api[0]!.post('/api/vm', { vmid: API_VMID, name: 'replicated', memory: 64, nics: [], accel: 'tcg', disks: [{ size: '64M', bus: 'virtio', replicated: true }] });
  assert.is(r.status, 201, r.text);
  const createMs = Date.now() - started;
  assert.equal(r.json.data.disks[0], { id: 'disk0', file: `vm-${API_VMID}-disk-0.drbd`, size: '64M', bus: 'virtio', format: 'raw', cache: 'writeback', replicated: true });
  const recs = await Promise.all([0, 1].map((i) => runners[i]!.read(`/var/lib/vz/images/${API_VMID}/vm-${API_VMID}-disk-0.drbd.json`)));
  const minor = (JSON.parse(recs[0]!) as DrbdRecord).minor;
  assert.is(minor, 1, 'minor 0 is the earlier disk\'s (its record stays)');
  assert.equal(JSON.parse(recs[1]!), JSON.parse(recs[0]!), 'the same record on both nodes');
  for (const i of [0, 1]) {
    const d = deviceOf(await proc(i), minor)!;
    assert.equal([d.connection, d.disk, d.peerDisk], ['Connected', 'UpToDate', 'UpToDate'], `node${i + 1}`);
  }
  const g = await api[0]!.get(`/api/vm/${API_VMID}`);
  assert.is(g.status, 200, g.text);
  assert.equal(
    { peer: g.json.data.disks[0].replication.peer, state: g.json.data.disks[0].replication.state, synced: g.json.data.disks[0].replication.synced },
    { peer: 'node2', state: 'UpToDate', synced: 100 },
  );
  process.stdout.write(`  POST /api/vm with a replicated 64 MiB disk: ${createMs} ms\n`);
});

T('should open /dev/drbd1 in the guest\'s QEMU, primary while it runs and secondary after its stop', async () => {
  const s = await api[0]!.post(`/api/vm/${API_VMID}/start`);
  assert.is(s.status, 200, s.text);
  const pid = (await api[0]!.get(`/api/vm/${API_VMID}`)).json.data.runtime.pid as number;
  const fds = await runners[0]!.sh(`ls -l /proc/${pid}/fd 2>&1`);
  assert.match(fds, /\/dev\/drbd1/, 'QEMU has the DRBD device open');
  assert.is(deviceOf(await proc(0), 1)!.role, 'Primary');
  const st = await api[0]!.post(`/api/vm/${API_VMID}/stop`);
  assert.is(st.status, 200, st.text);
  assert.is(deviceOf(await proc(0), 1)!.role, 'Secondary');
});

T('should delete the guest and both sides of its replicated disk', async () => {
  const d = await api[0]!.del(`/api/vm/${API_VMID}`);
  assert.is(d.status, 204, d.text);
  for (const i of [0, 1]) {
    const dev = deviceOf(await proc(i), 1);
    assert.ok(!dev || dev.connection === 'Unconfigured', `node${i + 1}: ${JSON.stringify(dev)}`);
    const left = await runners[i]!.sh(`ls /var/lib/vz/images/${API_VMID} 2>&1; true`);
    assert.match(left, /No such file/, `node${i + 1}: nothing of guest ${API_VMID} left: ${left}`);
  }
});

T.run();
