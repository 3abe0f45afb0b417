/**
 * The cluster in real Chromium against two real nodes (network namespaces,
 * a lighttpd and QEMU each; test/helpers/cluster.ts): create a cluster in
 * n1's Nodes view, make a join token there and join n2 with it in n2's
 * Nodes view, see both listed; from n1's UI create a guest on n2, see it
 * listed with its node, start it (its QEMU runs in n2's namespace), see its
 * console through n1 (the websocket forwarded to n2) and stop it; then
 * remove n2 once it has no guest. One cluster serves the file, in
 * order. Screenshots go to .tmp/screenshots/ for a human look.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { closeBrowser, closePage, launchBrowser, login, openPage, SCREENSHOT_DIR } from '../helpers/browser';
import { startTestCluster, type ClusterTestNode, type TestCluster } from '../helpers/cluster';
import { GUEST_MARKER, installBootSector, waitForSerial } from '../helpers/guest';
import { ADMIN_PASSWORD } from '../helpers/node';

/** A join runs as a task on a loaded machine; the cluster view polls every 10 s. */
const JOIN_MS = 90_000;

interface Ctx {
  browser?: Browser;
  cluster?: TestCluster;
  /** n1's page, kept across the tests. */
  page?: Page;
  vmid?: number;
}

const test = suite<Ctx>('cluster in Chromium', {});

test.before(async (ctx) => {
  ctx.cluster = await startTestCluster(2);
  ctx.browser = await launchBrowser();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
});

test.after(async (ctx) => {
  await closePage(ctx.page);
  await closeBrowser(ctx.browser);
  await ctx.cluster?.stop();
});

const nodes = (ctx: Ctx) => ctx.cluster!.nodes as [ClusterTestNode, ClusterTestNode];
const shot = (page: Page, what: string) => page.screenshot({ path: join(SCREENSHOT_DIR, `cluster-${what}-1024x768.png`), fullPage: true });
const nodeRow = (page: Page, name: string) => page.locator('main tbody tr', { has: page.getByRole('link', { name, exact: true }) });

test('should create a cluster in the Nodes view of a single node', async (ctx) => {
  const [n1] = nodes(ctx);
  const page = (ctx.page = await openPage(ctx.browser!, n1, { hash: '#/nodes' }));
  await login(page, 'admin', ADMIN_PASSWORD);
  await page.getByRole('heading', { name: 'Nodes', level: 1 }).waitFor();
  await page.getByText('Node n1 is a single node, in no cluster.').waitFor();
  assert.match(await nodeRow(page, 'n1').innerText(), 'Online');

  await page.getByLabel('Cluster name').fill('Office!');
  await page.getByRole('button', { name: 'Create cluster' }).click();
  await page.getByText('Lower-case letters, digits and inner "-", up to 32.').waitFor();
  assert.is(existsSync(join(n1.root, 'etc/ramvm/cluster/cluster.json')), false, 'nothing sent for a bad name');
  await page.getByLabel('Cluster name').fill('office');
  await page.getByRole('button', { name: 'Create cluster' }).click();
  await page.getByText('Cluster office: 1 nodes, managed through the master n1.').waitFor();
  assert.match(await nodeRow(page, 'n1').innerText(), 'Master');
  assert.is(await page.getByRole('button', { name: 'Create cluster' }).count(), 0);
});

