/**
 * A guest's page in real Chromium against a real node and real QEMU: laid
 * out as it is used at 1280×800 (status and actions, the whole console
 * above the fold, hardware, backups, permissions), hardware changed right
 * there, and the guest's backups restored and run from their rows, with
 * the guest that runs from a backup marked in the list, on its page, in
 * its Stop dialog and in its console's title. Screenshots go to
 * .tmp/screenshots/ for a human look.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { suite } from '../helpers/suite';
import { useNode } from '../helpers/fixture';
import { waitFor } from '../helpers/guest';
import { closeBrowser, closePage, launchBrowser, login, openPage, SCREENSHOT_DIR } from '../helpers/browser';
import { makeBackup, makeProbeGuest, startProbeGuest, waitTask } from '../integration/restore-fixture';

/** The size the guest page is laid out for. */
const DESKTOP = { width: 1280, height: 800 };

let browser: Browser;
let backup: string;

const G = suite("a guest's page in Chromium");
const fx = useNode(G);
G.before(async () => {
  await makeProbeGuest(fx, 101, { sizeMiB: 16, filledMiB: 2, format: 'raw', reference: join(fx.root, 'ref-101.raw') });
  backup = (await makeBackup(fx.admin, 101)).id;
  await startProbeGuest(fx, 101);
  browser = await launchBrowser();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
});
G.after(async () => {
  await closeBrowser(browser);
});

async function guestPage(vmid: number): Promise<Page> {
  const page = await openPage(browser, fx.node, { viewport: DESKTOP, hash: `#/guests/${vmid}` });
  await login(page, 'admin', fx.node.adminPassword);
  await page.getByRole('heading', { level: 1, name: new RegExp(`^Guest ${vmid} `) }).waitFor();
  return page;
}

const top = async (page: Page, selector: string) => (await page.locator(selector).first().boundingBox())!.y;

G('should show status and actions, then the whole console above the fold, then hardware, backups and permissions', async () => {
  let page: Page | undefined;
  try {
    page = await guestPage(101);
    await page.locator('.page-head .badge-running').waitFor();
    await page.locator('.console-toolbar .badge-ok', { hasText: 'Connected' }).waitFor({ timeout: 30_000 });
    const order = [
      await top(page, '.page-head [role="group"][aria-label="Status and actions"]'),
      await top(page, 'h2:has-text("Console of guest 101")'),
      await top(page, 'h2:has-text("Hardware")'),
      await top(page, 'h2:has-text("Backups")'),
      await top(page, 'h2:has-text("Permissions on /vms/101")'),
    ];
    assert.equal([...order].sort((a, b) => a - b), order, `in the order they are used: ${order.join(', ')}`);
    const actions = page.getByRole('group', { name: 'Status and actions' });
    for (const name of ['Shut down', 'Stop', 'Reset', 'Pause', 'Delete']) await actions.getByRole('button', { name, exact: true }).waitFor();
    // The screen ends above the fold: above the task panel, without scrolling.
    assert.is(await page.evaluate(() => window.scrollY), 0);
    const stage = (await page.locator('.guest-console .console-stage').boundingBox())!;
    const fold = Math.min(DESKTOP.height, (await page.locator('.taskpanel').boundingBox())?.y ?? DESKTOP.height);
    assert.ok(stage.height >= 300, `a screen one can work with (${stage.height} px)`);
    assert.ok(stage.y + stage.height <= fold, `the console (${stage.y}–${stage.y + stage.height}) ends above the fold (${fold})`);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'guest-page-1280x800.png') });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'guest-page-1280x800-full.png'), fullPage: true });
  } finally {
    await closePage(page);
  }
});

G('should change processors, memory, OS type and boot order, and add, grow and remove a disk', async () => {
  let page: Page | undefined;
  const r = await fx.admin.post('/api/vm', { vmid: 110, name: 'hw', memory: 64, disks: [{ size: '1M', bus: 'ide' }], nics: [{ model: 'e1000' }] });
  assert.is(r.status, 201, r.text);
  try {
    page = await guestPage(110);
    const hw = page.locator('section', { has: page.getByRole('heading', { name: 'Hardware', level: 2 }) });
    await hw.getByLabel('Sockets').fill('2');
    await hw.getByLabel('Cores per socket').fill('2');
    await hw.getByLabel('Memory (MiB)').fill('128');
    await hw.getByLabel('Guest OS').selectOption('win10');
    // Boot order: the CD-ROM first, the network card out of it.
    await hw.getByRole('button', { name: 'Move CD-ROM up' }).click();
    await hw.getByRole('checkbox', { name: 'Network card net0' }).uncheck();
    await hw.getByRole('button', { name: 'Save hardware' }).click();
    await hw.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const g = (await fx.admin.get('/api/vm/110')).json.data;
    assert.equal([g.sockets, g.cores, g.memory, g.ostype, g.boot], [2, 2, 128, 'win10', ['cdrom', 'disk0']]);

    await hw.getByRole('button', { name: 'Add disk' }).click();
    const add = hw.getByRole('form', { name: 'Add disk' });
    await add.getByLabel('Disk size').fill('64');
    await add.getByLabel('Unit').selectOption('M');
    await add.getByLabel('Bus').selectOption('virtio');
    await add.getByRole('button', { name: 'Add disk' }).click();
    const disk1 = hw.getByRole('row', { name: /^disk1 / });
    await disk1.waitFor();
    assert.match(await disk1.innerText(), '64M');

    await hw.getByRole('button', { name: 'Grow disk disk1' }).click();
    const grow = page.getByRole('dialog', { name: 'Grow disk disk1 (now 64M)' });
    await grow.getByLabel('New size').fill('0');
    await grow.getByText('Enter a whole number from 1 to 67108864.').waitFor();
    assert.ok(await grow.getByRole('button', { name: 'Grow' }).isDisabled(), 'not with a bad size');
    await grow.getByLabel('New size').fill('128');
    await grow.getByRole('button', { name: 'Grow' }).click();
    await grow.waitFor({ state: 'detached' });
    await hw.getByRole('row', { name: /^disk1 .*128M/ }).waitFor();
    assert.is((await fx.admin.get('/api/vm/110')).json.data.disks[1].size, '128M');

    await hw.getByRole('button', { name: 'Remove disk disk1' }).click();
    const remove = page.getByRole('alertdialog', { name: 'Remove disk disk1 of guest 110?' });
    const confirm = remove.getByRole('button', { name: 'Remove disk disk1' });
    assert.ok(await confirm.isDisabled(), 'not before the disk is named');
    await remove.getByLabel('Type “disk1” to confirm').fill('disk1');
    await confirm.click();
    await disk1.waitFor({ state: 'detached' });
    assert.equal((await fx.admin.get('/api/vm/110')).json.data.disks.map((d: { id: string }) => d.id), ['disk0']);
  } finally {
    await closePage(page);
    await fx.admin.del('/api/vm/110');
  }
});

