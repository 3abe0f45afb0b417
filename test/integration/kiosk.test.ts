/**
 * The kiosk variant, booted for real under TCG with QEMU's standard VGA:
 * the node serves HTTPS with the certificate it made on first boot, its
 * own screen shows the login page (QMP screendump; the web app's kiosk
 * marker says which page is drawn), we log in on its keyboard (QMP
 * send-key) and the guest list appears. Screenshots (PNG) stay in
 * var/kiosk-screens/ for a person to look at.
 *
 * A second boot without a screen says in /ram.log that there is no KMS
 * device, and serves the web UI all the same.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../build/build';
import { buildImage, type ImageBuild } from '../../build/image/image';
import { KIOSK_BUDGET } from '../../build/image/layout';
import { acquireLabLock, type LabLock } from '../../build/lab/lock';
import { NodeVm, ensureSparseDisk, labAccel, type Accel } from '../../build/lab/node-vm';
import { parsePpm, readMarker, typeKeys } from '../../build/lab/screen';
import type { KioskState } from '../../web/kiosk';
import { freePort } from '../helpers/node';

const SERVE_TIMEOUT_MS = 420_000;
/** The engine starts and draws under an emulated CPU with a software renderer: minutes, on a busy machine. */
const SCREEN_TIMEOUT_MS = 300_000;
const PASSWORD = 'kiosk-test-pw';
export const SCREENS = join(ROOT, 'var/kiosk-screens');

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

/** Screendumps until the kiosk marker shows `want`; keeps the last one as <name>.png. Returns ms waited. */
async function waitScreen(vm: NodeVm, want: KioskState, name: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  const ppm = join(vm.config.runDir, 'screen.ppm');
  let last: KioskState | null = null;
  while (Date.now() - t0 < timeoutMs) {
    await vm.screendump(ppm);
    last = readMarker(parsePpm(readFileSync(ppm)));
    if (last === want) {
      await vm.screendump(join(SCREENS, `${name}.png`), 'png');
      return Date.now() - t0;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  await vm.screendump(join(SCREENS, `${name}-timeout.png`), 'png');
  throw new Error(`the node's screen did not show ${want} in ${timeoutMs / 1000} s (marker: ${last ?? 'none'}); see ${SCREENS}/${name}-timeout.png`);
}

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
  mkdirSync(SCREENS, { recursive: true });
});

T.after(async () => {
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

T('should boot with a screen, serve HTTPS with the certificate of its first boot and start the kiosk', async () => {
  const vm = new NodeVm({
    name: 'kiosktest', index: 1, boot: { kernel: image.vmlinux, initrd: image.kiosk!.initrd }, dataDisk: join(dir, 'data.img'),
    memoryMiB: 2048, cpus: 1, accel, webPort: await freePort(), adminPassword: PASSWORD, shell: true,
    runDir: join(dir, 'boot1'), vga: true, https: true,
  });
  vms.push(vm);
  screenVm = vm;
  vm.start();
  await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
  const log = (await vm.exec('cat /ram.log')).out;
  assert.match(log, /https: openssl req/, 'the certificate is made on first boot');
  assert.match(log, /kiosk: on card0, tty7/);
  assert.match(log, /web UI on https port 8006/);

  // The API over HTTPS, trusting only the node's own certificate (made for localhost and 127.0.0.1).
  const ca = (await vm.exec('cat /etc/ramvm/priv/node.crt')).out;
  assert.match(ca, /BEGIN CERTIFICATE/);
  const login = await pinned(`${vm.url}/api/access/ticket`, ca, 'POST', { username: 'admin', password: PASSWORD });
  assert.is(login.status, 200);
  const cookie = `RamvmAuth=${encodeURIComponent(login.json.data.ticket)}`;
  const created = await pinned(`${vm.url}/api/vm`, ca, 'POST', { name: 'on-screen', memory: 32 }, cookie, login.json.data.csrf);
  assert.is(created.status, 201, JSON.stringify(created.json));
  assert.is((await vm.exec('cmp /etc/ssl/certs/ca-certificates.crt /etc/ramvm/priv/node.crt')).code, 0,
    'the engine\'s trust store is the node\'s certificate and nothing else');
  assert.match((await vm.exec('ls -l /dev/dri/card0 /dev/input/event0')).out, /root\s+video[\s\S]*root\s+input/, 'udev gave the screen and keyboard to the kiosk user\'s groups');
});

T('should show the login page on the node\'s screen, log in by keyboard and list the guests', async () => {
  const vm = screenVm!;
  try {
    await waitScreen(vm, 'login', 'login', SCREEN_TIMEOUT_MS);
    await vm.sendKeys(typeKeys(`admin\t${PASSWORD}\n`));
    await waitScreen(vm, 'guests', 'guests', 180_000);
    const cog = await vm.exec('ps -o user,args | grep "[c]og --platform=drm"');
    assert.match(cog.out, /^kiosk\s/m, 'the engine runs as the unprivileged kiosk user');
  } finally {
    await vm.stop();
  }
});

T('should say in /ram.log that there is no KMS device, and serve all the same', async () => {
  const vm = new NodeVm({
    name: 'kiosktest', index: 1, boot: { kernel: image.vmlinux, initrd: image.kiosk!.initrd }, dataDisk: join(dir, 'data.img'),
    memoryMiB: 2048, cpus: 1, accel, webPort: await freePort(), adminPassword: PASSWORD, shell: true,
    runDir: join(dir, 'boot2'), https: true,
  });
  vms.push(vm);
  vm.start();
  try {
    await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
    const log = (await vm.exec('cat /ram.log')).out;
    assert.match(log, /kiosk: off: no KMS display device/);
    assert.match(log, /https: certificate \/etc\/ramvm\/priv\/node.crt kept from an earlier boot/);
    assert.is((await vm.exec('pidof cog')).code, 1, 'no engine runs');
  } finally {
    await vm.stop();
  }
});

T.run();
