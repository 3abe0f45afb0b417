/**
 * An ISO distribution's task page in real Chromium against the master of a
 * real two-node cluster (network namespaces, test/helpers/cluster.ts): the
 * "Per node" table shows n2's copy done, and after an upload while n2's web
 * server is down, n2's part failed with the reason the master gave.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { formCluster, startTestCluster, waitTask, type TestCluster } from '../helpers/cluster';
import { ADMIN_PASSWORD, type Client } from '../helpers/node';
import { closeBrowser, closePage, launchBrowser, login, openPage } from '../helpers/browser';

interface Ctx {
  c?: TestCluster;
  master?: Client;
  browser?: Browser;
  dir?: string;
}

const test = suite<Ctx>('ISO distribution in Chromium', {});
/** A distribution on a loaded machine. */
const TASK_TIMEOUT_MS = 120_000;

test.before(async (ctx) => {
  ctx.c = await startTestCluster(2);
  ctx.master = await formCluster(ctx.c, 'office');
  ctx.browser = await launchBrowser();
  ctx.dir = mkdtempSync(join(tmpdir(), 'ramvm-cluster-iso-browser-'));
});

test.after(async (ctx) => {
  await closeBrowser(ctx.browser);
  await ctx.c?.stop();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

/** Upload a file of random bytes to the master; the distribution task's id. */
async function upload(ctx: Ctx, name: string): Promise<string> {
  const path = join(ctx.dir!, name);
  const data = randomBytes(1024 * 1024);
  writeFileSync(path, data);
  const sha = createHash('sha256').update(data).digest('hex');
  const u = new URL(`${ctx.c!.nodes[0]!.url}/api/iso/${name}?sha256=${sha}`);
  const answer = await new Promise<{ status: number; text: string }>((res, rej) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'PUT', headers: { cookie: ctx.master!.cookie!, 'x-ramvm-csrf': ctx.master!.csrf!, 'content-length': String(statSync(path).size) } },
      (r) => {
        let text = '';
        r.on('data', (d) => (text += d));
        r.on('end', () => res({ status: r.statusCode!, text }));
      },
    );
    req.on('error', rej);
    createReadStream(path).pipe(req);
  });
  assert.is(answer.status, 201, answer.text);
  return JSON.parse(answer.text).data.task;
}

/** The task's page on the master, logged in; the rows of its "Per node" table as text. */
async function partRows(ctx: Ctx, id: string): Promise<{ page: Page; rows: string[][] }> {
  const page = await openPage(ctx.browser!, ctx.c!.nodes[0]!, { hash: `#/tasks/${encodeURIComponent(id)}` });
  await login(page, 'admin', ADMIN_PASSWORD);
  await page.goto(`${ctx.c!.nodes[0]!.url}/#/tasks/${encodeURIComponent(id)}`);
  const section = page.locator('section', { has: page.locator('h2', { hasText: 'Per node' }) });
  await section.locator('tbody tr').first().waitFor();
  const rows = await section.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => (td.textContent ?? '').trim()).concat((tr.querySelector('.task-message')?.textContent ?? '').trim())),
  );
  return { page, rows };
}

test('should show the node that took its copy on the task page', async (ctx) => {
  const id = await upload(ctx, 'shown.iso');
  assert.is((await waitTask(ctx.master!, id, TASK_TIMEOUT_MS)).status, 'ok');
  const { page, rows } = await partRows(ctx, id);
  try {
    assert.equal(rows, [['n2', 'OK', 'shown.iso copied']]);
    assert.ok(await page.locator('h1', { hasText: 'ISO images to the nodes' }).count(), 'the task kind named');
  } finally {
    await closePage(page);
  }
});

test('should show a node that was down as failed, with the reason', async (ctx) => {
  const n2 = ctx.c!.nodes[1]!;
  await n2.kill();
  let id: string;
  try {
    id = await upload(ctx, 'missed.iso');
    assert.is((await waitTask(ctx.master!, id, TASK_TIMEOUT_MS)).status, 'failed');
  } finally {
    await n2.revive();
  }
  const { page, rows } = await partRows(ctx, id);
  try {
    assert.is(rows.length, 1);
    assert.equal(rows[0]!.slice(0, 2), ['n2', 'Failed']);
    assert.match(rows[0]![2]!, /^node n2 does not answer at https:\/\/[0-9.]+:8007 \(connection refused\)$/);
    assert.ok(await page.locator('tbody tr .text-failed').count(), 'the failed part marked');
  } finally {
    await closePage(page);
  }
});

test.run();
