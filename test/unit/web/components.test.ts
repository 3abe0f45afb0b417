import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { useState } from 'preact/hooks';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { ApiError } from '../../../web/api';
import { ProgressBar } from '../../../web/components/progress-bar';
import { StatusBadge } from '../../../web/components/status-badge';
import { ErrorBanner } from '../../../web/components/error-banner';
import { Field, fieldError } from '../../../web/components/field';
import { DataTable, filterRows, sortRows, type Column } from '../../../web/components/data-table';
import { ConfirmDialog } from '../../../web/components/confirm-dialog';
import { click, key, mount, settle, text, typeInto, unmount, useDom } from './dom';

const progress = suite('ProgressBar');
useDom(progress);
progress.before(() => setLang('en'));

progress('should expose the value to assistive technology and as text', async () => {
  const el = await mount(html`<${ProgressBar} value=${45} label="Backup of 101" />`);
  const bar = el.querySelector('[role="progressbar"]')!;
  assert.is(bar.getAttribute('aria-valuenow'), '45');
  assert.is(bar.getAttribute('aria-valuemin'), '0');
  assert.is(bar.getAttribute('aria-valuemax'), '100');
  assert.is(bar.getAttribute('aria-label'), 'Backup of 101');
  assert.is(bar.getAttribute('aria-valuetext'), '45 %');
  assert.is(text(el.querySelector('.progress-text')), '45 %');
  assert.is((el.querySelector('.progress-fill') as HTMLElement).style.width, '45%');
  await unmount(el);
});

const VALUES: Array<[number, string, string]> = [
  [-5, '0', 'below 0 clamps to 0'],
  [140, '100', 'above 100 clamps to 100'],
  [33.6, '34', 'fractions round'],
];
for (const [v, want, why] of VALUES) {
  progress(`should show ${want} for ${v} (${why})`, async () => {
    const el = await mount(html`<${ProgressBar} value=${v} label="x" />`);
    assert.is(el.querySelector('[role="progressbar"]')!.getAttribute('aria-valuenow'), want);
    await unmount(el);
  });
}

progress('should leave out aria-valuenow when the progress is unknown', async () => {
  const el = await mount(html`<${ProgressBar} value=${null} label="x" />`);
  assert.not.ok(el.querySelector('[role="progressbar"]')!.hasAttribute('aria-valuenow'));
  assert.ok(el.querySelector('.progress-busy'));
  assert.is(el.querySelector('.progress-text'), null);
  await unmount(el);
});

progress.run();

const badge = suite('StatusBadge');
useDom(badge);

badge('should carry the status as a word and an icon, not only a colour', async () => {
  const el = await mount(html`<${StatusBadge} tone="failed" label="Failed" />`);
  const b = el.querySelector('.badge')!;
  assert.ok(b.classList.contains('badge-failed'));
  assert.is(text(b), 'Failed');
  assert.ok(b.querySelector('svg[aria-hidden="true"] path'));
  await unmount(el);
});

badge('should draw a different icon for each tone', async () => {
  const tones = ['ok', 'running', 'failed', 'warning', 'paused', 'neutral'];
  const el = await mount(html`${tones.map((tone) => html`<${StatusBadge} tone=${tone} label=${tone} />`)}`);
  const shapes = [...el.querySelectorAll('path')].map((p) => p.getAttribute('d'));
  assert.is(new Set(shapes).size, tones.length);
  await unmount(el);
});

badge.run();

const banner = suite('ErrorBanner');
useDom(banner);
banner.before(() => setLang('en'));

banner('should announce an API error with a headline from its status, the node\'s message and the code', async () => {
  const el = await mount(html`<${ErrorBanner} error=${new ApiError(409, 'conflict', 'guest 101 is running')} />`);
  const b = el.querySelector('[role="alert"]')!;
  assert.ok(b);
  assert.match(text(b), 'Not possible in the current state.');
  assert.match(text(b), 'guest 101 is running');
  assert.match(text(b), 'Code: conflict');
  await unmount(el);
});

banner('should explain an unreachable node without a code', async () => {
  const el = await mount(html`<${ErrorBanner} error=${new ApiError(0, 'network', 'Failed to fetch')} />`);
  assert.match(text(el), 'The node cannot be reached');
  assert.not.match(text(el), 'Code:');
  assert.not.match(text(el), 'Failed to fetch');
  await unmount(el);
});