test('should add n2 with a join token shown on the master and entered in n2\'s join form', async (ctx) => {
  const [n1, n2] = nodes(ctx);
  const page = ctx.page!;
  await page.getByRole('button', { name: 'Make a join token' }).click();
  const line = page.locator('dd', { has: page.locator('code', { hasText: 'ramvm cluster join ' }) }).locator('code');
  const command = (await line.innerText()).trim();
  const fingerprint = spawnSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', join(n1.root, 'etc/ramvm/priv/node.crt')], { encoding: 'utf8' })
    .stdout.trim().replace(/^.*=/, '');
  assert.match(command, new RegExp(`^ramvm cluster join ${n1.clusterUrl.replace(/\./g, '\\.')} rjt_[A-Za-z0-9_-]{43} ${fingerprint}$`));
  await shot(page, 'token');

  const p2 = await openPage(ctx.browser!, n2, { hash: '#/nodes' });
  try {
    await login(p2, 'admin', ADMIN_PASSWORD);
    await p2.getByRole('heading', { name: 'Join a cluster' }).waitFor();
    // A wrong fingerprint is refused before anything is sent; the form says which field.
    const master = p2.getByLabel('Master\'s cluster address');
    await master.fill(command.replace(/ \S+$/, ' ' + 'AB:'.repeat(31) + 'AB'));
    assert.is(await master.inputValue(), n1.clusterUrl, 'the pasted line fills the three fields');
    await p2.getByRole('button', { name: 'Join cluster' }).click();
    await p2.getByRole('alertdialog', { name: 'Join node n2 to the cluster?' }).getByRole('button', { name: 'Join' }).click();
    // The node answers at once (it asked the master's certificate, nothing else), on the fingerprint's field.
    const fpField = p2.locator('.field', { has: p2.getByLabel('Master\'s fingerprint (SHA-256)') });
    await fpField.getByText(/has fingerprint .*; nothing was sent/).waitFor({ timeout: JOIN_MS });
    assert.is(await p2.getByLabel('Master\'s fingerprint (SHA-256)').getAttribute('aria-invalid'), 'true');
    assert.is(existsSync(join(n2.root, 'etc/ramvm/cluster/cluster.json')), false, 'not joined');

    await master.fill(command);
    assert.is(await p2.getByLabel('Join token').inputValue(), command.split(' ')[4]);
    await shot(p2, 'join');
    await p2.getByRole('button', { name: 'Join cluster' }).click();
    await p2.getByRole('alertdialog', { name: 'Join node n2 to the cluster?' }).getByRole('button', { name: 'Join' }).click();
    // The node's key and users are the cluster's now: this session ends, and the login page says why.
    await p2.getByText('This node joined a cluster: log in with a cluster account.').waitFor({ timeout: JOIN_MS });
    await login(p2, 'admin', ADMIN_PASSWORD);
    const banner = p2.locator('.cluster-banner', { hasText: 'Node n2 is a member of cluster office; its master is n1.' });
    await banner.waitFor({ timeout: JOIN_MS });
    assert.is(await banner.getByRole('link').getAttribute('href'), `${n1.url}/`);
    await shot(p2, 'member');
  } finally {
    await closePage(p2);
  }

  await page.reload();
  await nodeRow(page, 'n2').waitFor({ timeout: JOIN_MS });
  await page.getByText('Cluster office: 2 nodes, managed through the master n1.').waitFor();
  const r1 = await nodeRow(page, 'n1').innerText();
  const r2 = await nodeRow(page, 'n2').innerText();
  assert.match(r1, /Online[\s\S]*Master/);
  assert.match(r2, /Online[\s\S]*Member/);
  assert.match(r2, /config \d+/);
  assert.not.match(r2, 'behind the master', 'n2 holds the generation the join gave it');
  const table = (await page.locator('main table').boundingBox())!;
  const main = (await page.locator('main').boundingBox())!;
  await shot(page, 'nodes');
  assert.ok(table.x + table.width <= main.x + main.width + 1, 'the node list fits the kiosk screen');
});

