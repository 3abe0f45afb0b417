/**
 * `npm test`: type check, build, then the uvu suites, each in its own
 * process: unit (pure code), cgi (the built .cgi files run as processes),
 * integration (real lighttpd, QEMU, namespaces), browser (real Chromium)
 * one after the other, and beside them lab (nodes of the node image booted
 * as QEMU guests: DRBD, the kiosk, system disks). A TCG lab node keeps
 * about one core busy and spends most of its time booting, so running the
 * lab beside the rest roughly halves the run on two cores instead of adding
 * its 15 minutes to it. Each suite's output is printed whole when it ends.
 * Ends with one line "N passed, N failed".
 *
 *   npm test                 everything
 *   npm test -- unit cgi     only those suites
 *   npm test -- unit vm      only files of suite unit whose path matches "vm"
 *
 * SIGINT, SIGTERM or SIGHUP is passed on to the running suites, whose test
 * processes then end their nodes, guests, lab nodes and namespaces
 * (test/helpers/suite.ts); no further suite starts, and what ran is summed
 * up as usual.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { buildCommand, ROOT } from './build';

export const SUITES = ['unit', 'cgi', 'integration', 'lab', 'browser'] as const;
export type Suite = (typeof SUITES)[number];
/** Suites that run beside the others rather than in turn. */
export const ALONGSIDE: readonly string[] = ['lab'];

/** The chosen suites as two lanes that run at once: those in turn, in SUITES order, and those alongside. */
export function suiteLanes(chosen: readonly string[]): { inTurn: string[]; alongside: string[] } {
  const ordered = SUITES.filter((s) => chosen.includes(s));
  return { inTurn: ordered.filter((s) => !ALONGSIDE.includes(s)), alongside: ordered.filter((s) => ALONGSIDE.includes(s)) };
}

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

/** The suites' processes running now, and the stop signal received, if any. */
const running = new Set<ChildProcess>();
let stoppedBy: NodeJS.Signals | null = null;

/** Run one suite's files in a uvu process; its output is printed whole when it ends. */
async function runSuite(suite: string, pattern: string | undefined): Promise<SuiteResult> {
  const filePattern = pattern ? `(${pattern}).*\\.test\\.ts$` : '\\.test\\.ts$';
  const args = [join(ROOT, 'node_modules/uvu/bin.js'), join('test', suite), filePattern, '-r', 'esbuild-register', '-c', 'false'];
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' };
  // A unit suite that touches the disk brings its own root (test/helpers/temp-root.ts); one that
  // forgets fails at once instead of writing into ./var or another suite's root.
  if (suite === 'unit') env.RAMVM_ROOT = UNIT_NO_ROOT;
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  running.add(child);
  child.once('close', () => running.delete(child));
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const out = Buffer.concat(chunks).toString('utf8');
  process.stdout.write(`\n== ${suite}\n${out}`);
  return suiteResult(suite, out, status);
}

/** The suites of one lane, one after the other. */
async function runLane(suites: string[], pattern: string | undefined): Promise<SuiteResult[]> {
  const results: SuiteResult[] = [];
  for (const s of suites) if (!stoppedBy) results.push(await runSuite(s, pattern));
  return results;
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
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stoppedBy) return;
      stoppedBy = sig;
      process.stderr.write(`\nnpm test: ${sig}: stopping the running suites\n`);
      for (const c of running) c.kill(sig);
    });
  }
  const lanes = suiteLanes(suites.filter((s) => existsSync(join(ROOT, 'test', s))));
  const [inTurn, alongside] = await Promise.all([runLane(lanes.inTurn, pattern), runLane(lanes.alongside, pattern)]);
  const results = [...inTurn, ...alongside].sort((a, b) => SUITES.indexOf(a.suite as Suite) - SUITES.indexOf(b.suite as Suite));
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const skipped = results.reduce((n, r) => n + r.skipped, 0);
  process.stdout.write('\n');
  for (const r of results) process.stdout.write(`${r.suite}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}\n`);
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  // A filter that selects nothing is a typo, not a green run.
  if (pattern && passed + failed + skipped === 0) process.stdout.write(`no test of ${suites.join(', ')} matches "${pattern}"\n`);
  if (failed > 0 || results.some((r) => !r.ok) || passed + failed + skipped === 0) process.exitCode = 1;
  if (stoppedBy) {
    process.stdout.write(`stopped by ${stoppedBy}: the suites after it did not run\n`);
    process.exitCode = 128 + osConstants.signals[stoppedBy];
  }
}
