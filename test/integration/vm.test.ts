/**
 * Guests through lighttpd with real QEMU (TCG here, KVM where /dev/kvm
 * works) and real qemu-img: create → start → the boot-sector guest prints
 * its marker on COM1 → pause → resume → ACPI shutdown → stop → delete.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { GUEST_MARKER, installBootSector, waitFor, waitForSerial } from '../helpers/guest';
import { withQmp } from '../../node-cgi/qemu/qmp';
import { DIST } from '../../build/build';

const test = suite('guests');
const fx = useNode(test);

test.before(async () => {
});

const run = (...p: string[]) => join(fx.root, 'run/ramvm/qemu', ...p);
const images = (...p: string[]) => join(fx.root, 'var/lib/vz/images', ...p);
const vmsDir = () => join(fx.root, 'etc/ramvm/vms');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function qemuImgInfo(file: string): { format: string; 'virtual-size': number } {
  const r = spawnSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** Create a guest whose first disk boots the test sector; returns its config. */
async function createBootable(body: Record<string, unknown>): Promise<any> {
  const r = await fx.admin.post('/api/vm', { memory: 32, nics: [], ...body });
  assert.is(r.status, 201, r.text + serverLog());
  const cfg = r.json.data;
  const d = cfg.disks[0];
  installBootSector(images(String(cfg.vmid), d.file), d.format);
  return cfg;
}

async function status(vmid: number): Promise<any> {
  const r = await fx.admin.get(`/api/vm/${vmid}/status`);
  assert.is(r.status, 200, r.text);
  return r.json.data;
}

async function startAndSeeMarker(vmid: number): Promise<any> {
  const r = await fx.admin.post(`/api/vm/${vmid}/start`);
  assert.is(r.status, 200, r.text);
  assert.is(r.json.data.status, 'running');
  await waitForSerial(run(`${vmid}.serial.log`), GUEST_MARKER);
  return r.json.data;
}

async function stopAndDelete(vmid: number): Promise<void> {
  if ((await status(vmid)).status !== 'stopped') assert.is((await fx.admin.post(`/api/vm/${vmid}/stop`)).status, 200);
  const r = await fx.admin.del(`/api/vm/${vmid}`);
  assert.is(r.status, 204, r.text);
  assert.is(r.text, '', 'a delete answers without a body');
}

