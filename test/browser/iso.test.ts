/**
 * The ISO images view in real Chromium against a real node: upload a small
 * image with the file picker (the browser's upload slowed down through the
 * DevTools protocol, so the progress bar is seen while bytes flow), find
 * it in the list with the checksum the node computed, delete it; cancel an
 * upload midway and find nothing stored; the node's refusals (checksum,
 * image in use) in plain words. Screenshots at the kiosk size and at phone
 * width go to .tmp/screenshots/.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { asNodeOwner, startTestNode, type TestNode } from '../helpers/node';
import { closeBrowser, closePage, KIOSK_VIEWPORT, launchBrowser, login, openPage, PHONE_VIEWPORT, SCREENSHOT_DIR } from '../helpers/browser';
import { pathsFor } from '../../node-cgi/lib/paths';
import { writeJsonAtomic } from '../../node-cgi/lib/store';

interface Ctx {
  node?: TestNode;
  browser?: Browser;
  dir?: string;
}

const test = suite<Ctx>('ISO images in Chromium', {});

/** The browser's upload speed while a test watches progress: 8 MiB take ~4 s. */
const SLOW_UPLOAD_BYTES_PER_S = 2 * 1024 * 1024;

test.before(async (ctx) => {
  ctx.node = await startTestNode();
  ctx.browser = await launchBrowser();
  ctx.dir = mkdtempSync(join(tmpdir(), 'ramvm-iso-browser-'));
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
});

test.after(async (ctx) => {
  await closeBrowser(ctx.browser);
  await ctx.node?.stop();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

/** A file of random bytes in the test's folder; returns its path and SHA-256. */
function makeFile(dir: string, name: string, bytes: number): { path: string; sha256: string } {
  const data = randomBytes(bytes);
  const path = join(dir, name);
  writeFileSync(path, data);
  return { path, sha256: createHash('sha256').update(data).digest('hex') };
}

/** Slow the page's uploads down (DevTools network emulation). */
async function slowUploads(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: SLOW_UPLOAD_BYTES_PER_S,
  });
}

/** Files in the node's ISO library, hidden ones (partials, sidecars) included. */
const libraryFiles = (node: TestNode): string[] => (existsSync(pathsFor(node.root).iso) ? readdirSync(pathsFor(node.root).iso).sort() : []);

async function openIso(browser: Browser, node: TestNode, viewport = KIOSK_VIEWPORT): Promise<Page> {
  const page = await openPage(browser, node, { viewport, hash: '#/iso' });
  await login(page, 'admin', node.adminPassword);
  await page.getByRole('heading', { name: 'ISO images', level: 1 }).waitFor();
  await page.getByRole('heading', { name: 'Images on this node' }).waitFor();
  return page;
}

/** No horizontal scroll bar on the page. */
const fitsWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

test('should upload with the file picker, show progress, list the image with its checksum, and delete it', async ({ node, browser, dir }) => {
  const file = makeFile(dir!, 'Small Test (v1).iso', 8 * 1024 * 1024);
  const page = await openIso(browser!, node!);
  try {
    await page.getByText('No ISO images yet.').waitFor();
    await slowUploads(page);
    await page.getByLabel('Image file').setInputFiles(file.path);
    assert.is(await page.getByLabel('Name on the node').inputValue(), 'Small-Test-v1.iso', 'a valid name is suggested');
    await page.getByLabel('Expected SHA-256 (optional)').fill(file.sha256);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();

    // While bytes flow: a progress bar with a number, bytes, rate and time left.
    const bar = page.getByRole('progressbar', { name: 'Upload of Small-Test-v1.iso' });
    await bar.waitFor();
    await page.locator('.upload-figures', { hasText: 'MiB/s' }).waitFor();
    const figures = await page.locator('.upload-figures').innerText();
    assert.match(figures, /^[\d.,]+ (KiB|MiB) of 8 MiB · [\d.,]+ (KiB|MiB)\/s · .* left$/, figures);
    const now = Number(await bar.getAttribute('aria-valuenow'));
    assert.ok(now >= 0 && now < 100, `progress ${now} %`);
    assert.ok(await page.getByRole('button', { name: 'Cancel upload' }).isVisible());
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'iso-uploading-1024.png') });

    // Done: the message, then the image in the list with the node's checksum.
    await page.getByText('Small-Test-v1.iso was uploaded.').waitFor({ timeout: 30_000 });
    const row = page.locator('tbody tr', { hasText: 'Small-Test-v1.iso' });
    await row.waitFor();
    assert.is(await row.locator('td[data-label="Size"]').innerText(), '8 MiB');
    assert.is(await row.locator('td[data-label="SHA-256"] code').innerText(), `${file.sha256.slice(0, 12)}…`);
    assert.is(await row.locator('td[data-label="SHA-256"] code').getAttribute('title'), file.sha256);
    assert.match(await row.locator('td[data-label="Uploaded"]').innerText(), 'by admin');
    assert.equal(libraryFiles(node!), ['.Small-Test-v1.iso.meta.json', 'Small-Test-v1.iso']);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'iso-list-1024.png'), fullPage: true });

    // Delete: the dialog asks, the image goes.
    await row.getByRole('button', { name: 'Delete Small-Test-v1.iso' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Delete Small-Test-v1.iso?' });
    await dialog.waitFor();
    assert.ok(await dialog.getByRole('button', { name: 'Cancel' }).evaluate((b) => b === document.activeElement), 'Cancel has the focus');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'iso-delete-1024.png') });
    await dialog.getByRole('button', { name: 'Delete image' }).click();
    await page.getByText('Small-Test-v1.iso was deleted.').waitFor();
    await row.waitFor({ state: 'detached' });
    assert.equal(libraryFiles(node!), []);
  } finally {
    await closePage(page);
  }
});

