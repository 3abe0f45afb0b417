/**
 * Stop mode with real guests made through the API: the guest is shut down
 * with the ACPI button, copied offline and started again — also when the
 * copy fails (a target that fills up), and by the next tick when the task
 * died. The backup boots in QEMU as it is (through an overlay).
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DIST } from '../../build/build';
import { cleanPartials } from '../../node-cgi/backup/run';
import { useNode } from '../helpers/fixture';
import { GUEST_MARKER, waitForSerial } from '../helpers/guest';
import { makeGuest, sh, taskLog, waitTask, type TestGuest } from './backup-fixture';

let guest: TestGuest;
let reference: string;

const S = suite('stop mode');
const fx = useNode(S);
S.before(async () => {
  reference = join(fx.root, 'ref-104.raw');
  guest = await makeGuest(fx, 104, { sizeMiB: 32, filledMiB: 24, format: 'raw', reference });
  await guest.start();
});

S('should shut the guest down, back it up offline and start it again', async () => {
  const before = await guest.pid();
  assert.ok(before);
  const r = await fx.admin.post('/api/backup/run', { vmid: 104, mode: 'stop', compress: 'zstd' });
  assert.is(r.status, 202, r.text);
  const t = await waitTask(fx.admin, r.json.data.task);
  const log = await taskLog(fx.admin, r.json.data.task);
  assert.is(t.status, 'ok', log);
  assert.match(log, 'stop mode: shutting guest 104 down');
  assert.match(log, /guest 104 started again after \d+ ms\n/);
  assert.not.match(log, 'did not power off', 'the ACPI button was enough');
  assert.is(await guest.status(), 'running');
  const after = await guest.pid();
  assert.ok(after && after !== before, 'a new QEMU process');
  const b = (await fx.admin.get('/api/backup?vmid=104')).json.data[0];
  assert.equal([b.mode, b.method, b.verified], ['stop', 'offline', true]);
  const [, vmid, stamp] = b.id.split(':');
  const dir = join(fx.root, 'var/lib/vz/dump/ramvm', vmid, stamp);
  assert.is(sh(['qemu-img', 'compare', '-f', 'raw', '-F', 'qcow2', reference, join(dir, 'vm-104-disk-0.qcow2')], { allowFail: true }).code, 0);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.ok(m.timings.downtime > 0, 'downtime recorded');
});

S('should start the guest again when the backup fails', async () => {
  const mnt = join(fx.root, 'mnt-tiny');
  mkdirSync(mnt);
  sh(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'ramvm-backup-test', mnt]);
  fx.cleanups.push(() => sh(['umount', mnt]));
  assert.is((await fx.admin.post('/api/storage', { name: 'tiny', type: 'dir', path: mnt, mountpoint: true })).status, 201);
  const before = await guest.pid();
  const r = await fx.admin.post('/api/backup/run', { vmid: 104, storage: 'tiny', mode: 'stop', compress: 'none' });
  const t = await waitTask(fx.admin, r.json.data.task);
  const log = await taskLog(fx.admin, r.json.data.task);
  assert.is(t.status, 'failed', log);
  assert.match(t.message, /No space left on device/i);
  assert.match(log, '(although the backup failed)');
  assert.is(await guest.status(), 'running');
  assert.ok((await guest.pid()) !== before, 'it was really stopped and started');
  assert.equal((await fx.admin.get('/api/backup?storage=tiny')).json.data, []);
  assert.equal(readdirSync(join(mnt, 'ramvm/104')), []);
  const alerts = (await fx.admin.get('/api/backup/alerts')).json.data;
  assert.ok(alerts.some((a: { task: string }) => a.task === r.json.data.task));
});
S('should leave a backup that QEMU boots directly, through an overlay, without changing it', async () => {
  const b = (await fx.admin.get('/api/backup?vmid=104&storage=local')).json.data[0];
  const [, vmid, stamp] = b.id.split(':');
  const disk = join(fx.root, 'var/lib/vz/dump/ramvm', vmid, stamp, 'vm-104-disk-0.qcow2');
  const sum = sh(['sha256sum', disk]).out.split(' ')[0];
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-backup-boot-'));
  const pidFile = join(dir, 'q.pid');
  try {
    sh(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', disk, join(dir, 'overlay.qcow2')]);
    sh(['qemu-system-x86_64', '-accel', 'tcg', '-nodefaults', '-display', 'none', '-m', '32', '-daemonize', '-pidfile', pidFile,
      '-chardev', `file,id=s0,path=${join(dir, 'serial.log')}`, '-device', 'isa-serial,chardev=s0',
      '-drive', `file=${join(dir, 'overlay.qcow2')},format=qcow2,if=ide`]);
    await waitForSerial(join(dir, 'serial.log'), GUEST_MARKER);
  } finally {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {
      // not started
    }
    rmSync(dir, { recursive: true, force: true });
  }
  assert.is(sh(['sha256sum', disk]).out.split(' ')[0], sum, 'the backup itself was not written');
});

S('should start a guest again from the tick when its stop-mode task died', async () => {
  await guest.stop();
  const dead = spawnSync('true').pid!;
  const marker = join(fx.root, 'run/ramvm/backup-stopped/104.json');
  mkdirSync(dirname(marker), { recursive: true });
  writeFileSync(marker, JSON.stringify({ task: '20261125T220000Z-backup-vms-104-dead00', pid: dead, time: Date.now() }));
  const tick = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'backup', 'tick'], { env: fx.node.env, encoding: 'utf8' });
  assert.is(tick.status, 0, tick.stderr);
  assert.match(tick.stdout, 'restarted guest 104, left stopped by task 20261125T220000Z-backup-vms-104-dead00');
  assert.is(await guest.status(), 'running');
  assert.not.ok(existsSync(marker));
});

S('should kill a process still writing into a partial folder of a dead task before removing it', async () => {
  const vmDir = join(fx.root, 'var/lib/vz/dump/ramvm/104');
  const partial = join(vmDir, '.partial-20261125T220000Z');
  mkdirSync(partial);
  writeFileSync(join(partial, '.owner'), JSON.stringify({ pid: spawnSync('true').pid, task: '20261125T220000Z-backup-vms-104-dead00' }));
  writeFileSync(join(partial, 'vm-104-disk-0.qcow2'), 'x');
  const writer = spawn('tail', ['-f', join(partial, 'vm-104-disk-0.qcow2')], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    const lines: string[] = [];
    assert.equal(cleanPartials(vmDir, (l) => lines.push(l)), ['.partial-20261125T220000Z']);
    assert.match(lines.join('\n'), `killed process ${writer.pid}, still writing into .partial-20261125T220000Z`);
    assert.not.ok(existsSync(partial));
    await new Promise((r) => writer.exitCode !== null || writer.signalCode !== null ? r(null) : writer.once('exit', r));
    assert.is(writer.signalCode, 'SIGKILL');
  } finally {
    writer.kill('SIGKILL');
  }
});
S.run();
