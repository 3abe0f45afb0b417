/**
 * The shared components in real Chromium, where the native <dialog>, focus
 * and :focus-visible behave as users meet them: a small page bundled from
 * web/components with esbuild (as the app is) and web/style.css, driven by
 * the keyboard alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { ROOT } from '../../build/build';
import { closeBrowser, closePage, launchBrowser, KIOSK_VIEWPORT } from '../helpers/browser';

/** A page with a delete button guarded by ConfirmDialog (typed confirmation) and a filtered table. */
const HARNESS = `
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { html } from './web/html';
import { setLang } from './web/i18n';
import { ConfirmDialog } from './web/components/confirm-dialog';
import { DataTable } from './web/components/data-table';

setLang('en');
const log = (window.events = []);
const rows = [{ id: 101, name: 'mail' }, { id: 102, name: 'web' }, { id: 103, name: 'files' }];
const cols = [{ key: 'id', label: 'ID', value: (r) => r.id }, { key: 'name', label: 'Name', value: (r) => r.name }];

function Page() {
  const [open, setOpen] = useState(false);
  return html\`<main>
    <button id="before">Before</button>
    <button id="delete" onClick=\${() => setOpen(true)}>Delete guest 101</button>
    <\${ConfirmDialog} open=\${open} title="Delete guest 101?" message="Its disks go too." confirmLabel="Delete"
      requireText="101"
      onConfirm=\${() => { log.push('confirmed'); setOpen(false); }}
      onCancel=\${() => { log.push('cancelled'); setOpen(false); }} />
    <\${DataTable} label="Guests" columns=\${cols} rows=\${rows} rowKey=\${(r) => r.id} />
  </main>\`;
}
render(html\`<\${Page} />\`, document.body);
`;

interface Ctx {
  browser?: Browser;
  html?: string;
}

const test = suite<Ctx>('shared components in Chromium', {});

test.before(async (ctx) => {
  const out = await build({
    stdin: { contents: HARNESS, resolveDir: ROOT, loader: 'ts', sourcefile: 'harness.ts' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'warning',
  });
  const css = readFileSync(join(ROOT, 'web/style.css'), 'utf8');
  ctx.html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><style>${css}</style></head><body><script>${out.outputFiles[0]!.text}</script></body></html>`;
  ctx.browser = await launchBrowser();
});

test.after(async (ctx) => {
  await closeBrowser(ctx.browser);
});

async function open(ctx: Ctx): Promise<Page> {
  const context = await ctx.browser!.newContext({ viewport: KIOSK_VIEWPORT, reducedMotion: 'reduce' });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  await page.setContent(ctx.html!);
  await page.locator('#delete').waitFor();
  return page;
}

const active = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    return { id: el.id, text: el.textContent?.trim(), tag: el.tagName, ring: getComputedStyle(el).outlineStyle !== 'none', inDialog: !!el.closest('dialog') };
  });

test('should trap Tab in the confirm dialog, close on Escape and return the focus', async (ctx) => {
  const page = await open(ctx);
  try {
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.is((await active(page)).id, 'delete');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('alertdialog', { name: 'Delete guest 101?' });
    await dialog.waitFor();
    assert.ok(await dialog.evaluate((d: HTMLDialogElement) => d.open && d.matches(':modal')), 'a modal dialog');
    let a = await active(page);
    assert.is(a.tag, 'INPUT', 'the confirmation box has the focus');
    assert.ok(a.ring, 'with a visible ring');

    // Tab around: input → Cancel → (Delete is disabled) → back to the input; never out of the dialog.
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      a = await active(page);
      assert.ok(a.inDialog, `Tab ${i + 1} stays in the dialog (on ${a.tag} ${a.text})`);
      seen.push(a.tag === 'INPUT' ? 'input' : a.text!);
    }
    assert.equal(seen, ['Cancel', 'input', 'Cancel', 'input']);
    await page.keyboard.press('Shift+Tab');
    assert.is((await active(page)).text, 'Cancel', 'Shift+Tab wraps too');

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // The focus goes back in the dialog's effect cleanup, which Preact runs after the next paint,
    // not with the removal: wait for it rather than read the focus once.
    await page.waitForFunction(() => document.activeElement?.id === 'delete', undefined, { timeout: 5_000 }).catch(() => undefined);
    assert.is((await active(page)).id, 'delete', 'the focus is back on the button that opened it');
    assert.equal(await page.evaluate(() => (window as any).events), ['cancelled']);
  } finally {
    await closePage(page);
  }
});

test('should confirm only after the required text is typed, by keyboard', async (ctx) => {
  const page = await open(ctx);
  try {
    await page.locator('#delete').focus();
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('button', { name: 'Delete', exact: true });
    await confirm.waitFor();
    assert.ok(await confirm.isDisabled());
    await page.keyboard.type('10');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => (window as any).events), [], 'Enter with the wrong text does nothing');
    await page.keyboard.type('1');
    assert.not.ok(await confirm.isDisabled());
    await page.keyboard.press('Enter');
    await page.getByRole('alertdialog').waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => (window as any).events), ['confirmed']);
    assert.is((await active(page)).id, 'delete');
  } finally {
    await closePage(page);
  }
});

test('should filter and sort the table from the keyboard', async (ctx) => {
  const page = await open(ctx);
  try {
    await page.getByLabel('Filter').focus();
    await page.keyboard.type('e');
    await page.getByText('Showing 2 of 3').waitFor();
    await page.keyboard.type('b');
    await page.getByText('Showing 1 of 3').waitFor();
    assert.equal(await page.locator('tbody tr td:nth-child(2)').allInnerTexts(), ['web']);
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.is((await active(page)).text, 'Name');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    assert.is(await page.locator('th').nth(1).getAttribute('aria-sort'), 'descending');
    assert.equal(await page.locator('tbody tr td:nth-child(2)').allInnerTexts(), ['web', 'mail', 'files']);
  } finally {
    await closePage(page);
  }
});

test.run();
