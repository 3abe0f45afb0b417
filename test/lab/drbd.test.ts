/**
 * Replicated disks between two lab nodes, for real: the node image booted
 * twice (TCG here) on the lab's LAN, DRBD 8.4 from Debian's kernel, every
 * DRBD step asked of the node's root helper by the node's user through its
 * sudoers line, as the CGIs ask (root/drbd.ts):
 *
 *   setpriv --reuid=ramvm … sudo -n /usr/bin/node …/ramvm-root <key> drbd <step> 101 0
 *
 * The pair is the one all DRBD lab suites share (test/helpers/drbd-lab.ts);
 * this suite's disk is guest 101's disk 0 on minor 0:
 *   1. a new 64 MiB disk on both nodes: record, create (sparse file, loop
 *      device, meta-data, up); they connect, both Inconsistent
 *   2. skip-sync: both UpToDate, nothing copied, both files sparse
 *   3. node1 primary; the QEMU user writes a pattern through /dev/drbd0
 *      (the device itself: a guest under TCG would add minutes, not checks);
 *      node2's backing file holds it when the write returns (protocol C)
 *   4. a split brain made on purpose is seen (the helper's split-brain step)
 *      and solved by discarding node2's changes
 *      (a node powered off, the failover and its return are
 *      drbd-failover.test.ts's, through the API, on this pair)
 *   5. down on both, loop devices free
 *   6. through the API: the nodes form a cluster; node1 makes a guest with
 *      a replicated disk (both sides UpToDate at once, GET shows it), its
 *      QEMU opens /dev/drbd1 while primary, secondary after the stop; a
 *      replicated disk added to the stopped guest is made as at a create
 *      (no sync, the peer's config copy updated) and its removal takes both
 *      sides; a raw disk with data made replicated reaches the peer in a
 *      full sync; the delete removes both sides of every disk
 *
 * /proc/drbd is read at each state and checked with parseProcDrbd; with
 * RAMVM_DRBD_CAPTURE=<dir> each sample is also written there (the parser's
 * fixtures under test/unit/drbd/fixtures came from such runs).
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { deviceOf, type DrbdDeviceState } from '../../node-cgi/drbd/proc';
import type { DrbdRecord } from '../../node-cgi/drbd/record';
import { backingFileBytes, loopDevice } from '../../node-cgi/drbd/resource';
import type { Client } from '../helpers/node';
import { shq, STATE_TIMEOUT_MS, useDrbdLab } from '../helpers/drbd-lab';

const VMID = 101;
const MINOR = 0;
const DISK_BYTES = 64 * 2 ** 20; // 64 MiB
/** Allocated bytes each backing file may hold after a skipped sync: meta-data, no data. */
const SPARSE_LIMIT_BYTES = 2 ** 20; // 1 MiB

const T = suite('drbd in the lab');
// Whatever a failed test left of this suite's disk: down, loop devices free (its record stays: the API test counts on its minor being taken).
const lab = useDrbdLab(T, async () => {
  for (const [i, vm] of lab.vms.entries()) if (vm.running() && lab.nodes[i]) await d.helper(i, 'down').catch(() => undefined);
});
const d = lab.disk(VMID, MINOR, DISK_BYTES);
const { file, dev: DEV } = d;

T.before(() => d.writeRecords());

/** Bytes the backing file of node i really holds (allocated blocks × 512). */
async function allocated(i: number): Promise<{ size: number; used: number }> {
  const out = await lab.runners[i]!.run(['stat', '-c', '%s %b %B', file]);
  const [size, blocks, unit] = out.trim().split(' ').map(Number);
  return { size: size!, used: blocks! * unit! };
}

