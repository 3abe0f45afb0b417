/**
 * test/helpers/api-docs.ts: how docs/API.md's examples are read (commands,
 * answers) and the rule that compares an answer with what a command printed.
 */
import * as assert from 'uvu/assert';
import { matchJson, matchText, parsePattern, shellBlocks, splitCommands } from '../../helpers/api-docs';
import { suite } from '../../helpers/suite';

const match = (pattern: string, value: unknown) => matchJson(parsePattern(pattern), value);

const Blocks = suite('shellBlocks');

Blocks('should take only sh blocks, with the line each starts on', () => {
  const md = 'text\n```sh\ncurl -s $N/a\n```\n```js\nconst x = 1;\n```\n```sh\necho b\n```\n';
  const b = shellBlocks(md);
  assert.equal(b.map((x) => x.commands.map((c) => [c.line, c.text])), [[[3, 'curl -s $N/a']], [[9, 'echo b']]]);
});

Blocks.run();

const Split = suite('splitCommands');

Split('should join continuation lines and lines inside an open quote', () => {
  const c = splitCommands(["curl -s \\", "  -d '{\"a\":1,", "       \"b\":2}' $N/x", 'echo done'], 10);
  assert.equal(c.map((x) => [x.line, x.text.split('\n').length]), [[10, 3], [13, 1]]);
});

Split('should take the JSON under a command as its answer, over the lines its brackets need', () => {
  const c = splitCommands(['curl -s $N/a', '# 201 {"data":[1,', '#   2]}', '# prose about the next one', 'curl -s $N/b'], 1);
  assert.equal(c[0]!.answer && c[0]!.answer.kind === 'json' ? [c[0]!.answer.status, c[0]!.answer.text] : null, [201, '201 {"data":[1,\n  2]}']);
  assert.is(c[1]!.answer, undefined);
});

Split('should read a status alone and "# >" output lines', () => {
  const c = splitCommands(['curl -X DELETE $N/a', '# 204', 'ramvm x', '# > one', '# > two'], 1);
  assert.equal(c[0]!.answer, { kind: 'json', status: 204, pattern: null, text: '204' });
  assert.equal(c[1]!.answer, { kind: 'text', lines: ['one', 'two'] });
});

Split('should treat a comment after prose or a blank line as prose', () => {
  const c = splitCommands(['curl -s $N/a', '', '# {"not":"its answer"}', 'curl -s $N/b   # {"a trailing":"comment"}'], 1);
  assert.equal(c.map((x) => x.answer), [undefined, undefined]);
});

Split('should report a pattern that does not parse instead of throwing', () => {
  const c = splitCommands(['curl -s $N/a', '# {"a":}'], 1);
  assert.ok(c[0]!.answer?.kind === 'json' && /expected a value/.test(c[0]!.answer.error ?? ''));
});

Split.run();

const Match = suite('matchJson');

Match('should accept equal values and name the first difference', () => {
  assert.is(match('{"a":1,"b":"x","c":[true,null]}', { a: 1, b: 'x', c: [true, null] }), null);
  assert.is(match('{"a":1}', { a: 2 }), '$.a: expected 1, got 2');
  assert.is(match('{"b":"x"}', { b: 'y' }), '$.b: expected "x", got "y"');
});

Match('should refuse members the text does not show unless … stands among them', () => {
  assert.match(match('{"a":1}', { a: 1, b: 2 }) ?? '', /members the text does not show: b/);
  assert.is(match('{"a":1,…}', { a: 1, b: 2 }), null);
  assert.is(match('{…the config…,"a":1}', { a: 1, b: 2 }), null);
  assert.match(match('{"a":1,…}', { b: 2 }) ?? '', /no member "a"/);
});

Match('should take … as any value and as any text inside a string', () => {
  assert.is(match('{"id":…,"mac":"02:52:4D:…","t":"…-backup-vms-101-…"}', { id: 7, mac: '02:52:4D:3A:9C:01', t: '2026-backup-vms-101-abc' }), null);
  assert.match(match('{"mac":"02:52:4D:…"}', { mac: '52:54:00:12:34:56' }) ?? '', /expected "02:52:4D:…"/);
  assert.match(match('{"id":…}', { id: 1, x: 2 }) ?? '', /members the text does not show: x/);
});

Match('should take … in an array as any number of elements, anywhere', () => {
  assert.is(match('[…,{"vmid":106},…]', [{ vmid: 101 }, { vmid: 106 }, { vmid: 107 }]), null);
  assert.is(match('["a",…]', ['a']), null);
  assert.is(match('[…]', []), null);
  assert.match(match('[1,2]', [1, 2, 3]) ?? '', /does not fit the 2 item/);
  assert.match(match('[…,{"vmid":106}]', [{ vmid: 101 }]) ?? '', /does not fit/);
});

Match('should tell types apart', () => {
  assert.match(match('{"a":"1"}', { a: 1 }) ?? '', /expected a string/);
  assert.match(match('[1]', { 0: 1 }) ?? '', /expected an array/);
  assert.match(match('{"a":{}}', { a: [] }) ?? '', /expected an object/);
});

Match('should read escapes in strings', () => {
  assert.is(match('{"output":"VM status: running\\n","q":"{\\"up\\": true}"}', { output: 'VM status: running\n', q: '{"up": true}' }), null);
});

Match.run();

const Pattern = suite('parsePattern');

Pattern('should refuse an elided key and text after the value', () => {
  assert.throws(() => parsePattern('{"a…":1}'), /a key may not be elided/);
  assert.throws(() => parsePattern('{"a":1} x'), /text after the value/);
  assert.throws(() => parsePattern('{"a":1'), /expected "," or "}"/);
});

Pattern.run();

const Text = suite('matchText');

Text('should compare line by line with … as any text', () => {
  assert.is(matchText(['* * * root RAMVM_ROOT=… tick'], '* * * root RAMVM_ROOT=/tmp/x tick\n'), null);
  assert.match(matchText(['a', 'b'], 'a\n') ?? '', /expected 2 line\(s\), got 1/);
  assert.match(matchText(['wrote /etc/x'], 'wrote /etc/y\n') ?? '', /line 1: expected "wrote \/etc\/x"/);
});

Text.run();
