/**
 * lib/exec.ts with real programs (sh, cat, a name no package provides): the
 * time limit, a missing program, the stderr tail in the error, stdin and
 * the stdout limit.
 */
import * as assert from 'uvu/assert';
import { ExecError, run, runAllowFail } from '../../../node-cgi/lib/exec';
import { suite } from '../../helpers/suite';

/** The rejection of a promise, or a failure if it resolves. */
async function rejection(p: Promise<unknown>): Promise<ExecError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, ExecError);
    return e as ExecError;
  }
  throw new Error('expected a rejection');
}

const Run = suite('run');

Run('should return stdout, stderr and code 0', async () => {
  const r = await run(['sh', '-c', 'echo out; echo err >&2']);
  assert.equal(r, { stdout: 'out\n', stderr: 'err\n', code: 0 });
});

Run('should throw an ExecError with argv, exit code and the last stderr line in its message', async () => {
  const e = await rejection(run(['sh', '-c', 'echo first >&2; echo "disk full" >&2; exit 3']));
  assert.equal([e.status, e.code, e.exitCode, e.argv], [500, 'exec_failed', 3, ['sh', '-c', 'echo first >&2; echo "disk full" >&2; exit 3']]);
  assert.is(e.message, 'sh failed (exit 3): disk full');
  assert.match(e.detail ?? '', /exit=3 stderr=first\ndisk full/);
});

Run('should keep only the last 4 KiB of stderr', async () => {
  const e = await rejection(run(['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 1']));
  assert.is(e.stderrTail.length, 4096);
  assert.ok(e.stderrTail.endsWith('line 1999\n'));
  assert.is(e.message, 'sh failed (exit 1): line 1999');
});

Run('should name a program that is not there', async () => {
  const e = await rejection(run(['ramvm-no-such-program', '--help']));
  assert.equal([e.exitCode, e.message], [null, 'ramvm-no-such-program is not installed: spawn ramvm-no-such-program ENOENT']);
});

Run('should kill a program that runs over its time and say so', async () => {
  const t0 = Date.now();
  const e = await rejection(run(['sleep', '30'], { timeoutMs: 200 }));
  assert.equal([e.exitCode, e.message], [null, 'sleep timed out after 200 ms']);
  assert.ok(Date.now() - t0 < 20_000, 'killed, not waited for');
});

Run('should refuse an empty argv', async () => {
  await run([]).then(
    () => assert.unreachable('an empty argv ran'),
    (e: Error) => assert.is(e.message, 'empty argv'),
  );
});

Run.run();

const Allow = suite('runAllowFail');

Allow('should return a non-zero exit code instead of throwing', async () => {
  const r = await runAllowFail(['sh', '-c', 'echo half; exit 2']);
  assert.equal(r, { stdout: 'half\n', stderr: '', code: 2 });
});

Allow('should feed input to stdin and keep the environment and folder it is given', async () => {
  const r = await runAllowFail(['sh', '-c', 'cat; echo "$RAMVM_X $(pwd)"'], { input: 'in\n', env: { PATH: process.env.PATH, RAMVM_X: 'x1' }, cwd: '/tmp' });
  assert.is(r.stdout, 'in\nx1 /tmp\n');
});

Allow('should keep stdout up to the limit and read the rest away', async () => {
  const r = await runAllowFail(['sh', '-c', 'head -c 300000 /dev/zero'], { maxStdout: 100_000 });
  assert.is(r.code, 0, 'the program was not stopped by a full pipe');
  assert.ok(r.stdout.length >= 100_000 && r.stdout.length < 300_000, `${r.stdout.length} bytes kept`);
});

Allow.run();