T('should create a new disk on both nodes through the root helper and connect them, both Inconsistent', async () => {
  const p = await lab.proc(0, 'loaded');
  assert.match(p.version, /^8\.4\./, 'the 8.4 module is loaded at boot');
  const started = Date.now();
  await Promise.all([0, 1].map((i) => d.helper(i, 'create')));
  await d.until(0, 'connected', (d) => d.connection === 'Connected');
  const connectMs = Date.now() - started;
  for (const i of [0, 1]) {
    const d = deviceOf(await lab.proc(i, 'connected-inconsistent'), MINOR)!;
    assert.equal({ ...d, outOfSyncKiB: 0 }, {
      minor: MINOR, connection: 'Connected', role: 'Secondary', peerRole: 'Secondary', disk: 'Inconsistent', peerDisk: 'Inconsistent', protocol: 'C', outOfSyncKiB: 0,
    });
  }
  const back = await lab.runners[0]!.run(['losetup', '--list', '--noheadings', '--output', 'BACK-FILE', loopDevice(MINOR)]);
  assert.is(back.trim(), file, 'the loop device by number is over the backing file');
  // A secondary's device does not open (Wrong medium type): its size from sysfs.
  const size = Number((await lab.runners[0]!.read(`/sys/block/drbd${MINOR}/size`)).trim()) * 512;
  assert.ok(size >= DISK_BYTES, `the DRBD device has ${size} bytes, at least the disk's ${DISK_BYTES}`);
  const res = await lab.runners[0]!.sh(`ls /run/ramvm-root/${lab.nodes[0]!.key}/drbd/`);
  assert.match(res, /vm-101-disk-0\.res/, 'the resource file is in root\'s folder');
  process.stdout.write(`  create on both + connect: ${connectMs} ms; ${DEV} ${size} bytes over a ${backingFileBytes(DISK_BYTES)}-byte file\n`);
});

