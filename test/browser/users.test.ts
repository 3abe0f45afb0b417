/**
 * The Users view and My account in real Chromium against a real node: the
 * fx.admin creates anna in the Users view and grants her VMUser on one of two
 * guests in the ACL tab; anna logs in, the node lists only that guest to
 * her in the Guests view, her guest's page has no delete button, and with
 * her own browser session (fetch from the page) GET /api/vm lists only that
 * guest and DELETE /api/vm/<vmid> answers 403. Also: a lockout refusal (409) shown
 * in the view, My account's password change and API token whose secret is
 * shown once and works for curl. Screenshots go to .tmp/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { useNode } from '../helpers/fixture';
import { makeClient } from '../helpers/node';
import { closeBrowser, closePage, launchBrowser, login, openPage, KIOSK_VIEWPORT, PHONE_VIEWPORT, SCREENSHOT_DIR } from '../helpers/browser';

let browser: Browser;
let mine: number;
let other: number;

const ANNA_PW = 'anna-secret-1';

const U = suite('Users view and My account in Chromium');
const fx = useNode(U);
U.before(async () => {
  mine = (await fx.createGuest({ name: 'anna-vm', memory: 32, disks: [{ size: '64M' }] })).vmid;
  other = (await fx.createGuest({ name: 'other-vm', memory: 32, disks: [{ size: '64M' }] })).vmid;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  browser = await launchBrowser();
});
U.after(async () => {
  await closeBrowser(browser);
});

/** A request from the page with its own session (cookie + the CSRF token the app keeps). */
function pageFetch(page: Page, method: string, path: string): Promise<{ status: number; body: any }> {
  return page.evaluate(
    async ([m, p]) => {
      const s = JSON.parse(sessionStorage.getItem('ramvm.session') ?? '{}') as { csrf?: string };
      const r = await fetch(p!, { method: m, headers: m === 'GET' ? {} : { 'X-Ramvm-CSRF': s.csrf ?? '' } });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    [method, path],
  );
}

U('should let the fx.admin create anna and grant her VMUser on one guest; anna sees only that guest and may not delete it', async () => {
  let page: Page | undefined;
  let annaPage: Page | undefined;
  try {
    page = await openPage(browser, fx.node, { hash: '#/users' });
    await login(page, 'admin', fx.node.adminPassword);
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByRole('row', { name: /admin/ }).waitFor();

    // Nobody locks the cluster out: disabling the last administrator is refused (409), shown in the view.
    await page.getByRole('button', { name: 'Disable user admin' }).click();
    const banner = page.getByRole('alert');
    await banner.waitFor();
    assert.match(await banner.innerText(), 'Not possible in the current state');
    assert.match(await banner.innerText(), 'conflict');
    await page.getByRole('button', { name: 'Dismiss' }).click();

    await page.getByRole('link', { name: 'New user' }).click();
    await page.getByLabel('User name').fill('anna');
    await page.locator('input[name="password"]').fill('short');
    await page.getByLabel('Email').fill('anna@example.com');
    await page.getByRole('button', { name: 'Create user' }).click();
    // 400 naming the field: shown under the password field, not as a banner.
    const pwError = page.locator('.field-invalid .field-error');
    await pwError.waitFor();
    assert.match(await pwError.innerText(), /8/);
    await page.locator('input[name="password"]').fill(ANNA_PW);
    await page.getByLabel('Full name').fill('Anna Berger');
    await page.getByRole('button', { name: 'Create user' }).click();
    const row = page.getByRole('row', { name: /anna@example\.com/ });
    await row.waitFor();
    const rowText = await row.innerText();
    assert.match(rowText, 'Anna Berger');
    assert.match(rowText, 'Enabled');
    assert.match(rowText, 'Never');
    for (const vp of [KIOSK_VIEWPORT, PHONE_VIEWPORT]) {
      await page.setViewportSize(vp);
      await page.screenshot({ path: join(SCREENSHOT_DIR, `users-list-${vp.width}x${vp.height}.png`), fullPage: true });
    }
    await page.setViewportSize(KIOSK_VIEWPORT);

    await page.getByRole('link', { name: 'Permissions (ACL)' }).click();
    await page.locator('input[name="path"]').fill(`/vms/${mine}`);
    await page.getByLabel('Grant to').selectOption('user');
    await page.locator('input[name="name"]').fill('anna');
    await page.getByLabel('Role').selectOption('VMUser');
    await page.getByRole('button', { name: 'Grant', exact: true }).click();
    await page.getByRole('status').filter({ hasText: `User: anna now has the role VMUser on /vms/${mine}` }).waitFor();
    const entry = page.getByRole('row', { name: new RegExp(`/vms/${mine}.*anna`) });
    await entry.waitFor();
    assert.match(await entry.innerText(), 'VMUser');
    for (const vp of [KIOSK_VIEWPORT, PHONE_VIEWPORT]) {
      await page.setViewportSize(vp);
      await page.screenshot({ path: join(SCREENSHOT_DIR, `users-acl-${vp.width}x${vp.height}.png`), fullPage: true });
    }
    const acl = (await fx.admin.get(`/api/access/acl?path=/vms/${mine}`)).json.data;
    assert.ok(acl.some((e: any) => e.user === 'anna' && e.role === 'VMUser' && e.path === `/vms/${mine}` && !e.inherited), 'the node holds the entry');

    annaPage = await openPage(browser, fx.node);
    await login(annaPage, 'anna', ANNA_PW);
    const nav = await annaPage.locator('nav#nav a').allInnerTexts();
    assert.not.ok(nav.some((x) => /Users/.test(x)), `no Users view for anna: ${nav}`);
    // The Guests view, driven by GET /api/vm with her session: only her guest, and no delete on its page.
    await annaPage.getByRole('link', { name: 'Guests' }).click();
    await annaPage.getByRole('link', { name: 'anna-vm' }).waitFor();
    assert.is(await annaPage.getByRole('link', { name: 'other-vm' }).count(), 0, 'the other guest is not listed');
    assert.is(await annaPage.locator('main tbody tr').count(), 1, 'one row');
    assert.is(await annaPage.getByRole('link', { name: 'Create guest' }).count(), 0);
    await annaPage.screenshot({ path: join(SCREENSHOT_DIR, 'users-anna-guests-1024x768.png'), fullPage: true });
    await annaPage.getByRole('link', { name: 'anna-vm' }).click();
    await annaPage.getByRole('heading', { level: 1, name: /anna-vm/ }).waitFor();
    await annaPage.getByRole('group', { name: 'Status and actions' }).getByRole('button', { name: 'Start', exact: true }).waitFor();
    assert.is(await annaPage.getByRole('button', { name: 'Delete', exact: true }).count(), 0, 'no delete button for a VMUser');
    const list = await pageFetch(annaPage, 'GET', '/api/vm');
    assert.is(list.status, 200);
    assert.equal(list.body.data.map((v: any) => v.vmid), [mine], 'only her guest');
    const del = await pageFetch(annaPage, 'DELETE', `/api/vm/${mine}`);
    assert.is(del.status, 403, JSON.stringify(del.body));
    const notHers = await pageFetch(annaPage, 'GET', `/api/vm/${other}`);
    assert.is(notHers.status, 403);
    assert.is((await fx.admin.get(`/api/vm/${mine}`)).status, 200, 'the guest is still there');
  } finally {
    await closePage(page);
    await closePage(annaPage);
  }
});

U('should let anna change her own password and create an API token whose secret is shown once and works', async () => {
  let page: Page | undefined;
  try {
    page = await openPage(browser, fx.node);
    await login(page, 'anna', ANNA_PW);
    await page.locator('.topbar-user').click();
    await page.getByRole('heading', { name: 'My account', level: 1 }).waitFor();

    await page.getByLabel('Current password').fill('wrong-password');
    await page.locator('input[name="password"]').fill('anna-secret-2');
    await page.locator('input[name="password2"]').fill('anna-secret-2');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The current password is wrong.').waitFor();
    await page.getByLabel('Current password').fill(ANNA_PW);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').filter({ hasText: 'Your password has been changed' }).waitFor();

    await page.getByLabel('Token name').fill('ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByText('you will not see it again').waitFor();
    const secret = await page.locator('#token-secret').inputValue();
    assert.match(secret, /^anna!ci=[A-Za-z0-9_-]{43}$/);
    for (const vp of [KIOSK_VIEWPORT, PHONE_VIEWPORT]) {
      await page.setViewportSize(vp);
      await page.screenshot({ path: join(SCREENSHOT_DIR, `account-token-${vp.width}x${vp.height}.png`), fullPage: true });
    }
    await page.setViewportSize(KIOSK_VIEWPORT);
    await page.getByRole('row', { name: /anna!ci/ }).waitFor();

    // The session goes on after the change (the new ticket was adopted): a write still works.
    await page.getByRole('button', { name: 'I have copied it' }).click();
    assert.is(await page.locator('#token-secret').count(), 0, 'the secret is gone from the page');

    const token = makeClient(fx.node.url, { token: secret });
    const me = await token.get('/api/access/me');
    assert.is(me.status, 200, me.text);
    assert.is(me.json.data.username, 'anna');
    // Privilege separation is on by default in the form: the token holds only entries of its own (none yet).
    assert.equal((await token.get('/api/vm')).json.data, [], 'a privilege-separated token without entries sees no guest');
    assert.is((await fx.node.login('anna', 'anna-secret-2')).csrf !== undefined, true, 'the new password logs in');

    await page.getByRole('button', { name: 'Delete token anna!ci' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText('You have no API tokens.').waitFor();
    assert.is((await token.get('/api/access/me')).status, 401, 'the deleted token stops working');
  } finally {
    await closePage(page);
  }
});

U.run();