/** The end of the node's error log (CGI stderr), for failure messages. */
function serverLog(): string {
  try {
    return '\n' + readFileSync(join(fx.root, 'var/log/ramvm/lighttpd-error.log'), 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

test('should create a qcow2 IDE guest: config on this fx.node, a sparse disk, a generated MAC', async () => {
  const r = await fx.admin.post('/api/vm', { name: 'alpha', memory: 32, disks: [{ size: '64M' }] });
  assert.is(r.status, 201, r.text);
  const cfg = r.json.data;
  assert.is(cfg.vmid, 101);
  assert.is(cfg.node, 'testnode');
  assert.equal(cfg.disks, [{ id: 'disk0', file: 'vm-101-disk-0.qcow2', size: '64M', bus: 'ide', format: 'qcow2', cache: 'writeback' }]);
  assert.match(cfg.nics[0].mac, /^02:52:4D:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2}$/);
  const info = qemuImgInfo(images('101/vm-101-disk-0.qcow2'));
  assert.is(info.format, 'qcow2');
  assert.is(info['virtual-size'], 64 * 1024 * 1024);
  assert.equal(JSON.parse(readFileSync(join(vmsDir(), '101.json'), 'utf8')), cfg);
  const g = await fx.admin.get('/api/vm/101');
  assert.is(g.json.data.status, 'stopped');
  assert.is(g.json.data.runtime.accel, existsSync('/dev/kvm') ? g.json.data.runtime.accel : 'tcg');
  assert.equal(g.json.data.runtime.net, [{ id: 'net0', mode: 'user', bridge: 'vmbr0' }]);
});

test('should boot the guest for real: marker on the serial log, QEMU named after the guest, VNC socket', async () => {
  installBootSector(images('101/vm-101-disk-0.qcow2'), 'qcow2');
  const st = await startAndSeeMarker(101);
  assert.ok(st.pid > 1);
  const cmdline = readFileSync(`/proc/${st.pid}/cmdline`, 'utf8').split('\0');
  assert.is(cmdline[0], 'qemu-system-x86_64');
  assert.ok(cmdline.includes('alpha,process=ramvm-101'));
  assert.ok(statSync(run('101.vnc')).isSocket(), 'VNC on a unix socket');
  assert.ok(statSync(run('101.qmp')).isSocket() && statSync(run('101.status.qmp')).isSocket(), 'two QMP sockets');
  const g = (await fx.admin.get('/api/vm/101')).json.data;
  assert.is(g.status, 'running');
  assert.is(g.runtime.pid, st.pid);
  assert.ok(g.runtime.resources.mem > 0, 'resident memory');
  assert.equal(g.runtime.pending, []);
  const list = (await fx.admin.get('/api/vm')).json.data;
  assert.equal(list.map((e: any) => [e.vmid, e.name, e.node, e.status]), [[101, 'alpha', 'testnode', 'running']]);
  assert.is((await fx.admin.post('/api/vm/101/start')).status, 409, 'a second start');
});

test('should pause and resume the guest: no output while paused, output again after', async () => {
  const log = run('101.serial.log');
  const r = await fx.admin.post('/api/vm/101/pause');
  assert.is(r.status, 200, r.text);
  assert.equal([r.json.data.status, r.json.data.qmpStatus], ['paused', 'paused']);
  await sleep(200);
  const before = readFileSync(log).length;
  await sleep(1500);
  assert.is(readFileSync(log).length, before, 'a paused guest prints nothing');
  const s = await fx.admin.post('/api/vm/101/resume');
  assert.is(s.json.data.status, 'running');
  await waitFor('output after resume', () => readFileSync(log).length > before);
});

test('should shut the ACPI-aware guest down with the power button: QEMU ends and removes its sockets', async () => {
  const pid = (await status(101)).pid;
  const r = await fx.admin.post('/api/vm/101/shutdown');
  assert.is(r.status, 200, r.text);
  await waitFor('guest 101 stopped', async () => (await status(101)).status === 'stopped');
  assert.not.ok(alive(pid));
  assert.not.ok(existsSync(run('101.qmp')), 'QEMU removed its work socket: it ended by itself, cleanly');
  assert.is((await status(101)).note, undefined, 'a clean shutdown is no crash');
  assert.is((await fx.admin.post('/api/vm/101/shutdown')).status, 409, 'shutdown of a stopped guest');
});

test('should stop a running guest at once and clean its runtime files', async () => {
  const st = await startAndSeeMarker(101);
  const r = await fx.admin.post('/api/vm/101/stop');
  assert.is(r.status, 200, r.text);
  assert.is(r.json.data.status, 'stopped');
  assert.not.ok(alive(st.pid));
  for (const f of ['101.pid', '101.qmp', '101.status.qmp', '101.vnc', '101.run.json']) assert.not.ok(existsSync(run(f)), f);
  assert.is((await fx.admin.post('/api/vm/101/stop')).status, 409, 'stop of a stopped guest');
});

test('should reset a running guest: it boots again and prints its marker twice', async () => {
  await startAndSeeMarker(101);
  const r = await fx.admin.post('/api/vm/101/reset');
  assert.is(r.status, 200, r.text);
  await waitFor('second marker', () => readFileSync(run('101.serial.log'), 'latin1').split(GUEST_MARKER).length === 3);
});

test('should report a killed guest as stopped with a note, and start it again', async () => {
  const { pid } = await status(101);
  process.kill(pid, 'SIGKILL');
  await waitFor('killed', () => !alive(pid));
  const s = await status(101);
  assert.is(s.status, 'stopped');
  assert.match(s.note, 'without a shutdown');
  await startAndSeeMarker(101);
  assert.is((await status(101)).note, undefined);
});

test('should show config changes of a running guest as pending until the next start', async () => {
  const r = await fx.admin.put('/api/vm/101', { memory: 48, description: 'web server' });
  assert.is(r.status, 200, r.text);
  assert.is(r.json.data.memory, 48);
  assert.equal(r.json.data.runtime.pending, ['memory']);
  assert.is((await fx.admin.post('/api/vm/101/stop')).status, 200);
  await startAndSeeMarker(101);
  assert.equal((await fx.admin.get('/api/vm/101')).json.data.runtime.pending, []);
});

test('should refuse to delete a running guest (409) and delete a stopped one without a trace', async () => {
  const r = await fx.admin.del('/api/vm/101');
  assert.is(r.status, 409, r.text);
  assert.match(r.json.error.message, 'running');
  assert.ok(existsSync(images('101/vm-101-disk-0.qcow2')));
  await stopAndDelete(101);
  assert.not.ok(existsSync(images('101')));
  assert.not.ok(existsSync(join(vmsDir(), '101.json')));
  assert.equal(readdirSync(run()).filter((f) => f.startsWith('101.')), []);
  assert.is((await fx.admin.get('/api/vm/101')).status, 404);
});

test('should run a raw VirtIO guest and a qcow2 SATA guest and a raw SCSI guest at the same time', async () => {
  const guests = [
    await createBootable({ name: 'bravo', disks: [{ size: '1M', format: 'raw', bus: 'virtio' }] }),
    await createBootable({ name: 'charlie', disks: [{ size: '16M', format: 'qcow2', bus: 'sata', cache: 'unsafe' }] }),
    await createBootable({ name: 'delta', disks: [{ size: '2M', format: 'raw', bus: 'scsi', cache: 'writethrough' }] }),
  ];
  assert.equal(qemuImgInfo(images(String(guests[0].vmid), guests[0].disks[0].file)).format, 'raw');
  assert.ok(statSync(images(String(guests[0].vmid), guests[0].disks[0].file)).blocks * 512 < 1024 * 1024, 'raw disk is sparse');
  const pids = [];
  for (const g of guests) pids.push((await startAndSeeMarker(g.vmid)).pid);
  assert.is(new Set(pids).size, 3);
  const list = (await fx.admin.get('/api/vm')).json.data;
  assert.equal(list.map((e: any) => e.status), ['running', 'running', 'running']);
  for (const g of guests) await stopAndDelete(g.vmid);
  assert.equal((await fx.admin.get('/api/vm')).json.data, []);
});

test('should hand out distinct VMIDs to concurrent creates', async () => {
  const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => fx.admin.post('/api/vm', { name: `par${i}`, disks: [{ size: '1M' }], nics: [] })));
  assert.equal(replies.map((r) => r.status), [201, 201, 201, 201, 201, 201], replies.map((r) => r.text).join('\n') + serverLog());
  const ids = replies.map((r) => r.json.data.vmid).sort();
  assert.equal(ids, [101, 102, 103, 104, 105, 106]);
  for (const id of ids) assert.ok(existsSync(images(String(id), `vm-${id}-disk-0.qcow2`)));
  for (const id of ids) assert.is((await fx.admin.del(`/api/vm/${id}`)).status, 204);
});

