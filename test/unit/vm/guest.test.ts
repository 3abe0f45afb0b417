import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { useTempRoot } from '../../helpers/temp-root';
import { HttpError } from '../../../node-cgi/lib/errors';
import { guestRunFile, nodeName, paths } from '../../../node-cgi/lib/paths';
import { processArgv } from '../../../node-cgi/lib/proc';
import { writeVmConfig } from '../../../node-cgi/vm/config';
import { findGuest, guestOf, mustLiveHere, openGuest, pidNow, runningPid } from '../../../node-cgi/vm/guest';
import type { VmConfig } from '../../../node-cgi/vm/types';


const config = (vmid: number, node = nodeName()): VmConfig => ({
  vmid, name: `g${vmid}`, node, type: 'kvm', memory: 16, sockets: 1, cores: 1, ostype: 'other', onboot: false, cdrom: null,
  disks: [], nics: [], boot: [], description: '', created: 0,
});

function statusOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    assert.instance(e, HttpError);
    return (e as HttpError).status;
  }
  throw new Error('did not throw');
}

/** A real QEMU that is guest `vmid`'s by its argv, doing nothing (no machine, vCPUs stopped). */
function fakeGuestQemu(vmid: number): ChildProcess {
  return spawn('qemu-system-x86_64', ['-name', `g${vmid},process=ramvm-${vmid}`, '-machine', 'none', '-nodefaults', '-display', 'none', '-S'], { stdio: 'ignore' });
}

async function waitArgv(pid: number): Promise<void> {
  for (let i = 0; i < 200 && !processArgv(pid)?.[0]?.includes('qemu-system'); i++) await new Promise((r) => setTimeout(r, 25));
}

let qemu: ChildProcess | undefined;

const O = suite('openGuest');
useTempRoot(O);
O.before(() => {
  mkdirSync(paths().qemuRun, { recursive: true });
  writeVmConfig(config(990));
  writeVmConfig(config(991, 'elsewhere'));
});
// The suite's root goes with everything in it; only the process is ours to end.
O.after(() => {
  qemu?.kill('SIGKILL');
});
O('should resolve config, files and node once', () => {
  const g = openGuest(990);
  assert.is(g.vmid, 990);
  assert.is(g.config.memory, 16);
  assert.is(g.files.qmp, guestRunFile(990, 'qmp'));
  assert.is(g.node, nodeName());
  assert.ok(g.here);
});
O('should answer 404 for a VMID without a config', () => {
  assert.is(statusOf(() => openGuest(989)), 404);
  assert.is(findGuest(989), undefined);
});
O('should see no process without a pidfile', () => {
  const g = openGuest(990);
  assert.is(g.pid, null);
  assert.is(g.stale, false);
});
O('should take a pid record whose process is gone while QEMU\'s work socket is left for a crash', () => {
  writeFileSync(guestRunFile(990, 'pid'), `${process.pid}\n`);
  writeFileSync(guestRunFile(990, 'qmp'), '');
  const g = openGuest(990);
  assert.is(g.pid, null);
  assert.is(g.stale, true);
  rmSync(guestRunFile(990, 'qmp'));
});
O('should take a pid record whose QEMU removed its work socket for a guest that powered off', () => {
  writeFileSync(guestRunFile(990, 'pid'), `${process.pid}\n`);
  const g = openGuest(990);
  assert.is(g.pid, null);
  assert.is(g.stale, false);
});
O('should find the guest\'s own QEMU by its pidfile and argv', async () => {
  qemu = fakeGuestQemu(990);
  await waitArgv(qemu.pid!);
  writeFileSync(guestRunFile(990, 'pid'), `${qemu.pid}\n`);
  const g = openGuest(990);
  assert.is(g.pid, qemu.pid);
  assert.is(runningPid(g), qemu.pid);
});
O.run();

const L = suite('guestOf and pidNow');
useTempRoot(L);
let second: ChildProcess | undefined;
L.before(() => {
  mkdirSync(paths().qemuRun, { recursive: true });
});
L.after(() => {
  second?.kill('SIGKILL');
});
L('should keep the pid of its first look, while pidNow looks again', async () => {
  const q = (second = fakeGuestQemu(990));
  await waitArgv(q.pid!);
  writeFileSync(guestRunFile(990, 'pid'), `${q.pid}\n`);
  const g = guestOf(config(990));
  assert.is(g.pid, q.pid);
  const ended = new Promise((r) => q.once('exit', r));
  q.kill('SIGKILL');
  await ended;
  assert.is(g.pid, q.pid, 'the handle keeps what it saw');
  assert.is(pidNow(g), null, 'a fresh look sees it gone');
  assert.is(statusOf(() => runningPid(guestOf(config(990)))), 409);
});
L.run();

const H = suite('mustLiveHere');
useTempRoot(H);
H('should pass a guest of this node and refuse one of another with 409', () => {
  mustLiveHere(guestOf(config(990)));
  const other = guestOf(config(991, 'elsewhere'));
  assert.not.ok(other.here);
  assert.is(statusOf(() => mustLiveHere(other)), 409);
  assert.throws(() => mustLiveHere(other), /guest 991 lives on node elsewhere/);
});
H.run();
