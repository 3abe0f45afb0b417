/**
 * A crashed guest and the accelerator in real Chromium against a real node
 * with real QEMU: a guest whose OS panicked shows as crashed (not paused),
 * offers reset and stop but no resume, and resets; the guest's page and the
 * Node view say which accelerator is in use and why, and change it; a guest
 * KVM stopped with an internal error is switched to TCG from its banner.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { startTestNode, type Client, type TestNode } from '../helpers/node';
import { closeBrowser, closePage, launchBrowser, login, openPage, SCREENSHOT_DIR } from '../helpers/browser';
import { crashSector, createSectorGuest, GUEST_MARKER, killGuests, waitFor, waitForSerial } from '../helpers/guest';
import { kvmDeviceError } from '../../node-cgi/vm/accel';

interface Ctx {
  node?: TestNode;
  browser?: Browser;
  api?: Client;
}

const test = suite<Ctx>('crashed guests and the accelerator in Chromium', {});
/** Under this kind of host's KVM the BIOS takes seconds. */
const BOOT_TIMEOUT_MS = 60_000;
/** What an admin's laptop shows. */
const VIEWPORT = { width: 1280, height: 800 };

test.before(async (ctx) => {
  ctx.node = await startTestNode();
  ctx.api = await ctx.node.login('admin', ctx.node.adminPassword);
  ctx.browser = await launchBrowser();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
});

test.after(async (ctx) => {
  await closeBrowser(ctx.browser);
  if (ctx.node) {
    await killGuests(ctx.node.root);
    await ctx.node.stop();
  }
});

const crashing = (ctx: Ctx, kind: 'panic' | 'mmio', body: Record<string, unknown>) => createSectorGuest(ctx.api!, ctx.node!.root, body, crashSector(kind));

const serial = (ctx: Ctx, vmid: number) => join(ctx.node!.root, 'run/ramvm/qemu', `${vmid}.serial.log`);

async function crashed(ctx: Ctx, vmid: number, state: string): Promise<void> {
  assert.is((await ctx.api!.post(`/api/vm/${vmid}/start`)).status, 200);
  await waitFor(`guest ${vmid} in ${state}`, async () => (await ctx.api!.get(`/api/vm/${vmid}`)).json.data.fault?.state === state, BOOT_TIMEOUT_MS, 200);
}

test('should show a panicked guest as crashed with reset and stop, not paused with resume, and reset it', async (ctx) => {
  const vmid = await crashing(ctx, 'panic', { name: 'panics', accel: 'tcg' });
  await crashed(ctx, vmid, 'guest-panicked');
  const page = await openPage(ctx.browser!, ctx.node!, { viewport: VIEWPORT });
  try {
    await login(page, 'admin', ctx.node!.adminPassword);
    const row = page.locator('main tbody tr', { hasText: 'panics' });
    await row.locator('.badge-failed', { hasText: 'Crashed' }).waitFor();
    assert.is(await row.getByRole('button', { name: 'Resume' }).count(), 0, 'no Resume in the list');

    await row.getByRole('link', { name: 'panics' }).click();
    await page.locator('.page-head .badge-failed', { hasText: 'Crashed' }).waitFor();
    assert.is(await page.locator('.page-head', { hasText: 'Paused' }).count(), 0);
    const alert = page.getByRole('alert').filter({ hasText: 'The operating system of this guest crashed' });
    await alert.waitFor();
    assert.match(await alert.innerText(), 'It cannot be resumed: reset it to boot it again, or stop it.');
    assert.is(await alert.getByRole('button', { name: 'Use TCG for this guest' }).count(), 0, 'a guest panic is not KVM trouble');
    const actions = page.getByRole('group', { name: 'Actions for panics' });
    assert.equal(await actions.getByRole('button').allInnerTexts(), ['Reset', 'Stop']);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'guest-crashed-1280x800.png'), fullPage: true });

    const boots = () => readFileSync(serial(ctx, vmid), 'latin1').split(GUEST_MARKER).length - 1;
    const before = boots();
    await actions.getByRole('button', { name: 'Reset' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: `Reset guest ${vmid}` }).click();
    await waitFor('the guest booting again', () => boots() > before, BOOT_TIMEOUT_MS, 100);
    // It panics again at once; Stop ends it.
    await page.locator('.page-head .badge-failed', { hasText: 'Crashed' }).waitFor({ timeout: BOOT_TIMEOUT_MS });
    await actions.getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: `Stop guest ${vmid}` }).click();
    await page.locator('.page-head .badge-neutral', { hasText: 'Stopped' }).waitFor();
    assert.is(await page.getByRole('alert').filter({ hasText: 'crashed' }).count(), 0, 'the banner goes with the crash');
  } finally {
    await closePage(page);
  }
});