T('should skip the initial sync of the empty disk: both UpToDate, both files sparse', async () => {
  await d.helper(0, 'skip-sync');
  for (const i of [0, 1]) {
    const { dev } = await d.until(i, 'UpToDate on both sides', (d) => d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
    assert.is(dev.connection, 'Connected');
    assert.is(dev.outOfSyncKiB, 0);
    await lab.proc(i, 'connected-uptodate');
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
  await d.helper(0, 'primary');
  await d.until(1, 'seeing node1 primary', (d) => d.peerRole === 'Primary');
  await lab.proc(0, 'primary');
  await lab.proc(1, 'secondary');
  const owner = await lab.runners[0]!.sh(`stat -c %u ${DEV}`);
  assert.is(Number(owner.trim()), lab.nodes[0]!.rec.qemu.uid, 'the primary\'s device is the QEMU user\'s');
  const size = Number((await lab.runners[0]!.run(['blockdev', '--getsize64', DEV])).trim());
  lastBlock = size / 4096 - 1;
  for (const b of [256, lastBlock]) await d.writeBlock(0, b, `${PATTERN}@${b}`);
  assert.is(await d.readBlock(0, 256, PATTERN.length + 4), `${PATTERN}@256`);
  // Protocol C: on node2's backing file (the data from its first byte, the meta-data after it) once the write returned.
  for (const b of [256, lastBlock]) {
    const copy = await lab.runners[1]!.sh(`dd if=${file} bs=4096 skip=${b} count=1 2>/dev/null | head -c ${`${PATTERN}@${b}`.length}`);
    assert.is(copy, `${PATTERN}@${b}`, `node2's copy holds node1's write at block ${b}`);
  }
  const denied = await lab.runners[1]!.sh(`${lab.asUserCmd(1, 'qemu', `dd if=${DEV} bs=4096 count=1 of=/dev/null 2>&1`)}; echo exit=$?`);
  assert.match(denied, /exit=1/, 'the secondary\'s device is not the QEMU user\'s');
});

T('should see a split brain made on purpose, and solve it by discarding one side\'s changes', async () => {
  // node1 is primary; node2 cut off and promoted: both write.
  await d.helper(1, 'disconnect');
  await d.until(0, 'waiting for its peer', (d) => d.connection === 'WFConnection');
  await d.helper(1, 'primary');
  await d.writeBlock(0, 600, 'node1-side');
  await d.writeBlock(1, 601, 'node2-side');
  await d.helper(1, 'secondary');
  await d.helper(1, 'connect');
  await d.until(1, 'StandAlone after the handshake', (d) => d.connection === 'StandAlone');
  await d.until(0, 'StandAlone after the handshake', (d) => d.connection === 'StandAlone');
  await lab.proc(0, 'split-brain');
  assert.is((await d.helper(0, 'split-brain')).splitBrain, true, 'node1 sees the split brain');
  assert.is((await d.helper(1, 'split-brain')).splitBrain, true, 'node2 sees the split brain');
  // Keep node1's changes: node2's are discarded.
  await d.helper(1, 'discard');
  await d.helper(0, 'connect');
  await d.until(1, 'resynced from node1', (d) => d.connection === 'Connected' && d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
  assert.is((await d.helper(1, 'split-brain')).splitBrain, false, 'solved');
  await d.helper(0, 'secondary');
  await d.helper(1, 'primary');
  assert.is(await d.readBlock(1, 600, 'node1-side'.length), 'node1-side', 'node1\'s change kept');
  assert.not.equal(await d.readBlock(1, 601, 'node2-side'.length), 'node2-side', 'node2\'s change discarded');
  await d.helper(1, 'secondary');
});

T('should take the resource down and free the loop device on both nodes', async () => {
  await Promise.all([0, 1].map((i) => d.helper(i, 'down')));
  for (const i of [0, 1]) {
    const d = deviceOf(await lab.proc(i, 'down'), MINOR);
    assert.ok(!d || d.connection === 'Unconfigured', `node${i + 1}: ${JSON.stringify(d)}`);
    const back = await lab.runners[i]!.sh(`$(which losetup) ${loopDevice(MINOR)} 2>&1; true`);
    assert.not.match(back, /\.drbd/, `node${i + 1}: the loop device is free`);
  }
});

// Through the API, as an admin makes one: the two lab nodes form a cluster, node1 makes a guest with a replicated disk.
const API_VMID = 102;
let api: Client[] = [];

T('should form a cluster of the two lab nodes through the API', async () => {
  // Made once for every DRBD lab suite (an earlier one may have made it), both online; the master is node1, or node2 after the failover suite.
  api = await lab.cluster();
  // Logged in again: node1 was powered off and on since the pair first logged in.
  api = await Promise.all([0, 1].map((i) => lab.relogin(i)));
  const st = await api[0]!.get('/api/cluster');
  assert.is(st.status, 200, st.text);
  assert.equal(st.json.data.nodes.map((x: { name: string; online: boolean; drbd?: boolean }) => [x.name, x.online, x.drbd]), [['node1', true, true], ['node2', true, true]], 'both online, both with the DRBD module');
  process.stdout.write(`  cluster URLs: ${st.json.data.nodes.map((x: { url: string }) => x.url).join(', ')}\n`);
});

T('should create a guest with a replicated disk on node1 through the API: both sides UpToDate, no sync, shown in GET', async () => {
  const started = Date.now();
  const r = await api[0]!.post('/api/vm', { vmid: API_VMID, name: 'replicated', memory: 64, nics: [], accel: 'tcg', disks: [{ size: '64M', bus: 'virtio', replicated: true }] });
  assert.is(r.status, 201, r.text);
  const createMs = Date.now() - started;
  assert.equal(r.json.data.disks[0], { id: 'disk0', file: `vm-${API_VMID}-disk-0.drbd`, size: '64M', bus: 'virtio', format: 'raw', cache: 'writeback', replicated: true });
  const recs = await Promise.all([0, 1].map((i) => lab.runners[i]!.read(`/var/lib/vz/images/${API_VMID}/vm-${API_VMID}-disk-0.drbd.json`)));
  const minor = (JSON.parse(recs[0]!) as DrbdRecord).minor;
  assert.is.not(minor, MINOR, `minor ${MINOR} is the earlier disk's (its record stays)`);
  assert.equal(JSON.parse(recs[1]!), JSON.parse(recs[0]!), 'the same record on both nodes');
  for (const i of [0, 1]) {
    const d = deviceOf(await lab.proc(i), minor)!;
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
  const fds = await lab.runners[0]!.sh(`ls -l /proc/${pid}/fd 2>&1`);
  assert.match(fds, /\/dev\/drbd1/, 'QEMU has the DRBD device open');
  assert.is(deviceOf(await lab.proc(0), 1)!.role, 'Primary');
  const st = await api[0]!.post(`/api/vm/${API_VMID}/stop`);
  assert.is(st.status, 200, st.text);
  assert.is(deviceOf(await lab.proc(0), 1)!.role, 'Secondary');
});

const apiImages = `/var/lib/vz/images/${API_VMID}`;
/** The peer's copy of the guest's config (for a failover): its disks' ids. */
const peerCopyDisks = async () => (JSON.parse(await lab.runners[1]!.read(`${apiImages}/vm-${API_VMID}.replica-config.json`)) as { disks: { id: string }[] }).disks.map((x) => x.id);
/** Polls node i's /proc/drbd until `ok` holds for `minor`. */
async function untilMinor(i: number, minor: number, what: string, ok: (d: DrbdDeviceState) => boolean): Promise<DrbdDeviceState> {
  const started = Date.now();
  let last: DrbdDeviceState | undefined;
  while (Date.now() - started < STATE_TIMEOUT_MS) {
    last = deviceOf(await lab.proc(i), minor);
    if (last && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`node${i + 1}, minor ${minor}: not ${what} after ${STATE_TIMEOUT_MS / 1000} s: ${JSON.stringify(last)}`);
}
/** The record of the guest's disk `n` on node i. */
const apiRecord = async (i: number, n: number) => JSON.parse(await lab.runners[i]!.read(`${apiImages}/vm-${API_VMID}-disk-${n}.drbd.json`)) as DrbdRecord;
/** Size and allocated bytes of a file on node i. */
async function fileUse(i: number, f: string): Promise<{ size: number; used: number }> {
  const [size, blocks, unit] = (await lab.runners[i]!.run(['stat', '-c', '%s %b %B', f])).trim().split(' ').map(Number);
  return { size: size!, used: blocks! * unit! };
}
let convertedMinor = -1;

T('should add a replicated disk to the stopped guest: made on both nodes as at a create, no sync, the peer\'s config copy updated', async () => {
  const started = Date.now();
  const r = await api[0]!.post(`/api/vm/${API_VMID}/disks`, { size: '64M', bus: 'virtio', replicated: true });
  assert.is(r.status, 201, r.text);
  const addMs = Date.now() - started;
  const { replication, ...disk } = r.json.data;
  assert.equal(disk, { id: 'disk1', file: `vm-${API_VMID}-disk-1.drbd`, size: '64M', bus: 'virtio', format: 'raw', cache: 'writeback', replicated: true });
  assert.is(replication.peer, 'node2');
  const recs = await Promise.all([0, 1].map((i) => apiRecord(i, 1)));
  assert.equal(recs[1], recs[0], 'the same record on both nodes');
  assert.not.ok([MINOR, 1].includes(recs[0]!.minor), `minor ${recs[0]!.minor} is none of the other disks'`);
  for (const i of [0, 1]) {
    const d = await untilMinor(i, recs[0]!.minor, 'UpToDate on both sides', (d) => d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
    assert.equal([d.connection, d.outOfSyncKiB], ['Connected', 0], `node${i + 1}`);
    const { size, used } = await fileUse(i, `${apiImages}/vm-${API_VMID}-disk-1.drbd`);
    assert.is(size, backingFileBytes(DISK_BYTES));
    assert.ok(used < SPARSE_LIMIT_BYTES, `node${i + 1}'s file holds ${used} bytes: the sync was skipped`);
  }
  const g = await api[0]!.get(`/api/vm/${API_VMID}`);
  const rep = g.json.data.disks[1].replication;
  assert.equal({ peer: rep.peer, state: rep.state, synced: rep.synced }, { peer: 'node2', state: 'UpToDate', synced: 100 });
  assert.equal(await peerCopyDisks(), ['disk0', 'disk1'], 'node2 keeps the config with the new disk');
  process.stdout.write(`  POST /api/vm/${API_VMID}/disks with a replicated 64 MiB disk: ${addMs} ms\n`);
});

T('should remove the replicated disk from the guest: both sides gone, the peer\'s config copy updated', async () => {
  const minor = (await apiRecord(0, 1)).minor;
  const del = await api[0]!.del(`/api/vm/${API_VMID}/disks/disk1`);
  assert.is(del.status, 204, del.text);
  for (const i of [0, 1]) {
    const dev = deviceOf(await lab.proc(i), minor);
    assert.ok(!dev || dev.connection === 'Unconfigured', `node${i + 1}: ${JSON.stringify(dev)}`);
    const left = await lab.runners[i]!.sh(`ls ${apiImages}`);
    assert.not.match(left, /disk-1/, `node${i + 1}: nothing of disk1 left: ${left}`);
    assert.ok(deviceOf(await lab.proc(i), 1), `node${i + 1}: disk0 stays`);
  }
  assert.equal((await api[0]!.get(`/api/vm/${API_VMID}`)).json.data.disks.map((x: { id: string }) => x.id), ['disk0']);
  assert.equal(await peerCopyDisks(), ['disk0']);
});

const CONVERT_BYTES = 8 * 2 ** 20; // 8 MiB: the full sync under TCG stays short
const CONVERT_PATTERN = 'ramvm-convert-pattern';

T('should make a raw disk of the stopped guest replicated with its data: the same size for the guest, a full sync to the peer', async () => {
  const add = await api[0]!.post(`/api/vm/${API_VMID}/disks`, { size: '8M', bus: 'virtio', format: 'raw' });
  assert.is(add.status, 201, add.text);
  assert.is(add.json.data.id, 'disk1');
  const raw = `${apiImages}/vm-${API_VMID}-disk-1.raw`;
  const last = CONVERT_BYTES / 4096 - 1;
  for (const b of [1, last]) await lab.runners[0]!.sh(`printf %s ${shq(`${CONVERT_PATTERN}@${b}`)} | dd of=${raw} bs=4096 seek=${b} conv=notrunc,sync,fsync 2>/dev/null`);
  const started = Date.now();
  const r = await api[0]!.post(`/api/vm/${API_VMID}/disks/disk1/replicate`);
  assert.is(r.status, 200, r.text);
  const convertMs = Date.now() - started;
  const { replication, ...disk } = r.json.data;
  assert.equal(disk, { id: 'disk1', file: `vm-${API_VMID}-disk-1.drbd`, size: '8M', bus: 'virtio', format: 'raw', cache: 'writeback', replicated: true });
  assert.is(replication.peer, 'node2');
  const recs = await Promise.all([0, 1].map((i) => apiRecord(i, 1)));
  assert.equal(recs[1], recs[0], 'the same record on both nodes');
  convertedMinor = recs[0]!.minor;
  const synced = Date.now();
  const d = await untilMinor(1, convertedMinor, 'synced from node1', (d) => d.connection === 'Connected' && d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
  assert.is(d.outOfSyncKiB, 0);
  assert.is((await fileUse(0, `${apiImages}/vm-${API_VMID}-disk-1.drbd`)).size, backingFileBytes(CONVERT_BYTES), 'grown by its meta-data only');
  assert.match(await lab.runners[0]!.sh(`ls ${apiImages}`), /disk-1\.drbd/);
  assert.not.match(await lab.runners[0]!.sh(`ls ${apiImages}`), /disk-1\.raw/, 'the image is the backing file now');
  for (const b of [1, last]) {
    const tag = `${CONVERT_PATTERN}@${b}`;
    const got = await lab.runners[1]!.sh(`dd if=${apiImages}/vm-${API_VMID}-disk-1.drbd bs=4096 skip=${b} count=1 2>/dev/null | head -c ${tag.length}`);
    assert.is(got, tag, `node2's copy holds node1's data at block ${b}: the sync was not skipped`);
  }
  const size = Number((await lab.runners[0]!.read(`/sys/block/drbd${convertedMinor}/size`)).trim()) * 512;
  assert.ok(size >= CONVERT_BYTES, `the DRBD device has ${size} bytes, at least the disk's ${CONVERT_BYTES}`);
  const rep = (await api[0]!.get(`/api/vm/${API_VMID}`)).json.data.disks[1].replication;
  assert.equal({ peer: rep.peer, state: rep.state, synced: rep.synced }, { peer: 'node2', state: 'UpToDate', synced: 100 });
  assert.equal(await peerCopyDisks(), ['disk0', 'disk1']);
  process.stdout.write(`  POST …/disks/disk1/replicate of an 8 MiB raw disk: ${convertMs} ms; the full sync done ${Date.now() - synced} ms later\n`);
});

T('should delete the guest and both sides of its replicated disks', async () => {
  const del = await api[0]!.del(`/api/vm/${API_VMID}`);
  assert.is(del.status, 204, del.text);
  for (const i of [0, 1]) {
    for (const minor of [1, convertedMinor]) {
      const dev = deviceOf(await lab.proc(i), minor);
      assert.ok(!dev || dev.connection === 'Unconfigured', `node${i + 1}, minor ${minor}: ${JSON.stringify(dev)}`);
    }
    const left = await lab.runners[i]!.sh(`ls /var/lib/vz/images/${API_VMID} 2>&1; true`);
    assert.match(left, /No such file/, `node${i + 1}: nothing of guest ${API_VMID} left: ${left}`);
  }
});

T.run();
