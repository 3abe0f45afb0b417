/**
 * Replicated disks in the Guests view in real Chromium, against real nodes
 * (network namespaces, real lighttpd, each node with its root helper,
 * test/helpers/cluster.ts). On a node in no cluster neither the create form
 * nor the add-disk form offers "Replicated"; in a cluster of two nodes both
 * do, lock the format to raw, and send `replicated: true`. The build host
 * has no DRBD module, so the peer's `drbdadm` fails and the pages show the
 * node's answer as it comes; the positive path runs in the lab
 * (test/lab/drbd.test.ts). "Make replicated…" on a raw disk of a stopped
 * guest says what happens, calls …/replicate, and shows the same answer.
 */
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { suite } from '../helpers/suite';
import { closeBrowser, closePage, launchBrowser, login, openPage } from '../helpers/browser';
import { formCluster, startTestCluster, type ClusterTestNode, type TestCluster } from '../helpers/cluster';
import { ADMIN_PASSWORD, type Client } from '../helpers/node';

let c: TestCluster;
let n1: ClusterTestNode;
let browser: Browser;
let api: Client;

/** What the node answers here, where the peer's root helper finds no DRBD module (409). */
const NO_DRBD = 'node n2: DRBD is not loaded on node n2 (no /proc/drbd): replicated disks need the node image\'s kernel module';
const CHECKBOX = 'Replicated (DRBD, on both nodes)';
const HINT = /^Replicated disks are raw: DRBD copies blocks to the other node/;
/** A loaded machine: the cluster answer, then the peer's refusal, may take a while. */
const WAIT_MS = 60_000;

const R = suite('replicated disks in Chromium');
R.before(async () => {
  c = await startTestCluster(2);
  n1 = c.nodes[0]!;
  browser = await launchBrowser();
});
R.after(async () => {
  await closeBrowser(browser);
  await c?.stop();
});

async function open(hash: string): Promise<Page> {
  const page = await openPage(browser, n1, { viewport: { width: 1280, height: 900 }, hash });
  await login(page, 'admin', ADMIN_PASSWORD);
  return page;
}

/** A stopped guest with one raw 8 MiB disk, made through the API. */
async function plainGuest(name: string): Promise<number> {
  const r = await api.post('/api/vm', { name, memory: 32, nics: [], disks: [{ size: '8M', bus: 'virtio', format: 'raw' }] });
  assert.is(r.status, 201, r.text);
  return r.json.data.vmid;
}

async function hardwareOf(vmid: number): Promise<{ page: Page; hw: ReturnType<Page['locator']> }> {
  const page = await open(`#/guests/${vmid}`);
  await page.getByRole('heading', { level: 1, name: new RegExp(`^Guest ${vmid} `) }).waitFor();
  return { page, hw: page.locator('section', { has: page.getByRole('heading', { name: 'Hardware', level: 2 }) }) };
}

/** Until the page's poll of GET /api/cluster (every 10 s) has been answered, and rendered. */
async function clusterAnswered(page: Page): Promise<void> {
  await page.waitForResponse((r) => new URL(r.url()).pathname === '/api/cluster' && r.ok(), { timeout: WAIT_MS });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 100))));
}

R('should offer no replicated disk on a node in no cluster, in the create form or the add-disk form', async () => {
  api = await n1.login('admin', ADMIN_PASSWORD);
  const vmid = await plainGuest('alone');
  let page: Page | undefined;
  try {
    page = await open('#/guests/new');
    await page.getByLabel('Format').waitFor();
    await clusterAnswered(page);
    assert.is(await page.getByRole('checkbox', { name: CHECKBOX }).count(), 0);
    await closePage(page);
    let hw;
    ({ page, hw } = await hardwareOf(vmid));
    await hw.getByRole('button', { name: 'Add disk' }).click();
    await hw.getByRole('form', { name: 'Add disk' }).getByLabel('Format').waitFor();
    await clusterAnswered(page);
    assert.is(await hw.getByRole('checkbox', { name: CHECKBOX }).count(), 0);
    assert.is(await hw.getByRole('button', { name: 'Make disk disk0 replicated' }).count(), 0);
  } finally {
    await closePage(page);
  }
  assert.is((await api.del(`/api/vm/${vmid}`)).status, 204);
});

