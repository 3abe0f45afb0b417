/**
 * Live migration, cluster-mode backup, failover and split brain of a
 * replicated guest through the API, for real, on the pair all DRBD lab
 * suites share (test/helpers/drbd-lab.ts; TCG):
 *
 *   1. the pair forms a cluster (node1 master); node1 makes guest 120 with a
 *      replicated 64 MiB disk; once both copies are UpToDate, the test writes
 *      the pattern guest (test/helpers/pattern-guest.ts: a boot sector, with
 *      a random token) into sector 0 through node1's device (promoted for
 *      that, then secondary again) and starts the guest (its config goes to
 *      node2)
 *   2. the guest itself writes "ramvm-pattern <token>" at sector 2400 of its
 *      disk (INT 13h, through QEMU and DRBD: no OS, which under TCG inside a
 *      TCG node would take minutes), reads it back and says
 *      "ramvm-pattern written <token>" on COM1 (its serial log on node1);
 *      then pause and resume through the API: QMP "stop" drains and flushes
 *      every disk of the guest (QEMU's vm_stop: bdrv_flush_all), so the
 *      sector QEMU wrote with cache=writeback is on /dev/drbdN, which under
 *      protocol C means on node2's copy too, before node1 loses power
 *   3. a live migration to node2 and back: only RAM moves (two primaries
 *      for the move), the guest runs on and is not started again; the node
 *      it left keeps the guest's config as its peer (for a failover there)
 *   4. a cluster-mode backup through the API on node1: the guest held for
 *      milliseconds while its replica is disconnected; node2 backs up its
 *      copy, verified; restored on node2 to guest 121, that guest boots and
 *      says "ramvm-pattern found <token>": the backup holds the guest's
 *      disk with the write
 *   5. a failover asked of node2 while node1 answers: 409, nothing changed
 *   6. node1 powered off; POST /api/vm/120/failover on node2: node2 master,
 *      the guest boots there from the replica and says "ramvm-pattern found
 *      <token>": node2 has the data of the write node1's guest made
 *   7. node1 boots again; its cluster tick (cron's, run at once) makes it a
 *      member, its copy of the guest the replica's, Secondary; it resyncs
 *      to UpToDate
 *   8. split brain on purpose: cut apart, both sides Primary and written,
 *      reconnected → StandAlone, GET /api/vm/120 shows "splitBrain": true;
 *      POST /api/vm/120/replica/resolve {"discard": "node1"}: node2's
 *      write kept, both UpToDate
 *
 * Prints how long the guest took from its start to its line on each node,
 * each migration's time and downtime, and the backup's hold.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import type { Client } from '../helpers/node';
import { waitTask } from '../helpers/cluster';
import { waitFor } from '../helpers/guest';
import { STATE_TIMEOUT_MS, useDrbdLab, type DrbdLab, type LabDisk } from '../helpers/drbd-lab';
import { parsePatternLine, patternBootSector, type PatternLine } from '../helpers/pattern-guest';
import type { DrbdRecord } from '../../node-cgi/drbd/record';

const VMID = 120;
/** The guest the cluster-mode backup of guest 120 is restored to, on node2. */
const RESTORED = 121;
/** The 4 KiB block of the device the guest's pattern sector starts (the root helpers' reads and writes count in 4 KiB blocks). */
const BLOCK = 300;
const PATTERN_LBA = BLOCK * 8;
const TOKEN = randomBytes(8).toString('hex');
/** What the guest writes there. */
const PATTERN = `ramvm-pattern ${TOKEN}`;
/** Generous: SeaBIOS and the boot sector under TCG inside a TCG node, while the machine is shared. */
const LINE_TIMEOUT_MS = 180_000;
/** A live migration, a backup or a restore: a task of a minute under TCG inside TCG on a busy machine; five at most. */
const TASK_TIMEOUT_MS = 300_000;

const T = suite('drbd failover through the API in the lab');
let api: Client[] = [];
// The guest and both sides of its disk go at the end, from whichever node has it.
const lab = useDrbdLab(T, async () => {
  for (const c of api) {
    for (const vmid of [VMID, RESTORED]) {
      await c.post(`/api/vm/${vmid}/stop`).catch(() => undefined);
      await c.del(`/api/vm/${vmid}`).catch(() => undefined);
    }
  }
  await disk?.remove();
});
/** The guest's disk 0 as the root helpers see it (its minor from the record the API wrote). */
let disk: LabDisk | undefined;

/** The pattern guest's line in node i's serial log of guest `vmid`, once it is there. */
function guestLine(l: DrbdLab, i: number, vmid = VMID): Promise<PatternLine> {
  return waitFor(`guest ${vmid}'s line on node${i + 1}`, async () => parsePatternLine(await l.serialLog(i, vmid)), LINE_TIMEOUT_MS, 1000);
}

