/**
 * Launching QEMU in the foreground and knowing when it is up, against real
 * QEMU 7.2 processes that run no guest (-machine none).
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { ExecError } from '../../../node-cgi/lib/exec';
import { launchQemu, readyLine } from '../../../node-cgi/vm/launch';
import { QEMU_SANDBOX } from '../../../node-cgi/vm/qemu-args';

const READY = ['-chardev', 'stdio,id=ready,signal=off', '-mon', 'chardev=ready,mode=control'];
const QEMU = ['qemu-system-x86_64', '-machine', 'pc', '-accel', 'tcg', '-m', '16', '-nodefaults', '-display', 'none', '-sandbox', QEMU_SANDBOX, ...READY];
const ENV = { PATH: process.env.PATH };
const pids: number[] = [];

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
const status = (pid: number, field: string) => new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];

const R = suite('readyLine');
R('should tell QMP\'s greeting, an answer and anything else apart', () => {
  assert.is(readyLine('{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}'), 'greeting');
  assert.is(readyLine('{"return": {}}'), 'ready');
  for (const l of ['', 'qemu-system-x86_64: warning', '{"QMP": {}}', '{"event": "STOP"}', '{"error": {"class": "GenericError"}}']) assert.is(readyLine(l), 'other', l);
});
R.run();

const L = suite('launchQemu');
L.after(() => {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});
L('should return the pid of a QEMU that is up, and leave it running on its own', async () => {
  const pid = await launchQemu(QEMU, { timeoutMs: 30_000, env: ENV });
  pids.push(pid);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(alive(pid), 'still running after its launcher let go of the pipes');
  assert.is(status(pid, 'Seccomp'), '2', 'sandboxed');
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^qemu-system-x86_64\0/);
});
L('should fail when a device fails after the monitor greeted, QEMU\'s own words for the log only', async () => {
  const err = await launchQemu([...QEMU, '-device', 'ide-hd,drive=nosuch,bus=ide.0'], { timeoutMs: 30_000, env: ENV }).then(() => null, (e: unknown) => e);
  assert.instance(err, ExecError);
  assert.is((err as ExecError).message, 'qemu-system-x86_64 failed (exit 1)');
  assert.is((err as ExecError).said, "qemu-system-x86_64: -device ide-hd,drive=nosuch,bus=ide.0: Property 'ide-hd.drive' can't find value 'nosuch'");
});
L('should end a program that never says it is up, and say so', async () => {
  const err = await launchQemu(['sleep', '30'], { timeoutMs: 500, env: ENV }).then(() => null, (e: unknown) => e);
  assert.instance(err, ExecError);
  assert.match((err as ExecError).message, /did not come up within 500 ms/);
});
L('should start QEMU as another user through a command that execs it, with its umask', async () => {
  const as = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', '--'];
  const mine = process.umask();
  const pid = await launchQemu(QEMU, { timeoutMs: 30_000, env: ENV, as, umask: 0o007 });
  pids.push(pid);
  assert.match(status(pid, 'Uid') ?? '', /^65534\s+65534\s+65534\s+65534$/);
  assert.is(status(pid, 'NoNewPrivs'), '1');
  assert.is(status(pid, 'CapEff'), '0000000000000000');
  assert.is(status(pid, 'Umask'), '0007');
  assert.is(process.umask(), mine, 'this process keeps its own umask');
});
L.run();
