/**
 * The console and the monitor in real Chromium against a real node and a
 * real QEMU guest (TCG here, KVM where /dev/kvm works), started the way a
 * node starts one: VNC on the unix socket in the node's run dir, a guest
 * config file. The real noVNC draws the guest's screen (SeaBIOS text) into
 * the canvas; Ctrl+Alt+Del from the toolbar travels browser → websocket →
 * console.cgi → QEMU's VNC → the guest's keyboard, and SeaBIOS resets the
 * machine: a QMP socket of the test's own sees the RESET event. The
 * monitor's `info status` prints "VM status: running". A stopped guest is
 * explained, and the console connects by itself when it starts.
 * Screenshots at the kiosk size and at phone width go to .tmp/screenshots/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { startTestNode, type TestNode } from '../helpers/node';
import { closeBrowser, closePage, KIOSK_VIEWPORT, launchBrowser, login, openPage, PHONE_VIEWPORT, SCREENSHOT_DIR, WAIT_MS } from '../helpers/browser';
import { addUser, writeGuestConfig } from '../integration/console-helpers';
import { pathsFor } from '../../node-cgi/lib/paths';

interface Guest {
  vmid: number;
  pid: number;
  /** The test's own QMP socket, for watching events. */
  events: string;
  stop(): void;
}

/**
 * A guest with no disk (SeaBIOS ends at "No bootable device." and keeps
 * serving its keyboard), its VNC and QMP sockets where the node looks,
 * plus a QMP socket in `dir` for the test.
 */
function startGuest(root: string, vmid: number, dir: string): Guest {
  const run = pathsFor(root).qemuRun;
  mkdirSync(run, { recursive: true });
  writeGuestConfig(root, vmid);
  const f = (ext: string) => join(run, `${vmid}.${ext}`);
  const events = join(dir, `${vmid}.events.qmp`);
  const argv = [
    '-name', `ramvm-test-${vmid}`, '-accel', existsSync('/dev/kvm') ? 'kvm' : 'tcg', '-m', '32', '-nodefaults', '-vga', 'std', '-display', 'none',
    '-vnc', `unix:${f('vnc')}`,
    '-qmp', `unix:${f('qmp')},server=on,wait=off`,
    '-qmp', `unix:${f('status.qmp')},server=on,wait=off`,
    '-qmp', `unix:${events},server=on,wait=off`,
    '-daemonize', '-pidfile', f('pid'),
  ];
  const r = spawnSync('qemu-system-x86_64', argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qemu failed: ${r.stderr}`);
  const pid = Number(readFileSync(f('pid'), 'utf8').trim());
  return {
    vmid,
    pid,
    events,
    stop() {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`ramvm-test-${vmid}`)) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
      for (const ext of ['vnc', 'qmp', 'status.qmp', 'pid']) rmSync(f(ext), { force: true });
      rmSync(events, { force: true });
    },
  };
}

/** QMP events of a guest, as they arrive. */
class QmpEvents {
  private buf = '';
  readonly names: string[] = [];
  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let i; (i = this.buf.indexOf('\n')) >= 0; ) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const msg = JSON.parse(line) as { event?: string };
        if (msg.event) this.names.push(msg.event);
      }
    });
  }
  static open(path: string): Promise<QmpEvents> {
    return new Promise((res, rej) => {
      const s = connect(path, () => {
        s.write('{"execute":"qmp_capabilities"}\n');
        res(new QmpEvents(s));
      });
      s.on('error', rej);
    });
  }
  async waitFor(name: string, timeoutMs = WAIT_MS): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.names.includes(name)) {
      if (Date.now() > end) throw new Error(`no ${name} event within ${timeoutMs} ms (saw ${this.names.join(', ') || 'none'})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  close(): void {
    this.sock.destroy();
  }
}

interface Ctx {
  node?: TestNode;
  browser?: Browser;
  dir?: string;
  guests: Guest[];
}

const test = suite<Ctx>('console and monitor in Chromium', { guests: [] });

test.before(async (ctx) => {
  ctx.node = await startTestNode();
  ctx.browser = await launchBrowser();
  ctx.dir = mkdtempSync(join(tmpdir(), 'ramvm-console-browser-'));
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  ctx.guests.push(startGuest(ctx.node.root, 101, ctx.dir));
  addUser(ctx.node.root, 'viewer', 'viewer-pw-1', 'VMUser', '/vms/101');
});

test.after(async (ctx) => {
  for (const g of ctx.guests) g.stop();
  await closeBrowser(ctx.browser);
  await ctx.node?.stop();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

async function openConsole(browser: Browser, node: TestNode, vmid: number, opts: { user?: [string, string]; viewport?: { width: number; height: number } } = {}): Promise<Page> {
  const page = await openPage(browser, node, { viewport: opts.viewport ?? KIOSK_VIEWPORT, hash: `#/console/${vmid}` });
  const [u, p] = opts.user ?? ['admin', node.adminPassword];
  await login(page, u, p);
  await page.getByRole('heading', { name: `Console of guest ${vmid}` }).waitFor();
  return page;
}

/** Pixels of the console's canvas that are not black, and its drawn and shown widths. */
function readCanvas(page: Page): Promise<{ lit: number; width: number; shownWidth: number }> {
  return page.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('.console-screen canvas')!;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i]! + d[i + 1]! + d[i + 2]! > 0) lit++;
    return { lit, width: c.width, shownWidth: c.getBoundingClientRect().width };
  });
}

