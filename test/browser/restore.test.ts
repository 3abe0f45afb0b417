/**
 * Restore actions on a backup's page in real Chromium against a real node
 * and real QEMU: run a guest from the backup, see the original's warning
 * and the guest's screen, connect its network only after confirming, stop
 * and discard it; restore to a new VMID; see a boot check's screenshot.
 * A screenshot of the page goes to .tmp/screenshots/ for a human look.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { useNode } from '../helpers/fixture';
import { waitFor, waitForSerial } from '../helpers/guest';
import { closeBrowser, closePage, launchBrowser, login, openPage, SCREENSHOT_DIR } from '../helpers/browser';
import { makeBackup, makeProbeGuest, startProbeGuest, waitTask } from '../integration/restore-fixture';

let browser: Browser;
let backup: string;

const R = suite('restore actions in Chromium');
const fx = useNode(R);
R.before(async () => {
  await makeProbeGuest(fx, 101, { sizeMiB: 16, filledMiB: 2, format: 'raw', reference: join(fx.root, 'ref-101.raw') });
  backup = (await makeBackup(fx.admin, 101)).id;
  browser = await launchBrowser();
});
R.after(async () => {
  await closeBrowser(browser);
});

const page0 = async (): Promise<Page> => {
  const page = await openPage(browser, fx.node, { hash: `#/backups/backup/${backup}` });
  await login(page, 'admin', fx.node.adminPassword);
  await page.getByRole('heading', { name: 'Run from backup', level: 2 }).waitFor();
  return page;
};

R('should run a guest from the backup with the warning and its screen, connect it on confirmation, and discard it', async () => {
  let page: Page | undefined;
  try {
    await startProbeGuest(fx, 101);
    page = await page0();
    await page.getByRole('button', { name: 'Run from backup' }).click();
    const card = page.locator('section', { has: page.getByRole('heading', { name: 'Guest 102 runs from this backup' }) });
    await card.waitFor();
    const panel = card.getByRole('region', { name: 'Guest 102 runs from a backup' });
    assert.match(await panel.innerText(), 'connecting the copy gives IP address conflicts, and MAC address conflicts where it kept the original\'s MAC addresses');
    assert.match(await panel.innerText(), 'guest 101 (rs101), the original of this backup, is running on this node now');
    assert.match(await card.locator('.props').innerText(), 'network unplugged');
    const screen = card.getByRole('img', { name: 'Screen of guest 102' });
    await waitFor('the guest\'s screen to show', () => screen.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0));
    assert.is(await card.getByRole('link', { name: 'Open the console' }).getAttribute('href'), '#/console/102');
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'restore-run.png'), fullPage: true });

    // Connecting asks first, and says why.
    await card.getByRole('button', { name: 'Connect network' }).click();
    const dialog = page.getByRole('alertdialog');
    assert.match(await dialog.innerText(), 'Only connect it when guest 101 is not running anywhere');
    await dialog.getByRole('button', { name: 'Connect network' }).click();
    await card.locator('.props', { hasText: 'network connected' }).waitFor();
    await waitForSerial(fx.runFile(102, 'serial.log'), 'LINK-UP');

    const watcher = (await fx.admin.get('/api/vm/102')).json.data.temporary.task as string;
    await card.getByRole('button', { name: 'Stop and discard' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Stop and discard' }).click();
    assert.is((await waitTask(fx.admin, watcher, 60_000)).status, 'ok');
    assert.is((await fx.admin.get('/api/vm/102')).status, 404, 'discarded');
  } finally {
    await closePage(page);
  }
});

R('should restore to a new VMID and show a boot check with its screenshot', async () => {
  let page: Page | undefined;
  try {
    const check = await fx.admin.post(`/api/backup/${encodeURIComponent(backup)}/bootcheck`, { seconds: 1 });
    assert.is(check.status, 202, check.text);
    assert.is((await waitTask(fx.admin, check.json.data.task, 120_000)).status, 'ok');
    page = await page0();
    const shot = page.getByRole('img', { name: 'Screen of the backup after its boot check' });
    await waitFor('the boot check screenshot to load', () => shot.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0));
    assert.match(await page.locator('section', { has: page.getByRole('heading', { name: 'Boot check' }) }).innerText(), 'boots');

    await page.getByLabel('VMID of the restored guest').fill('150');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    const started = page.getByRole('status').filter({ hasText: 'Restore started' });
    await started.waitFor();
    const task = /task (\S+)\)/.exec(await started.innerText())![1]!;
    assert.is((await waitTask(fx.admin, task)).status, 'ok');
    assert.is((await fx.admin.get('/api/vm/150')).json.data.disks[0].file, 'vm-150-disk-0.raw');

    // Over an existing guest only after typing its VMID.
    await page.getByLabel('VMID of the restored guest').fill('');
    await page.getByLabel('Replace guest 101 if it exists (it must be stopped)').check();
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    const dialog = page.getByRole('alertdialog');
    const confirm = dialog.getByRole('button', { name: 'Replace guest 101' });
    assert.ok(await confirm.isDisabled(), 'not before the VMID is typed');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  } finally {
    await closePage(page);
  }
});

R.run();
