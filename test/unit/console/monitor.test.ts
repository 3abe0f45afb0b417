import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import {
  HMP_COMMAND_MAX_CHARS,
  checkedHmpCommand,
  checkedThumbWidth,
  hmpArgs,
  parseHmpOutput,
  screendumpArgs,
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
