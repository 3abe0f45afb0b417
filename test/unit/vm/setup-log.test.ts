import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETUP_LOG_MAX_BYTES, parseSetupLog, readSetupLog } from '../../../node-cgi/vm/setup-log';

const LOG = [
  '[   1.02]   1% stage 1: root stacked from /lower/ramvm /lower/base',
  '[   3.41]  35% network: ip link set lo up',
  '    RTNETLINK answers: File exists',
  '[  21.30]  92% cluster office: joining the master node1 at https://10.0.0.11:8007',
  '',
].join('\n');

const P = suite('parseSetupLog');
P('should give the lines and the last percentage', () => {
  const r = parseSetupLog(LOG);
  assert.is(r.lines.length, 4);
  assert.is(r.percent, 92);
  assert.is(r.truncated, false);
});
P('should skip output lines without a percentage when looking for the last one', () => {
  assert.is(parseSetupLog(LOG.split('\n').slice(0, 3).join('\n')).percent, 35);
});
P('should answer no percentage for a log without any', () => {
  assert.is(parseSetupLog('[   1.00] stage 1: root stacked\n').percent, null);
});
P('should drop the cut first line of a truncated log', () => {
  assert.equal(parseSetupLog('ked from /lower\n[   3.41]  35% network: up\n', true).lines, ['[   3.41]  35% network: up']);
});
P.run();

const R = suite('readSetupLog');
R('should read a log and only its end when it is long', () => {
  const dir = mkdtempSync(join(tmpdir(), 'setup-log-'));
  try {
    const file = join(dir, 'ram.log');
    writeFileSync(file, LOG);
    assert.is(readSetupLog(file).percent, 92);
    writeFileSync(file, `${'x'.repeat(SETUP_LOG_MAX_BYTES)}\n${LOG}`);
    const long = readSetupLog(file);
    assert.is(long.truncated, true);
    assert.is(long.lines[0], LOG.split('\n')[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
R('should answer 404 on a node that did not boot from the image', () => {
  assert.throws(() => readSetupLog('/nonexistent/ram.log'), /this node has no set-up log: it did not boot from the node image/);
});
R.run();
