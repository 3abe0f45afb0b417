/**
 * The web shell in real Chromium against a real node (lighttpd running the
 * built CGIs and the built bundle): login, top bar, navigation, language,
 * the task panel with real tasks, the log viewer, logout, keyboard-only use
 * and the layout at the kiosk size and at phone width. Screenshots go to
 * .tmp/screenshots/ for a human look.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { startTestNode, type TestNode } from '../helpers/node';
import {
  closeBrowser,
  closePage,
  KIOSK_VIEWPORT,
  killTask,
  launchBrowser,
  login,
  openPage,
  PHONE_VIEWPORT,
  resumeTask,
  SCREENSHOT_DIR,
  startTaskOnNode,
} from '../helpers/browser';

interface Ctx {
  node?: TestNode;
  browser?: Browser;
  /** Task processes to end if a test fails before letting them finish. */
  held: Array<{ id: string; pid: number }>;
}

const test = suite<Ctx>('web shell in Chromium', { held: [] });

test.before(async (ctx) => {
  ctx.node = await startTestNode();
  ctx.browser = await launchBrowser();
  // A real failed task: guest 999 has no disk images.
  const failed = await startTaskOnNode(ctx.node, { kind: 'disk-check', object: '/vms/999', user: 'admin', params: { vmid: 999 } });
  await waitForTask(ctx.node, failed.id, 'failed');
});

test.after(async (ctx) => {
  for (const t of ctx.held) killTask(t);
  await closeBrowser(ctx.browser);
  await ctx.node?.stop();
});

async function waitForTask(node: TestNode, id: string, status: string): Promise<void> {
  const api = await node.login('admin', node.adminPassword);
  for (let i = 0; i < 300; i++) {
    const r = await api.get(`/api/task/${id}`);
    if (r.json?.data?.status === status) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`task ${id} did not reach ${status}`);
}

/** The page has no horizontal scroll bar. */
async function fitsWidth(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

test('should log in, show the shell, switch to German, show failures in the task panel and log out', async ({ node, browser }) => {
  const page = await openPage(browser!, node!, { hash: '#/tasks' });
  try {
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await login(page, 'admin', node!.adminPassword);

    const bar = page.locator('header.topbar');
    assert.match(await bar.innerText(), 'testnode');
    assert.match(await bar.innerText(), 'admin');
    const nav = page.locator('nav#nav');
    assert.is(await nav.getAttribute('aria-label'), 'Main navigation');
    assert.equal(await nav.getByRole('link').allInnerTexts(), ['Guests', 'ISO images', 'Backups', 'Tasks', 'Users', 'Nodes', 'Cluster']);
    await page.waitForURL(/#\/tasks$/);
    await page.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor();

    // The failed task is in the panel, in red, with a word and an alert role.
    const panel = page.locator('section.taskpanel');
    const failure = panel.locator('.taskpanel-failed [role="alert"]');
    await failure.waitFor();
    assert.match(await failure.innerText(), 'Failed');
    assert.match(await failure.innerText(), 'guest 999 has no disk images');
    const red = await failure.evaluate((el) => getComputedStyle(el.closest('.taskpanel-failed')!).backgroundColor);
    assert.is(red, 'rgb(252, 235, 234)');

    // German from the switch in the top bar.
    await bar.getByLabel('Language').selectOption('de');
    await nav.getByRole('link', { name: 'Aufgaben' }).waitFor();
    assert.equal(await nav.getByRole('link').allInnerTexts(), ['Gäste', 'ISO-Images', 'Sicherungen', 'Aufgaben', 'Benutzer', 'Knoten', 'Cluster']);
    assert.is(await nav.getAttribute('aria-label'), 'Hauptnavigation');
    await page.getByRole('button', { name: 'Abmelden' }).waitFor();
    await page.getByRole('heading', { name: 'Aufgaben', level: 1 }).waitFor();
    assert.is(await page.evaluate(() => document.documentElement.lang), 'de');
    assert.match(await failure.innerText(), 'Fehlgeschlagen');

    // Acknowledged: gone from the panel, also after a reload.
    await failure.getByRole('button', { name: 'Quittieren' }).click();
    await panel.locator('.taskpanel-failed').waitFor({ state: 'detached' });
    await page.reload();
    await panel.locator('.taskpanel-summary').waitFor();
    assert.is(await panel.locator('.taskpanel-failed').count(), 0);
    assert.is(await page.locator('.topbar-user strong').innerText(), 'admin', 'a reload keeps the session');

    await page.getByRole('button', { name: 'Abmelden' }).click();
    await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
    await page.getByText('Sie haben sich abgemeldet.').waitFor();
    const me = await page.evaluate(() => fetch('/api/access/me').then((r) => r.status));
    assert.is(me, 401, 'the ticket cookie is gone');
  } finally {
    await closePage(page);
  }
});

test('should log in and move around with the keyboard alone, with a visible focus', async ({ node, browser }) => {
  const page = await openPage(browser!, node!, { hash: '#/tasks' });
  try {
    const user = page.locator('input[name="username"]');
    await user.waitFor();
    assert.ok(await user.evaluate((el) => el === document.activeElement), 'the user name has the focus');
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    await page.keyboard.type('wrong password');
    await page.keyboard.press('Enter');
    await page.getByText('Wrong user name or password.').waitFor();
    assert.ok(await page.locator('input[name="password"]').evaluate((el) => el === document.activeElement), 'back in the password');
    await page.keyboard.type(node!.adminPassword);
    await page.keyboard.press('Enter');
    await page.locator('.topbar-user').waitFor();

    const focused = () =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const r = el.getBoundingClientRect();
        const s = getComputedStyle(el);
        return { cls: el.className, text: el.textContent, tag: el.tagName, top: r.top, w: r.width, outline: s.outlineStyle, ow: parseFloat(s.outlineWidth) };
      });
    // After the login the focus is on the page; Shift+Tab reaches the navigation.
    assert.is((await focused()).tag, 'MAIN');
    await page.keyboard.press('Shift+Tab');
    assert.is((await focused()).text, 'Cluster', 'the last of the navigation first');
    await page.keyboard.press('Shift+Tab');
    assert.is((await focused()).text, 'Nodes');
    await page.keyboard.press('Shift+Tab');
    assert.is((await focused()).text, 'Users');
    await page.keyboard.press('Shift+Tab');
    let f = await focused();
    assert.is(f.text, 'Tasks');
    assert.ok(f.outline !== 'none' && f.ow >= 2, `focus ring ${f.outline} ${f.ow}`);
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/tasks$/);

    // On a fresh load Tab goes: skip link, the user (My account), language, logout, navigation; each
    // with a visible focus ring. The skip link is on screen when focused and
    // leads to the page.
    await page.reload();
    await page.locator('.topbar-user').waitFor();
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      f = await focused();
      order.push(f.tag === 'A' || f.tag === 'BUTTON' ? (f.text ?? '').trim() : f.tag);
      assert.ok(f.outline !== 'none' && f.ow >= 2, `focus ring on ${order[i]}: ${f.outline} ${f.ow}`);
      assert.ok(f.top >= 0 && f.w > 0, `${order[i]} is on screen`);
    }
    assert.equal(order, ['Skip to content', 'User: admin', 'SELECT', 'Log out', 'Guests']);
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    assert.is((await focused()).cls, 'skip-link');
    await page.keyboard.press('Enter');
    assert.is((await focused()).tag, 'MAIN');
    assert.match(page.url(), /#\/tasks$/, 'the skip link is no route');
  } finally {
    await closePage(page);
  }
});

