/**
 * Offline and live migration between nodes of a three-node cluster (network
 * namespaces, real lighttpd, qemu-nbd and qemu-img each): a stopped guest
 * with a 4 GiB raw disk holding 100 MiB of data and a qcow2 disk moves to
 * another node and back, its disks as sparse and as identical as before,
 * and still boots; the target's refusals come before anything moves; a
 * copy that fails leaves the source as it was and nothing on the target;
 * a guest being moved cannot be started or moved twice. A running guest
 * (a boot sector that prints a dot every second) moves live and goes on
 * counting on its new node; a target that dies mid-mirror leaves it
 * running where it was.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { execFile, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { drbdRecordText, type DrbdRecord } from '../../node-cgi/drbd/record';
import { guestSha256 } from '../../node-cgi/migrate/disks';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { type Client } from '../helpers/node';
import { formCluster, startTestCluster, waitTask, type ClusterTestNode, type TestCluster } from '../helpers/cluster';
import { createSectorGuest, GUEST_MARKER, waitFor, waitForSerial } from '../helpers/guest';

let c: TestCluster;
let n1: ClusterTestNode;
let n2: ClusterTestNode;
let n3: ClusterTestNode;
let master: Client;
let vmid: number;

const MIB = 1024 * 1024;
const execFileP = promisify(execFile);
const images = (n: ClusterTestNode, v: number) => join(n.root, 'var/lib/vz/images', String(v));
const configFile = (n: ClusterTestNode, v: number) => join(n.root, `etc/ramvm/vms/${v}.json`);
const allocated = (file: string) => statSync(file).blocks * 512;

function sh(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface DiskFacts {
  file: string;
  format: string;
  allocated: number;
  sha: string;
}

async function disksOn(n: ClusterTestNode, v: number): Promise<DiskFacts[]> {
  const cfg = JSON.parse(readFileSync(configFile(n, v), 'utf8'));
  const out: DiskFacts[] = [];
  for (const d of cfg.disks as { file: string; format: 'raw' | 'qcow2' }[]) {
    const file = join(images(n, v), d.file);
    out.push({ file: d.file, format: d.format, allocated: allocated(file), sha: await guestSha256(file, d.format) });
  }
  return out;
}

async function migrate(api: Client, v: number, target: string): Promise<{ task: string; log: string[] }> {
  const r = await api.post(`/api/vm/${v}/migrate`, { target, online: false });
  assert.is(r.status, 202, r.text);
  const task: string = r.json.data.task;
  const t = await waitTask(api, task, 180_000);
  const log = (await api.get(`/api/task/${encodeURIComponent(task)}/log`)).json.data.lines as string[];
  assert.is(t.status, 'ok', `${t.message}\n${log.join('\n')}`);
  return { task, log };
}

/** True when `pid` ended (a zombie nobody reaped yet has no command line any more). */
function processGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`).length === 0;
  } catch {
    return true;
  }
}

/** Owner, group and mode of a file, as `stat -c '%U:%G %a'` says them. */
const mode = (file: string) => spawnSync('stat', ['-c', '%U:%G %a', file], { encoding: 'utf8' }).stdout.trim();

/**
 * A guest's files on a separated node after it arrived: its disks the
 * node's user's and shared with QEMU through the group (0660), as a disk
 * made there would be.
 */
function assertNodeOwnsDisks(n: ClusterTestNode, v: number): void {
  assert.ok(n.server?.record, `${n.name}, started by root, is separated`);
  for (const f of readdirSync(images(n, v))) assert.is(mode(join(images(n, v), f)), 'ramvm:ramvm 660', f);
}

/** What a node holds of guest `v`: config, disk folder, migration records. */
function traces(n: ClusterTestNode, v: number): string[] {
  const out: string[] = [];
  if (existsSync(configFile(n, v))) out.push('config');
  if (existsSync(images(n, v))) out.push('images');
  const run = join(n.root, 'run/ramvm/migrate');
  if (existsSync(run)) out.push(...readdirSync(run).filter((f) => f.startsWith(`${v}.`)));
  return out;
}

const M = suite('migrate: offline and live between nodes');

M.before(async () => {
  c = await startTestCluster(3);
  [n1, n2, n3] = c.nodes as [ClusterTestNode, ClusterTestNode, ClusterTestNode];
  master = await formCluster(c, 'office');
  vmid = await createSectorGuest(master, n1.root, { name: 'mover', disks: [{ size: '4G', format: 'raw' }, { size: '256M', format: 'qcow2' }] });
  const dir = images(n1, vmid);
  sh(['dd', 'if=/dev/urandom', `of=${join(dir, `vm-${vmid}-disk-0.raw`)}`, 'bs=1M', 'count=100', 'seek=1000', 'conv=notrunc', 'status=none']);
  sh(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 1M 4M', join(dir, `vm-${vmid}-disk-1.qcow2`)]);
});
M.after(async () => c?.stop());

M('should move a stopped guest to n2 keeping its 4 GiB raw disk with 100 MiB written sparse and every disk identical, then back to n1', async () => {
  const before = await disksOn(n1, vmid);
  assert.ok(before[0]!.allocated >= 100 * MIB && before[0]!.allocated < 102 * MIB, `raw disk allocates ${before[0]!.allocated}`);
  const there = await migrate(master, vmid, 'n2');
  assert.equal(traces(n1, vmid), [], 'nothing of the guest is left on n1');
  assertNodeOwnsDisks(n2, vmid);
  const onN2 = await disksOn(n2, vmid);
  for (const [i, d] of onN2.entries()) {
    assert.is(d.sha, before[i]!.sha, `${d.file} identical`);
    assert.ok(d.allocated <= before[i]!.allocated * 1.01, `${d.file}: ${d.allocated} bytes allocated on n2, ${before[i]!.allocated} on n1`);
  }
  assert.match(there.log[there.log.length - 1]!, /^\S+ migrated in \d+ ms, downtime 0 ms, \d+ bytes of disk moved$/);
  const moved = Number(/(\d+) bytes of disk moved/.exec(there.log[there.log.length - 1]!)![1]);
  assert.ok(moved >= 104 * MIB && moved < 106 * MIB, `${moved} bytes moved: the data, not the holes`);
  const g = (await master.get(`/api/vm/${vmid}`)).json.data;
  assert.is(g.node, 'n2');
  assert.equal((await master.get('/api/vm')).json.data.filter((x: { vmid: number }) => x.vmid === vmid).map((x: { node: string }) => x.node), ['n2']);

  await migrate(master, vmid, 'n1');
  assert.equal(traces(n2, vmid), [], 'nothing of the guest is left on n2');
  const back = await disksOn(n1, vmid);
  for (const [i, d] of back.entries()) {
    assert.is(d.sha, before[i]!.sha, `${d.file} identical after the way back`);
    assert.ok(d.allocated <= before[i]!.allocated * 1.01, `${d.file}: ${d.allocated} bytes allocated after moving back, ${before[i]!.allocated} before`);
  }
});

M('should start the moved guest on its new node', async () => {
  await migrate(master, vmid, 'n2');
  const r = await master.post(`/api/vm/${vmid}/start`, {});
  assert.is(r.status, 200, r.text);
  await waitForSerial(join(n2.root, `run/ramvm/qemu/${vmid}.serial.log`), GUEST_MARKER);
  const running = await master.post(`/api/vm/${vmid}/migrate`, { target: 'n1', online: false });
  assert.is(running.status, 409);
  assert.match(running.json.error.message, `guest ${vmid} is running; stop it first`);
  assert.is((await master.post(`/api/vm/${vmid}/stop`, {})).status, 200);
  await migrate(master, vmid, 'n1');
});

M('should refuse what the target lacks before anything moves, naming it', async () => {
  const bad = await master.post(`/api/vm/${vmid}/migrate`, { target: 'n1', online: false });
  assert.is(bad.status, 400);
  assert.match(bad.json.error.message, `guest ${vmid} lives on node n1 already`);
  const none = await master.post(`/api/vm/${vmid}/migrate`, { target: 'n9' });
  assert.is(none.status, 400);
  assert.match(none.json.error.message, 'no node n9 in cluster office');
  // 4 TiB of memory and a NIC on a bridge that only n1 has.
  sh([...n1.inNs, 'ip', 'link', 'add', 'migbr0', 'type', 'bridge']);
  try {
    const cfg = (await master.get(`/api/vm/${vmid}`)).json.data;
    const big = await master.put(`/api/vm/${vmid}`, { memory: 4 * 1024 * 1024, nics: [{ model: 'e1000', bridge: 'migbr0' }] });
    assert.is(big.status, 200, big.text);
    const lacks = await master.post(`/api/vm/${vmid}/migrate`, { target: 'n2', online: false });
    assert.is(lacks.status, 409);
    assert.match(lacks.json.error.message, 'not enough memory on node n2: the guest needs 4096.0 GiB');
    assert.match(lacks.json.error.message, 'node n2 has no bridge migbr0');
    assert.equal(traces(n2, vmid), []);
    const back = await master.put(`/api/vm/${vmid}`, { memory: cfg.memory, nics: cfg.nics });
    assert.is(back.status, 200, back.text);
  } finally {
    sh([...n1.inNs, 'ip', 'link', 'del', 'migbr0']);
  }
  // A disk too big for n3: its images folder is a 24 MiB tmpfs (mounted while its web server is down:
  // `ip netns exec` gives lighttpd a copy of the mounts as they are when it starts).
  const small = join(n3.root, 'var/lib/vz/images');
  sh(['mkdir', '-p', small]);
  await n3.kill();
  sh(['mount', '-t', 'tmpfs', '-o', 'size=24M', 'tmpfs', small]);
  try {
    await n3.revive();
    const full = await master.post(`/api/vm/${vmid}/migrate`, { target: 'n3', online: false });
    assert.is(full.status, 409);
    assert.match(full.json.error.message, /not enough disk space on node n3: the disks need \d+ MiB, 24 MiB is free/);
  } finally {
    await n3.kill();
    sh(['umount', small]);
    await n3.revive();
  }
  assert.equal(traces(n3, vmid), []);
});

M('should leave the source as it was and nothing on the target when the copy fails', async () => {
  const before = await disksOn(n1, vmid);
  const cfgBefore = readFileSync(configFile(n1, vmid), 'utf8');
  const r = await master.post(`/api/vm/${vmid}/migrate`, { target: 'n3', online: false });
  assert.is(r.status, 202, r.text);
  // Kill n3's NBD server as soon as it is up: the copy meets a closed connection.
  const pidFile = join(n3.root, `run/ramvm/migrate/${vmid}.disk0.nbd.pid`);
  const pid = await waitFor('the NBD server on n3', () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0), 30_000, 5);
  process.kill(pid, 'SIGKILL');
  const t = await waitTask(master, r.json.data.task, 120_000);
  assert.is(t.status, 'failed');
  assert.match(t.message, /qemu-img/);
  assert.equal(traces(n3, vmid), [], 'nothing left on n3');
  assert.is(readFileSync(configFile(n1, vmid), 'utf8'), cfgBefore);
  assert.equal(await disksOn(n1, vmid), before);
  assert.is((await master.get(`/api/vm/${vmid}`)).json.data.node, 'n1');
});

M('should refuse a second migration, a start and a delete of a guest while it moves', async () => {
  // A guest whose copy takes a while: 200 MiB of data.
  const v = await createSectorGuest(master, n1.root, { name: 'heavy', disks: [{ size: '1G', format: 'raw' }] });
  await execFileP('dd', ['if=/dev/urandom', `of=${join(images(n1, v), `vm-${v}-disk-0.raw`)}`, 'bs=1M', 'count=200', 'seek=1', 'conv=notrunc', 'status=none']);
  const r = await master.post(`/api/vm/${v}/migrate`, { target: 'n2', online: false });
  assert.is(r.status, 202, r.text);
  const again = await master.post(`/api/vm/${v}/migrate`, { target: 'n3', online: false });
  assert.is(again.status, 409);
  assert.match(again.json.error.message, `guest ${v} is being migrated (task`);
  const start = await master.post(`/api/vm/${v}/start`, {});
  assert.is(start.status, 409);
  assert.match(start.json.error.message, 'start it after that');
  const del = await master.del(`/api/vm/${v}`);
  assert.is(del.status, 409);
  assert.match(del.json.error.message, 'delete it after that');
  const t = await waitTask(master, r.json.data.task, 180_000);
  assert.is(t.status, 'ok', t.message);
  assert.is((await master.get(`/api/vm/${v}`)).json.data.node, 'n2');
});



/** The guest's QMP status, asked on the node it runs on. */
async function qmpStatus(api: Client, v: number): Promise<string> {
  const r = await api.post(`/api/monitor/${v}`, { command: 'info status' });
  assert.is(r.status, 200, r.text);
  return r.json.data.output.trim();
}

M('should clean up after a source task killed mid-copy, at the next migration to that node', async () => {
  const v = await createSectorGuest(master, n1.root, { name: 'orphan', disks: [{ size: '1G', format: 'raw' }] });
  await execFileP('dd', ['if=/dev/urandom', `of=${join(images(n1, v), `vm-${v}-disk-0.raw`)}`, 'bs=1M', 'count=300', 'seek=1', 'conv=notrunc', 'status=none']);
  const before = await disksOn(n1, v);
  const r = await master.post(`/api/vm/${v}/migrate`, { target: 'n3', online: false });
  assert.is(r.status, 202, r.text);
  const id: string = r.json.data.task;
  await waitFor('the NBD server on n3', () => existsSync(join(n3.root, `run/ramvm/migrate/${v}.disk0.nbd.pid`)), 30_000, 5);
  const rec = JSON.parse(readFileSync(join(n1.root, `var/log/ramvm/tasks/${id.replace(/^n1:/, '')}.json`), 'utf8'));
  process.kill(rec.pid, 'SIGKILL');
  const t = await waitTask(master, id, 60_000);
  assert.is(t.status, 'failed');
  assert.match(t.message, 'interrupted');
  assert.ok(traces(n3, v).length > 0, 'the killed task left its part on n3');
  assert.equal(await disksOn(n1, v), before, 'the source is untouched');
  const again = await migrate(master, v, 'n3');
  assert.match(again.log[again.log.length - 1]!, /migrated in \d+ ms/);
  assert.equal(traces(n3, v), ['config', 'images'], 'no record of the killed migration is left on n3');
  assert.equal(traces(n1, v), []);
});

M('should move a running guest to n2 and back: it keeps running (no reboot), the source QEMU is gone, the disk identical and sparse', async () => {
  const v = await createSectorGuest(master, n1.root, { name: 'live', disks: [{ size: '1G', format: 'raw' }] });
  await execFileP('dd', ['if=/dev/urandom', `of=${join(images(n1, v), `vm-${v}-disk-0.raw`)}`, 'bs=1M', 'count=16', 'seek=100', 'conv=notrunc', 'status=none']);
  const before = await disksOn(n1, v);
  assert.is((await master.post(`/api/vm/${v}/start`, {})).status, 200);
  await waitForSerial(join(n1.root, `run/ramvm/qemu/${v}.serial.log`), GUEST_MARKER);
  const srcPid = Number(readFileSync(join(n1.root, `run/ramvm/qemu/${v}.pid`), 'utf8').trim());
  const r = await master.post(`/api/vm/${v}/migrate`, { target: 'n2', online: true });
  assert.is(r.status, 202, r.text);
  // n2's arrival task listens for the source's "go"; a line without the migration's token is refused.
  const record = join(n2.root, `run/ramvm/migrate/${v}.json`);
  const arrival = await waitFor('the arrival task on n2 to listen', () => {
    try {
      const a = JSON.parse(readFileSync(record, 'utf8')).arrival;
      return a?.listening ? (a as { address: string; port: number; token: string }) : null;
    } catch {
      return null;
    }
  }, 60_000, 5);
  const wrong = arrival.token.replace(/^./, (ch) => (ch === '0' ? '1' : '0'));
  const answer = await new Promise<string>((resolve, reject) => {
    const sock = connect({ host: arrival.address, port: arrival.port }, () => sock.write(`go ${wrong}\n`));
    let got = '';
    sock.on('data', (d) => (got += d.toString()));
    sock.on('end', () => resolve(got));
    sock.on('error', reject);
  });
  assert.is(answer, 'refused\n');
  const t = await waitTask(master, r.json.data.task, 180_000);
  const log = (await master.get(`/api/task/${encodeURIComponent(r.json.data.task)}/log`)).json.data.lines as string[];
  assert.is(t.status, 'ok', `${t.message}\n${log.join('\n')}`);
  assert.match(log[log.length - 1]!, /^\S+ migrated in \d+ ms, downtime \d+ ms, \d+ bytes of disk moved$/);
  await waitFor('the source QEMU to end', () => processGone(srcPid), 20_000, 100);
  assert.equal(traces(n1, v), []);
  // On n2 it runs as a guest started there would: QEMU as the QEMU user, sandboxed, its socket and disk shared through the group.
  const rec2 = n2.server!.record!;
  const dstPid = Number(readFileSync(join(n2.root, `run/ramvm/qemu/${v}.pid`), 'utf8').trim());
  const st = readFileSync(`/proc/${dstPid}/status`, 'utf8');
  assert.match(st, new RegExp(`^Uid:\\s+${rec2.qemu.uid}\\s+${rec2.qemu.uid}\\s+${rec2.qemu.uid}\\s+${rec2.qemu.uid}$`, 'm'));
  assert.match(st, /^Seccomp:\s+2$/m);
  assert.match(readFileSync(`/proc/${dstPid}/cmdline`, 'utf8').split('\0').join(' '), / -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny .* -incoming defer/);
  assert.is(mode(join(n2.root, `run/ramvm/qemu/${v}.qmp`)), 'ramvm-qemu:ramvm 770');
  assertNodeOwnsDisks(n2, v);
  assert.is((await master.get(`/api/vm/${v}`)).json.data.node, 'n2');
  assert.is(await qmpStatus(master, v), 'VM status: running');
  // The boot sector prints a dot every second; on n2 it goes on counting without printing its start marker again.
  const serial = join(n2.root, `run/ramvm/qemu/${v}.serial.log`);
  await waitFor('dots from the guest on n2', () => readFileSync(serial, 'latin1').includes('..'), 20_000, 100);
  assert.not.match(readFileSync(serial, 'latin1'), GUEST_MARKER);
  // And back again, live (the key of the first move is gone from its QEMU).
  const back = await master.post(`/api/vm/${v}/migrate`, { target: 'n1', online: true });
  assert.is(back.status, 202, back.text);
  const tb = await waitTask(master, back.json.data.task, 180_000);
  assert.is(tb.status, 'ok', tb.message);
  assert.is(await qmpStatus(master, v), 'VM status: running');
  const serial1 = join(n1.root, `run/ramvm/qemu/${v}.serial.log`);
  await waitFor('dots from the guest back on n1', () => readFileSync(serial1, 'latin1').includes('..'), 20_000, 100);
  assert.not.match(readFileSync(serial1, 'latin1'), GUEST_MARKER);
  assert.equal(traces(n2, v), []);
  assert.is((await master.post(`/api/vm/${v}/stop`, {})).status, 200);
  const after = await disksOn(n1, v);
  assert.is(after[0]!.sha, before[0]!.sha, 'disk identical');
  assert.ok(after[0]!.allocated <= before[0]!.allocated * 1.01, `${after[0]!.allocated} bytes allocated after moving there and back, ${before[0]!.allocated} before`);
});

M('should leave the guest running on the source and nothing on the target when the target dies mid-mirror', async () => {
  const v = await createSectorGuest(master, n1.root, { name: 'stays', disks: [{ size: '2G', format: 'raw' }] });
  await execFileP('dd', ['if=/dev/urandom', `of=${join(images(n1, v), `vm-${v}-disk-0.raw`)}`, 'bs=1M', 'count=400', 'seek=1', 'conv=notrunc', 'status=none']);
  assert.is((await master.post(`/api/vm/${v}/start`, {})).status, 200);
  await waitForSerial(join(n1.root, `run/ramvm/qemu/${v}.serial.log`), GUEST_MARKER);
  const srcPid = Number(readFileSync(join(n1.root, `run/ramvm/qemu/${v}.pid`), 'utf8').trim());
  const r = await master.post(`/api/vm/${v}/migrate`, { target: 'n3', online: true });
  assert.is(r.status, 202, r.text);
  // Kill n3's QEMU of the arriving guest as soon as it is there.
  const pidFile = join(n3.root, `run/ramvm/qemu/${v}.pid`);
  const pid = await waitFor('the arriving QEMU on n3', () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0), 30_000, 5);
  process.kill(pid, 'SIGKILL');
  const t = await waitTask(master, r.json.data.task, 120_000);
  assert.is(t.status, 'failed');
  assert.not.ok(processGone(srcPid), 'the source QEMU runs on');
  assert.is(await qmpStatus(master, v), 'VM status: running');
  assert.is((await master.get(`/api/vm/${v}`)).json.data.node, 'n1');
  assert.equal(traces(n3, v), [], 'nothing left on n3');
  assert.ok(!existsSync(pidFile));
  assert.is((await master.post(`/api/vm/${v}/stop`, {})).status, 200);
});

M('should refuse, with the reason, a cluster-mode backup of a guest that is not replicated, and a replicated guest\'s backup and move where DRBD is not loaded', async () => {
  const v = await createSectorGuest(master, n1.root, { name: 'replica' });
  try {
    const plain = await master.post('/api/backup/run', { vmid: v, mode: 'cluster' });
    assert.is(plain.status, 409, plain.text);
    assert.match(plain.json.error.message, `cluster-mode backup of guest ${v} refused: disk0 of guest ${v} is not replicated`);
    // disk0's record as a replicated disk (drbd/record.ts): this host has no DRBD module, so no /proc/drbd.
    const record: DrbdRecord = { resource: `vm-${v}-disk-0`, minor: 0, bytes: MIB, hosts: [{ name: 'n1', address: n1.addr }, { name: 'n2', address: n2.addr }] };
    writeFileSync(join(images(n1, v), `vm-${v}-disk-0.drbd.json`), drbdRecordText(record));
    const backup = await master.post('/api/backup/run', { vmid: v, mode: 'cluster' });
    const move = await master.post(`/api/vm/${v}/migrate`, { target: 'n2', online: true });
    for (const [what, r] of [['backup', backup], ['migration', move]] as const) {
      assert.is(r.status, 409, `${what}: ${r.text}`);
      assert.match(r.json.error.message, 'DRBD is not loaded on node n1 (no /proc/drbd): replicated disks need the node image\'s kernel module');
    }
    assert.equal(traces(n2, v), [], 'nothing was made on n2');
  } finally {
    await master.del(`/api/vm/${v}`);
  }
});

M.run();
