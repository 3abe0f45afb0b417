/**
 * Backup mode in real Chromium against a real node and real QEMU: atop the
 * Backups view, a node booted from a backup disk (its state as the set-up
 * leaves it: restore-fixture enterBackupMode) says what it is and lists the
 * disk's guests with the warning about their addresses; Run from backup
 * starts the guest off the read-only disk with its cable unplugged. An
 * ordinary node shows no such panel.
 */
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { useNode } from '../helpers/fixture';
import { waitFor, waitForSerial } from '../helpers/guest';
import { closeBrowser, closePage, launchBrowser, login, openPage } from '../helpers/browser';
import { enterBackupMode, makeBackup, makeProbeGuest } from '../integration/restore-fixture';

let browser: Browser;

const M = suite('backup mode in Chromium');
const fx = useNode(M);
M.before(async () => {
  await makeProbeGuest(fx, 101, { sizeMiB: 16, filledMiB: 2, format: 'qcow2', reference: join(fx.root, 'ref-101.raw') });
  await makeBackup(fx.admin, 101);
  browser = await launchBrowser();
});
M.after(async () => {
  await closeBrowser(browser);
});

async function backupsPage(): Promise<Page> {
  const page = await openPage(browser, fx.node, { hash: '#/backups' });
  await login(page, 'admin', fx.node.adminPassword);
  await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor();
  return page;
}

M('should show no backup mode panel on a node booted as usual', async () => {
  let page: Page | undefined;
  try {
    page = await backupsPage();
    await page.getByRole('heading', { name: 'Backups', level: 2 }).waitFor();
    assert.is(await page.getByRole('heading', { name: 'Backup mode' }).count(), 0);
  } finally {
    await closePage(page);
  }
});

M('should list the backup disk\'s guests with their warning and run one off it, unplugged', async () => {
  let page: Page | undefined;
  try {
    await enterBackupMode(fx);
    page = await backupsPage();
    const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Backup mode' }) });
    await panel.waitFor();
    const text = await panel.innerText();
    assert.match(text, 'This node booted from the backup disk /dev/sda3');
    assert.match(text, '101 rs101');
    assert.match(text, /guest 101 starts with its network unplugged: a copy has the IP address and MAC [0-9a-f:]{17} of the original/);
    await panel.getByRole('button', { name: /^Run guest 101 from its backup of / }).click();
    await page.waitForURL(/#\/guests\/102$/);
    const cfg = await waitFor('guest 102 running', async () => {
      const r = (await fx.admin.get('/api/vm/102')).json.data;
      return r?.status === 'running' ? r : null;
    }, 60_000, 250);
    assert.match(cfg.temporary.backup, /^backupdisk:101:/);
    assert.is(cfg.nics[0].linkDown, true);
    await waitForSerial(fx.runFile(102, 'serial.log'), 'LINK-DOWN', 60_000);
    await fx.stopGuest(102);
  } finally {
    await closePage(page);
  }
});

M.run();
