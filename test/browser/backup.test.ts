/**
 * The Backups and Backup jobs views in real Chromium against a real node:
 * create a job with the original's fields, run it now, see the backup
 * listed as verified with restore, run and its log on its row, see a failed
 * backup in red until it is acknowledged, back up a guest the user may back
 * up, and see a scheduler that stopped. Screenshots go to .tmp/screenshots/
 * for a human look.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { useNode } from '../helpers/fixture';
import { closeBrowser, closePage, launchBrowser, login, openPage, SCREENSHOT_DIR } from '../helpers/browser';
import { makeGuest, waitTask } from '../integration/backup-fixture';
import { DIST } from '../../build/build';

let browser: Browser;

const B = suite('backup views in Chromium');
const fx = useNode(B);
B.before(async () => {
  await makeGuest(fx, 105, { sizeMiB: 16, filledMiB: 4, format: 'qcow2', reference: join(fx.root, 'ref-105.raw') });
  browser = await launchBrowser();
});
B.after(async () => {
  await closeBrowser(browser);
});

B('should create a job with the original fields, run it now and list a verified backup with its log', async () => {
  let page: Page | undefined;
  try {
    page = await openPage(browser, fx.node, { hash: '#/backups' });
    await login(page, 'admin', fx.node.adminPassword);
    await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Backup jobs' }).click();
    await page.getByRole('link', { name: 'New job' }).click();
    await page.getByLabel('Name').fill('nightly-ui');
    await page.getByLabel('Mail recipient').fill('it@example.com');
    await page.getByLabel('All guests of the node').uncheck();
    await page.getByLabel('Selected guests (VMIDs)').fill('105');
    await page.getByLabel('Sat').check();
    await page.getByLabel('Start time').fill('23:30');
    await page.getByLabel('Mode').selectOption('stop');
    await page.getByLabel('Compression').selectOption('none');
    await page.getByLabel('Keep backups (newest)').fill('2');
    await page.getByLabel('Keep weekly').fill('4');
    await page.getByRole('button', { name: 'Create job' }).click();

    const row = page.getByRole('row', { name: /nightly-ui/ });
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, 'Mon Tue Wed Thu Fri Sat 23:30');
    assert.match(text, '105');
    assert.match(text, 'stop · none');
    assert.match(text, '2 last, 0 daily, 4 weekly, 0 monthly');
    assert.match(text, 'it@example.com');
    const stored = (await fx.admin.get('/api/backup/jobs/nightly-ui')).json.data;
    assert.equal([stored.vmids, stored.weekdays, stored.start, stored.mode, stored.compress, stored.retention.keepLast, stored.retention.keepWeekly],
      [[105], ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], '23:30', 'stop', 'none', 2, 4]);

    await row.getByRole('button', { name: 'Run now' }).click();
    const started = page.getByRole('status').filter({ hasText: 'Job nightly-ui started:' });
    await started.waitFor();
    const task = /: (\S+)$/.exec(await started.innerText())![1]!;
    assert.is((await waitTask(fx.admin, task)).status, 'ok');
    await row.getByText('OK').waitFor({ timeout: 30_000 });

    await page.getByRole('link', { name: 'Backups', exact: true }).first().click();
    const backupRow = page.getByRole('row', { name: /105 bk105/ });
    await backupRow.waitFor();
    const b = await backupRow.innerText();
    assert.match(b, 'Verified');
    assert.match(b, 'stop · offline · none');
    assert.match(b, 'local');
    // Restore and Run from backup right on the row, beside the details.
    await backupRow.getByRole('button', { name: /^Restore the backup of guest 105 of / }).waitFor();
    await backupRow.getByRole('button', { name: /^Run guest 105 from its backup of / }).waitFor();
    await backupRow.getByRole('link', { name: /^Details of the backup of guest 105 of / }).click();
    await page.getByRole('heading', { name: 'Backup log' }).waitFor();
    assert.match(await page.getByRole('log').innerText(), 'copy done in');
    assert.match(await page.locator('.props').innerText(), 'nightly-ui');
  } finally {
    await closePage(page);
  }
});

B('should show a failed backup in red until it is acknowledged', async () => {
  let page: Page | undefined;
  try {
    assert.is((await fx.admin.post('/api/storage', { name: 'usbgone', type: 'device', label: 'RAMVMNOUI1' })).status, 201);
    const r = await fx.admin.post('/api/backup/run', { vmid: 105, storage: 'usbgone' });
    assert.is((await waitTask(fx.admin, r.json.data.task)).status, 'failed');
    page = await openPage(browser, fx.node, { hash: '#/backups' });
    await login(page, 'admin', fx.node.adminPassword);
    const alert = page.getByRole('alert').filter({ hasText: 'Backup failures' });
    await alert.waitFor();
    assert.match(await alert.innerText(), 'no device with filesystem label RAMVMNOUI1 is connected');
    assert.is(await alert.evaluate((el) => getComputedStyle(el).backgroundColor), await page.evaluate(() => {
      const probe = document.createElement('div');
      probe.className = 'banner banner-error';
      document.body.append(probe);
      const c = getComputedStyle(probe).backgroundColor;
      probe.remove();
      return c;
    }), 'styled as an error banner');
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'backups.png'), fullPage: true });
    await alert.getByRole('button', { name: 'Acknowledge' }).click();
    await alert.waitFor({ state: 'detached' });
    assert.equal((await fx.admin.get('/api/backup/alerts')).json.data, []);
  } finally {
    await closePage(page);
  }
});
B('should offer the guests the user may back up, with a mode select that shows its whole choice', async () => {
  let page: Page | undefined;
  try {
    assert.is((await fx.admin.post('/api/vm', { vmid: 106, name: 'not-mine', memory: 16, disks: [{ size: '1M' }], nics: [] })).status, 201);
    assert.is((await fx.admin.post('/api/access/users', { username: 'bert', password: 'bert-password' })).status, 201);
    assert.is((await fx.admin.put('/api/access/acl', { path: '/vms/105', user: 'bert', role: 'VMAdmin' })).status, 200);
    page = await openPage(browser, fx.node, { hash: '#/backups', viewport: { width: 1280, height: 800 } });
    await login(page, 'bert', 'bert-password');
    const now = page.locator('section', { has: page.getByRole('heading', { name: 'Back up now' }) });
    const guest = now.getByLabel('Guest');
    await guest.locator('option', { hasText: '105 bk105' }).waitFor({ state: 'attached' });
    assert.equal(await guest.locator('option').allTextContents(), ['105 bk105'], 'not guest 106, which bert may not back up');
    assert.is(await guest.inputValue(), '105');
    // The select is at least as wide as its chosen text (plus room for its arrow).
    const mode = now.getByLabel('Mode');
    const fits = await mode.evaluate((sel: HTMLSelectElement) => {
      const probe = document.createElement('span');
      probe.style.font = getComputedStyle(sel).font;
      probe.style.whiteSpace = 'pre';
      probe.textContent = sel.options[sel.selectedIndex]!.text;
      document.body.append(probe);
      const need = probe.getBoundingClientRect().width;
      probe.remove();
      return { need, have: sel.clientWidth };
    });
    assert.ok(fits.have >= fits.need + 16, `"Snapshot (live, no downtime)" needs ${fits.need} px, the select has ${fits.have}`);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'backups-now-1280x800.png') });
    await now.getByRole('button', { name: 'Start backup' }).click();
    const started = now.getByRole('status').filter({ hasText: 'Backup started:' });
    await started.waitFor();
    const task = /: (\S+)$/.exec(await started.innerText())![1]!;
    assert.is((await waitTask(fx.admin, task)).status, 'ok');
  } finally {
    await closePage(page);
    await fx.admin.del('/api/vm/106');
  }
});

B('should show a scheduler that stopped as an alert that cannot be acknowledged, and on the jobs page', async () => {
  let page: Page | undefined;
  const jobsFile = join(fx.root, 'etc/ramvm/backup/jobs.json');
  try {
    // A job that has waited ten minutes on a node whose scheduler never ran (a test node has no cron).
    const jobs = JSON.parse(readFileSync(jobsFile, 'utf8'));
    jobs.jobs['nightly-ui'].created = Date.now() - 10 * 60_000;
    writeFileSync(jobsFile, JSON.stringify(jobs));
    page = await openPage(browser, fx.node, { hash: '#/backups' });
    await login(page, 'admin', fx.node.adminPassword);
    const alert = page.getByRole('alert').filter({ hasText: 'Backup failures' });
    await alert.waitFor();
    const item = alert.locator('li', { hasText: 'no scheduled backup starts' });
    assert.match(await item.innerText(), 'the backup scheduler of node testnode has never run: 1 job (nightly-ui) cannot start');
    assert.match(await item.innerText(), 'This alert ends by itself once the scheduler runs again.');
    assert.is(await item.getByRole('button', { name: 'Acknowledge' }).count(), 0);
    await alert.getByRole('link', { name: 'Backup jobs' }).click();
    const card = page.locator('section', { has: page.getByRole('heading', { name: 'Backup scheduler of testnode' }) });
    assert.match(await card.innerText(), 'STOPPED');
    assert.match(await card.innerText(), 'Last run\nnever');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'backup-scheduler-stopped.png'), fullPage: true });
    // A tick, as cron runs it: the scheduler runs, the alert is gone.
    const tick = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'backup', 'tick'], { env: fx.node.env, encoding: 'utf8' });
    assert.is(tick.status, 0, tick.stderr);
    await page.reload();
    await card.getByText('Runs', { exact: true }).waitFor();
    assert.match(await card.innerText(), /Last run\n.*, by cron/);
  } finally {
    await closePage(page);
  }
});
B.run();
