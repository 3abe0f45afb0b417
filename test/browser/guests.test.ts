/**
 * The Guests view in real Chromium against a real node with real QEMU:
 * create a guest in the form (defaults, inline validation), start it from
 * the start prompt, see it running, stop it from the list (with its
 * confirmation), delete it from its page; the guest agent setting set in
 * the form and changed in the Options card. Screenshots go to
 * .tmp/screenshots/ for a human look.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { useNode } from '../helpers/fixture';
import { closeBrowser, closePage, launchBrowser, login, openPage, PHONE_VIEWPORT, SCREENSHOT_DIR } from '../helpers/browser';
import { GUEST_MARKER, installBootSector, waitForSerial } from '../helpers/guest';

interface Ctx {
  browser?: Browser;
}

const test = suite<Ctx>('guests in Chromium', {});
const fx = useNode(test);

test.before(async (ctx) => {
  ctx.browser = await launchBrowser();
});

test.after(async (ctx) => {
  await closeBrowser(ctx.browser);
});

/** The create form, logged in as admin on a page opened at #/guests/new. */
async function createFormAsAdmin(page: Page): Promise<void> {
  await login(page, 'admin', fx.node.adminPassword);
  await page.getByRole('heading', { name: 'Create guest', level: 1 }).waitFor();
}