test('should refuse bad input with 400 naming the field, and create nothing', async () => {
  const before = [readdirSync(vmsDir()), readdirSync(images())];
  // [body, field the message starts with, reason]
  const table: [unknown, string, string][] = [
    [{ memory: 4 }, 'memory', 'below 16 MiB'],
    [{ vmid: 42 }, 'vmid', 'below 100'],
    [{ name: 'no spaces' }, 'name', 'not a host name'],
    [{ disks: [{ size: '1X' }] }, 'disks[0].size', 'unknown unit'],
    [{ disks: [{ bus: 'floppy' }] }, 'disks[0].bus', 'unknown bus'],
    [{ disks: [{ format: 'vmdk' }] }, 'disks[0].format', 'unsupported format'],
    [{ disks: [{ cache: 'turbo' }] }, 'disks[0].cache', 'unknown cache mode'],
    [{ nics: [{ model: 'ne2k_pci' }] }, 'nics[0].model', 'unknown NIC model'],
    [{ nics: [{ bridge: '../../x' }] }, 'nics[0].bridge', 'a path as bridge name'],
    [{ cdrom: 'nothing.iso' }, 'cdrom', 'ISO not in the library'],
    [{ ostype: 'beos' }, 'ostype', 'unknown OS type'],
    [{ sockets: 16, cores: 16 }, 'cores', 'over 255 vCPUs'],
    [{ node: 'elsewhere' }, 'node', 'unknown node'],
    [{ boot: ['net5'] }, 'boot', 'no such device'],
    [{ colour: 'blue' }, 'colour', 'unknown field'],
  ];
  for (const [body, field, reason] of table) {
    const r = await fx.admin.post('/api/vm', body);
    assert.is(r.status, 400, `${reason}: ${r.text}`);
    assert.is(r.json.error.code, 'invalid', reason);
    assert.ok(r.json.error.message.startsWith(`${field}: `), `${reason}: ${r.json.error.message}`);
  }
  const malformed = await fx.admin.request('POST', '/api/vm', { body: '{"name": ', headers: { 'content-type': 'application/json' } });
  assert.is(malformed.status, 400);
  const notJson = await fx.admin.request('POST', '/api/vm', { body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.is(notJson.status, 415);
  assert.equal([readdirSync(vmsDir()), readdirSync(images())], before);
});

test('should answer 404 for an unknown guest and 400 for a malformed VMID', async () => {
  assert.is((await fx.admin.get('/api/vm/999')).status, 404);
  assert.is((await fx.admin.post('/api/vm/999/start')).status, 404);
  assert.is((await fx.admin.get('/api/vm/abc')).status, 400);
  assert.is((await fx.admin.del('/api/vm/12')).status, 400);
});

test('should refuse a second guest with a VMID in use (409)', async () => {
  assert.is((await fx.admin.post('/api/vm', { vmid: 150, disks: [], nics: [] })).status, 201);
  const r = await fx.admin.post('/api/vm', { vmid: 150, disks: [], nics: [] });
  assert.is(r.status, 409, r.text);
  assert.is((await fx.admin.del('/api/vm/150')).status, 204);
});

/**
 * A create whose second disk fails must leave nothing. qemu-img is real in
 * every other test; here the built CGI runs as lighttpd runs it, but with a
 * PATH whose qemu-img refuses disk 1 and hands everything else to the real one.
 */
test('should leave nothing behind when a disk cannot be created', async () => {
  const fake = mkdtempSync(join(tmpdir(), 'ramvm-guests-fakebin-'));
  try {
    const real = spawnSync('sh', ['-c', 'command -v qemu-img'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(join(fake, 'qemu-img'), `#!/bin/sh\ncase "$*" in *disk-1*) echo "qemu-img: disk full" >&2; exit 1;; esac\nexec ${real} "$@"\n`);
    chmodSync(join(fake, 'qemu-img'), 0o755);
    const body = JSON.stringify({ vmid: 160, disks: [{ size: '1M' }, { size: '1M' }], nics: [] });
    const { out, err } = await runCgi('vm', 'POST', '/', body, { ...fx.node.env, PATH: `${fake}:${process.env.PATH}` });
    assert.match(out, /^Status: 500/);
    assert.match(out, 'qemu-img failed');
    assert.not.match(out, 'disk full', "the tool's words go to the log only");
    assert.match(err, 'disk full');
    assert.not.ok(existsSync(images('160')), 'no disk folder');
    assert.not.ok(existsSync(join(vmsDir(), '160.json')), 'no config');
  } finally {
    rmSync(fake, { recursive: true, force: true });
  }
});

/** Run a built CGI as lighttpd does (CGI/1.1 environment, body on stdin), logged in as admin. */
async function runCgi(handler: string, method: string, pathInfo: string, body: string, env: NodeJS.ProcessEnv): Promise<{ out: string; err: string }> {
  const csrf = fx.admin.csrf!;
  const child = spawn(process.execPath, [join(DIST, 'cgi', `${handler}.cgi`)], {
    env: {
      ...env,
      REQUEST_METHOD: method,
      PATH_INFO: pathInfo,
      CONTENT_TYPE: 'application/json',
      CONTENT_LENGTH: String(Buffer.byteLength(body)),
      HTTP_COOKIE: fx.admin.cookie!,
      HTTP_X_RAMVM_CSRF: csrf,
      REMOTE_ADDR: '127.0.0.1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(body);
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (err += b));
  await new Promise((r) => child.on('close', r));
  return { out, err };
}

test('should refuse a start that would overcommit memory, with a clear message', async () => {
  const g = await createBootable({ name: 'hungry', memory: 4096 });
  const total = Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
  const ratio = Math.max(0.1, Math.floor(((2048 * 1024 * 1024) / total) * 100) / 100); // allows less than 4 GiB
  assert.is((await fx.admin.put('/api/node/testnode/settings', { memoryOvercommit: ratio })).status, 200);
  try {
    const r = await fx.admin.post(`/api/vm/${g.vmid}/start`);
    assert.is(r.status, 409, r.text);
    assert.match(r.json.error.message, 'not enough memory');
    assert.is((await status(g.vmid)).status, 'stopped');
  } finally {
    assert.is((await fx.admin.put('/api/node/testnode/settings', { memoryOvercommit: 1 })).status, 200);
  }
  assert.is((await fx.admin.get('/api/node/othernode/resources')).status, 404, 'only this node answers');
  const res = (await fx.admin.get('/api/node/testnode/resources')).json.data;
  assert.is(res.guests.memoryOvercommit, 1);
  await startAndSeeMarker(g.vmid);
  const after = (await fx.admin.get('/api/node/testnode/resources')).json.data;
  assert.is(after.guests.memoryClaimed, 4096 * 1024 * 1024);
  assert.is(after.guests.running, 1);
  assert.ok(after.memory.total > 0 && after.disk.free > 0);
  await stopAndDelete(g.vmid);
});

test('should change the CD of a running guest at once and of a stopped one in its config', async () => {
  const iso = join(fx.root, 'var/lib/vz/template/iso');
  mkdirSync(iso, { recursive: true });
  writeFileSync(join(iso, 'one.iso'), Buffer.alloc(2048 * 16));
  writeFileSync(join(iso, 'two.iso'), Buffer.alloc(2048 * 16));
  const g = await createBootable({ name: 'cdrom', cdrom: 'one.iso' });
  await startAndSeeMarker(g.vmid);
  const inserted = () =>
    withQmp(run(`${g.vmid}.qmp`), async (q) => {
      const blocks = await q.execute<any[]>('query-block');
      return blocks.find((b) => b.qdev === 'cdrom' || b.device === 'drive-cdrom')?.inserted?.file ?? null;
    });
  assert.is(await inserted(), join(iso, 'one.iso'));
  let r = await fx.admin.put(`/api/vm/${g.vmid}/cdrom`, { cdrom: 'two.iso' });
  assert.is(r.status, 200, r.text);
  assert.is(r.json.data.cdrom, 'two.iso');
  assert.is(await inserted(), join(iso, 'two.iso'));
  assert.equal(r.json.data.runtime.pending, [], 'a CD change is no pending change');
  r = await fx.admin.put(`/api/vm/${g.vmid}/cdrom`, { cdrom: null });
  assert.is(r.status, 200, r.text);
  assert.is(await inserted(), null);
  assert.is((await fx.admin.put(`/api/vm/${g.vmid}/cdrom`, { cdrom: 'three.iso' })).status, 400);
  await stopAndDelete(g.vmid);
});

test('should add, grow and remove disks, growing a running guest\'s disk live', async () => {
  const g = await createBootable({ name: 'disks', disks: [{ size: '2M', format: 'raw' }] });
  let r = await fx.admin.post(`/api/vm/${g.vmid}/disks`, { size: '8M', bus: 'virtio', format: 'qcow2' });
  assert.is(r.status, 201, r.text);
  assert.equal(r.json.data, { id: 'disk1', file: `vm-${g.vmid}-disk-1.qcow2`, size: '8M', bus: 'virtio', format: 'qcow2', cache: 'writeback' });
  const disk1 = images(String(g.vmid), `vm-${g.vmid}-disk-1.qcow2`);
  r = await fx.admin.put(`/api/vm/${g.vmid}/disks/disk1`, { size: '16M' });
  assert.is(r.status, 200, r.text);
  assert.is(qemuImgInfo(disk1)['virtual-size'], 16 * 1024 * 1024, 'grown offline');
  assert.is((await fx.admin.put(`/api/vm/${g.vmid}/disks/disk1`, { size: '4M' })).status, 400, 'shrinking');
  assert.is((await fx.admin.put(`/api/vm/${g.vmid}/disks/disk1`, { format: 'raw' })).status, 400, 'format change');
  assert.is((await fx.admin.put(`/api/vm/${g.vmid}/disks/disk7`, { size: '32M' })).status, 404);
  assert.is((await fx.admin.post(`/api/vm/${g.vmid}/disks`, { size: '8M', format: '../x' })).status, 400);
  await startAndSeeMarker(g.vmid);
  r = await fx.admin.put(`/api/vm/${g.vmid}/disks/disk1`, { size: '32M' });
  assert.is(r.status, 200, r.text);
  const size = await withQmp(run(`${g.vmid}.qmp`), async (q) => {
    const blocks = await q.execute<any[]>('query-block');
    return blocks.find((b) => b.device === 'drive-disk1').inserted.image['virtual-size'];
  });
  assert.is(size, 32 * 1024 * 1024, 'grown live');
  assert.equal((await fx.admin.get(`/api/vm/${g.vmid}`)).json.data.runtime.pending, [], 'a live grow is no pending change');
  // A disk added while the guest runs is not in its QEMU yet: growing it grows the image, no 500 from QMP.
  r = await fx.admin.post(`/api/vm/${g.vmid}/disks`, { size: '8M', bus: 'virtio' });
  assert.is(r.status, 201, r.text);
  assert.is(r.json.data.id, 'disk2');
  r = await fx.admin.put(`/api/vm/${g.vmid}/disks/disk2`, { size: '24M' });
  assert.is(r.status, 200, r.text);
  assert.is(r.json.data.size, '24M');
  assert.is(qemuImgInfo(images(String(g.vmid), `vm-${g.vmid}-disk-2.qcow2`))['virtual-size'], 24 * 1024 * 1024, 'the added image grew');
  assert.equal((await fx.admin.get(`/api/vm/${g.vmid}`)).json.data.runtime.pending, ['disks'], 'it shows at the next start');
  assert.is((await fx.admin.del(`/api/vm/${g.vmid}/disks/disk1`)).status, 409, 'removing a disk of a running guest');
  assert.is((await fx.admin.post(`/api/vm/${g.vmid}/stop`)).status, 200);
  r = await fx.admin.del(`/api/vm/${g.vmid}/disks/disk1`);
  assert.is(r.status, 204, r.text);
  assert.not.ok(existsSync(disk1));
  assert.equal((await fx.admin.get(`/api/vm/${g.vmid}`)).json.data.disks.map((d: any) => d.id), ['disk0', 'disk2']);
  await stopAndDelete(g.vmid);
});

test('should refuse a replicated disk on a node in no cluster with 409, adding or converting nothing', async () => {
  const g = await createBootable({ name: 'lonely', disks: [{ size: '2M', format: 'raw' }] });
  const r = await fx.admin.post(`/api/vm/${g.vmid}/disks`, { size: '64M', replicated: true });
  assert.is(r.status, 409, r.text);
  assert.match(r.json.error.message, /a replicated disk needs a cluster of two nodes; this node is in no cluster/);
  assert.equal((await fx.admin.get(`/api/vm/${g.vmid}`)).json.data.disks.map((d: any) => d.id), ['disk0']);
  assert.equal(readdirSync(images(String(g.vmid))), [`vm-${g.vmid}-disk-0.raw`]);
  const c = await fx.admin.post(`/api/vm/${g.vmid}/disks/disk0/replicate`);
  assert.is(c.status, 409, c.text);
  assert.match(c.json.error.message, /a replicated disk needs a cluster of two nodes; this node is in no cluster/);
  assert.equal(readdirSync(images(String(g.vmid))), [`vm-${g.vmid}-disk-0.raw`], 'its image as it was');
  await stopAndDelete(g.vmid);
});

async function waitTask(id: string): Promise<any> {
  return waitFor(`task ${id}`, async () => {
    const t = (await fx.admin.get(`/api/task/${id}`)).json.data;
    return t.status === 'running' ? null : t;
  });
}

test('should shut down with a timeout as a task, stopping a guest that ignores the button', async () => {
  const g = await createBootable({ name: 'stubborn' });
  await startAndSeeMarker(g.vmid);
  // A paused guest cannot react to the power button.
  assert.is((await fx.admin.post(`/api/vm/${g.vmid}/pause`)).status, 200);
  let r = await fx.admin.post(`/api/vm/${g.vmid}/shutdown`, { timeout: 1 });
  assert.is(r.status, 202, r.text);
  let t = await waitTask(r.json.data.task);
  assert.is(t.status, 'failed');
  assert.match(t.message, 'did not power off within 1 s');
  assert.is((await status(g.vmid)).status, 'paused');
  r = await fx.admin.post(`/api/vm/${g.vmid}/shutdown`, { timeout: 1, forceStop: true });
  assert.is(r.status, 202, r.text);
  t = await waitTask(r.json.data.task);
  assert.is(t.status, 'ok', t.message);
  assert.match(t.message, 'was stopped');
  assert.is((await status(g.vmid)).status, 'stopped');
  // A guest that reacts powers off before the timeout.
  await startAndSeeMarker(g.vmid);
  r = await fx.admin.post(`/api/vm/${g.vmid}/shutdown`, { timeout: 30, forceStop: true });
  t = await waitTask(r.json.data.task);
  assert.is(t.status, 'ok', t.message);
  assert.match(t.message, 'powered off after');
  assert.is((await fx.admin.post(`/api/vm/${g.vmid}/shutdown`, { timeout: 0 })).status, 400);
  assert.is((await fx.admin.post(`/api/vm/${g.vmid}/shutdown`, { forceStop: true })).status, 400);
  await stopAndDelete(g.vmid);
});

test('should check the disks of a guest as a task', async () => {
  const g = await createBootable({ name: 'checked', disks: [{ size: '1M', format: 'raw' }, { size: '8M' }] });
  const r = await fx.admin.post(`/api/vm/${g.vmid}/check`);
  assert.is(r.status, 202, r.text);
  const t = await waitTask(r.json.data.task);
  assert.is(t.status, 'ok', t.message);
  assert.match(t.message, '2 disk image(s)');
  await stopAndDelete(g.vmid);
});

test('should refuse to start a guest whose config was edited into something invalid', async () => {
  const g = await createBootable({ name: 'edited' });
  const file = join(vmsDir(), `${g.vmid}.json`);
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, JSON.stringify({ ...g, disks: [{ ...g.disks[0], file: '../../../../etc/hostname' }] }));
  const r = await fx.admin.post(`/api/vm/${g.vmid}/start`);
  assert.is(r.status, 409, r.text);
  assert.match(r.json.error.message, 'disks[0].file');
  assert.is((await status(g.vmid)).status, 'stopped');
  writeFileSync(file, good);
  await stopAndDelete(g.vmid);
});

test('should start the onboot guests with `ramvm boot`, in VMID order', async () => {
  const a = await createBootable({ name: 'boot-a', onboot: true });
  const b = await createBootable({ name: 'boot-b' });
  const c = await createBootable({ name: 'boot-c', onboot: true });
  const out = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'boot'], { env: fx.node.env, encoding: 'utf8' });
  assert.is(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim().split('\n'), [`guest ${a.vmid}: started (running)`, `guest ${c.vmid}: started (running)`]);
  assert.is((await status(a.vmid)).status, 'running');
  assert.is((await status(b.vmid)).status, 'stopped');
  assert.is((await status(c.vmid)).status, 'running');
  const again = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'boot'], { env: fx.node.env, encoding: 'utf8' });
  assert.match(again.stdout, `guest ${a.vmid}: already running`);
  for (const g of [a, b, c]) await stopAndDelete(g.vmid);
});

test.run();
