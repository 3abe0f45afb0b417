/**
 * Replicated disks in the Guests view in real Chromium, against real nodes
 * (network namespaces, real lighttpd, each node with its root helper,
 * test/helpers/cluster.ts). On a node in no cluster neither the create form
 * nor the add-disk form offers "Replicated". In a cluster of two nodes they
 * do, but the build host has no DRBD module: GET /api/cluster says
 * `drbd: false` of both nodes, so the checkbox of either form and "Make
 * replicated…" are shown disabled, naming the node that lacks it, and
 * nothing is sent; the Nodes view says "DRBD: No" of each. The enabled forms, the request they send and a node's
 * refusal shown as it answers are tested in happy-dom
 * (test/unit/web/guests-disks.test.ts), the node's own 409 over the API
 * (test/integration/cluster-replica.test.ts), the positive path in the lab
 * (test/lab/drbd.test.ts).
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

/** Why the page disables replicated disks here: neither node has the module, n1 is named first. */
const NO_DRBD_REASON = 'node n1 has no DRBD module: replicated disks need the node image';
const CHECKBOX = 'Replicated (DRBD, on both nodes)';
/** A loaded machine: the cluster's answer may take a while. */
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

R('should show Replicated disabled in the create form of a pair without DRBD, naming the node, the format free', async () => {
  api = await formCluster(c, 'pair');
  const view = (await api.get('/api/cluster')).json.data;
  assert.equal(view.nodes.map((n: { name: string; drbd?: boolean }) => [n.name, n.drbd]), [['n1', false], ['n2', false]], 'what the page is told');
  let page: Page | undefined;
  try {
    page = await open('#/guests/new');
    const box = page.getByRole('checkbox', { name: CHECKBOX });
    await box.waitFor({ timeout: WAIT_MS });
    assert.ok(await box.isDisabled(), 'disabled');
    assert.not.ok(await box.isChecked());
    await page.getByText(NO_DRBD_REASON, { exact: true }).waitFor();
    assert.is(await box.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent), NO_DRBD_REASON, 'the checkbox is described by its reason');
    assert.is(await page.getByLabel('Format').inputValue(), 'qcow2');
    assert.not.ok(await page.getByLabel('Format').isDisabled(), 'the format stays free');
  } finally {
    await closePage(page);
  }
});

R('should say on the Nodes view that neither node has DRBD', async () => {
  let page: Page | undefined;
  try {
    page = await open('#/nodes');
    for (const name of ['n1', 'n2']) {
      const row = page.getByRole('row').filter({ has: page.getByRole('link', { name, exact: true }) });
      await row.getByText('DRBD: No', { exact: true }).waitFor({ timeout: WAIT_MS });
    }
  } finally {
    await closePage(page);
  }
});

R('should show Replicated disabled in the add-disk form and Make replicated disabled, each saying why', async () => {
  const vmid = await plainGuest('plain');
  let page: Page | undefined;
  try {
    let hw;
    ({ page, hw } = await hardwareOf(vmid));
    const make = hw.getByRole('button', { name: 'Make disk disk0 replicated' });
    await make.waitFor({ timeout: WAIT_MS });
    assert.ok(await make.isDisabled(), 'Make replicated is disabled');
    assert.is(await make.getAttribute('title'), NO_DRBD_REASON);
    await hw.getByRole('button', { name: 'Add disk' }).click();
    const add = hw.getByRole('form', { name: 'Add disk' });
    const box = add.getByRole('checkbox', { name: CHECKBOX });
    await box.waitFor({ timeout: WAIT_MS });
    assert.ok(await box.isDisabled());
    await add.getByText(NO_DRBD_REASON, { exact: true }).waitFor();
    assert.not.ok(await add.getByLabel('Format').isDisabled(), 'the format stays free');
    assert.is(await page.getByRole('alertdialog').count(), 0, 'nothing asked');
  } finally {
    await closePage(page);
    await api.del(`/api/vm/${vmid}`);
  }
});

R.run();
