/**
 * What cluster-mode backups and replicated live migrations do with DRBD,
 * for real, between two lab nodes (the pair all DRBD lab suites share,
 * test/helpers/drbd-lab.ts; TCG here), every step through each node's root
 * helper as the node's user asks for it, on guest 111's disk 0, minor 9:
 *
 *   1. a replicated disk on both nodes, node1 primary (as the drbd test makes it)
 *   2. cluster mode's middle: node1 (the guest's) disconnects, through the
 *      helper armed before the guest's hold (disconnect-on-go: nothing
 *      without the go on its stdin, the disconnect on it); its later
 *      writes stay off node2's replica, which node2's user copies (the first
 *      device bytes of the backing file, convertArgs as the peer's task
 *      does) as it was at the disconnect; reconnected, DRBD resyncs only
 *      the blocks written meanwhile
 *   3. a live migration's DRBD part: a second primary refused, then allowed
 *      by the helper's two-primaries on both nodes; node2 primary beside
 *      node1, reads what node1 wrote; node1 secondary, one-primary again
 *
 * It drives the devices through the root helper and as the QEMU user, so
 * each DRBD step is seen on its own; guests whose QEMU opens /dev/drbdN,
 * made through the API, are drbd.test.ts's and drbd-failover.test.ts's.
 * The pure plans of both operations are table-tested in test/unit.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { deviceOf } from '../../node-cgi/drbd/proc';
import { replicaProblem } from '../../node-cgi/drbd/replica';
import { replicaBackupProblem } from '../../node-cgi/backup/cluster';
import { convertArgs } from '../../node-cgi/tools/qemu-img';
import { rejection } from '../helpers/rejection';
import { LAB_DISK_BYTES as DISK_BYTES, shq, useDrbdLab } from '../helpers/drbd-lab';

const T = suite('cluster backup and dual primary in the lab');
// Nothing of this suite's disk stays on the pair: down on both, files gone.
const lab = useDrbdLab(T, () => d.remove());
const d = lab.disk(111, 9);
const { file, record, minor: MINOR } = d;
const resource = { name: record.resource };

T.before(() => d.writeRecords());

T('should make a replicated disk, UpToDate on both nodes, node1 primary', async () => {
  await Promise.all([0, 1].map((i) => d.helper(i, 'create')));
  await d.until(0, 'connected', (d) => d.connection === 'Connected');
  await d.helper(0, 'skip-sync');
  for (const i of [0, 1]) await d.until(i, 'UpToDate on both sides', (d) => d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
  await d.helper(0, 'primary');
  const { dev } = await d.until(0, 'primary', (d) => d.role === 'Primary');
  assert.is(replicaProblem(dev, resource.name), null, 'fit for a cluster backup and a migration');
});

const BEFORE = 'ramvm-before-the-disconnect';
const AFTER = 'ramvm-after-the-disconnect';

T('should arm the disconnect and do nothing when the helper is dismissed before its go', async () => {
  const lines = await d.disconnectOnGo(0, 'true');
  assert.equal(lines[0] && JSON.parse(lines[0]), { ready: { resources: [resource.name] } }, `the ready line first: ${lines.join(' | ')}`);
  assert.match(lines[lines.length - 1]!, /"code":"conflict".*armed disconnect: dismissed before the go, nothing done/);
  assert.is(deviceOf(await lab.proc(0), MINOR)?.connection, 'Connected', 'still connected');
});

T('should leave on the disconnected replica the disk as it was, copy it on node2, and resync only what changed', async () => {
  await d.writeBlock(0, 256, BEFORE);
  const lines = await d.disconnectOnGo(0, 'sleep 1; echo go');
  const [ready, answer, ...more] = lines.map((l) => JSON.parse(l));
  assert.equal([ready, answer?.ok?.resources, more], [{ ready: { resources: [resource.name] } }, [resource.name], []], `ready, then disconnected on the go: ${lines.join(' | ')}`);
  assert.ok(answer.ok.ms >= 0 && answer.ok.at > 0, `the helper's own time of the disconnect: ${answer.ok.ms} ms from ${answer.ok.at}`);
  const { dev } = await d.until(1, 'disconnected', (d) => d.connection !== 'Connected');
  assert.is(replicaBackupProblem(dev, resource.name, 'node2'), null, `node2's replica can be backed up: ${JSON.stringify(dev)}`);
  // The guest writes on: 4 KiB at block 256 again, 4 KiB at block 1000.
  await d.writeBlock(0, 256, AFTER);
  await d.writeBlock(0, 1000, AFTER);
  const oos = deviceOf(await lab.proc(0), MINOR)!.outOfSyncKiB!;
  assert.is(oos, 8, `node1 knows the 8 KiB written since the disconnect (${oos} KiB out of sync)`);
  // The peer's copy: the device's bytes of the backing file, as the node's user, with the argv the peer's task uses.
  const bytes = Number((await lab.runners[1]!.sh(`cat /sys/block/drbd${MINOR}/size`)).trim()) * 512;
  assert.ok(bytes >= DISK_BYTES, `${d.dev} has ${bytes} bytes`);
  const copy = '/tmp/replica-copy.qcow2';
  const argv = convertArgs({ file, format: 'raw', bytes }, { file: copy, format: 'qcow2' }, 'zstd');
  await lab.runners[1]!.sh(lab.asUserCmd(1, 'cgi', `$(which ${argv[0]}) ${argv.slice(1).map(shq).join(' ')} >/dev/null`));
  const back = '/tmp/replica-copy.raw';
  const raw = convertArgs({ file: copy, format: 'qcow2' }, { file: back, format: 'raw' });
  await lab.runners[1]!.sh(lab.asUserCmd(1, 'cgi', `$(which ${raw[0]}) ${raw.slice(1).map(shq).join(' ')} >/dev/null`));
  const size = Number((await lab.runners[1]!.sh(`stat -c %s ${back}`)).trim());
  assert.is(size, bytes, 'the copy is the guest\'s disk, without DRBD\'s meta-data');
  const at = (block: number) => lab.runners[1]!.sh(`dd if=${back} bs=4096 skip=${block} count=1 2>/dev/null | head -c ${BEFORE.length}`);
  assert.is(await at(256), BEFORE, 'the copy holds the block as it was at the disconnect');
  assert.is((await at(1000)).replace(/\0/g, ''), '', 'and nothing written after it');
  await lab.runners[1]!.sh(`rm -f ${copy} ${back}`);
  const started = Date.now();
  await d.helper(0, 'connect');
  await d.until(0, 'connected and in sync', (d) => d.connection === 'Connected' && d.peerDisk === 'UpToDate' && d.outOfSyncKiB === 0);
  process.stdout.write(`\n  reconnected and resynced ${oos} KiB in ${Date.now() - started} ms\n`);
});

T('should refuse a second primary until both nodes allow two, then hand the disk to node2 and forbid two again', async () => {
  assert.match((await rejection(d.helper(1, 'primary'), Error)).message, /Multiple primaries not allowed/, 'DRBD refuses a second primary');
  await Promise.all([0, 1].map((i) => d.helper(i, 'two-primaries')));
  await d.helper(1, 'primary');
  const { dev } = await d.until(1, 'primary beside node1', (d) => d.role === 'Primary' && d.peerRole === 'Primary');
  assert.is(dev.connection, 'Connected');
  assert.is(await d.readBlock(1, 256, AFTER.length), AFTER, 'node2 reads what node1 wrote last');
  // The source's QEMU is gone after a migration: node1 steps down, and two primaries are forbidden again.
  await d.helper(0, 'secondary');
  await Promise.all([0, 1].map((i) => d.helper(i, 'one-primary')));
  const after = await d.until(1, 'the only primary', (d) => d.role === 'Primary' && d.peerRole === 'Secondary');
  assert.is(after.dev.disk, 'UpToDate');
  assert.is(after.dev.peerDisk, 'UpToDate');
  assert.match((await rejection(d.helper(0, 'primary'), Error)).message, /Multiple primaries not allowed/, 'a second primary is refused again');
  await d.helper(1, 'secondary');
});

T.run();