test("should say which accelerator a guest and the node use and why, and change both", async (ctx) => {
  const r = await ctx.api!.post('/api/vm', { name: 'accel', memory: 32, nics: [], disks: [], accel: 'tcg' });
  const vmid = r.json.data.vmid;
  const auto = (await ctx.api!.get('/api/node/testnode/resources')).json.data;
  const page = await openPage(ctx.browser!, ctx.node!, { viewport: VIEWPORT, hash: `#/guests/${vmid}` });
  try {
    await login(page, 'admin', ctx.node!.adminPassword);
    const accel = page.locator('dd.guest-accel');
    await accel.waitFor();
    assert.match(await accel.innerText(), /^TCG \(emulated: slower\)\s+TCG: set on the guest$/);
    assert.is(await page.getByLabel('Accelerator').inputValue(), 'tcg');
    await page.getByLabel('Accelerator').selectOption('');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Saved.').waitFor();
    await page.locator('dd.guest-accel', { hasText: `auto (the node's setting): ${auto.kvmProbe.reason}` }).waitFor();
    assert.is((await ctx.api!.get(`/api/vm/${vmid}`)).json.data.accel, undefined, 'back to the node');

    await page.getByRole('link', { name: 'Nodes' }).click();
    await page.locator('main').getByRole('link', { name: 'testnode', exact: true }).click();
    await page.getByRole('heading', { name: 'Node testnode', level: 1 }).waitFor();
    const inUse = page.locator('dd.node-accel');
    assert.is(await inUse.innerText(), auto.accel === 'kvm' ? 'KVM (hardware-assisted)' : 'TCG (emulated: slower)');
    assert.match(await page.locator('main').innerText(), auto.kvmProbe.reason);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'node-1280x800.png'), fullPage: true });
    const select = page.getByLabel('Accelerator');
    assert.is(await select.inputValue(), 'auto');
    await select.selectOption('tcg');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Saved.').waitFor();
    await page.getByText("TCG: the node's setting").waitFor();
    assert.is((await ctx.api!.get('/api/node/testnode/settings')).json.data.accel, 'tcg');
    await select.selectOption('auto');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText(`auto (the node's setting): ${auto.kvmProbe.reason}`).waitFor();
  } finally {
    await closePage(page);
  }
});

test('should blame KVM for an internal error and switch the guest to TCG from the banner (or refuse KVM without it)', async (ctx) => {
  const vmid = await crashing(ctx, 'mmio', { name: 'kvmfail', accel: 'kvm' });
  const page = await openPage(ctx.browser!, ctx.node!, { viewport: VIEWPORT, hash: `#/guests/${vmid}` });
  try {
    if (kvmDeviceError() !== null) {
      await login(page, 'admin', ctx.node!.adminPassword);
      await page.locator('dd.guest-accel', { hasText: 'KVM is set on the guest, but this node has no usable KVM device' }).waitFor();
      return;
    }
    await crashed(ctx, vmid, 'internal-error');
    await login(page, 'admin', ctx.node!.adminPassword);
    const alert = page.getByRole('alert').filter({ hasText: 'KVM stopped this guest with an internal error.' });
    await alert.waitFor();
    assert.match(await alert.innerText(), 'This points at the KVM of this node, not at the guest');
    await alert.getByRole('button', { name: 'Use TCG for this guest' }).click();
    await alert.getByText('TCG is set for this guest: stop it and start it again.').waitFor();
    assert.is((await ctx.api!.get(`/api/vm/${vmid}`)).json.data.accel, 'tcg');
    await page.getByRole('group', { name: 'Actions for kvmfail' }).getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: `Stop guest ${vmid}` }).click();
    await page.locator('.page-head .badge-neutral', { hasText: 'Stopped' }).waitFor();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.locator('.page-head .badge-running', { hasText: 'Running' }).waitFor();
    await waitForSerial(serial(ctx, vmid), GUEST_MARKER, BOOT_TIMEOUT_MS);
    await page.locator('dd.guest-accel', { hasText: 'TCG: set on the guest' }).waitFor();
  } finally {
    await closePage(page);
  }
});

test.run();
