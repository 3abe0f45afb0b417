import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import {
  HMP_COMMAND_MAX_CHARS,
  READ_ONLY_INFO,
  checkedHmpCommand,
  checkedThumbWidth,
  hmpArgs,
  hmpKind,
  parseHmpOutput,
  readOnlyCommands,
  screendumpArgs,
  type HmpKind,
} from '../../../node-cgi/console/monitor';

const C = suite('checkedHmpCommand');
C('should trim and keep a command line', () => {
  assert.is(checkedHmpCommand('  info status '), 'info status');
  assert.is(checkedHmpCommand('sendkey ctrl-alt-delete'), 'sendkey ctrl-alt-delete');
});
const bad: [unknown, string][] = [
  [undefined, 'no command field'],
  [42, 'not a string'],
  [['info', 'status'], 'an array'],
  ['', 'empty'],
  ['   ', 'only blanks'],
  ['info status\ninfo block', 'two lines'],
  ['info\x00status', 'a NUL byte'],
  ['info status\x1b[A', 'an escape sequence'],
  ['x'.repeat(HMP_COMMAND_MAX_CHARS + 1), 'longer than the limit'],
];
for (const [value, why] of bad) {
  C(`should refuse ${why} with 400 naming the field`, () => {
    try {
      checkedHmpCommand(value);
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).status, 400);
      assert.match((e as HttpError).message, /^command: /);
    }
  });
}
C.run();

const K = suite('hmpKind');
// [command line (as checkedHmpCommand passes it), kind, why]
const KINDS: [string, HmpKind, string][] = [
  ['info status', 'read-only', 'the guest\'s run state'],
  ['info block', 'read-only', 'its disks'],
  ['info block -v', 'read-only', 'a flag it takes'],
  ['info block -n -v drive-disk0', 'read-only', 'both flags in order and a device'],
  ['info registers', 'read-only', 'the current vCPU'],
  ['info registers -a', 'read-only', 'every vCPU'],
  ['info registers 1', 'read-only', 'one vCPU by number'],
  ['info mtree -f -o', 'read-only', 'flags of the memory tree'],
  ['info qom-tree /machine/unattached/device[0]', 'read-only', 'a QOM path'],
  ['info stats vcpu halt_exits kvm', 'read-only', 'statistics by name and provider'],
  ['info cpus', 'read-only', ''],
  ['info network', 'read-only', ''],
  ['info chardev', 'read-only', ''],
  ['info', 'read-only', 'the list of info subcommands'],
  ['help', 'read-only', 'help'],
  ['help migrate', 'read-only', 'help on one command runs nothing'],
  ['migrate -d "exec:id > /tmp/x"', 'full', 'the root exploit: starts a program on the host'],
  ['stop', 'full', 'changes the guest'],
  ['screendump /tmp/x.ppm', 'full', 'writes a host file'],
  ['dump-guest-memory /tmp/m', 'full', 'writes a host file'],
  ['drive_add 0 file=/etc/shadow,if=none', 'full', 'opens a host file'],
  ['quit', 'full', 'ends QEMU'],
  ['no-such-command', 'full', 'unknown: never read-only'],
  ['info usbhost', 'full', 'the host\'s USB devices'],
  ['info ramblock', 'full', 'host addresses of the guest\'s RAM'],
  ['info jit', 'full', 'the emulator\'s host-side internals'],
  ['info roms', 'full', 'host firmware paths'],
  ['info history', 'full', 'the monitor\'s own history'],
  ['info nothing', 'full', 'an info subcommand QEMU does not have'],
  ['info  status', 'full', 'two spaces: not the shape'],
  ['info status ', 'full', 'a trailing space'],
  ['info status x', 'full', 'an argument it takes none of'],
  ['info status;quit', 'full', 'a ";" is never part of a read-only command'],
  ['info block drive-disk0;quit', 'full', 'a ";" after a device'],
  ['info block "x"', 'full', 'quotes'],
  ['info block $eax', 'full', 'an HMP expression'],
  ['info block # comment', 'full', 'a comment sign'],
  ['info block -v -n', 'full', 'flags out of QEMU\'s order'],
  ['info block -x', 'full', 'a flag it does not take'],
  ['info block -n-v', 'full', 'flags not apart'],
  ['info registers -1', 'full', 'not a vCPU number'],
  ['info registers 1+1', 'full', 'an expression'],
  ['INFO status', 'full', 'HMP names are lower case'],
  ['info\u00a0status', 'full', 'a no-break space'],
  ['info\u3000status', 'full', 'an ideographic space'],
  ['info status\u200b', 'full', 'a zero-width space'],
  ['info qom-tree ../x', 'full', 'a QOM path must be absolute'],
  ['help info;quit', 'full', 'help followed by anything else'],
];
for (const [command, kind, why] of KINDS) {
  K(`should take ${JSON.stringify(command)} as ${kind}${why ? ` (${why})` : ''}`, () => {
    assert.is(hmpKind(command), kind);
  });
}
K('should list each read-only subcommand with its arguments, and take each in its shortest form', () => {
  const list = readOnlyCommands();
  assert.ok(list.includes('info block [-n] [-v] [device]'), list.join(', '));
  assert.ok(list.includes('info status'));
  assert.is(list.filter((c) => c.startsWith('info ')).length, Object.keys(READ_ONLY_INFO).length);
  // stats needs its target; every other runs without arguments.
  for (const name of Object.keys(READ_ONLY_INFO)) assert.is(hmpKind(name === 'stats' ? 'info stats vm' : `info ${name}`), 'read-only', name);
});
K.run();

const A = suite('hmpArgs and screendumpArgs');
A('should build human-monitor-command\'s arguments', () => {
  assert.equal(hmpArgs('info status'), { 'command-line': 'info status' });
});
A('should ask screendump for a PNG', () => {
  assert.equal(screendumpArgs('/run/ramvm/qemu/.s.png'), { filename: '/run/ramvm/qemu/.s.png', format: 'png' });
});
A.run();

const P = suite('parseHmpOutput');
P('should turn HMP\'s CRLF into LF', () => {
  // Captured from QEMU 7.2: {"return": "VM status: running\r\n"}
  assert.is(parseHmpOutput('VM status: running\r\n'), 'VM status: running\n');
});
P('should keep an empty answer empty', () => {
  assert.is(parseHmpOutput(''), '');
});
P('should refuse an answer that is not text', () => {
  assert.throws(() => parseHmpOutput({}), /not a string/);
});
P.run();

const W = suite('checkedThumbWidth');
W('should read no width as full size', () => {
  assert.is(checkedThumbWidth(null), null);
  assert.is(checkedThumbWidth(''), null);
});
W('should accept widths in range', () => {
  assert.is(checkedThumbWidth('160'), 160);
  assert.is(checkedThumbWidth('16'), 16);
  assert.is(checkedThumbWidth('1024'), 1024);
});
for (const [value, why] of [
  ['15', 'narrower than 16'],
  ['1025', 'wider than 1024'],
  ['-160', 'negative'],
  ['16.5', 'fractional'],
  ['1e3', 'exponent notation'],
  ['abc', 'not a number'],
  ['0x100', 'hexadecimal'],
] as const) {
  W(`should refuse ${value} (${why})`, () => {
    assert.throws(() => checkedThumbWidth(value), (e: HttpError) => e.status === 400 && e.message.startsWith('width: '));
  });
}
W.run();