banner('should render nothing without an error, and offer retry and dismiss when given', async () => {
  const empty = await mount(html`<${ErrorBanner} error=${null} />`);
  assert.is(empty.innerHTML, '');
  await unmount(empty);
  let retried = 0;
  let dismissed = 0;
  const el = await mount(html`<${ErrorBanner} error=${new Error('boom')} onRetry=${() => retried++} onDismiss=${() => dismissed++} />`);
  const [retry, dismiss] = [...el.querySelectorAll('button')];
  assert.is(text(retry!), 'Try again');
  await click(retry!);
  await click(dismiss!);
  assert.equal([retried, dismissed], [1, 1]);
  await unmount(el);
});

banner.run();

const field = suite('Field');
useDom(field);
field.before(() => setLang('en'));

field('should tie its label to the input', async () => {
  const el = await mount(html`<${Field} label="Memory (MiB)" name="memory" type="number" value="512" />`);
  const input = el.querySelector('input')!;
  const label = el.querySelector('label')!;
  assert.ok(input.id);
  assert.is(label.getAttribute('for'), input.id);
  assert.is(input.getAttribute('name'), 'memory');
  assert.is(input.getAttribute('type'), 'number');
  assert.not.ok(input.hasAttribute('aria-invalid'));
  assert.not.ok(input.hasAttribute('aria-describedby'));
  await unmount(el);
});

field('should mark the input invalid and point it at the message', async () => {
  const el = await mount(html`<${Field} label="Name" error="must not be empty" hint="letters and digits" required />`);
  const input = el.querySelector('input')!;
  assert.is(input.getAttribute('aria-invalid'), 'true');
  const ids = input.getAttribute('aria-describedby')!.split(' ');
  assert.equal(ids.map((id) => text(el.querySelector(`[id="${id}"]`))), ['letters and digits', 'must not be empty']);
  assert.ok(input.required);
  assert.match(text(el.querySelector('label')), '(required)');
  await unmount(el);
});

field('should wrap a given control instead of an input', async () => {
  const el = await mount(html`<${Field} label="Bus" error="unknown bus"><select><option>ide</option></select></${Field}>`);
  const select = el.querySelector('select')!;
  assert.is(el.querySelectorAll('input').length, 0);
  assert.is(el.querySelector('label')!.getAttribute('for'), select.id);
  assert.is(select.getAttribute('aria-invalid'), 'true');
  await unmount(el);
});

field('should show the message as the user types (inline validation)', async () => {
  function Form() {
    const [v, setV] = useState('');
    const error = v !== '' && !/^\d+$/.test(v) ? 'digits only' : null;
    return html`<${Field} label="VMID" value=${v} error=${error} onInput=${(e: Event) => setV((e.currentTarget as HTMLInputElement).value)} />`;
  }
  const el = await mount(html`<${Form} />`);
  await typeInto(el.querySelector('input'), '10x');
  assert.is(text(el.querySelector('.field-error')), 'digits only');
  await typeInto(el.querySelector('input'), '101');
  assert.is(el.querySelector('.field-error'), null);
  assert.not.ok(el.querySelector('input')!.hasAttribute('aria-invalid'));
  await unmount(el);
});

field.run();

const ferr = suite('fieldError');

const FERRS: Array<[unknown, string, string | null, string]> = [
  [new ApiError(400, 'invalid', 'memory: must be at least 16'), 'memory', 'must be at least 16', 'the field it names'],
  [new ApiError(400, 'invalid', 'memory: must be at least 16'), 'cores', null, 'another field'],
  [new ApiError(409, 'conflict', 'memory: x'), 'memory', null, 'not a validation error'],
  [new Error('memory: x'), 'memory', null, 'not from the node'],
];
for (const [err, name, want, why] of FERRS) {
  ferr(`should answer ${JSON.stringify(want)} for ${name} (${why})`, () => assert.is(fieldError(err, name), want));
}

ferr.run();

interface Vm {
  vmid: number;
  name: string;
  status: string;
}
const VMS: Vm[] = [
  { vmid: 101, name: 'mail', status: 'running' },
  { vmid: 110, name: 'files', status: 'stopped' },
  { vmid: 102, name: 'web mail', status: 'stopped' },
];
const COLS: Column<Vm>[] = [
  { key: 'vmid', label: 'ID', value: (v) => v.vmid },
  { key: 'name', label: 'Name', value: (v) => v.name },
  { key: 'status', label: 'Status', value: (v) => v.status },
];

const pure = suite('filterRows / sortRows');

const FILTERS: Array<[string, number[], string]> = [
  ['', [101, 110, 102], 'empty: everything'],
  ['mail', [101, 102], 'a word in any column'],
  ['MAIL stopped', [102], 'every word must match, case ignored'],
  ['11', [110], 'numbers are text too'],
  ['nothing', [], 'no match'],
];
for (const [q, want, why] of FILTERS) {
  pure(`should keep ${JSON.stringify(want)} for ${JSON.stringify(q)} (${why})`, () => {
    assert.equal(filterRows(VMS, COLS, q).map((v) => v.vmid), want);
  });
}

