/**
 * The kiosk variant, booted for real under the lab's accelerator with QEMU's
 * standard VGA at 1024×768: the node serves HTTPS with the certificate it
 * made on first boot, weston (root) and cog (the kiosk user) draw the web
 * UI on its own screen, and a person at that screen gets by with the
 * keyboard alone. The test looks as that person would (QEMU's VNC socket; the
 * web app's kiosk marker says which page is drawn) and types on the node's
 * keyboard (QMP send-key):
 *
 *   login page → log in → guest list → a guest's page → its console in the
 *   whole window → a key paints the guest's screen red → Ctrl+Alt+Shift back
 *   to the guest's page → Ctrl+Alt+F1 text console → Alt+F7 back: a new
 *   login page → black after ramvm.blank= seconds → a key wakes it and
 *   does nothing else
 *
 * The marker alone would not show that the page is drawn right, so the
 * login page and the guest list must also look like Chromium's rendering of
 * the same node's same page at the same size (build/lab/screen.ts
 * screenLikeness: the same text, fields and colours in the same places).
 *
 * The guest is a boot sector that paints its text screen in the colour of
 * each key (test/helpers/guest.ts keyColourSector). Screenshots (PNG) stay
 * in var/kiosk-screens/ for a person to look at, beside Chromium's
 * (reference-*.png).
 *
 * A second node without a screen, booted from a copy of the first one's
 * data disk while the first one's screen waits to go black, says in
 * /ram.log that there is no KMS device, and serves the web UI all the same.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../build/build';
import { buildImage, type ImageBuild } from '../../build/image/image';
import { KIOSK_BUDGET } from '../../build/image/layout';
import { acquireLabLock, type LabLock } from '../../build/lab/lock';
import { NodeVm, ensureSparseDisk, labAccel, type Accel } from '../../build/lab/node-vm';
import { crop, parsePng, readMarker, screenLikeness, shareNear, typeKeys, type Ppm } from '../../build/lab/screen';
import type { KioskState } from '../../web/kiosk';
import { KIOSK_VIEWPORT, closeBrowser, launchBrowser, login as browserLogin } from '../helpers/browser';
import type { Browser } from 'playwright-core';
import { encodePng } from '../../node-cgi/console/png';
import { keyColourSector } from '../helpers/guest';
import { vncScreen } from '../integration/console-helpers';
import { freePort } from '../helpers/node';

const SERVE_TIMEOUT_MS = 420_000;
/** The engine starts and draws under an emulated CPU with a software renderer: minutes, on a busy machine. */
const SCREEN_TIMEOUT_MS = 300_000;
/** A page after a key: the app asks the node, under an emulated CPU. */
const PAGE_TIMEOUT_MS = 180_000;
const PASSWORD = 'kiosk-test-pw';
/**
 * ramvm.blank= of the screen boot: long enough that no step of the test
 * pauses that long between two keys (46 s at most, measured: the guest's
 * page with its console connected), short enough to wait for.
 */
const BLANK_S = 90;
/**
 * Tab presses from the page (where the focus goes after a route change) to
 * the first guest's link on the guest list: "Create guest", the filter, the
 * seven sortable column headers, the link. Change it with the list.
 */
const TABS_TO_GUEST_LINK = 10;
/**
 * Tab presses from a running guest's page to its console's "Open in own
 * window": the link back to the guests, Shut down, Stop, Reset, Pause
 * (Delete is disabled while it runs), then the console's toolbar: Send
 * Ctrl+Alt+Del, More keys, Type text, Fit to window, Open in own window.
 * Change it with the page.
 */
const TABS_TO_OWN_WINDOW = 10;
/** The VGA red of the guest's text screen (attribute 0x40), as QEMU draws it. */
const GUEST_RED: [number, number, number] = [170, 0, 0];
export const SCREENS = join(ROOT, 'var/kiosk-screens');
/**
 * Least screenLikeness of the node's screen to Chromium's rendering of the
 * same page. Measured on these screens: the login page 0.88–1.00 like
 * Chromium's, every other screen (guest list, guest page, console, text
 * console, blank) 0.15 or less; the guest list's part 0.86 like Chromium's
 * list (WebKit had scrolled it by 47 pixels), 0.29 or less for a list still
 * loading, a guest page or a console.
 */
