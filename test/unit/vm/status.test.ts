import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isGuestCmdline, parsePidfile, parseQueryStatus, stateOf } from '../../../node-cgi/vm/status';

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