/** Submit the create form; the new guest's VMID, from its start prompt's address. */
async function submitCreate(page: Page): Promise<number> {
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForURL(/#\/guests\/\d+\/start$/);
  return Number(/#\/guests\/(\d+)\/start$/.exec(page.url())![1]);
}

const fitsWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

test('should create a guest in the form, start it, see it running, stop it and delete it', async ({ browser }) => {
  const page = await openPage(browser!, fx.node);
  const shot = (what: string) => page.screenshot({ path: join(SCREENSHOT_DIR, `guests-${what}-1024x768.png`), fullPage: true });
  try {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await login(page, 'admin', fx.node.adminPassword);
    // Guests is the first view of the navigation: the start page.
    await page.waitForURL(/#\/guests$/);
    await page.getByRole('heading', { name: 'Guests', level: 1 }).waitFor();
    await page.getByText('No guests yet.').waitFor();

    await page.getByRole('link', { name: 'Create guest' }).click();
    await page.waitForURL(/#\/guests\/new$/);
    await page.getByRole('heading', { name: 'Create guest', level: 1 }).waitFor();
    // The original form's defaults.
    assert.is(await page.getByLabel('Memory (MiB)').inputValue(), '512');
    assert.is(await page.getByLabel('Disk size').inputValue(), '32');
    assert.is(await page.getByLabel('Unit').inputValue(), 'G');
    assert.is(await page.getByLabel('Bus').inputValue(), 'ide');
    assert.is(await page.getByLabel('Format').inputValue(), 'qcow2');
    assert.is(await page.getByLabel('Cache').inputValue(), 'writeback');
    assert.is(await page.getByLabel('Network card', { exact: true }).inputValue(), 'rtl8139');
    assert.is(await page.getByLabel('Bridge').inputValue(), 'vmbr0');
    assert.is(await page.getByLabel('Sockets').inputValue(), '1');
    assert.is(await page.getByLabel('Cores per socket').inputValue(), '1');
    assert.is(await page.getByLabel('Guest OS').inputValue(), 'l26');
    await page.getByText('Leave empty for the next free one (101).').waitFor();

    // Inline validation as you type, tied to the field.
    const memory = page.getByLabel('Memory (MiB)');
    await memory.fill('8');
    await page.getByText('Enter a whole number from 16 to 4194304.').waitFor();
    assert.is(await memory.getAttribute('aria-invalid'), 'true');
    await memory.fill('32');
    assert.is(await page.getByText('Enter a whole number from 16 to 4194304.').count(), 0);
    assert.is(await memory.getAttribute('aria-invalid'), null);
    // Submitting without a name puts the focus on it with its message.
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByText('This field is required.').waitFor();
    assert.ok(await page.getByLabel('Name').evaluate((el) => el === document.activeElement), 'the name has the focus');

    await page.getByLabel('Name').fill('browser-guest');
    // Picking an OS type proposes its settings, but keeps what was typed (memory).
    await page.getByLabel('Guest OS').selectOption('win10');
    assert.is(await page.getByLabel('Bus').inputValue(), 'sata');
    assert.is(await page.getByLabel('Network card', { exact: true }).inputValue(), 'e1000');
    assert.is(await memory.inputValue(), '32');
    await page.getByLabel('Guest OS').selectOption('other');
    await page.getByLabel('Disk size').fill('1');
    await shot('create');
    await page.getByRole('button', { name: 'Create', exact: true }).click();

    // After create: the start prompt, with the focus on its button.
    await page.waitForURL(/#\/guests\/101\/start$/);
    const startButton = page.getByRole('button', { name: 'Start guest 101' });
    await startButton.waitFor();
    assert.ok(await startButton.evaluate((el) => el === document.activeElement), 'the start button has the focus');
    assert.match(await page.locator('main').innerText(), 'NAT (user-mode networking): bridge vmbr0 does not exist on this node');
    // The test guest: a boot sector that prints a marker on COM1.
    installBootSector(join(fx.root, 'var/lib/vz/images/101/vm-101-disk-0.qcow2'), 'qcow2');
    await startButton.click();
    await page.waitForURL(/#\/guests\/101$/);
    await page.locator('.page-head .badge-running', { hasText: 'Running' }).waitFor();
    await waitForSerial(join(fx.root, 'run/ramvm/qemu/101.serial.log'), GUEST_MARKER);
    await shot('page-running');

    // The list shows it running; stop asks first and says what it does.
    await page.getByRole('link', { name: 'All guests' }).click();
    const row = page.locator('main tbody tr', { hasText: 'browser-guest' });
    await row.locator('.badge-running').waitFor();
    assert.match(await row.innerText(), 'testnode');
    const table = (await page.locator('main table').boundingBox())!;
    const main = (await page.locator('main').boundingBox())!;
    assert.ok(table.x + table.width <= main.x + main.width + 1, 'the list with its actions fits the kiosk screen');
    await shot('list-running');
    await row.getByRole('button', { name: 'Stop' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Stop guest 101 (browser-guest)?' });
    await dialog.waitFor();
    assert.ok(await dialog.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === document.activeElement), 'Cancel has the focus');
    await dialog.getByRole('button', { name: 'Stop guest 101' }).click();
    await row.locator('.badge-neutral', { hasText: 'Stopped' }).waitFor();
    await row.getByRole('button', { name: 'Start' }).waitFor();

    // Delete from the guest's page wants the VMID typed.
    await row.getByRole('link', { name: 'browser-guest' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    const del = page.getByRole('alertdialog', { name: 'Delete guest 101 (browser-guest)?' });
    const confirm = del.getByRole('button', { name: 'Delete guest 101' });
    assert.ok(await confirm.isDisabled(), 'not before the VMID is typed');
    await del.getByLabel('Type “101” to confirm').fill('101');
    await confirm.click();
    await page.waitForURL(/#\/guests$/);
    await page.getByText('No guests yet.').waitFor();
  } finally {
    await closePage(page);
  }
});

test('should create a guest with a dotted name, a disk in MiB and no network card', async ({ browser }) => {
  const page = await openPage(browser!, fx.node, { hash: '#/guests/new' });
  const api = fx.admin;
  let vmid: number | null = null;
  try {
    await createFormAsAdmin(page);
    assert.match(await page.locator('.field', { has: page.getByLabel('Name') }).innerText(), 'Letters, digits, “-” and “.”');
    await page.getByLabel('Name').fill('web.example.com');
    await page.getByLabel('Disk size').fill('64');
    await page.getByLabel('Unit').selectOption('M');
    // 70000000 MiB is over the 64 TiB the node allows.
    await page.getByLabel('Disk size').fill('70000000');
    await page.getByText('Enter a whole number from 1 to 67108864.').waitFor();
    await page.getByLabel('Disk size').fill('64');
    await page.getByLabel('No network card').check();
    assert.is(await page.getByLabel('Bridge').count(), 0, 'no network fields without a card');
    vmid = await submitCreate(page);
    const g = (await api.get(`/api/vm/${vmid}`)).json.data;
    assert.equal([g.name, g.disks.map((d: { size: string }) => d.size), g.nics], ['web.example.com', ['64M'], []]);

    // And one without a disk (it boots from CD or network).
    await page.goto(`${fx.node.url}/#/guests/new`);
    await page.getByLabel('Name').fill('diskless');
    await page.getByLabel('No disk (boots from CD or network)').check();
    assert.is(await page.getByLabel('Disk size').count(), 0, 'no disk fields without a disk');
    const other = await submitCreate(page);
    assert.equal((await api.get(`/api/vm/${other}`)).json.data.disks, []);
    assert.is((await api.del(`/api/vm/${other}`)).status, 204);
  } finally {
    await closePage(page);
    if (vmid !== null) await api.del(`/api/vm/${vmid}`);
  }
});

test('should give a guest the QEMU guest agent in the create form, and take it away and back in Options', async ({ browser }) => {
  const page = await openPage(browser!, fx.node, { hash: '#/guests/new' });
  const api = fx.admin;
  let vmid: number | null = null;
  try {
    await createFormAsAdmin(page);
    await page.getByLabel('Name').fill('agent');
    await page.getByLabel('No disk (boots from CD or network)').check();
    const box = page.getByRole('checkbox', { name: 'QEMU guest agent' });
    assert.not.ok(await box.isChecked(), 'off unless asked for');
    assert.match(await page.locator('.field-check', { has: box }).innerText(), 'Backups freeze the guest’s filesystems when the agent inside answers; applies at the next start.');
    await box.check();
    vmid = await submitCreate(page);
    assert.is((await api.get(`/api/vm/${vmid}`)).json.data.agent, true);

    await page.goto(`${fx.node.url}/#/guests/${vmid}`);
    const card = page.locator('section', { has: page.getByRole('heading', { name: 'Options', level: 2 }) });
    const option = card.getByRole('checkbox', { name: 'QEMU guest agent' });
    await option.waitFor();
    assert.ok(await option.isChecked(), 'shows the guest\'s setting');
    for (const on of [false, true]) {
      await option.setChecked(on);
      await card.getByRole('button', { name: 'Save', exact: true }).click();
      await card.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      assert.is((await api.get(`/api/vm/${vmid}`)).json.data.agent, on);
      // A fresh page shows what the node stored (and no "Saved." of the save before).
      await page.reload();
      await option.waitFor();
      assert.is(await option.isChecked(), on, 'shows the saved setting after a reload');
    }
  } finally {
    await closePage(page);
    if (vmid !== null) await api.del(`/api/vm/${vmid}`);
  }
});

test('should send no ticket renewal when no one is logged in', async ({ browser }) => {
  const page = await openPage(browser!, fx.node, { hash: '#/guests' });
  const renewals: string[] = [];
  page.context().on('request', (r) => {
    if (r.url().endsWith('/api/access/ticket')) renewals.push(r.method());
  });
  try {
    await page.reload();
    await page.locator('form input[name="username"]').waitFor();
    // Long enough for any request of the page load to have gone out.
    await page.waitForLoadState('networkidle');
    assert.equal(renewals, [], 'the login page sends nothing to /api/access/ticket');
    await login(page, 'admin', fx.node.adminPassword);
    assert.equal(renewals, ['POST'], 'the login itself');
    // A reload goes on with the session of the tab, without a renewal (it is not due).
    await page.reload();
    await page.locator('.topbar-user', { hasText: 'admin' }).waitFor();
    assert.equal(renewals, ['POST']);
  } finally {
    await closePage(page);
  }
});

test('should show a German guest list and form that fit a phone', async ({ browser }) => {
  const api = fx.admin;
  assert.is((await api.post('/api/vm', { name: 'phone-guest', memory: 32, disks: [{ size: '1M' }] })).status, 201);
  const page = await openPage(browser!, fx.node, { viewport: PHONE_VIEWPORT, locale: 'de-DE' });
  try {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await login(page, 'admin', fx.node.adminPassword);
    await page.getByRole('heading', { name: 'Gäste', level: 1 }).waitFor();
    const row = page.locator('main tbody tr', { hasText: 'phone-guest' });
    await row.locator('.badge-neutral', { hasText: 'Gestoppt' }).waitFor();
    assert.ok(await fitsWidth(page), 'list: no horizontal scroll');
    await page.screenshot({ path: join(SCREENSHOT_DIR, `guests-list-de-${PHONE_VIEWPORT.width}x${PHONE_VIEWPORT.height}.png`), fullPage: true });
    await page.getByRole('link', { name: 'Gast anlegen' }).click();
    await page.getByRole('heading', { name: 'Gast anlegen', level: 1 }).waitFor();
    assert.ok(await fitsWidth(page), 'form: no horizontal scroll');
    await page.screenshot({ path: join(SCREENSHOT_DIR, `guests-create-de-${PHONE_VIEWPORT.width}x${PHONE_VIEWPORT.height}.png`), fullPage: true });
    await page.goto(`${fx.node.url}/#/guests/101`);
    await page.getByRole('heading', { name: 'Gast 101 phone-guest', level: 1 }).waitFor();
    assert.ok(await fitsWidth(page), 'guest page: no horizontal scroll');
    await page.locator('main .badge-neutral', { hasText: 'Gestoppt' }).first().waitFor();
  } finally {
    await closePage(page);
    await api.del('/api/vm/101');
  }
});

test.run();