R('should create with replicated: true in a cluster of two nodes, the format raw, and show the node\'s answer', async () => {
  api = await formCluster(c, 'pair');
  let page: Page | undefined;
  try {
    page = await open('#/guests/new');
    const box = page.getByRole('checkbox', { name: CHECKBOX });
    await box.waitFor({ timeout: WAIT_MS });
    await page.locator('input[name="name"]').fill('mirrored');
    await page.getByLabel('Disk size').fill('64');
    await page.getByLabel('Unit').selectOption('M');
    await page.getByLabel('No network card').check();
    assert.is(await page.getByLabel('Format').inputValue(), 'qcow2');
    await box.check();
    assert.is(await page.getByLabel('Format').inputValue(), 'raw');
    assert.ok(await page.getByLabel('Format').isDisabled(), 'the format is locked while replicated');
    await page.getByText(HINT).waitFor();
    const sent = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/vm' && !r.url().includes('dryrun'), { timeout: WAIT_MS });
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    assert.equal((await sent).postDataJSON().disks, [{ size: '64M', bus: 'ide', format: 'raw', cache: 'writeback', replicated: true }]);
    await page.getByText(NO_DRBD, { exact: true }).waitFor({ timeout: WAIT_MS });
    assert.equal((await api.get('/api/vm')).json.data, [], 'no guest left behind');
  } finally {
    await closePage(page);
  }
});

R('should add a replicated disk from the Hardware card with replicated: true, and show the node\'s answer', async () => {
  const vmid = await plainGuest('grows');
  let page: Page | undefined;
  try {
    let hw;
    ({ page, hw } = await hardwareOf(vmid));
    await hw.getByRole('button', { name: 'Add disk' }).click();
    const add = hw.getByRole('form', { name: 'Add disk' });
    const box = add.getByRole('checkbox', { name: CHECKBOX });
    await box.waitFor({ timeout: WAIT_MS });
    await add.getByLabel('Disk size').fill('64');
    await add.getByLabel('Unit').selectOption('M');
    await box.check();
    assert.is(await add.getByLabel('Format').inputValue(), 'raw');
    assert.ok(await add.getByLabel('Format').isDisabled());
    await add.getByText(HINT).waitFor();
    const sent = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === `/api/vm/${vmid}/disks`, { timeout: WAIT_MS });
    await add.getByRole('button', { name: 'Add disk' }).click();
    assert.equal((await sent).postDataJSON(), { size: '64M', bus: 'virtio', format: 'raw', cache: 'writeback', replicated: true });
    await add.getByText(NO_DRBD, { exact: true }).waitFor({ timeout: WAIT_MS });
    assert.equal((await api.get(`/api/vm/${vmid}`)).json.data.disks.map((d: { id: string }) => d.id), ['disk0'], 'the guest as it was');
  } finally {
    await closePage(page);
    await api.del(`/api/vm/${vmid}`);
  }
});

R('should say what making a raw disk replicated does, call …/replicate, and show the node\'s answer', async () => {
  const vmid = await plainGuest('convert');
  let page: Page | undefined;
  try {
    let hw;
    ({ page, hw } = await hardwareOf(vmid));
    const make = hw.getByRole('button', { name: 'Make disk disk0 replicated' });
    await make.waitFor({ timeout: WAIT_MS });
    await make.click();
    const dialog = page.getByRole('alertdialog', { name: `Make disk disk0 of guest ${vmid} replicated?` });
    await dialog.getByText(/copied whole to the other node.*stays stopped until the disk is converted.*grows by DRBD's meta-data/).waitFor();
    const sent = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === `/api/vm/${vmid}/disks/disk0/replicate`, { timeout: WAIT_MS });
    await dialog.getByRole('button', { name: 'Make disk disk0 replicated' }).click();
    assert.is((await sent).postData(), null, 'no body');
    await dialog.getByText(NO_DRBD, { exact: true }).waitFor({ timeout: WAIT_MS });
    const d = (await api.get(`/api/vm/${vmid}`)).json.data.disks[0];
    assert.equal([d.file, d.format, d.replicated], [`vm-${vmid}-disk-0.raw`, 'raw', undefined], 'the disk as it was');
  } finally {
    await closePage(page);
    await api.del(`/api/vm/${vmid}`);
  }
});

R.run();
