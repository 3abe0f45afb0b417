/**
 * The console and the monitor in real Chromium against a real node and a
 * guest the node made and started (POST /api/vm, /start; TCG or KVM as the
 * node chooses). The guest boots the test boot sector, which prints its
 * marker on COM1 at every boot; SeaBIOS's text is on the VGA screen. The
 * real noVNC draws that screen into the canvas; Ctrl+Alt+Del from the
 * toolbar travels browser → websocket → console.cgi → QEMU's VNC → the
 * guest's keyboard, and SeaBIOS resets the machine: the marker comes again.
 * The monitor's `info status` prints "VM status: running". A stopped guest
 * is explained, and the console connects by itself when it starts.
 * Screenshots at the kiosk size and at phone width go to .tmp/screenshots/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { useNode } from '../helpers/fixture';
import { GUEST_MARKER, installBootSector, waitFor } from '../helpers/guest';
import type { TestNode } from '../helpers/node';
import { closeBrowser, closePage, cspViolations, KIOSK_VIEWPORT, launchBrowser, login, openPage, PHONE_VIEWPORT, SCREENSHOT_DIR, WAIT_MS } from '../helpers/browser';
import { addUser, consoleGuest, SEABIOS_TEXT_SCREEN } from '../integration/console-helpers';

interface Ctx {
  browser?: Browser;
}

const test = suite<Ctx>('console and monitor in Chromium', {});
const fx = useNode(test);

/** Boots of guest `vmid` so far: its marker on COM1, once per boot. */
const boots = (vmid: number) => readFileSync(fx.runFile(vmid, 'serial.log'), 'latin1').split(GUEST_MARKER).length - 1;

test.before(async (ctx) => {
  ctx.browser = await launchBrowser();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const cfg = await fx.createGuest({ ...consoleGuest(101), disks: [{ size: '1M', format: 'raw', bus: 'ide' }] });
  installBootSector(fx.imageFile(101, cfg.disks[0]!.file), 'raw');
  await fx.startGuest(101, { marker: GUEST_MARKER });
  addUser(fx.root, 'viewer', 'viewer-pw-1', 'VMUser', '/vms/101');
});

test.after(async (ctx) => {
  await closeBrowser(ctx.browser);
});

async function openConsole(browser: Browser, node: TestNode, vmid: number, opts: { user?: [string, string]; viewport?: { width: number; height: number } } = {}): Promise<Page> {
  const page = await openPage(browser, node, { viewport: opts.viewport ?? KIOSK_VIEWPORT, hash: `#/console/${vmid}` });
  const [u, p] = opts.user ?? ['admin', node.adminPassword];
  await login(page, u, p);
  await page.getByRole('heading', { name: `Console of guest ${vmid}` }).waitFor();
  return page;
}

/** Pixels of the console's canvas that are not black, its drawn size and shown width. */
function readCanvas(page: Page): Promise<{ lit: number; width: number; height: number; shownWidth: number }> {
  return page.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('.console-screen canvas')!;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i]! + d[i + 1]! + d[i + 2]! > 0) lit++;
    return { lit, width: c.width, height: c.height, shownWidth: c.getBoundingClientRect().width };
  });
}

const badge = (page: Page) => page.locator('.console-toolbar .badge');

test('should fill the kiosk\'s whole screen with the guest\'s picture alone, scaled to it', async ({ browser }) => {
  const page = await openPage(browser!, fx.node, { viewport: KIOSK_VIEWPORT, hash: '?kiosk#/console/101' });
  try {
    await login(page, 'admin', fx.node.adminPassword);
    // The toolbar lies under the picture in kiosk mode, but its badge still says when the screen is connected.
    await badge(page).filter({ hasText: 'Connected' }).waitFor();
    const shot = await waitFor('the VGA text screen in the canvas', async () => {
      const c = await readCanvas(page);
      return c.width === SEABIOS_TEXT_SCREEN.width && c.lit > 0 ? c : null;
    }, WAIT_MS, 100);
    const stage = await page.locator('.console-stage').boundingBox();
    assert.equal(stage, { x: 0, y: 0, width: KIOSK_VIEWPORT.width, height: KIOSK_VIEWPORT.height }, 'the stage is the whole screen');
    // 720×400 scaled into 1024×768 keeps its aspect: as wide as the screen.
    assert.is(Math.round(shot.shownWidth), KIOSK_VIEWPORT.width);
    const onTop = await page.evaluate(() => document.elementFromPoint(innerWidth / 2, innerHeight / 2)?.tagName);
    assert.is(onTop, 'CANVAS', 'nothing of the page lies over the picture');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-kiosk.png') });
  } finally {
    await closePage(page);
  }
});

