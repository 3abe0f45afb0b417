/**
 * node-cgi/drbd/armed.ts: the armed disconnect's protocol. The helper's
 * side (waitForGo) reads a stream of the test's; the CGI's side
 * (armHelper) spawns real processes that speak the protocol in place of
 * the root helper, which needs root and DRBD and runs it for real in the
 * lab (test/lab/drbd-ops.test.ts: a cluster-mode backup of a running guest).
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { armHelper, GO_LINE, goParts, parseReadyLine, readyLine, waitForGo } from '../../../node-cgi/drbd/armed';
import { HttpError } from '../../../node-cgi/lib/errors';
import { rejection as rejectionOf } from '../../helpers/rejection';

const rejection = (p: Promise<unknown>) => rejectionOf(p, HttpError);

const L = suite('readyLine and parseReadyLine');
L('should read back the resources of a ready line, and null for an answer or noise', () => {
  assert.equal(parseReadyLine(readyLine(['vm-101-disk-0', 'vm-101-disk-1']).trim()), ['vm-101-disk-0', 'vm-101-disk-1']);
  assert.is(parseReadyLine('{"ok":{"resources":["vm-101-disk-0"]}}'), null);
  assert.is(parseReadyLine('{"ready":{"resources":[1]}}'), null);
  assert.is(parseReadyLine('ready'), null);
});
L.run();

const W = suite('waitForGo');
W('should resolve on a go line, even split over writes, and stop reading', async () => {
  const input = new PassThrough();
  const p = waitForGo(input, 60_000);
  input.write('g');
  input.write('o\nmore');
  await p;
  assert.ok(input.destroyed);
});
// [what the test says, what reaches the helper's stdin, the refusal (409, nothing done)]
const REFUSED: [string, (input: PassThrough) => void, RegExp][] = [
  ['should refuse any other line with 409, nothing done', (i) => i.write('ok\n'), /"ok" is not the go, nothing done/],
  ['should refuse a line longer than the go without reading it to its end', (i) => i.write('gon'), /"gon" is not the go, nothing done/],
  ['should give up with 409 when its input ends without the go (dismissed, or its caller gone)', (i) => i.end('g'), /dismissed before the go, nothing done/],
];
for (const [name, feed, reason] of REFUSED) {
  W(name, async () => {
    const input = new PassThrough();
    const p = waitForGo(input, 60_000);
    feed(input);
    const e = await rejection(p);
    assert.is(e.code, 'conflict');
    assert.match(e.message, reason);
  });
}
W('should give up with a timeout when no go comes', async () => {
  const e = await rejection(waitForGo(new PassThrough(), 50));
  assert.is(e.code, 'timeout');
  assert.match(e.message, /no go within 0.05 s, nothing done/);
});
W.run();

/**
 * A process in the root helper's place: `mode` says how it behaves; it
 * writes what it did to the file `log` ("disconnected" only after a go).
 */
const FAKE_HELPER = `
const [mode, log] = process.argv.slice(1);
const fs = require('fs');
const say = (v) => process.stdout.write(JSON.stringify(v) + '\\n');
if (mode === 'refuse') { say({ error: { code: 'not_found', message: 'guest 101 has no replicated disk 1' } }); process.exit(1); }
if (mode === 'silent') setTimeout(() => {}, 60000);
else say({ ready: { resources: ['vm-101-disk-0', 'vm-101-disk-1'] } });
let buf = '';
if (mode !== 'silent') process.stdin.on('data', (b) => {
  buf += b;
  if (!buf.includes('\\n')) return;
  if (buf !== 'go\\n') { fs.writeFileSync(log, 'bad go'); process.exit(1); }
  if (mode === 'mute') { setTimeout(() => {}, 60000); return; }
  if (mode === 'fail') { say({ error: { code: 'exec_failed', message: 'drbdadm disconnect vm-101-disk-1 failed (exit 10)' } }); process.exit(1); }
  fs.writeFileSync(log, 'disconnected');
  say({ ok: mode === 'untimed' ? { resources: ['vm-101-disk-0', 'vm-101-disk-1'] } : { resources: ['vm-101-disk-0', 'vm-101-disk-1'], at: performance.timeOrigin + performance.now(), ms: 0.5 } });
  process.stdin.destroy();
});
if (mode !== 'silent') process.stdin.on('end', () => { fs.writeFileSync(log, 'dismissed'); });
`;

