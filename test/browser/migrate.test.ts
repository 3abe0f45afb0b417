/**
 * The Migrate card of a guest's page in real Chromium, on a two-node
 * cluster (network namespaces, real lighttpd, qemu-nbd): it offers the
 * other node and says what will move, starts the migration, shows the
 * task's progress, and the page then shows the guest on its new node. A
 * guest of a node in no cluster has no such card. A guest whose node is
 * down shows the Failover card instead, whose button asks this node and
 * shows its refusal (no replicas here: DRBD runs in the lab,
 * test/lab/drbd-failover.test.ts).
 */
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { suite } from '../helpers/suite';
import { closeBrowser, closePage, launchBrowser, login, openPage } from '../helpers/browser';
import { formCluster, startTestCluster, type ClusterTestNode, type TestCluster } from '../helpers/cluster';
import { ADMIN_PASSWORD, type Client } from '../helpers/node';
import { createSectorGuest } from '../helpers/guest';

let c: TestCluster;
let n1: ClusterTestNode;
let browser: Browser;
let master: Client;

const M = suite('the Migrate card in Chromium');
M.before(async () => {
  c = await startTestCluster(2);
  n1 = c.nodes[0]!;
  browser = await launchBrowser();
});
M.after(async () => {
  await closeBrowser(browser);
  await c?.stop();
});

async function guestPage(vmid: number): Promise<Page> {
  const page = await openPage(browser, n1, { viewport: { width: 1280, height: 800 }, hash: `#/guests/${vmid}` });
  await login(page, 'admin', ADMIN_PASSWORD);
  await page.getByRole('heading', { level: 1, name: new RegExp(`^Guest ${vmid} `) }).waitFor();
  return page;
}

M('should show no Migrate card on a node in no cluster', async () => {
  const single = await n1.login('admin', ADMIN_PASSWORD);
  const vmid = await createSectorGuest(single, n1.root, { name: 'alone' });
  let page: Page | undefined;
  try {
    page = await guestPage(vmid);
    await page.getByRole('heading', { level: 2, name: 'Hardware' }).waitFor();
    assert.is(await page.getByRole('heading', { level: 2, name: 'Migrate' }).count(), 0);
  } finally {
    await closePage(page);
  }
  assert.is((await single.del(`/api/vm/${vmid}`)).status, 204);
});

M('should move a stopped guest to the node chosen, showing what moves and the task\'s progress', async () => {
  master = await formCluster(c, 'office');
  const vmid = await createSectorGuest(master, n1.root, { name: 'mover' });
  let page: Page | undefined;
  try {
    page = await guestPage(vmid);
    const card = page.locator('section', { has: page.getByRole('heading', { level: 2, name: 'Migrate' }) });
    await card.waitFor();
    assert.is(await card.locator('select[name="target"]').inputValue(), 'n2');
    await card.getByText(/^Moves while stopped: .* of disk data\.$/).waitFor();
    await card.getByRole('button', { name: 'Migrate' }).click();
    await card.getByRole('progressbar', { name: 'Migration' }).waitFor();
    await page.locator('.figures dd', { hasText: /^n2$/ }).waitFor({ timeout: 60_000 });
    assert.is((await master.get(`/api/vm/${vmid}`)).json.data.node, 'n2');
  } finally {
    await closePage(page);
  }
});

M('should offer a failover on the page of a guest whose node is down, and show why this node refuses', async () => {
  const vmid = await createSectorGuest(master, c.nodes[1]!.root, { name: 'stranded', node: 'n2' });
  await c.nodes[1]!.kill();
  let page: Page | undefined;
  try {
    page = await openPage(browser, n1, { viewport: { width: 1280, height: 800 }, hash: `#/guests/${vmid}` });
    await login(page, 'admin', ADMIN_PASSWORD);
    const card = page.locator('section', { has: page.getByRole('heading', { level: 2, name: 'Failover' }) });
    await card.waitFor({ timeout: 60_000 });
    await card.getByText(/^Node n2 does not answer\./).waitFor();
    await card.getByRole('button', { name: `Start guest ${vmid} on n1` }).click();
    await card.getByText(/failover of guest \d+ to node n1 refused: node n1 holds no copy of the config/).waitFor();
  } finally {
    await closePage(page);
    await c.nodes[1]!.revive();
  }
});

M.run();
