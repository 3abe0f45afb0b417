/**
 * `npm test`: type check, build, then the uvu suites in order, each in its
 * own process: unit (pure code), cgi (the built .cgi files run as
 * processes), integration (real lighttpd, QEMU, namespaces), browser (real
 * Chromium). Ends with one line "N passed, N failed".
 *
 *   npm test                 everything
 *   npm test -- unit cgi     only those suites
 *   npm test -- unit vm      only files of suite unit whose path matches "vm"
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommand, ROOT } from './build';

export const SUITES = ['unit', 'cgi', 'integration', 'browser'] as const;

/** RAMVM_ROOT of the unit suite outside a suite's own root: below a file, so nothing can be made there. */
export const UNIT_NO_ROOT = '/dev/null/unit-suites-bring-their-own-root';

export interface SuiteResult {
  suite: string;
  passed: number;
  failed: number;
  skipped: number;
  ok: boolean;
}

/** uvu's closing lines: "  Total:     12\n  Passed:    12\n  Skipped:   0" */
export function parseUvuSummary(out: string): { total: number; passed: number; skipped: number } | null {
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const total = /Total:\s+(\d+)/.exec(plain);
  const passed = /Passed:\s+(\d+)/.exec(plain);
  const skipped = /Skipped:\s+(\d+)/.exec(plain);
  if (!total || !passed) return null;
  return { total: Number(total[1]), passed: Number(passed[1]), skipped: Number(skipped?.[1] ?? 0) };
}

/** Lines test/helpers/suite.ts prints for a failed after-type hook (not counted by uvu). */
export function countHookFailures(out: string): number {
  return out.split('\n').filter((l) => l.trimStart().startsWith('HOOK FAILED ')).length;
}

/** One suite's counts from its uvu output and exit status; a run that printed no summary failed. */
export function suiteResult(suite: string, out: string, status: number | null): SuiteResult {
  const s = parseUvuSummary(out);
  if (!s) return { suite, passed: 0, failed: 1, skipped: 0, ok: false };
  const failed = s.total - s.passed - s.skipped + countHookFailures(out);
  return { suite, passed: s.passed, failed: status === 0 ? failed : Math.max(failed, 1), skipped: s.skipped, ok: status === 0 && failed === 0 };
}

function runSuite(suite: string, pattern: string | undefined): SuiteResult {
  process.stdout.write(`\n== ${suite}\n`);
  const filePattern = pattern ? `(${pattern}).*\\.test\\.ts$` : '\\.test\\.ts$';
  const args = [join(ROOT, 'node_modules/uvu/bin.js'), join('test', suite), filePattern, '-r', 'esbuild-register', '-c', 'false'];
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' };
  // A unit suite that touches the disk brings its own root (test/helpers/temp-root.ts); one that
  // forgets fails at once instead of writing into ./var or another suite's root.
  if (suite === 'unit') env.RAMVM_ROOT = UNIT_NO_ROOT;
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 });
  process.stdout.write(r.stdout);
  return suiteResult(suite, r.stdout, r.status);
}

export async function testCommand(args: string[]): Promise<void> {
  const chosen = args.filter((a) => (SUITES as readonly string[]).includes(a));
  const pattern = args.find((a) => !(SUITES as readonly string[]).includes(a));
  const suites = chosen.length > 0 ? chosen : [...SUITES];
  process.stdout.write('== typecheck\n');
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], { cwd: ROOT, stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error('type check failed');
  process.stdout.write('== build\n');
  await buildCommand();
  const results = suites.filter((s) => existsSync(join(ROOT, 'test', s))).map((s) => runSuite(s, pattern));
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const skipped = results.reduce((n, r) => n + r.skipped, 0);
  process.stdout.write('\n');
  for (const r of results) process.stdout.write(`${r.suite}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}\n`);
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  // A filter that selects nothing is a typo, not a green run.
  if (pattern && passed + failed + skipped === 0) process.stdout.write(`no test of ${suites.join(', ')} matches "${pattern}"\n`);
  if (failed > 0 || results.some((r) => !r.ok) || passed + failed + skipped === 0) process.exitCode = 1;
}
