/**
 * build/test.ts: reading a suite's uvu output, and (with test/helpers/suite.ts)
 * hooks that fail loudly. The fixtures are real uvu runs of suites whose hooks
 * throw, started as `npm test` starts a suite.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { countHookFailures, parseUvuSummary, suiteLanes, suiteResult } from '../../../build/test';
import { ROOT } from '../../../build/build';
import { suite } from '../../helpers/suite';

/** Run one fixture file the way build/test.ts runs a suite. */
function runFixture(name: string): { out: string; status: number | null } {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/uvu/bin.js'), 'test/unit/build/fixtures', `${name}\\.ts$`, '-r', 'esbuild-register', '-c', 'false'], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { out: r.stdout + r.stderr, status: r.status };
}

const Summary = suite('parseUvuSummary');

Summary('should read total, passed and skipped from uvu\'s closing lines', () => {
  assert.equal(parseUvuSummary('  Total:     12\n  Passed:    10\n  Skipped:   1\n  Duration:  3.00ms\n'), { total: 12, passed: 10, skipped: 1 });
});

Summary('should read the lines through colour codes', () => {
  assert.equal(parseUvuSummary('  Total:     3\n\x1b[32m  Passed:    3\x1b[39m\n  Skipped:   0\n'), { total: 3, passed: 3, skipped: 0 });
});

Summary('should return null when the run printed no summary', () => {
  assert.is(parseUvuSummary('TypeError: x is not a function\n'), null);
});

Summary.run();

const Result = suite('suiteResult');

Result('should count tests that did not pass as failed', () => {
  assert.equal(suiteResult('unit', '  Total:     5\n  Passed:    3\n  Skipped:   0\n', 1), { suite: 'unit', passed: 3, failed: 2, skipped: 0, ok: false });
});

Result('should count a run without a summary as one failure', () => {
  assert.equal(suiteResult('cgi', 'Exiting early before testing is finished.\n', 1), { suite: 'cgi', passed: 0, failed: 1, skipped: 0, ok: false });
});

Result('should count a non-zero exit as a failure even when every test passed', () => {
  assert.equal(suiteResult('unit', '  Total:     2\n  Passed:    2\n  Skipped:   0\n', 1).failed, 1);
});

Result('should add one failure per failed after hook', () => {
  const out = '  HOOK FAILED s after: gone\n  Total:     2\n  Passed:    2\n  Skipped:   0\n';
  assert.is(countHookFailures(out), 1);
  assert.equal(suiteResult('unit', out, 1), { suite: 'unit', passed: 2, failed: 1, skipped: 0, ok: false });
});

Result.run();

const Hooks = suite('failing hooks (test/helpers/suite.ts)');

Hooks('should fail every test of a suite whose before hook threw, with the hook\'s message and stack', () => {
  const { out, status } = runFixture('hook-before-fails');
  assert.is(status, 1, out);
  assert.is(out.match(/before hook failed: no disk image here/g)?.length, 2, out);
  assert.match(out, /hook-before-fails\.ts:\d+/, 'the stack points at the hook');
  assert.equal(suiteResult('unit', out, status), { suite: 'unit', passed: 1, failed: 2, skipped: 0, ok: false });
});

Hooks('should report a failed after hook with its stack, run the next suite, and exit non-zero', () => {
  const { out, status } = runFixture('hook-after-fails');
  assert.is(status, 1, out);
  assert.match(out, /HOOK FAILED after fails after: could not remove the temp root\n\s+at .*hook-after-fails\.ts:\d+/);
  assert.match(out, /next suite\s+•\s+\(1 \/ 1\)/, out);
  assert.equal(suiteResult('unit', out, status), { suite: 'unit', passed: 2, failed: 1, skipped: 0, ok: false });
});

Hooks('should report every failed after.each and still run the tests after it', () => {
  const { out, status } = runFixture('hook-after-each-fails');
  assert.is(status, 1, out);
  assert.is(countHookFailures(out), 2, out);
  assert.match(out, /Passed:\s+2/);
});

Hooks('should be what every test file takes its suites from', () => {
  const files = readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const direct = files.filter((f) => /import\s*\{[^}]*\bsuite\b[^}]*\}\s*from\s*'uvu'/.test(readFileSync(join(ROOT, 'test', f), 'utf8')));
  assert.equal(direct, ['helpers/suite.ts']);
});

Hooks.run();

const lanes = suite('suiteLanes');

lanes('should run the lab beside the others, which keep their order', () => {
  assert.equal(suiteLanes(['unit', 'cgi', 'integration', 'lab', 'browser']), { inTurn: ['unit', 'cgi', 'integration', 'browser'], alongside: ['lab'] });
});

lanes('should order the chosen suites as a full run does, whatever order they were named in', () => {
  assert.equal(suiteLanes(['browser', 'lab', 'unit']), { inTurn: ['unit', 'browser'], alongside: ['lab'] });
});

lanes('should leave a lane empty when none of its suites was chosen', () => {
  assert.equal(suiteLanes(['lab']), { inTurn: [], alongside: ['lab'] });
  assert.equal(suiteLanes(['cgi']), { inTurn: ['cgi'], alongside: [] });
});

lanes.run();