const LIKENESS_MIN = 0.7;
/** How far one engine may have scrolled a page against the other (a focused element brought into view), in pixels. */
const SCROLL_PX = 64;
/** The guest list's own part of the screen: right of the navigation, between the top bar and the task bar (the shell is on every page). */
const GUEST_LIST_AREA = { x: 208, y: 64, w: 816, h: 600 };

/** A JSON request to the node, trusting nothing but its own certificate (`ca`). */
function pinned(url: string, ca: string, method: string, body?: unknown, cookie?: string, csrf?: string): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({
      host: u.hostname, port: u.port, path: u.pathname, method, ca,
      headers: { ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}), ...(cookie ? { cookie } : {}), ...(csrf ? { 'x-ramvm-csrf': csrf } : {}) },
    }, (r) => {
      let text = '';
      r.on('data', (d) => (text += d));
      r.on('end', () => {
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        res({ status: r.statusCode!, json, headers: r.headers });
      });
    });
    req.on('error', rej);
    req.end(data);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The node's screen, over QEMU's VNC socket (console-helpers vncScreen). */
const screen = (vm: NodeVm): Promise<Ppm> => vncScreen(join(vm.config.runDir, 'vnc.sock'));

/** A screen as PNG in SCREENS, for a person to look at. */
const keep = (p: Ppm, name: string) => writeFileSync(join(SCREENS, `${name}.png`), encodePng({ width: p.width, height: p.height, channels: 3, data: p.rgb }));

/**
 * Screendumps until `ok` holds for the node's screen; keeps the last one as
 * <name>.png (<name>-timeout.png when it never did). Returns ms waited.
 */