test('should cancel an upload midway and store nothing', async ({ node, browser, dir }) => {
  const file = makeFile(dir!, 'cancel-me.iso', 16 * 1024 * 1024);
  const page = await openIso(browser!, node!);
  try {
    await slowUploads(page);
    await page.getByLabel('Image file').setInputFiles(file.path);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.locator('.upload-figures', { hasText: 'MiB/s' }).waitFor();
    await page.getByRole('button', { name: 'Cancel upload' }).click();
    await page.getByText('The upload of cancel-me.iso was cancelled. Nothing was stored.').waitFor();
    assert.is(await page.locator('tbody tr', { hasText: 'cancel-me.iso' }).count(), 0);
    // The node removes its partial file once it sees the request end.
    for (let i = 0; i < 100 && libraryFiles(node!).length > 0; i++) await page.waitForTimeout(100);
    assert.equal(libraryFiles(node!), [], 'no image and no partial file');
  } finally {
    await closePage(page);
  }
});

test('should explain a checksum mismatch, an image in use and a refused delete in plain words', async ({ node, browser, dir }) => {
  const a = makeFile(dir!, 'cd.iso', 256 * 1024);
  const page = await openIso(browser!, node!);
  try {
    // Expected checksum of another file: refused, nothing stored.
    await page.getByLabel('Image file').setInputFiles(a.path);
    await page.getByLabel('Expected SHA-256 (optional)').fill('0'.repeat(64));
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const alert = page.locator('.upload-result [role="alert"]');
    await alert.waitFor();
    assert.match(await alert.innerText(), 'The file does not match the expected SHA-256: it is damaged or another file. Nothing was stored.');
    assert.match(await alert.innerText(), `not the expected ${'0'.repeat(64)}`);
    assert.equal(libraryFiles(node!), []);
    await alert.getByRole('button', { name: 'Dismiss' }).click();

    // A good upload, then a guest whose CD-ROM it is.
    await page.getByLabel('Image file').setInputFiles(a.path);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByText('cd.iso was uploaded.').waitFor();
    // Written as the node's user would write it (a separated node's configs are ramvm's).
    asNodeOwner(node!.root, () => writeJsonAtomic(join(pathsFor(node!.root).vms, '131.json'), { vmid: 131, name: 'installer', memory: 64, cdrom: 'cd.iso' }));
    await page.reload();
    const row = page.locator('tbody tr', { hasText: 'cd.iso' });
    await row.waitFor();
    const link = row.getByRole('link', { name: '131 (installer)' });
    assert.is(await link.getAttribute('href'), '#/guests/131');

    // Replacing it is refused by the node while the body is still on its way.
    await page.getByLabel('Image file').setInputFiles(a.path);
    await page.getByLabel('Replace an image of the same name').check();
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await alert.waitFor();
    assert.match(await alert.innerText(), 'The image of this name is a guest’s CD-ROM and cannot be replaced now.');
    assert.match(await alert.innerText(), 'guest 131');

    // So is deleting it: the dialog stays open with the reason.
    await row.getByRole('button', { name: 'Delete cd.iso' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Delete cd.iso?' });
    assert.match(await dialog.innerText(), 'This image is the CD-ROM of guest 131.');
    await dialog.getByRole('button', { name: 'Delete image' }).click();
    const refusal = dialog.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), 'Not possible in the current state.');
    assert.match(await refusal.innerText(), 'cd.iso is the CD-ROM of guest 131');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'iso-delete-refused-1024.png') });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.ok(libraryFiles(node!).includes('cd.iso'), 'still there');
  } finally {
    await closePage(page);
  }
});

test('should take a file dropped on the upload box', async ({ node, browser }) => {
  const page = await openIso(browser!, node!);
  try {
    const zone = page.locator('.dropzone');
    const drop = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(4096)], 'dropped disk.img'));
      return dt;
    });
    await zone.dispatchEvent('dragenter', { dataTransfer: drop });
    assert.match((await zone.getAttribute('class')) ?? '', 'dropzone-over', 'the box shows it takes the file');
    await zone.dispatchEvent('drop', { dataTransfer: drop });
    assert.is(await page.getByLabel('Name on the node').inputValue(), 'dropped-disk.img');
    assert.is(await page.locator('#iso-file-hint').innerText(), 'dropped disk.img, 4 KiB');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByText('dropped-disk.img was uploaded.').waitFor();
    await page.locator('tbody tr', { hasText: 'dropped-disk.img' }).waitFor();
  } finally {
    await closePage(page);
  }
});

test('should fit a phone screen, in German', async ({ node, browser }) => {
  const api = await node!.login('admin', node!.adminPassword);
  const put = await api.request('PUT', '/api/iso/debian-12.4.0-amd64-netinst.iso', { body: new Uint8Array(64 * 1024) });
  assert.is(put.status, 201);
  const page = await openPage(browser!, node!, { viewport: PHONE_VIEWPORT, locale: 'de-DE', hash: '#/iso' });
  try {
    await login(page, 'admin', node!.adminPassword);
    await page.getByRole('heading', { name: 'ISO-Images', level: 1 }).waitFor();
    await page.locator('tbody tr').first().waitFor();
    assert.ok(await fitsWidth(page), 'no sideways scrolling');
    assert.ok(await page.getByLabel('Image-Datei').isVisible());
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'iso-390.png'), fullPage: true });
  } finally {
    await closePage(page);
  }
});

test.run();