pure('should sort numbers numerically, text by locale, both ways', () => {
  assert.equal(sortRows(VMS, COLS[0], 'asc').map((v) => v.vmid), [101, 102, 110]);
  assert.equal(sortRows(VMS, COLS[0], 'desc').map((v) => v.vmid), [110, 102, 101]);
  assert.equal(sortRows(VMS, COLS[1], 'asc').map((v) => v.name), ['files', 'mail', 'web mail']);
});

pure('should sort by sortValue when a column has one, and put empty values last', () => {
  const col: Column<{ t: string; at: number | null }> = { key: 't', label: 'T', value: (r) => r.t, sortValue: (r) => r.at };
  const rows = [
    { t: 'b', at: 1 },
    { t: 'a', at: null },
    { t: 'c', at: 0 },
  ];
  assert.equal(sortRows(rows, col, 'asc').map((r) => r.t), ['c', 'b', 'a']);
});

pure.run();

const table = suite('DataTable');
useDom(table);
table.before(() => setLang('en'));

const cellsOf = (el: Element, col: number) => [...el.querySelectorAll('tbody tr')].map((tr) => text(tr.children[col]!));

table('should filter rows as the user types and say how many are shown', async () => {
  const el = await mount(html`<${DataTable} label="Guests" columns=${COLS} rows=${VMS} rowKey=${(v: Vm) => v.vmid} />`);
  const input = el.querySelector('input[type="search"]')!;
  assert.is(el.querySelector(`label[for="${input.id}"]`)!.textContent, 'Filter');
  assert.equal(cellsOf(el, 0), ['101', '110', '102']);
  await typeInto(input, 'mail');
  assert.equal(cellsOf(el, 0), ['101', '102']);
  assert.is(text(el.querySelector('[role="status"]')), 'Showing 2 of 3');
  await typeInto(input, 'zzz');
  assert.is(el.querySelectorAll('tbody tr').length, 0);
  assert.is(text(el.querySelector('.table-empty')), 'Nothing matches the filter.');
  await unmount(el);
});

table('should sort by a header button and say so with aria-sort', async () => {
  const el = await mount(html`<${DataTable} label="Guests" columns=${COLS} rows=${VMS} rowKey=${(v: Vm) => v.vmid} />`);
  const th = el.querySelectorAll('th')[1]!;
  assert.not.ok(th.hasAttribute('aria-sort'));
  await click(th.querySelector('button'));
  assert.is(th.getAttribute('aria-sort'), 'ascending');
  assert.equal(cellsOf(el, 1), ['files', 'mail', 'web mail']);
  await click(th.querySelector('button'));
  assert.is(th.getAttribute('aria-sort'), 'descending');
  assert.equal(cellsOf(el, 1), ['web mail', 'mail', 'files']);
  await unmount(el);
});

table('should label each cell with its column for the stacked phone layout, and name the table', async () => {
  const el = await mount(html`<${DataTable} label="Guests" columns=${COLS} rows=${VMS} rowKey=${(v: Vm) => v.vmid} />`);
  assert.equal([...el.querySelectorAll('tbody tr:first-child td')].map((td) => td.getAttribute('data-label')), ['ID', 'Name', 'Status']);
  assert.is(text(el.querySelector('caption')), 'Guests');
  await unmount(el);
});