test('should follow a running task with a progress bar and its log until it ends', async ({ node, browser, held }) => {
  // A real disk to check, and a real task held (SIGSTOP) while the page looks at it.
  const dir = join(node!.root, 'var/lib/vz/images/101');
  mkdirSync(dir, { recursive: true });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'vm-101-disk-0.qcow2'), '64M']);
  const t = await startTaskOnNode(node!, { kind: 'disk-check', object: '/vms/101', user: 'admin', params: { vmid: 101 }, hold: true });
  held.push(t);
  const page = await openPage(browser!, node!, { hash: '#/tasks' });
  try {
    await login(page, 'admin', node!.adminPassword);
    const row = page.locator('.taskpanel-list .panel-task', { hasText: 'Disk check · /vms/101' });
    await row.waitFor();
    const bar = row.getByRole('progressbar');
    assert.is(await bar.getAttribute('aria-valuenow'), '0');
    assert.match(await page.locator('.taskpanel-summary').innerText(), 'Running: 1');

    await row.getByRole('link').click();
    await page.waitForURL(new RegExp(`#/tasks/${t.id}$`));
    await page.getByText('The log follows the running task.').waitFor();
    await page.locator('.badge-running').first().waitFor();

    resumeTask(t.pid);
    const log = page.getByRole('log', { name: 'Log' });
    await log.getByText(/TASK OK/).waitFor();
    assert.match(await log.innerText(), 'vm-101-disk-0.qcow2: 0 corruptions');
    await page.locator('main .badge-ok').waitFor();
    assert.is(await page.getByText('The log follows the running task.').count(), 0);
    assert.match(await page.locator('.props').innerText(), '1 disk image(s) of guest 101 checked: no errors');
    // The panel shows it done for a while, with a word, not a bar.
    await page.locator('.taskpanel-list .panel-task .badge-ok').waitFor();
    // The back button returns to the list (hash routes are history entries).
    await page.goBack();
    await page.waitForURL(/#\/tasks$/);
    await page.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor();
    await page.locator('main tbody tr', { hasText: 'Disk check · /vms/101' }).locator('.badge-ok').waitFor();
  } finally {
    killTask(t);
    await closePage(page);
  }
});