const badge = (page: Page) => page.locator('.console-toolbar .badge');

test('should show the guest screen, reset the guest with Ctrl+Alt+Del, and run info status in the monitor', async ({ node, browser, guests }) => {
  const events = await QmpEvents.open(guests[0]!.events);
  const page = await openConsole(browser!, node!, 101);
  try {
    await badge(page).filter({ hasText: 'Connected' }).waitFor();
    // The SeaBIOS text screen arrives: the canvas is 720×400 and has lit pixels. On a loaded machine
    // QEMU's own 640×480 "not initialized" notice may come first.
    let shot = await readCanvas(page);
    for (let i = 0; i < 300 && (shot.lit === 0 || shot.width !== 720); i++) {
      await page.waitForTimeout(100);
      shot = await readCanvas(page);
    }
    assert.is(shot.width, 720, 'the VGA text screen');
    assert.ok(shot.lit > 500, `the canvas shows the guest's text (${shot.lit} lit pixels)`);
    assert.ok(await page.locator('.console-screen canvas').evaluate((c) => c === document.activeElement), 'in its own window the screen has the focus');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-1024.png') });

    assert.not.ok(events.names.includes('RESET'));
    await page.getByRole('button', { name: 'Send Ctrl+Alt+Del' }).click();
    await events.waitFor('RESET');
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
  } finally {
    events.close();
    await closePage(page);
  }
});

test('should open the console for a user without VM.Monitor, without the monitor', async ({ node, browser }) => {
  const page = await openConsole(browser!, node!, 101, { user: ['viewer', 'viewer-pw-1'] });
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

test('should explain a stopped guest, connect when it starts, and say when it stops', async ({ node, browser, guests, dir }) => {
  writeGuestConfig(node!.root, 102);
  const page = await openConsole(browser!, node!, 102);
  try {
    const message = page.locator('.console-message');
    await message.getByText('Guest 102 is not running.').waitFor();
    assert.match(await message.innerText(), 'The console connects by itself once the guest runs.');
    assert.is(await badge(page).innerText(), 'Not running');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-not-running-1024.png') });

    const g = startGuest(node!.root, 102, dir!);
    guests.push(g);
    await badge(page).filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });

    g.stop();
    await message.getByText('Guest 102 is not running.').waitFor();
    assert.match(await message.innerText(), 'Last connection: The connection was closed. the guest display closed (guest stopped?) (code 1000)');
  } finally {
    await closePage(page);
  }
});

test('should show the console and the monitor on a phone', async ({ node, browser }) => {
  const page = await openConsole(browser!, node!, 101, { viewport: PHONE_VIEWPORT });
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