G('should restore a backup from its row on the guest page into a new guest', async () => {
  let page: Page | undefined;
  try {
    page = await guestPage(101);
    const card = page.locator('section', { has: page.getByRole('heading', { name: 'Backups', level: 2 }) });
    await card.getByRole('button', { name: /^Restore the backup of guest 101 of / }).click();
    const dialog = page.getByRole('dialog', { name: /^Restore the backup of guest 101 of / });
    await dialog.getByLabel('VMID of the restored guest').fill('150');
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
    const started = dialog.getByRole('status').filter({ hasText: 'Restore started' });
    await started.waitFor();
    const task = /task (\S+)\)/.exec(await started.innerText())![1]!;
    assert.is((await waitTask(fx.admin, task)).status, 'ok');
    assert.is((await fx.admin.get('/api/vm/150')).json.data.status, 'stopped');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
  } finally {
    await closePage(page);
    await fx.admin.del('/api/vm/150');
  }
});

G('should run a backup from its row and mark the guest it makes in its page, the list, its Stop dialog and its console title', async () => {
  let page: Page | undefined;
  try {
    page = await guestPage(101);
    const card = page.locator('section', { has: page.getByRole('heading', { name: 'Backups', level: 2 }) });
    await card.getByRole('button', { name: /^Run guest 101 from its backup of / }).click();
    await page.waitForURL(/#\/guests\/(?!101)\d+$/);
    const vmid = Number(/#\/guests\/(\d+)$/.exec(page.url())![1]);
    await page.getByRole('heading', { level: 1, name: `Guest ${vmid} rs101` }).waitFor();
    await page.locator('.page-head .badge-warning', { hasText: 'From backup' }).waitFor();
    const banner = page.getByRole('region', { name: `Guest ${vmid} runs from a backup` });
    const text = await banner.innerText();
    assert.match(text, 'guest 101,');
    assert.match(text, 'network unplugged');
    assert.match(text, 'The whole guest is discarded');
    assert.is(await banner.getByRole('link', { name: /^guest 101, / }).getAttribute('href'), `#/backups/backup/${encodeURIComponent(backup)}`);
    assert.match(await page.locator('.guest-console').innerText(), /From the backup of guest 101 of .* · network unplugged · discarded when it stops/);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'guest-page-temporary-1280x800.png') });

    // Its console in a window of its own says it in the window's title.
    const [own] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: 'Open in own window' }).click()]);
    await waitFor('the console title', async () => (await own!.title()).startsWith(`Console of guest ${vmid} (From backup) — testnode`), 15_000, 100);
    assert.match(await own!.locator('.temp-line').innerText(), 'network unplugged');
    await own!.close();

    // The list says it too.
    await page.getByRole('link', { name: 'All guests' }).click();
    const row = page.locator('main tbody tr', { hasText: `${vmid}` }).filter({ hasText: 'From backup' });
    assert.match(await row.innerText(), /From the backup of guest 101 of .* · network unplugged · discarded when it stops/);

    // Stop asks first and says the whole guest goes away.
    await row.getByRole('button', { name: 'Stop', exact: true }).click();
    const dialog = page.getByRole('alertdialog', { name: `Stop guest ${vmid} (rs101) and discard it?` });
    assert.match(await dialog.innerText(), 'the whole guest goes away');
    const watcher = (await fx.admin.get(`/api/vm/${vmid}`)).json.data.temporary.task as string;
    await dialog.getByRole('button', { name: `Stop and discard guest ${vmid}` }).click();
    assert.is((await waitTask(fx.admin, watcher, 60_000)).status, 'ok');
    assert.is((await fx.admin.get(`/api/vm/${vmid}`)).status, 404, 'discarded');
  } finally {
    await closePage(page);
  }
});
G.run();