table('should say when there is nothing at all, and use render for cells', async () => {
  const empty = await mount(html`<${DataTable} label="Guests" columns=${COLS} rows=${[]} rowKey=${(v: Vm) => v.vmid} empty="No guests yet." />`);
  assert.is(text(empty.querySelector('.table-empty')), 'No guests yet.');
  await unmount(empty);
  const cols: Column<Vm>[] = [{ ...COLS[1]!, render: (v) => html`<a href=${`#/guests/${v.vmid}`}>${v.name}</a>` }];
  const el = await mount(html`<${DataTable} label="Guests" columns=${cols} rows=${VMS} rowKey=${(v: Vm) => v.vmid} filter=${false} />`);
  assert.is(el.querySelector('input'), null);
  assert.is(el.querySelector('tbody a')!.getAttribute('href'), '#/guests/101');
  await unmount(el);
});

table.run();

const confirm = suite('ConfirmDialog');
useDom(confirm);
confirm.before(() => setLang('en'));

/** A page with a button that opens the dialog, as a view would use it. */
function Page(props: { requireText?: string; onConfirm: () => void | Promise<void> }) {
  const [open, setOpen] = useState(false);
  return html`<button id="opener" onClick=${() => setOpen(true)}>Delete</button>
    <${ConfirmDialog}
      open=${open}
      title="Delete guest 101?"
      message="Its disks are removed too."
      confirmLabel="Delete guest 101"
      requireText=${props.requireText}
      onConfirm=${async () => {
        await props.onConfirm();
        setOpen(false);
      }}
      onCancel=${() => setOpen(false)}
    />`;
}

confirm('should open as a labelled alert dialog with the focus on Cancel', async () => {
  const el = await mount(html`<${Page} onConfirm=${() => undefined} />`);
  const opener = el.querySelector<HTMLElement>('#opener')!;
  opener.focus();
  await click(opener);
  const d = el.querySelector('dialog')!;
  assert.ok(d.open);
  assert.is(d.getAttribute('role'), 'alertdialog');
  assert.is(d.getAttribute('aria-modal'), 'true');
  assert.is(text(document.getElementById(d.getAttribute('aria-labelledby')!)), 'Delete guest 101?');
  assert.is(text(document.getElementById(d.getAttribute('aria-describedby')!)), 'Its disks are removed too.');
  assert.is(document.activeElement, d.querySelector('.dialog-cancel'));
  await unmount(el);
});

confirm('should keep Tab and Shift+Tab inside the dialog', async () => {
  const el = await mount(html`<${Page} onConfirm=${() => undefined} />`);
  await click(el.querySelector('#opener'));
  const d = el.querySelector('dialog')!;
  const cancel = d.querySelector<HTMLElement>('.dialog-cancel')!;
  const ok = d.querySelector<HTMLElement>('.dialog-confirm')!;
  ok.focus();
  await key(ok, 'Tab');
  assert.is(document.activeElement, cancel, 'Tab on the last control wraps to the first');
  await key(cancel, 'Tab', { shiftKey: true });
  assert.is(document.activeElement, ok, 'Shift+Tab on the first control wraps to the last');
  await unmount(el);
});

confirm('should close on Escape without confirming and give the focus back to the opener', async () => {
  let confirmed = 0;
  const el = await mount(html`<${Page} onConfirm=${() => void confirmed++} />`);
  const opener = el.querySelector<HTMLElement>('#opener')!;
  opener.focus();
  await click(opener);
  await key(document.activeElement, 'Escape');
  assert.is(el.querySelector('dialog'), null);
  assert.is(confirmed, 0);
  assert.is(document.activeElement, opener);
  await unmount(el);
});

confirm('should run the action on confirm, close, and give the focus back', async () => {
  let confirmed = 0;
  const el = await mount(html`<${Page} onConfirm=${() => void confirmed++} />`);
  const opener = el.querySelector<HTMLElement>('#opener')!;
  opener.focus();
  await click(opener);
  await click(el.querySelector('.dialog-confirm'));
  await settle();
  assert.is(confirmed, 1);
  assert.is(el.querySelector('dialog'), null);
  assert.is(document.activeElement, opener);
  await unmount(el);
});

confirm('should show a failed action in the dialog and stay open', async () => {
  const el = await mount(html`<${Page} onConfirm=${() => Promise.reject(new ApiError(409, 'conflict', 'guest 101 is running'))} />`);
  await click(el.querySelector('#opener'));
  await click(el.querySelector('.dialog-confirm'));
  await settle();
  const d = el.querySelector('dialog')!;
  assert.ok(d);
  assert.match(text(d.querySelector('[role="alert"]')), 'guest 101 is running');
  assert.not.ok((d.querySelector('.dialog-confirm') as HTMLButtonElement).disabled, 'the user may try again');
  await unmount(el);
});

confirm('should keep the action disabled until the required text is typed', async () => {
  let confirmed = 0;
  const el = await mount(html`<${Page} requireText="101" onConfirm=${() => void confirmed++} />`);
  await click(el.querySelector('#opener'));
  const d = el.querySelector('dialog')!;
  const input = d.querySelector('input')!;
  assert.is(document.activeElement, input, 'the text box has the focus');
  assert.match(text(d.querySelector(`label[for="${input.id}"]`)), 'Type “101” to confirm');
  const ok = d.querySelector<HTMLButtonElement>('.dialog-confirm')!;
  assert.ok(ok.disabled);
  await typeInto(input, '10');
  assert.ok(ok.disabled);
  d.querySelector('form')!.dispatchEvent(new (globalThis as any).Event('submit', { cancelable: true }));
  await settle();
  assert.is(confirmed, 0, 'Enter in the box does not confirm early');
  await typeInto(input, '101');
  assert.not.ok(ok.disabled);
  await click(ok);
  await settle();
  assert.is(confirmed, 1);
  await unmount(el);
});

confirm.run();