test('should show the guest screen, reset the guest with Ctrl+Alt+Del, and run info status in the monitor', async ({ browser }) => {
  const page = await openConsole(browser!, fx.node, 101);
  try {
    await badge(page).filter({ hasText: 'Connected' }).waitFor();
    // SeaBIOS's text screen arrives. Before SeaBIOS sets its mode QEMU shows its own 640×480
    // screen (not blank): wait for the mode, which noVNC follows by resizing the canvas.
    const shot = await waitFor('the VGA text screen in the canvas', async () => {
      const c = await readCanvas(page);
      return c.width === SEABIOS_TEXT_SCREEN.width && c.lit > 0 ? c : null;
    }, WAIT_MS, 100);
    assert.is(shot.height, SEABIOS_TEXT_SCREEN.height);
    assert.ok(shot.lit > 500, `the canvas shows the guest's text (${shot.lit} lit pixels)`);
    assert.ok(await page.locator('.console-screen canvas').evaluate((c) => c === document.activeElement), 'in its own window the screen has the focus');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-1024.png') });

    assert.is(boots(101), 1);
    await page.getByRole('button', { name: 'Send Ctrl+Alt+Del' }).click();
    await waitFor('the guest to boot again after Ctrl+Alt+Del', () => boots(101) === 2, WAIT_MS);
    await page.waitForTimeout(500);
    assert.is(await badge(page).innerText(), 'Connected', 'the console stays up through the reset');

    // Fit to window scales the 720 px screen up to the stage; 1:1 shows it as it is.
    const fit = page.getByRole('button', { name: 'Fit to window' });
    assert.is(await fit.getAttribute('aria-pressed'), 'true');
    assert.ok((await readCanvas(page)).shownWidth > 800, 'scaled to the window');
    await fit.click();
    assert.is(await fit.getAttribute('aria-pressed'), 'false');
    await page.waitForFunction(() => document.querySelector('.console-screen canvas')!.getBoundingClientRect().width === 720);
    await fit.click();

    // Full screen: the console (toolbar and screen) fills the display, and comes back.
    const full = page.getByRole('button', { name: 'Full screen' });
    await full.click();
    await page.waitForFunction(() => document.fullscreenElement?.classList.contains('console') === true);
    await page.locator('.console-toolbar button[aria-pressed="true"]', { hasText: 'Full screen' }).waitFor();
    await full.click();
    await page.waitForFunction(() => document.fullscreenElement === null);
    await page.locator('.console-toolbar button[aria-pressed="false"]', { hasText: 'Full screen' }).waitFor();

    // Ctrl+Alt+Shift in the screen gives the focus to the toolbar.
    await page.locator('.console-screen canvas').focus();
    await page.keyboard.down('Control');
    await page.keyboard.down('Alt');
    await page.keyboard.down('Shift');
    await page.keyboard.up('Shift');
    await page.keyboard.up('Alt');
    await page.keyboard.up('Control');
    assert.ok(await page.getByRole('button', { name: 'Send Ctrl+Alt+Del' }).evaluate((b) => b === document.activeElement), 'focus on the first toolbar button');

    // The monitor.
    const input = page.getByLabel('Monitor command');
    await input.fill('info status');
    await input.press('Enter');
    const out = page.getByRole('log', { name: 'Monitor output' });
    await out.getByText('VM status: running').waitFor();
    assert.equal((await out.innerText()).split('\n').filter(Boolean), ['(qemu) info status', 'VM status: running']);
    await input.press('ArrowUp');
    assert.is(await input.inputValue(), 'info status', 'Up recalls the command');
    const selected = await out.evaluate((el) => {
      const r = document.createRange();
      r.selectNodeContents(el);
      getSelection()!.removeAllRanges();
      getSelection()!.addRange(r);
      return getSelection()!.toString();
    });
    assert.match(selected, 'VM status: running', 'the output is selectable text');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-monitor-1024.png'), fullPage: true });
    assert.equal(await cspViolations(page), [], "the page's Content-Security-Policy refused nothing the app and noVNC use");
  } finally {
    await closePage(page);
  }
});

test('should open the console for a user without VM.Monitor, without the monitor', async ({ browser }) => {
  const page = await openConsole(browser!, fx.node, 101, { user: ['viewer', 'viewer-pw-1'] });
  try {
    await badge(page).filter({ hasText: 'Connected' }).waitFor();
    assert.is(await page.getByLabel('Monitor command').count(), 0);
    const status = await page.evaluate(() =>
      fetch('/api/monitor/101', { method: 'POST', headers: { 'content-type': 'application/json', 'X-Ramvm-CSRF': JSON.parse(sessionStorage.getItem('ramvm.session')!).csrf }, body: '{"command":"info status"}' }).then((r) => r.status),
    );
    assert.is(status, 403, 'and the node refuses it too');
  } finally {
    await closePage(page);
  }
});

test('should explain a stopped guest, connect when it starts, and say when it stops', async ({ browser }) => {
  await fx.createGuest(consoleGuest(102));
  const page = await openConsole(browser!, fx.node, 102);
  try {
    const message = page.locator('.console-message');
    await message.getByText('Guest 102 is not running.').waitFor();
    assert.match(await message.innerText(), 'The console connects by itself once the guest runs.');
    assert.is(await badge(page).innerText(), 'Not running');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-not-running-1024.png') });

    await fx.startGuest(102);
    await badge(page).filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });

    await fx.stopGuest(102);
    await message.getByText('Guest 102 is not running.').waitFor();
    assert.match(await message.innerText(), 'Last connection: The connection was closed. the guest display closed (guest stopped?) (code 1000)');
  } finally {
    await closePage(page);
  }
});

test('should show the console and the monitor on a phone', async ({ browser }) => {
  const page = await openConsole(browser!, fx.node, 101, { viewport: PHONE_VIEWPORT });
  try {
    await badge(page).filter({ hasText: 'Connected' }).waitFor();
    await page.waitForFunction(() => {
      const c = document.querySelector<HTMLCanvasElement>('.console-screen canvas');
      return !!c && c.getBoundingClientRect().width > 0 && c.getBoundingClientRect().width <= 390;
    });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-390.png'), fullPage: true });
  } finally {
    await closePage(page);
  }
});

test.run();
