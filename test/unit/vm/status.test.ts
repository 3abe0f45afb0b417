import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { faultOf, faultRefusal, isGuestCmdline, isGuestOfNode, keepsProcessOnShutdown, parsePidfile, parseQueryStatus, stateOf } from '../../../node-cgi/vm/status';

const FIX = join(__dirname, 'fixtures');
/** A real QEMU 7.2 /proc/<pid>/cmdline of guest 101 ("-name web (test),process=ramvm-101"). */
const CMDLINE = readFileSync(join(FIX, 'proc-pid-cmdline.qemu-7.2.bin'), 'utf8');
/** A real QMP session: greeting, capabilities, query-status, stop, query-status, cont, query-status. */
const TRANSCRIPT = readFileSync(join(FIX, 'qmp-query-status.qemu-7.2.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const returns = TRANSCRIPT.filter((m) => 'return' in m && Object.keys(m.return).length > 0).map((m) => m.return);

const P = suite('parsePidfile');
P('should read a pid with or without a newline', () => {
  assert.is(parsePidfile('16849\n'), 16849);
  assert.is(parsePidfile('16849'), 16849);
});
P('should refuse garbage, pid 0 and init', () => {
  for (const t of ['', 'abc', '12 34', '-5', '0', '1', '99999999999']) assert.is(parsePidfile(t), null, t);
});
P.run();

const C = suite('isGuestCmdline');
C("should recognise guest 101's QEMU", () => {
  assert.ok(isGuestCmdline(CMDLINE, 101));
});
C("should refuse another guest's QEMU and other programs", () => {
  assert.not.ok(isGuestCmdline(CMDLINE, 10));
  assert.not.ok(isGuestCmdline(CMDLINE, 1011));
  assert.not.ok(isGuestCmdline(['bash', '-c', 'echo process=ramvm-101'].join('\0'), 101));
  assert.not.ok(isGuestCmdline(['qemu-system-x86_64', '-name', 'x'].join('\0'), 101));
  assert.not.ok(isGuestCmdline('', 101));
});
C('should accept a QEMU started by its full path', () => {
  assert.ok(isGuestCmdline(['/usr/bin/qemu-system-x86_64', '-name', 'a,process=ramvm-7'].join('\0'), 7));
});
C.run();

const N = suite('isGuestOfNode');
const argvOf = (qmp: string, vmid = 101) => ['qemu-system-x86_64', '-name', `web,process=ramvm-${vmid}`, '-chardev', `socket,id=qmp,path=${qmp},server=on,wait=off`, '-mon', 'chardev=qmp,mode=control'];
N('should recognise this node\'s guest 101 by its work socket', () => {
  assert.ok(isGuestOfNode(argvOf('/tmp/r1/run/ramvm/qemu/101.qmp'), 101, '/tmp/r1/run/ramvm/qemu/101.qmp'));
  assert.ok(isGuestOfNode(argvOf('/tmp/a,,b/101.qmp'), 101, '/tmp/a,b/101.qmp'), 'commas doubled as qemuArgs writes them');
});
N('should refuse guest 101 of another node on the same machine, and another guest', () => {
  assert.not.ok(isGuestOfNode(argvOf('/tmp/r2/run/ramvm/qemu/101.qmp'), 101, '/tmp/r1/run/ramvm/qemu/101.qmp'));
  assert.not.ok(isGuestOfNode(argvOf('/tmp/r1/run/ramvm/qemu/101.qmp', 102), 101, '/tmp/r1/run/ramvm/qemu/101.qmp'));
  assert.not.ok(isGuestOfNode(['bash', '-c', 'socket,id=qmp,path=/tmp/r1/run/ramvm/qemu/101.qmp,server=on,wait=off process=ramvm-101'], 101, '/tmp/r1/run/ramvm/qemu/101.qmp'));
});
N.run();

const Q = suite('parseQueryStatus');
Q('should read the run state of real QEMU answers', () => {
  assert.equal(returns.map(parseQueryStatus), ['running', 'paused', 'running']);
});
Q('should throw with the answer on anything else', () => {
  assert.throws(() => parseQueryStatus({}), /unexpected query-status answer: \{\}/);
  assert.throws(() => parseQueryStatus(null), /^unexpected query-status answer: null$/);
  assert.throws(() => parseQueryStatus({ status: 'Running!' }), /^unexpected query-status answer: \{"status":"Running!"\}$/);
});
Q.run();

const S = suite('stateOf');
S('should map QEMU run states to running, paused and stopped', () => {
  const table: [string, string][] = [
    ['running', 'running'],
    ['paused', 'paused'],
    ['suspended', 'paused'],
    ['io-error', 'paused'],
    ['internal-error', 'paused'],
    ['guest-panicked', 'paused'],
    ['prelaunch', 'paused'],
    ['postmigrate', 'paused'],
    ['shutdown', 'stopped'],
  ];
  for (const [q, want] of table) assert.is(stateOf(q), want, q);
});
S.run();

const K = suite('keepsProcessOnShutdown');
K('should find -no-shutdown and -action shutdown=pause', () => {
  assert.ok(keepsProcessOnShutdown(['qemu-system-x86_64', '-no-shutdown']));
  assert.ok(keepsProcessOnShutdown(['qemu-system-x86_64', '-action', 'panic=pause,shutdown=pause']));
});
K("should not find it in ramvm's own command line or in other options' values", () => {
  assert.not.ok(keepsProcessOnShutdown(CMDLINE.split('\0')));
  assert.not.ok(keepsProcessOnShutdown(['qemu-system-x86_64', '-action', 'panic=pause']));
  assert.not.ok(keepsProcessOnShutdown(['qemu-system-x86_64', '-action', 'shutdown=poweroff']));
  assert.not.ok(keepsProcessOnShutdown(['qemu-system-x86_64', '-name', '-no-shutdown,process=ramvm-1'].slice(0, 2)));
});
K.run();

const F = suite('faultOf');
F('should see no fault in states a guest goes on from', () => {
  for (const q of ['running', 'paused', 'prelaunch', 'io-error', 'suspended', 'postmigrate']) {
    assert.is(faultOf(q, { vmid: 101, accel: 'kvm', keepsProcess: false }), undefined, q);
  }
});
F('should take "shutdown" for a process that is ending, unless QEMU keeps it', () => {
  assert.is(faultOf('shutdown', { vmid: 101, keepsProcess: false }), undefined);
  const f = faultOf('shutdown', { vmid: 101, keepsProcess: true })!;
  assert.equal([f.state, f.actions, f.kvmSuspect], ['shutdown', ['reset', 'stop'], false]);
  assert.match(f.message, /powered off, but its QEMU process was kept/);
});
F("should blame the host's KVM for an internal error under KVM and say how to use TCG", () => {
  const f = faultOf('internal-error', { vmid: 101, accel: 'kvm', keepsProcess: false })!;
  assert.equal([f.state, f.kvmSuspect], ['internal-error', true]);
  assert.match(f.message, /points at the host's KVM/);
  assert.match(f.message, /PUT \/api\/vm\/101 \{"accel": "tcg"\}/);
  const other = faultOf('internal-error', { vmid: 101, accel: 'tcg', keepsProcess: false })!;
  assert.is(other.kvmSuspect, false);
  assert.not.match(other.message, /KVM/);
});
F('should call a guest panic a crash of the guest, with reset and stop', () => {
  const f = faultOf('guest-panicked', { vmid: 7, accel: 'tcg', keepsProcess: false })!;
  assert.equal([f.state, f.actions, f.kvmSuspect], ['guest-panicked', ['reset', 'stop'], false]);
  assert.match(f.message, /crashed.*Reset it \(POST \/api\/vm\/7\/reset\) or stop it \(POST \/api\/vm\/7\/stop\)/);
});
F('should refuse other actions saying what works', () => {
  const f = faultOf('internal-error', { vmid: 101, accel: 'kvm', keepsProcess: false })!;
  assert.is(faultRefusal(101, f, 'resume'), 'guest 101 has crashed (internal-error): resume cannot help; reset it (POST /api/vm/101/reset) or stop it (POST /api/vm/101/stop)');
});
F.run();