/** The lines of task `id`'s log, asked of `c`. */
async function taskLines(c: Client, id: string): Promise<string[]> {
  const r = await c.get(`/api/task/${encodeURIComponent(id)}/log`);
  assert.is(r.status, 200, r.text);
  return r.json.data.lines;
}

/** The copy of the guest's config node i keeps as its peer (null: none). */
async function configCopy(i: number): Promise<{ vmid: number; node: string } | null> {
  const text = await lab.runners[i]!.sh(`cat /var/lib/vz/images/${VMID}/vm-${VMID}.replica-config.json 2>/dev/null; true`);
  return text.trim() ? JSON.parse(text) : null;
}

/** When the test asked node1 to start the guest. */
let startedAt = 0;

T('should make a replicated guest on node1 that boots the pattern guest, start it, and share its config with node2', async () => {
  api = await lab.cluster();
  const r = await api[0]!.post('/api/vm', { vmid: VMID, name: 'failover', memory: 64, nics: [], accel: 'tcg', disks: [{ size: '64M', bus: 'virtio', replicated: true }] });
  assert.is(r.status, 201, r.text);
  const rec = JSON.parse(await lab.runners[0]!.read(`/var/lib/vz/images/${VMID}/vm-${VMID}-disk-0.drbd.json`)) as DrbdRecord;
  disk = lab.disk(VMID, rec.minor);
  // The boot sector goes onto the replicated device, so node2's copy has it too; the start promotes node1 again.
  await disk.until(0, 'connected, both UpToDate', (d) => d.connection === 'Connected' && d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
  await disk.helper(0, 'primary');
  await disk.writeSectors(0, 0, patternBootSector(TOKEN, PATTERN_LBA));
  await disk.helper(0, 'secondary');
  startedAt = Date.now();
  const s = await api[0]!.post(`/api/vm/${VMID}/start`);
  assert.is(s.status, 200, s.text);
  const copy = JSON.parse(await lab.runners[1]!.read(`/var/lib/vz/images/${VMID}/vm-${VMID}.replica-config.json`));
  assert.is(copy.vmid, VMID);
  assert.is(copy.node, 'node1', 'node2 keeps the config as node1 shared it');
  await disk.until(0, 'primary and in sync', (d) => d.role === 'Primary' && d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
});

T('should have the guest write its pattern through its disk on node1, flushed by a pause', async () => {
  assert.equal(await guestLine(lab, 0), { result: 'written', token: TOKEN });
  process.stdout.write(`  guest on node1: start request to its "written" in ${Date.now() - startedAt} ms\n`);
  assert.is(await disk!.readBlock(0, BLOCK, PATTERN.length), PATTERN, 'node1\'s device holds what the guest wrote');
  // QMP stop flushes the guest's disks (see the header): only then is the write sure to be on node2 as well.
  const p = await api[0]!.post(`/api/vm/${VMID}/pause`);
  assert.is(p.status, 200, p.text);
  assert.is(p.json.data.qmpStatus, 'paused');
  const c = await api[0]!.post(`/api/vm/${VMID}/resume`);
  assert.is(c.status, 200, c.text);
  assert.is(c.json.data.qmpStatus, 'running');
});

T('should live-migrate the running guest to node2 and back, only its RAM moving, the peer keeping its config', async () => {
  for (const [from, to] of [[0, 1], [1, 0]] as const) {
    const target = `node${to + 1}`;
    const r = await api[from]!.post(`/api/vm/${VMID}/migrate`, { target, online: true });
    assert.is(r.status, 202, r.text);
    const t = await waitTask(api[from]!, r.json.data.task, TASK_TIMEOUT_MS);
    assert.is(t.status, 'ok', t.message);
    const last = (await taskLines(api[from]!, r.json.data.task)).at(-1)!;
    const m = /migrated in (\d+) ms, downtime (\d+) ms, 0 bytes of disk moved$/.exec(last);
    assert.ok(m, `the last line says only RAM moved: ${last}`);
    const g = await api[to]!.get(`/api/vm/${VMID}`);
    assert.is(g.status, 200, g.text);
    assert.equal([g.json.data.node, g.json.data.status], [target, 'running']);
    const rep = g.json.data.disks[0].replication;
    assert.equal([rep.role, rep.state, rep.peerState, rep.connection], ['Primary', 'UpToDate', 'UpToDate', 'Connected']);
    const { dev } = await disk!.until(from, 'Secondary again', (d) => d.role === 'Secondary' && d.peerRole === 'Primary');
    assert.is(dev.disk, 'UpToDate');
    // The guest went on running, not started again: its program said its line on node1 at the start, and nothing since.
    assert.is(parsePatternLine(await lab.serialLog(to, VMID)), undefined, `no new start on ${target}`);
    // A failover to the node it left needs the config there.
    assert.equal(await configCopy(from).then((c) => c && [c.vmid, c.node]), [VMID, target], `node${from + 1} keeps the config as the peer`);
    assert.is(await configCopy(to), null, `${target} holds the config itself, no copy`);
    process.stdout.write(`  live migration to ${target}: ${m![1]} ms, downtime ${m![2]} ms\n`);
  }
});

T('should back up the running guest in cluster mode from node2\'s copy, verified, and restore it there to a guest that finds its pattern', async () => {
  const r = await api[0]!.post('/api/backup/run', { vmid: VMID, mode: 'cluster', storage: 'local' });
  assert.is(r.status, 202, r.text);
  const t = await waitTask(api[0]!, r.json.data.task, TASK_TIMEOUT_MS);
  const lines = await taskLines(api[0]!, r.json.data.task);
  assert.is(t.status, 'ok', `${t.message}\n${lines.join('\n')}`);
  const held = lines.find((l) => /guest 120 held for [0-9.]+ ms/.test(l));
  assert.ok(held, `the log says how long the guest was held: ${lines.join(' | ')}`);
  const g = await api[0]!.get(`/api/vm/${VMID}`);
  assert.is(g.json.data.status, 'running', 'the guest runs on');
  await disk!.until(0, 'connected again, in sync', (d) => d.connection === 'Connected' && d.disk === 'UpToDate' && d.peerDisk === 'UpToDate');
  // The backup lies on node2, the peer that made it from its replica.
  const list = await api[1]!.get(`/api/backup?vmid=${VMID}&storage=local`);
  assert.is(list.status, 200, list.text);
  const b = list.json.data.find((x: { mode: string; node?: string }) => x.mode === 'cluster');
  assert.ok(b, `a cluster-mode backup on node2: ${list.text}`);
  assert.is(b.verified, true, JSON.stringify(b.problems));
  const rs = await api[1]!.post(`/api/backup/${encodeURIComponent(b.id)}/restore`, { vmid: RESTORED });
  assert.is(rs.status, 202, rs.text);
  const rt = await waitTask(api[1]!, rs.json.data.task, TASK_TIMEOUT_MS);
  assert.is(rt.status, 'ok', rt.message);
  const copy = await api[1]!.get(`/api/vm/${RESTORED}`);
  assert.is(copy.status, 200, copy.text);
  assert.is(copy.json.data.node, 'node2');
  assert.is(copy.json.data.disks[0].replication, undefined, 'restored as a plain disk of node2');
  const s = await api[1]!.post(`/api/vm/${RESTORED}/start`);
  assert.is(s.status, 200, s.text);
  assert.equal(await guestLine(lab, 1, RESTORED), { result: 'found', token: TOKEN }, 'the restored guest boots and reads what guest 120 wrote');
  const stop = await api[1]!.post(`/api/vm/${RESTORED}/stop`);
  assert.is(stop.status, 200, stop.text);
  const del = await api[1]!.del(`/api/vm/${RESTORED}`);
  assert.is(del.status, 204, del.text);
  process.stdout.write(`  cluster backup: ${held}\n`);
});

T('should refuse a failover with 409 while node1 answers', async () => {
  const r = await api[1]!.post(`/api/vm/${VMID}/failover`);
  assert.is(r.status, 409, r.text);
  assert.match(r.json.error.message, /node node1 still answers/);
  assert.match(r.json.error.message, /Primary on the other node/);
  const g = await api[0]!.get(`/api/vm/${VMID}`);
  assert.is(g.json.data.node, 'node1', 'nothing moved');
});

let failoverMs = 0;

T('should fail over to node2 once node1 is off: node2 master, the guest boots there and finds its pattern', async () => {
  await lab.vms[0]!.stop();
  await disk!.until(1, 'without its peer', (d) => d.connection === 'WFConnection');
  await lab.proc(1, 'peer-gone');
  const started = Date.now();
  const r = await api[1]!.post(`/api/vm/${VMID}/failover`);
  assert.is(r.status, 202, r.text);
  const t = await waitTask(api[1]!, r.json.data.task, STATE_TIMEOUT_MS);
  assert.is(t.status, 'ok', t.message);
  failoverMs = Date.now() - started;
  const g = await api[1]!.get(`/api/vm/${VMID}`);
  assert.is(g.status, 200, g.text);
  assert.is(g.json.data.node, 'node2');
  assert.is(g.json.data.status, 'running');
  const rep = g.json.data.disks[0].replication;
  assert.equal([rep.peer, rep.state, rep.role, rep.connection], ['node1', 'UpToDate', 'Primary', 'WFConnection']);
  const c = await api[1]!.get('/api/cluster');
  assert.is(c.json.data.master, 'node2', 'node2 took over as master');
  assert.equal(await guestLine(lab, 1), { result: 'found', token: TOKEN }, 'the guest on node2 reads what it wrote on node1');
  const foundMs = Date.now() - started;
  process.stdout.write(`  failover: request to guest running on node2 in ${failoverMs} ms, to its "found" in ${foundMs} ms (${foundMs - failoverMs} ms after the task ended)\n`);
  assert.is(await disk!.readBlock(1, BLOCK, PATTERN.length), PATTERN, 'node2\'s device holds it');
});

T('should bring node1 back as a member whose replica is Secondary and resyncs to UpToDate', async () => {
  await lab.boot(0);
  api[0] = await lab.relogin(0);
  // What cron runs each minute, asked for at once.
  const ticks: string[] = [];
  await waitFor('node1\'s tick to take the newer state and its replica', async () => {
    ticks.push(await lab.cli(0, ['cluster', 'tick']));
    return /lives on node node2 now/.test(ticks.join('')) ? true : null;
  }, STATE_TIMEOUT_MS, 3000);
  const tick = ticks.join('');
  assert.match(tick, /took the newer state: epoch \d+, generation \d+, master node2/);
  assert.match(tick, new RegExp(`vm-${VMID}-disk-0: up again`));
  const { dev, ms } = await disk!.until(0, 'resynced', (d) => d.connection === 'Connected' && d.disk === 'UpToDate');
  assert.is(dev.role, 'Secondary');
  assert.is(dev.peerRole, 'Primary');
  const g = await api[1]!.get(`/api/vm/${VMID}`);
  assert.equal([g.json.data.node, g.json.data.disks[0].replication.state, g.json.data.disks[0].replication.peerState], ['node2', 'UpToDate', 'UpToDate']);
  const list = await api[1]!.get('/api/vm');
  assert.equal(list.json.data.filter((v: { vmid: number }) => v.vmid === VMID).map((v: { node: string }) => v.node), ['node2'], 'listed once, on node2');
  assert.is(await disk!.readBlock(1, BLOCK, PATTERN.length), PATTERN);
  process.stdout.write(`  node1 back: UpToDate ${ms} ms after its tick\n`);
});

T('should show a split brain made on purpose and resolve it by discarding node1\'s changes', async () => {
  const d = disk!;
  // Cut apart, node1 promoted too: both sides write.
  await d.helper(0, 'disconnect');
  await d.until(1, 'waiting for its peer', (x) => x.connection === 'WFConnection');
  await d.helper(0, 'primary');
  await d.writeBlock(0, BLOCK + 1, 'node1-side');
  await d.writeBlock(1, BLOCK + 2, 'node2-side');
  await d.helper(0, 'secondary');
  await d.helper(0, 'connect');
  await d.until(1, 'StandAlone after the handshake', (x) => x.connection === 'StandAlone');
  await d.until(0, 'StandAlone after the handshake', (x) => x.connection === 'StandAlone');
  const g = await api[1]!.get(`/api/vm/${VMID}`);
  const rep = g.json.data.disks[0].replication;
  assert.is(rep.splitBrain, true, JSON.stringify(rep));
  assert.is(rep.connection, 'StandAlone');
  const bad = await api[1]!.post(`/api/vm/${VMID}/replica/resolve`, { discard: 'node9' });
  assert.is(bad.status, 400, bad.text);
  const busy = await api[1]!.post(`/api/vm/${VMID}/replica/resolve`, { discard: 'node2' });
  assert.is(busy.status, 409, busy.text);
  assert.match(busy.json.error.message, /runs on node node2/);
  const r = await api[1]!.post(`/api/vm/${VMID}/replica/resolve`, { discard: 'node1' });
  assert.is(r.status, 200, r.text);
  assert.equal(r.json.data, { resolved: [`vm-${VMID}-disk-0`], discarded: 'node1' });
  await d.until(0, 'resynced from node2', (x) => x.connection === 'Connected' && x.disk === 'UpToDate' && x.peerDisk === 'UpToDate');
  const after = (await api[1]!.get(`/api/vm/${VMID}`)).json.data.disks[0].replication;
  assert.equal([after.state, after.peerState, after.splitBrain], ['UpToDate', 'UpToDate', undefined]);
  assert.is(await d.readBlock(1, BLOCK + 2, 'node2-side'.length), 'node2-side', 'node2\'s change kept');
  assert.not.equal(await d.readBlock(1, BLOCK + 1, 'node1-side'.length), 'node1-side', 'node1\'s change discarded');
});

T.run();