let dir: string;
const A = suite('armHelper');
A.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ramvm-armed-'));
});
A.after(() => rmSync(dir, { recursive: true, force: true }));
const fake = (mode: string, log: string) => [process.execPath, '-e', FAKE_HELPER, mode, join(dir, log)];
const did = (log: string) => (existsSync(join(dir, log)) ? readFileSync(join(dir, log), 'utf8') : null);
async function eventually(log: string): Promise<string> {
  for (let n = 0; n < 600; n++) {
    const v = did(log);
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${log} never written`);
}

A('should arm once the helper says ready, disconnect nothing before the go, and resolve on its answer', async () => {
  const armed = await armHelper(fake('ok', 'ok.log'));
  assert.equal(armed.resources, ['vm-101-disk-0', 'vm-101-disk-1']);
  assert.is(did('ok.log'), null);
  const done = await armed.go();
  assert.equal([done.resources, done.helperMs], [['vm-101-disk-0', 'vm-101-disk-1'], 0.5], 'the helper\'s own time of the disconnects');
  assert.ok(Number.isFinite(done.toHelperMs) && Number.isFinite(done.backMs), `the go's way there and back: ${JSON.stringify(done)}`);
  assert.is(did('ok.log'), 'disconnected');
  armed.dismiss();
});
A('should resolve the go of a helper that tells no times with NaN parts', async () => {
  const armed = await armHelper(fake('untimed', 'untimed.log'));
  const a = await armed.go();
  assert.equal(a.resources, ['vm-101-disk-0', 'vm-101-disk-1']);
  assert.ok([a.toHelperMs, a.helperMs, a.backMs].every(Number.isNaN), JSON.stringify(a));
});
A('should send exactly the go line', () => {
  assert.is(GO_LINE, 'go');
});
A('should reject with the helper\'s own error when it refuses before it is ready', async () => {
  const e = await rejection(armHelper(fake('refuse', 'refuse.log')));
  assert.is(e.code, 'not_found');
  assert.match(e.message, /guest 101 has no replicated disk 1/);
});
A('should time out a helper that never says ready', async () => {
  const e = await rejection(armHelper(fake('silent', 'silent.log'), { readyTimeoutMs: 500 }));
  assert.is(e.code, 'timeout');
  assert.match(e.message, /arming the disconnect: no answer from the root helper/);
});
A('should reject the go with the helper\'s error when a disconnect fails', async () => {
  const armed = await armHelper(fake('fail', 'fail.log'));
  const e = await rejection(armed.go());
  assert.is(e.code, 'exec_failed');
  assert.match(e.message, /drbdadm disconnect vm-101-disk-1 failed/);
});
A('should time out a go that gets no answer', async () => {
  const armed = await armHelper(fake('mute', 'mute.log'), { answerTimeoutMs: 500 });
  const e = await rejection(armed.go());
  assert.is(e.code, 'timeout');
  assert.match(e.message, /disconnecting vm-101-disk-0, vm-101-disk-1: no answer/);
});
A('should end the helper\'s stdin on dismiss, so it exits having done nothing', async () => {
  const armed = await armHelper(fake('ok', 'dismiss.log'));
  armed.dismiss();
  armed.dismiss();
  assert.is(await eventually('dismiss.log'), 'dismissed');
});
A.run();

const G = suite('goParts');
G('should split a go into its way to the helper, the helper\'s disconnects and the way back', () => {
  assert.equal(goParts(1000, { resources: ['vm-101-disk-0'], at: 1002.5, ms: 30 }, 1040), { resources: ['vm-101-disk-0'], toHelperMs: 2.5, helperMs: 30, backMs: 7.5 });
});
G('should leave every part NaN when the helper told no times, or not numbers', () => {
  for (const a of [{}, { at: '1', ms: 2 }, { at: 1 }]) {
    const g = goParts(1000, { resources: [], ...a }, 1040);
    assert.ok([g.toHelperMs, g.helperMs, g.backMs].every(Number.isNaN), JSON.stringify(a));
  }
});
G.run();
