/**
 * uvu's `suite()` with hooks that fail loudly; every test file takes its
 * suites from here, not from 'uvu'. In uvu 0.5 an error thrown by a
 * `before` hook is swallowed by the runner's `finally` (the suite prints
 * "(0 / 3)" and nothing else), one thrown by `after` aborts the whole run,
 * and one thrown by `after.each` ends the suite silently. Here:
 *
 *   before fails     → every test of the suite fails with "before hook failed: <message>",
 *                      the first one with the hook's stack; later `before` hooks are skipped
 *   after fails      → "HOOK FAILED <suite> after: <message>" and the stack are printed,
 *   after.each fails   the other hooks still run, and the process exits non-zero
 *
 * build/test.ts counts each "HOOK FAILED" line as a failure.
 *
 * A failed test's message gets what the registered failure notes say
 * (onTestFailure(): the browser helper adds each open page's address, its
 * text and its errors), since CI keeps only the printed output.
 *
 * A suite that took SLOW_SUITE_MS or more says how long on stderr, which
 * reaches the terminal while the suite's own output waits for its end: the
 * suite's time budget (the whole `npm test` under 30 min) is read from there.
 * With RAMVM_TEST_TIMES=1 every test says how long it took, the same way:
 * where a slow suite's time goes.
 */
import { constants as osConstants } from 'node:os';
import { suite as uvuSuite, type Callback, type Test } from 'uvu';

/** Printed once per failed `after`/`after.each` hook; build/test.ts counts these lines. */
export const HOOK_FAILED = 'HOOK FAILED';

/** Suites at least this slow print their time. */
export const SLOW_SUITE_MS = 20_000;

/** "  suite node image: 312.4 s" for a slow suite, else nothing. */
export function suiteTimeLine(name: string, ms: number): string {
  return ms >= SLOW_SUITE_MS ? `  suite ${name}: ${(ms / 1000).toFixed(1)} s\n` : '';
}

/** "  test kiosk image › should boot: 95.2 s" (RAMVM_TEST_TIMES=1). */
export function testTimeLine(suiteName: string, testName: string, ms: number): string {
  return `  test ${suiteName} › ${testName}: ${(ms / 1000).toFixed(1)} s\n`;
}

const TEST_TIMES = process.env.RAMVM_TEST_TIMES === '1';

/** Says, after a test failed, what may explain it; '' when nothing. */
export type FailureNote = () => Promise<string>;
const failureNotes = new Set<FailureNote>();

/** Register a note for failed tests; returns its removal. */
export function onTestFailure(note: FailureNote): () => void {
  failureNotes.add(note);
  return () => void failureNotes.delete(note);
}

/** The notes of every registered provider; one that fails says so instead. */
export async function failureNotesText(): Promise<string> {
  const texts = await Promise.all([...failureNotes].map((n) => n().catch((e: unknown) => `(a failure note failed: ${messageOf(e)})`)));
  return texts.filter(Boolean).join('\n');
}

/** `e` with `notes` appended to its message (and its stack's first line). */
export function withNotes(e: unknown, notes: string): unknown {
  if (!notes || !(e instanceof Error)) return e;
  const old = e.message;
  e.message = `${old}\n${notes}`;
  if (e.stack?.startsWith(`${e.name}: ${old}`)) e.stack = `${e.name}: ${e.message}${e.stack.slice(e.name.length + 2 + old.length)}`;
  return e;
}

let afterHookFailures = 0;
process.on('exit', () => {
  if (afterHookFailures > 0) process.exitCode = 1;
});

/**
 * A test process stopped by a signal exits (128 + the signal's number)
 * instead of dying at once, so the 'exit' handlers of the helpers run: test
 * nodes end their guests, lighttpd and tasks (node.ts), namespaces are torn
 * down (netns.ts). Without this a CI timeout or a ^C leaves QEMU guests
 * running with their roots gone.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let stopping = false;
for (const sig of STOP_SIGNALS) {
  // process.on, not once: a second signal (^C reaches the whole process group, and npm test passes it on) must not find the default handler back.
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n  stopped by ${sig}: ending this run's nodes, guests and namespaces\n`);
    process.exit(128 + osConstants.signals[sig]);
  });
}

function stackOf(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** An `after`-type hook failed: say so with the stack; the run ends non-zero. */
export function reportHookFailure(suiteName: string, hook: string, e: unknown): void {
  afterHookFailures++;
  process.stdout.write(`\n  ${HOOK_FAILED} ${suiteName} ${hook}: ${messageOf(e)}\n${stackOf(e).split('\n').slice(1).map((l) => `    ${l.trim()}\n`).join('')}`);
}

/** The error a test of a suite whose `before` hook failed ends with. */
export function beforeHookError(cause: unknown, withStack: boolean): Error {
  const err = new Error(`before hook failed: ${messageOf(cause)}`);
  err.stack = withStack ? `${err.message}\n${stackOf(cause).split('\n').slice(1).join('\n')}` : err.message;
  return err;
}

export function suite<T = Record<string, any>>(name: string, context?: T): Test<T> {
  const s = uvuSuite<T>(name, context);
  let beforeFailure: { error: unknown } | undefined;
  let reported = false;
  let startedAt: number | undefined;
  const mark = () => {
    startedAt ??= Date.now();
  };

  const guard = (fn: Callback<T>, testName?: string): Callback<T> => async (ctx) => {
    mark();
    if (beforeFailure) {
      const first = !reported;
      reported = true;
      throw beforeHookError(beforeFailure.error, first);
    }
    const t0 = Date.now();
    try {
      await fn(ctx);
    } catch (e) {
      throw withNotes(e, await failureNotesText());
    } finally {
      if (TEST_TIMES && testName !== undefined) process.stderr.write(testTimeLine(name, testName, Date.now() - t0));
    }
  };
  const afterHook = (hook: string, fn: Callback<T>): Callback<T> => async (ctx) => {
    try {
      await fn(ctx);
    } catch (e) {
      reportHookFailure(name, hook, e);
    }
  };

  const t = ((testName: string, fn: Callback<T>) => s(testName, guard(fn, testName))) as Test<T>;
  t.only = (testName, fn) => s.only(testName, guard(fn, testName));
  t.skip = (testName, fn) => s.skip(testName, fn);
  const before = (fn: Callback<T>) =>
    s.before(async (ctx) => {
      mark();
      if (beforeFailure) return;
      const t0 = Date.now();
      try {
        await fn(ctx);
      } catch (e) {
        beforeFailure = { error: e };
      }
      if (TEST_TIMES) process.stderr.write(testTimeLine(name, 'before', Date.now() - t0));
    });
  before.each = (fn: Callback<T>) => s.before.each(guard(fn));
  t.before = before;
  const after = (fn: Callback<T>) => s.after(afterHook('after', fn));
  after.each = (fn: Callback<T>) => s.after.each(afterHook('after.each', fn));
  t.after = after;
  t.run = () => {
    // A suite without tests would hide its failed `before`: report it from `after`.
    s.after(async () => {
      if (beforeFailure && !reported) reportHookFailure(name, 'before', beforeFailure.error);
      if (startedAt !== undefined) process.stderr.write(suiteTimeLine(name, Date.now() - startedAt));
    });
    s.run();
  };
  return t;
}