test('should create a guest on n2 from n1\'s UI, list it with its node, start and stop it there', async (ctx) => {
  const [, n2] = nodes(ctx);
  const page = ctx.page!;
  await page.goto(`${ctx.cluster!.nodes[0]!.url}/#/guests/new`);
  await page.getByRole('heading', { name: 'Create guest', level: 1 }).waitFor();
  const node = page.getByLabel('Node', { exact: true });
  // (An option whose value is its text carries no value attribute: Preact sets the property.)
  await node.locator('option', { hasText: /^n2$/ }).waitFor({ state: 'attached' });
  assert.is(await node.inputValue(), 'n1', 'the node serving the page by default');
  assert.equal(await node.locator('option').allInnerTexts(), ['n1 (master)', 'n2']);
  await node.selectOption('n2');
  await page.getByLabel('Name').fill('on-two');
  await page.getByLabel('Guest OS').selectOption('other');
  await page.getByLabel('Disk size').fill('1');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForURL(/#\/guests\/\d+\/start$/, { timeout: JOIN_MS });
  const vmid = (ctx.vmid = Number(/#\/guests\/(\d+)\/start$/.exec(page.url())![1]));
  assert.ok(existsSync(join(n2.root, `etc/ramvm/vms/${vmid}.json`)), 'its config is on n2');
  assert.is(existsSync(join(ctx.cluster!.nodes[0]!.root, `etc/ramvm/vms/${vmid}.json`)), false);
  installBootSector(join(n2.root, `var/lib/vz/images/${vmid}/vm-${vmid}-disk-0.qcow2`), 'qcow2');

  await page.goto(`${ctx.cluster!.nodes[0]!.url}/#/guests`);
  const row = page.locator('main tbody tr', { hasText: 'on-two' });
  await row.waitFor();
  assert.match(await row.innerText(), 'n2');
  // The node filter: n1 has none of them.
  await page.getByLabel('Node', { exact: true }).selectOption('n1');
  await row.waitFor({ state: 'detached' });
  await page.getByLabel('Node', { exact: true }).selectOption('n2');
  await row.waitFor();

  await row.getByRole('button', { name: 'Start' }).click();
  await row.locator('.badge-running').waitFor({ timeout: JOIN_MS });
  await waitForSerial(join(n2.root, `run/ramvm/qemu/${vmid}.serial.log`), GUEST_MARKER);
  const pid = readFileSync(join(n2.root, `run/ramvm/qemu/${vmid}.pid`), 'utf8').trim();
  assert.is(spawnSync('ip', ['netns', 'identify', pid], { encoding: 'utf8' }).stdout.trim(), n2.ns, 'its QEMU runs in n2\'s namespace');
  await shot(page, 'guests');

  // Its console, opened on the master: the websocket is forwarded to n2, and the guest's screen is drawn.
  await page.goto(`${ctx.cluster!.nodes[0]!.url}/#/console/${vmid}`);
  await page.getByRole('heading', { name: `Console of guest ${vmid}` }).waitFor();
  await page.locator('.console-toolbar .badge').filter({ hasText: 'Connected' }).waitFor({ timeout: JOIN_MS });
  const lit = await page.waitForFunction(() => {
    const c = document.querySelector<HTMLCanvasElement>('.console-screen canvas');
    if (!c || c.width === 0) return 0;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i]! + d[i + 1]! + d[i + 2]! > 0) n++;
    return n > 500 ? n : 0;
  }, undefined, { timeout: JOIN_MS, polling: 200 });
  assert.ok((await lit.jsonValue()) > 500, 'the console through the master shows the guest\'s screen');
  await shot(page, 'console');
  await page.goto(`${ctx.cluster!.nodes[0]!.url}/#/guests`);
  await row.waitFor();

  await row.getByRole('button', { name: 'Stop' }).click();
  await page.getByRole('alertdialog', { name: `Stop guest ${vmid} (on-two)?` }).getByRole('button', { name: `Stop guest ${vmid}` }).click();
  await row.locator('.badge-neutral', { hasText: 'Stopped' }).waitFor({ timeout: JOIN_MS });

  // The task list of the cluster names the node each task ran on.
  await page.goto(`${ctx.cluster!.nodes[0]!.url}/#/tasks`);
  await page.getByRole('columnheader', { name: 'Node' }).waitFor();
  const joined = page.locator('main tbody tr', { hasText: 'cluster-join' });
  await joined.waitFor();
  assert.match(await joined.innerText(), 'n2');
});

test('should show a node\'s set-up log on its page, asked of that node through the master', async (ctx) => {
  const [, n2] = nodes(ctx);
  const page = ctx.page!;
  // n2 as if booted from the node image: its /ram.log is root/ram.log of its tree.
  writeFileSync(join(n2.root, 'ram.log'), '[   1.02]   1% stage 1: root stacked\n[  38.33]  90% set-up done; the cluster forms once the web server runs\n[  87.94] 100% cluster office: formed: the cluster lists n1, n2\n');
  try {
    await page.goto(`${ctx.cluster!.nodes[0]!.url}/#/nodes/n2`);
    await page.getByText('Set-up: 100 %').waitFor();
    await page.getByText('Show the log (3 lines)').click();
    await page.getByRole('log', { name: 'Set-up log (/ram.log)' }).getByText('cluster office: formed').waitFor();
    await page.goto(`${ctx.cluster!.nodes[0]!.url}/#/nodes/n1`);
    await page.getByText('This node did not boot from the node image: it has no set-up log.').waitFor();
  } finally {
    rmSync(join(n2.root, 'ram.log'), { force: true });
  }
});

test('should refuse to remove n2 while it has a guest, and remove it once it has none', async (ctx) => {
  const [n1, n2] = nodes(ctx);
  const page = ctx.page!;
  await page.goto(`${n1.url}/#/nodes`);
  const remove = nodeRow(page, 'n2').getByRole('button', { name: 'Remove node n2' });
  await nodeRow(page, 'n2').getByText('It has 1 guests: move or delete them first.').waitFor();
  assert.ok(await remove.isDisabled(), 'not with a guest on it');
  assert.ok(await nodeRow(page, 'n1').getByRole('button', { name: 'Remove node n1' }).isDisabled(), 'never the master');

  // Delete the guest from its page (through the master, on n2).
  await page.goto(`${n1.url}/#/guests/${ctx.vmid}`);
  await page.getByRole('button', { name: 'Delete' }).click();
  const del = page.getByRole('alertdialog', { name: `Delete guest ${ctx.vmid} (on-two)?` });
  await del.getByLabel(`Type “${ctx.vmid}” to confirm`).fill(String(ctx.vmid));
  await del.getByRole('button', { name: `Delete guest ${ctx.vmid}` }).click();
  await page.waitForURL(/#\/guests$/);
  assert.is(existsSync(join(n2.root, `etc/ramvm/vms/${ctx.vmid}.json`)), false);

  await page.goto(`${n1.url}/#/nodes`);
  await nodeRow(page, 'n2').getByRole('button', { name: 'Remove node n2' }).and(page.locator(':enabled')).waitFor({ timeout: JOIN_MS });
  await nodeRow(page, 'n2').getByRole('button', { name: 'Remove node n2' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Remove node n2 from office?' });
  const confirm = dialog.getByRole('button', { name: 'Remove n2' });
  assert.ok(await confirm.isDisabled(), 'not before the name is typed');
  await dialog.getByLabel('Type “n2” to confirm').fill('n2');
  await confirm.click();
  await nodeRow(page, 'n2').waitFor({ state: 'detached', timeout: JOIN_MS });
  await page.getByText('Cluster office: 1 nodes, managed through the master n1.').waitFor();
  assert.is(existsSync(join(n2.root, 'etc/ramvm/cluster/cluster.json')), false, 'n2 was told to leave: a single node again');
});

test.run();
