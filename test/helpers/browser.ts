/**
 * Real Chromium for browser tests: Debian's /usr/bin/chromium driven by
 * playwright-core, against a real node from ./node.ts.
 *
 *   const node = await startTestNode();
 *   const browser = await launchBrowser();
 *   try {
 *     const page = await openPage(browser, node);          // 1024×768, English
 *     await login(page, 'admin', node.adminPassword);       // waits for the shell
 *     await page.getByRole('link', { name: 'Tasks' }).click();
 *     await closePage(page);
 *   } finally {
 *     await closeBrowser(browser);                          // also on failure
 *     await node.stop();
 *   }
 *
 * In a uvu suite: launch in `before`, close in `after` (uvu runs `after` in
 * a finally block), and give each test its own page from openPage().
 *
 * A test that fails while pages are open says, in its error, each page's
 * address, the start of its text, and what it logged: uncaught errors,
 * console errors and requests answered with 4xx/5xx or not at all.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../../build/build';
import { readNodeRecord } from '../../node-cgi/lib/separation';
import type { TestNode } from './node';
import { onTestFailure } from './suite';

export const CHROMIUM_PATH = '/usr/bin/chromium';
/** --headless comes from playwright's `headless: true`. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The node's kiosk screen. */
export const KIOSK_VIEWPORT = { width: 1024, height: 768 };
/** A common phone. */
export const PHONE_VIEWPORT = { width: 390, height: 844 };
/** Where browser tests put screenshots for a human to look at (git ignores .tmp/). */
export const SCREENSHOT_DIR = join(ROOT, '.tmp/screenshots');
/** Longest wait for one page condition. */
export const WAIT_MS = 15_000;
/** Closing Chromium politely may hang when a page is stuck; then it is killed. */
const CLOSE_TIMEOUT_MS = 10_000;

/** The last lines each open page logged, for a failed test's message. */
const pageLogs = new Map<Page, string[]>();
const PAGE_LOG_LINES = 20;
const PAGE_TEXT_CHARS = 600;
/** A stuck page must not hold up the failure report. */
const NOTE_TIMEOUT_MS = 3_000;

function logTo(page: Page, line: string): void {
  const lines = pageLogs.get(page);
  if (!lines) return;
  lines.push(line);
  if (lines.length > PAGE_LOG_LINES) lines.shift();
}

/** "page <url>", the start of its text and its log, for a failed test. */
async function pageNote(page: Page, lines: string[]): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((res) => (timer = setTimeout(() => res('(no answer)'), NOTE_TIMEOUT_MS)));
  const text = await Promise.race([page.evaluate(() => document.body?.innerText ?? '').catch((e: Error) => `(${e.message})`), late]).finally(() => clearTimeout(timer));
  const flat = text.replace(/\s+/g, ' ').trim();
  return [`  page ${page.url()}`, `    text: ${flat.length > PAGE_TEXT_CHARS ? `${flat.slice(0, PAGE_TEXT_CHARS)}…` : flat}`, ...lines.map((l) => `    ${l}`)].join('\n');
}

onTestFailure(async () => (await Promise.all([...pageLogs].map(([page, lines]) => pageNote(page, lines)))).join('\n'));

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

export interface PageOptions {
  viewport?: { width: number; height: number };
  /** The browser's language (navigator.language); default en-US. */
  locale?: string;
  /** Route to open, e.g. '#/tasks'. */
  hash?: string;
}

/** A fresh context (own cookies and storage) with one page on the node. */
export async function openPage(browser: Browser, node: Pick<TestNode, 'url'>, opts: PageOptions = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? KIOSK_VIEWPORT,
    locale: opts.locale ?? 'en-US',
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(WAIT_MS);
  // Every refusal of the page's Content-Security-Policy, for cspViolations().
  await context.addInitScript(() => {
    const w = window as unknown as { __cspViolations: string[] };
    w.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  pageLogs.set(page, []);
  page.on('close', () => pageLogs.delete(page));
  page.on('pageerror', (e) => logTo(page, `uncaught: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && logTo(page, `console: ${m.text()}`));
  page.on('response', (r) => r.status() >= 400 && logTo(page, `${r.status()} ${r.request().method()} ${r.url()}`));
  page.on('requestfailed', (r) => logTo(page, `failed ${r.method()} ${r.url()}: ${r.failure()?.errorText ?? ''}`));
  await page.goto(node.url + '/' + (opts.hash ?? ''));
  return page;
}

/** What the page's Content-Security-Policy refused so far ("directive blocked-URI"); [] when nothing. */
export function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
}

/** Close a page with its context (cookies, storage); never throws. */
export async function closePage(page: Page | undefined): Promise<void> {
  await page?.context().close().catch(() => undefined);
}

/** Log in through the login form and wait until the shell's top bar shows the user. */
export async function login(page: Page, username: string, password: string): Promise<void> {
  const form = page.locator('form');
  await form.locator('input[name="username"]').fill(username);
  await form.locator('input[name="password"]').fill(password);
  await form.locator('button[type="submit"]').click();
  await page.locator('.topbar-user', { hasText: username }).waitFor();
}

/** Close the browser; if it does not close in time, end its process group. */
export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  if (!browser) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), CLOSE_TIMEOUT_MS)));
  try {
    const r = await Promise.race([browser.close().then(() => 'closed' as const), timeout]);
    if (r === 'timeout') throw new Error('Chromium did not close in time');
  } finally {
    clearTimeout(timer);
  }
}

export interface StartTaskOptions {
  kind: string;
  object: string;
  user: string;
  params?: Record<string, unknown>;
  /**
   * Stop the task's process group (SIGSTOP) the moment it is spawned, so a
   * page can be watched while the task runs; resumeTask() lets it go on.
   */
  hold?: boolean;
}

/**
 * Start a real task on the node, as a handler does (startTask: a detached
 * `ramvm task run` process, leader of its own process group), from a
 * process of its own with the node's environment. Returns the id and the
 * runner's pid.
 */
export function startTaskOnNode(node: Pick<TestNode, 'env'>, opts: StartTaskOptions): Promise<{ id: string; pid: number }> {
  const script = `
    const t = require(${JSON.stringify(join(ROOT, 'node-cgi/tasks/task.ts'))});
    const o = JSON.parse(process.argv[1]);
    const id = t.startTask({ kind: o.kind, object: o.object, user: o.user, params: o.params });
    const pid = t.readTask(id).pid;
    if (o.hold) process.kill(-pid, 'SIGSTOP');
    process.stdout.write(JSON.stringify({ id, pid }));
  `;
  // On a separated node tasks are the node's user's, as its CGIs start them.
  const rec = node.env.RAMVM_ROOT ? readNodeRecord(node.env.RAMVM_ROOT) : null;
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['-r', 'esbuild-register', '-e', script, JSON.stringify(opts)], {
      cwd: ROOT,
      env: node.env,
      ...(rec ? { uid: rec.cgi.uid, gid: rec.cgi.gid } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', rej);
    p.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`starting task ${opts.kind} failed (${code}): ${err}`);
        res(JSON.parse(out));
      } catch (e) {
        rej(e);
      }
    });
  });
}

/** Let a held task run on (SIGCONT to its process group). */
export function resumeTask(pid: number): void {
  process.kill(-pid, 'SIGCONT');
}

/**
 * End a task's process group if it still runs (cleanup after a failed
 * test); a pid that now belongs to another program is left alone.
 */
export function killTask(task: { id: string; pid: number }): void {
  try {
    if (!readFileSync(`/proc/${task.pid}/cmdline`, 'utf8').split('\0').includes(task.id)) return;
    process.kill(-task.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