async function waitFor(vm: NodeVm, what: string, ok: (p: Ppm) => boolean, name: string, timeoutMs: number, tick?: () => Promise<void>): Promise<number> {
  const t0 = Date.now();
  let last: KioskState | null = null;
  let shown: Ppm | undefined;
  while (Date.now() - t0 < timeoutMs) {
    await tick?.();
    const p = await screen(vm);
    shown = p;
    last = readMarker(p);
    if (ok(p)) {
      keep(p, name);
      // How long each screen took: the pauses between keys that ramvm.blank= must outlast.
      process.stderr.write(`kiosk test: ${name} on the screen after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      return Date.now() - t0;
    }
    await sleep(1000);
  }
  if (shown) keep(shown, `${name}-timeout`);
  throw new Error(`the node's screen did not show ${what} in ${timeoutMs / 1000} s (marker: ${last ?? 'none'}); see ${SCREENS}/${name}-timeout.png`);
}

/** Waits until the kiosk marker shows `want` (see waitFor). */
const waitScreen = (vm: NodeVm, want: KioskState, name: string, timeoutMs: number) =>
  waitFor(vm, want, (p) => readMarker(p) === want, name, timeoutMs);

let browser: Browser | undefined;

/**
 * The page as Chromium draws it from the same node at the kiosk's size (the
 * machine's one font family is the kiosk's, DejaVu: fonts-dejavu-core): the
 * login page, or after logging in, the guest list with `guest` in it. Kept
 * as reference-<name>.png.
 */
async function reference(vm: NodeVm, name: string, guest?: string): Promise<Ppm> {
  browser ??= await launchBrowser();
  const context = await browser.newContext({ viewport: KIOSK_VIEWPORT, locale: 'en-US', ignoreHTTPSErrors: true });
  try {
    context.setDefaultTimeout(PAGE_TIMEOUT_MS);
    const page = await context.newPage();
    await page.goto(`${vm.url}/?kiosk&blank=0`);
    await page.locator('main.login input[name="username"]').waitFor();
    if (guest !== undefined) {
      await browserLogin(page, 'admin', PASSWORD);
      await page.getByRole('link', { name: guest }).waitFor();
    }
    // What the kiosk shows a moment after the page is there: fonts loaded, focus moved, nothing left to animate.
    await page.evaluate(() => document.fonts.ready);
    await sleep(1000);
    const png = await page.screenshot({ type: 'png' });
    writeFileSync(join(SCREENS, `reference-${name}.png`), png);
    return parsePng(png);
  } finally {
    await context.close().catch(() => undefined);
  }
}

/** How alike a screen and a reference are: the whole screen, or only `area` of both. */
const likeness = (p: Ppm, ref: Ppm, area?: Parameters<typeof crop>[1]) =>
  area ? screenLikeness(crop(p, area), crop(ref, area), { scrollPx: SCROLL_PX }) : screenLikeness(p, ref, { scrollPx: SCROLL_PX });

/** Waits until the marker shows `want` and the screen (or its `area`) looks like Chromium's `ref`; logs how alike. */
async function waitLike(vm: NodeVm, want: KioskState, ref: Ppm, name: string, timeoutMs: number, area?: Parameters<typeof crop>[1]): Promise<Ppm> {
  let best = 0;
  let closest: Ppm | undefined;
  let shown: Ppm | undefined;
  try {
    await waitFor(vm, `${want}, drawn as Chromium draws it`, (p) => {
      if (readMarker(p) !== want) return false;
      const like = likeness(p, ref, area);
      if (like >= best) [best, closest] = [like, p];
      shown = p;
      return like >= LIKENESS_MIN;
    }, name, timeoutMs);
  } catch (e) {
    // The frame closest to Chromium's, for a person to compare with reference-<name>.png.
    if (closest) keep(closest, `${name}-closest`);
    throw e;
  } finally {
    process.stderr.write(`kiosk test: ${name}: likeness to Chromium's rendering ${best.toFixed(3)} (at least ${LIKENESS_MIN})\n`);
  }
  return shown!;
}

const tabs = (n: number) => Array.from({ length: n }, () => ['tab']);

const T = suite('kiosk image');
let image: ImageBuild;
let dir: string;
let lock: LabLock | undefined;
let accel: Accel;
const vms: NodeVm[] = [];

T.before(async () => {
  lock = await acquireLabLock({ what: 'the kiosk test', wait: true, onWait: (h) => process.stderr.write(`kiosk test: waiting for the lab lock (${h})\n`) });
  accel = (await labAccel()).accel;
  image = await buildImage({ iso: false, kiosk: true });
  dir = mkdtempSync(join(tmpdir(), 'ramvm-kiosk-test-'));
  ensureSparseDisk(join(dir, 'data.img'), 4);
  rmSync(SCREENS, { recursive: true, force: true });
  mkdirSync(SCREENS, { recursive: true });
});

T.after(async () => {
  await closeBrowser(browser).catch(() => undefined);
  await Promise.all(vms.map((v) => v.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
  lock?.release();
});

T('should build a kiosk initrd that begins with the standard initrd, byte for byte', () => {
  const std = readFileSync(image.initrd);
  const kiosk = readFileSync(image.kiosk!.initrd);
  assert.ok(kiosk.length > std.length + 30e6, 'the kiosk adds its engine');
  assert.ok(kiosk.subarray(0, std.length).equals(std), 'the standard node is inside, unchanged');
  assert.ok(statSync(image.kernel).size + kiosk.length <= KIOSK_BUDGET.limit);
  assert.match(image.kiosk!.report, /webkit\.sfs \(xz\)/);
});

let screenVm: NodeVm | undefined;

T('should boot with a screen, serve HTTPS with the certificate of its first boot and start weston as root, cog as the kiosk user', async () => {
  const vm = new NodeVm({
    name: 'kiosktest', index: 1, boot: { kernel: image.vmlinux, initrd: image.kiosk!.initrd, extraParams: [`ramvm.blank=${BLANK_S}`] },
    dataDisk: join(dir, 'data.img'), memoryMiB: 2048, cpus: 1, accel, webPort: await freePort(), adminPassword: PASSWORD, shell: true,
    runDir: join(dir, 'boot1'), vga: true,
  });
  vms.push(vm);
  screenVm = vm;
  vm.start();
  await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
  const log = (await vm.exec('cat /ram.log')).out;
  assert.match(log, /node certificate \/etc\/ramvm\/priv\/node.crt made/, 'the certificate is made on first boot');
  assert.match(log, /kiosk: on card0, tty7 \(Ctrl\+Alt\+F1 text console, Alt\+F7 back\)/);
  assert.match(log, /web UI on https port 8006/);

  // The API over HTTPS, trusting only the node's own certificate (made for localhost and 127.0.0.1).
  const ca = (await vm.exec('cat /etc/ramvm/priv/node.crt')).out;
  assert.match(ca, /BEGIN CERTIFICATE/);
  const login = await pinned(`${vm.url}/api/access/ticket`, ca, 'POST', { username: 'admin', password: PASSWORD });
  assert.is(login.status, 200);
  const cookie = `RamvmAuth=${encodeURIComponent(login.json.data.ticket)}`;
  const csrf = login.json.data.csrf as string;
  // A guest to type into: a raw disk with the key-colour boot sector, written on the node.
  const created = await pinned(`${vm.url}/api/vm`, ca, 'POST', { name: 'on-screen', memory: 32, nics: [], disks: [{ size: '1M', format: 'raw' }] }, cookie, csrf);
  assert.is(created.status, 201, JSON.stringify(created.json));
  const vmid = created.json.data.vmid as number;
  const file = created.json.data.disks[0].file as string;
  assert.match(file, /^vm-\d+-disk-\d+\.raw$/);
  const write = await vm.exec(`echo ${keyColourSector().toString('base64')} | base64 -d | dd of=/var/lib/vz/images/${vmid}/${file} conv=notrunc`);
  assert.is(write.code, 0, write.out);
  const started = await pinned(`${vm.url}/api/vm/${vmid}/start`, ca, 'POST', {}, cookie, csrf);
  assert.is(started.status, 200, JSON.stringify(started.json));

  assert.is((await vm.exec('cmp /etc/ssl/certs/ca-certificates.crt /etc/ramvm/priv/node.crt')).code, 0,
    'the engine\'s trust store is the node\'s certificate and nothing else');
  const ps = (await vm.exec('ps -o user,args | grep -E "^[a-z]+ +(weston|cog) "')).out;
  assert.match(ps, /^root\s+weston --backend=drm-backend.so/m, 'weston has the screen and keyboard');
  assert.match(ps, /^kiosk\s+cog --platform=wl/m, 'the engine runs as the unprivileged kiosk user');
  // Separation holds on the HTTPS node as on the standard one: lighttpd, and so every CGI, as the node's user.
  const httpd = (await vm.exec('ps -o user,args | grep "[/]usr/sbin/lighttpd"')).out;
  assert.match(httpd, /^ramvm\s+\/usr\/sbin\/lighttpd -D/m, 'lighttpd serves HTTPS as ramvm, not root');
  for (const dev of ['/dev/dri/card0', '/dev/input/event0']) {
    const r = await vm.exec(`su -s /bin/sh kiosk -c 'exec 3<${dev}' 2>&1`);
    assert.match(r.out, /Permission denied/, `the kiosk user cannot open ${dev}`);
  }
});

T('should show the login page on the node\'s screen as Chromium draws it, log in by keyboard and list the guests', async () => {
  const vm = screenVm!;
  const loginRef = await reference(vm, 'login');
  const guestsRef = await reference(vm, 'guests', 'on-screen');
  assert.ok(likeness(loginRef, guestsRef) < LIKENESS_MIN / 2, 'the likeness tells the login page from the guest list');
  const loginShown = await waitLike(vm, 'login', loginRef, 'login', SCREEN_TIMEOUT_MS);
  assert.ok(likeness(loginShown, guestsRef) < LIKENESS_MIN, 'the login page on the screen is not the guest list');
  await vm.sendKeys(typeKeys(`admin\t${PASSWORD}\n`));
  const guestsShown = await waitLike(vm, 'guests', guestsRef, 'guests', PAGE_TIMEOUT_MS, GUEST_LIST_AREA);
  assert.ok(likeness(guestsShown, loginRef) < LIKENESS_MIN, 'the guest list on the screen is not the login page');
});

T('should open a guest\'s console in the whole window by keyboard, type into the guest and leave with Ctrl+Alt+Shift', async () => {
  const vm = screenVm!;
  await vm.sendKeys([...tabs(TABS_TO_GUEST_LINK), ['ret']]);
  // The console's toolbar counts its buttons only once it has connected: the guest's black screen shows in it.
  await waitFor(vm, 'the guest\'s page with its screen in the console', (p) => readMarker(p) === 'guest' && shareNear(p, [0, 0, 0], 6) > 0.1, 'guest', PAGE_TIMEOUT_MS);
  await vm.sendKeys([...tabs(TABS_TO_OWN_WINDOW), ['ret']]);
  await waitScreen(vm, 'console', 'console', PAGE_TIMEOUT_MS);
  // "t" paints the guest's screen red; pressed until the console has connected and the guest has it.
  await waitFor(vm, 'the guest\'s red screen', (p) => readMarker(p) === 'console' && shareNear(p, GUEST_RED, 40) > 0.4, 'console-typed', PAGE_TIMEOUT_MS,
    () => vm.sendKeys([['t']]));
  await vm.sendKeys([['ctrl', 'alt', 'shift']]);
  await waitScreen(vm, 'guest', 'console-left', PAGE_TIMEOUT_MS);
});

/** Date.now() before the last keys the page got (for blanking). */
let lastKeysAt = 0;

T('should show the text console on Ctrl+Alt+F1, and a login page that takes the keyboard on Alt+F7', async () => {
  const vm = screenVm!;
  await vm.sendKeys([['ctrl', 'alt', 'f1']]);
  await waitFor(vm, 'the text console', (p) => readMarker(p) === null && shareNear(p, [0, 0, 0], 8) > 0.8, 'text-console', PAGE_TIMEOUT_MS);
  assert.is((await vm.exec('cat /sys/class/tty/tty0/active')).out.trim(), 'tty1');
  // The runner looks at the VT every second.
  const left = await vm.exec('for i in 1 2 3 4 5 6 7 8 9 10; do grep -q "tty7 left for tty1" /ram.log && break; sleep 1; done; grep "tty7 left" /ram.log');
  assert.match(left.out, /kiosk: tty7 left for tty1: stopping cog/);
  await vm.sendKeys([['alt', 'f7']]);
  await waitScreen(vm, 'login', 'back-from-text-console', SCREEN_TIMEOUT_MS);
  assert.is((await vm.exec('cat /sys/class/tty/tty0/active')).out.trim(), 'tty7');
  // The keyboard reaches the new engine (weston does not give it back to a window from before the switch).
  lastKeysAt = Date.now();
  await vm.sendKeys(typeKeys(`admin\t${PASSWORD}\n`));
  await waitScreen(vm, 'guests', 'logged-in-again', PAGE_TIMEOUT_MS);
});

interface OtherBoot {
  /** /ram.log */
  log: string;
  /** Whether weston or cog runs. */
  engine: boolean;
  /** The VT on the node's screen (/sys/class/tty/tty0/active). */
  vt: string;
}

/**
 * The nodes that must not start the kiosk: each boots from a copy of the
 * first node's data disk (synced first: its certificate is on it). They boot
 * while the first node's screen waits to go black, which takes ramvm.blank=
 * seconds of nothing anyway.
 */
const OTHER_BOOTS = {
  /** No screen at all: no KMS device. */
  noScreen: { vga: false, memoryMiB: 2048, params: [] as string[] },
  /** A screen, turned off at boot. */
  off: { vga: true, memoryMiB: 2048, params: ['ramvm.kiosk=0'] },
  /** A screen, too little RAM for the engine. */
  smallRam: { vga: true, memoryMiB: 1024, params: [] as string[] },
} as const;
let otherBoots: Promise<Record<keyof typeof OTHER_BOOTS, OtherBoot>> | undefined;

async function otherBoot(name: keyof typeof OTHER_BOOTS): Promise<OtherBoot> {
  const o = OTHER_BOOTS[name];
  const disk = join(dir, `data-${name}.img`);
  const cp = spawnSync('cp', ['--sparse=always', join(dir, 'data.img'), disk], { encoding: 'utf8' });
  if (cp.status !== 0) throw new Error(`cp of the data disk failed: ${cp.stderr}`);
  const vm = new NodeVm({
    name: 'kiosktest', index: 1, boot: { kernel: image.vmlinux, initrd: image.kiosk!.initrd, extraParams: [...o.params] }, dataDisk: disk,
    memoryMiB: o.memoryMiB, cpus: 1, accel, webPort: await freePort(), adminPassword: PASSWORD, shell: true,
    runDir: join(dir, name), vga: o.vga,
  });
  vms.push(vm);
  vm.start();
  try {
    const ms = await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
    process.stderr.write(`kiosk test: the boot "${name}" serving after ${(ms / 1000).toFixed(1)} s\n`);
    const log = (await vm.exec('cat /ram.log')).out;
    const engine = (await vm.exec('pidof cog weston')).code === 0;
    const vt = (await vm.exec('cat /sys/class/tty/tty0/active')).out.trim();
    return { log, engine, vt };
  } finally {
    await vm.stop();
    rmSync(disk, { force: true });
  }
}

/** All at once: the screen's node only waits to go black meanwhile, so the three share the machine with an idle node. */
async function runOtherBoots(): Promise<Record<keyof typeof OTHER_BOOTS, OtherBoot>> {
  const [noScreen, off, smallRam] = await Promise.all([otherBoot('noScreen'), otherBoot('off'), otherBoot('smallRam')]);
  return { noScreen, off, smallRam };
}

T('should go black after ramvm.blank= seconds without a key, and wake on a key that does nothing else', async () => {
  const vm = screenVm!;
  assert.is((await vm.exec('sync')).code, 0);
  otherBoots = runOtherBoots();
  // Awaited by the last test; a failure before that is its failure, not an unhandled rejection.
  otherBoots.catch(() => undefined);
  await waitFor(vm, 'the blank screen', (p) => readMarker(p) === 'blank' && shareNear(p, [0, 0, 0], 8) > 0.95, 'blank', (BLANK_S + 120) * 1000);
  assert.ok(Date.now() - lastKeysAt >= BLANK_S * 1000, `black only ${BLANK_S} s after the last key`);
  await vm.sendKeys([['a']]);
  await waitScreen(vm, 'guests', 'woken', PAGE_TIMEOUT_MS);
  // Awake, the keys reach the page again.
  await vm.sendKeys([...tabs(TABS_TO_GUEST_LINK), ['ret']]);
  await waitScreen(vm, 'guest', 'awake-guest', PAGE_TIMEOUT_MS);
});

T('should say in /ram.log why the kiosk is off (no KMS device, ramvm.kiosk=0, too little RAM), start no engine and serve all the same', async () => {
  assert.ok(otherBoots, 'the other boots were started');
  const b = await otherBoots!;
  // waitServing logged in over HTTPS on each: the web UI serves.
  assert.match(b.noScreen.log, /kiosk: off: no KMS display device \(\/dev\/dri\/card\*\); the web UI serves as always/);
  assert.match(b.off.log, /kiosk: off \(ramvm\.kiosk=0\); the web UI serves as always/);
  assert.match(b.smallRam.log, /kiosk: off: \d+ MiB of RAM, the kiosk needs 1536 MiB; the web UI serves as always/);
  for (const [name, boot] of Object.entries(b)) {
    assert.match(boot.log, /node certificate \/etc\/ramvm\/priv\/node.crt kept from an earlier boot/, name);
    assert.not.ok(boot.engine, `${name}: no weston, no cog`);
    assert.is(boot.vt, 'tty1', `${name}: the screen stays on the text console`);
  }
});

T.run();