test('should speak German to a German browser, and bring a user whose ticket vanished back to the login', async ({ node, browser }) => {
  const page = await openPage(browser!, node!, { locale: 'de-DE', hash: '#/tasks' });
  try {
    await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
    await page.getByLabel('Benutzername').fill('admin');
    await page.getByLabel('Passwort').fill(node!.adminPassword);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('heading', { name: 'Aufgaben', level: 1 }).waitFor();

    await page.context().clearCookies();
    // The next poll of the task list (10 s while nothing runs) answers 401.
    await page.getByText('Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.').waitFor({ timeout: 30_000 });
    assert.match(page.url(), /#\/tasks$/, 'the page to return to is kept');
  } finally {
    await closePage(page);
  }
});

test('should renew an old ticket with the cookie alone and carry on', async ({ node, browser }) => {
  const page = await openPage(browser!, node!);
  try {
    await login(page, 'admin', node!.adminPassword);
    const before = await page.evaluate(() => JSON.parse(sessionStorage.getItem('ramvm.session')!));
    // The ticket was issued 61 minutes ago as far as this tab knows (the node's clock cannot be moved).
    await page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem('ramvm.session')!);
      s.at -= 61 * 60 * 1000;
      sessionStorage.setItem('ramvm.session', JSON.stringify(s));
    });
    // The node signs with one-second stamps: wait for a new second so the new token differs.
    await page.waitForTimeout(1100);
    const renewal = page.waitForResponse((r) => r.url().endsWith('/api/access/ticket') && r.request().method() === 'POST');
    await page.reload();
    const r = await renewal;
    assert.is(r.status(), 200);
    assert.is(r.request().postData(), '{}');
    assert.match((await r.headerValue('set-cookie')) ?? '', /^RamvmAuth=RAMVM%3Aadmin%3A/, 'a new ticket cookie');
    await page.locator('.topbar-user').waitFor();
    const after = await page.evaluate(() => JSON.parse(sessionStorage.getItem('ramvm.session')!));
    assert.is.not(after.csrf, before.csrf);
    assert.ok(after.at >= before.at, 'renewed now');
    const me = await page.evaluate(() => fetch('/api/access/me').then((x) => x.status));
    assert.is(me, 200, 'the renewed cookie works');
  } finally {
    await closePage(page);
  }
});

for (const [name, viewport] of [
  ['kiosk', KIOSK_VIEWPORT],
  ['phone', PHONE_VIEWPORT],
] as const) {
  test(`should lay out the shell at the ${name} size ${viewport.width}×${viewport.height}, in English and German`, async ({ node, browser }) => {
    const failed = await startTaskOnNode(node!, { kind: 'disk-check', object: '/vms/998', user: 'admin', params: { vmid: 998 } });
    await waitForTask(node!, failed.id, 'failed');
    const page = await openPage(browser!, node!, { viewport, hash: '#/tasks' });
    const shot = (what: string) => page.screenshot({ path: join(SCREENSHOT_DIR, `${what}-${viewport.width}x${viewport.height}.png`) });
    try {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      assert.ok(await fitsWidth(page), 'login page: no horizontal scroll');
      await shot('login');

      await login(page, 'admin', node!.adminPassword);
      await page.locator('.taskpanel-failed').waitFor();
      await page.locator('main tbody tr').first().waitFor();
      for (const lang of ['en', 'de']) {
        if (lang === 'de') {
          await page.locator('header.topbar select').selectOption('de');
          await page.getByRole('heading', { name: 'Aufgaben', level: 1 }).waitFor();
        }
        assert.ok(await fitsWidth(page), `shell (${lang}): no horizontal scroll`);
        const box = async (sel: string) => (await page.locator(sel).first().boundingBox())!;
        const top = await box('header.topbar');
        const panel = await box('section.taskpanel');
        const table = await box('main table');
        const main = await box('main');
        assert.ok(table.x + table.width <= main.x + main.width + 1, `(${lang}) the task table fits its column`);
        assert.ok(panel.y + panel.height <= viewport.height + 1, `(${lang}) the task panel is on screen`);
        assert.ok(panel.height <= viewport.height * 0.4 + 1, `(${lang}) the task panel leaves room (${panel.height}px)`);
        if (name === 'kiosk') {
          assert.ok(top.height <= 56, `(${lang}) the top bar is one line (${top.height}px)`);
          assert.ok(await page.locator('nav#nav').isVisible(), 'the navigation is always shown');
        } else {
          assert.ok(top.height <= 96, `(${lang}) the top bar is at most two lines (${top.height}px)`);
          assert.not.ok(await page.locator('nav#nav').isVisible(), 'the navigation folds away');
          const menu = page.locator('button.nav-toggle');
          await menu.click();
          assert.ok(await page.locator('nav#nav').isVisible());
          await menu.click();
        }
        await shot(`shell-${lang}`);
      }
    } finally {
      await closePage(page);
    }
  });
}

test.run();
