/**
 * A table with a text filter and sortable columns. The filter keeps rows
 * where any column's text contains every word typed (case-insensitive); the
 * count of shown rows is announced politely. Header buttons sort, and the
 * header says how (aria-sort). A table wider than its place scrolls sideways
 * on its own; below 640 px the rows stack as cards, each cell labelled with
 * its column (data-label).
 *
 *   html`<${DataTable} label=${t('guests.title')} rows=${vms} rowKey=${(v) => v.vmid}
 *          columns=${[
 *            { key: 'vmid', label: 'ID', value: (v) => v.vmid },
 *            { key: 'name', label: t('guests.name'), value: (v) => v.name,
 *              render: (v) => html`<a href=${href('guests', v.vmid)}>${v.name}</a>` },
 *          ]} />`
 */
import type { ComponentChildren } from 'preact';
import { useMemo, useState, useId } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';

export interface Column<R> {
  key: string;
  label: string;
  /** The cell's text, used to filter and sort (number sorts numerically). */
  value: (row: R) => string | number | null | undefined;
  /** What sorts the column when it differs from the text (a time shown formatted). */
  sortValue?: (row: R) => string | number | null | undefined;
  /** What the cell shows (default: the value). */
  render?: (row: R) => ComponentChildren;
  sortable?: boolean;
  /** Extra class of the cells ("num" right-aligns). */
  class?: string;
}

export interface DataTableProps<R> {
  /** The table's accessible name (its caption). */
  label: string;
  columns: Column<R>[];
  rows: readonly R[];
  rowKey: (row: R) => string | number;
  /** Label of the filter box (default: "Filter"); false hides it. */
  filter?: string | false;
  /** Text when there are no rows at all. */
  empty?: string;
  initialSort?: { key: string; dir: 'asc' | 'desc' };
  rowClass?: (row: R) => string | undefined;
}

export type SortDir = 'asc' | 'desc';

/** Rows whose columns together contain every word of `query`. */
export function filterRows<R>(rows: readonly R[], columns: readonly Column<R>[], query: string): R[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...rows];
  return rows.filter((r) => {
    const text = columns.map((c) => String(c.value(r) ?? '')).join('\u0000').toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** Rows ordered by one column; numbers numerically, text by locale, empty last. */
export function sortRows<R>(rows: readonly R[], col: Column<R> | undefined, dir: SortDir): R[] {
  if (!col) return [...rows];
  const sign = dir === 'asc' ? 1 : -1;
  const key = col.sortValue ?? col.value;
  return [...rows].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (x === y) return 0;
    if (x === null || x === undefined || x === '') return 1;
    if (y === null || y === undefined || y === '') return -1;
    if (typeof x === 'number' && typeof y === 'number') return (x - y) * sign;
    return String(x).localeCompare(String(y), undefined, { numeric: true }) * sign;
  });
}

export function DataTable<R>(p: DataTableProps<R>) {
  const id = useId();
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState(p.initialSort ?? null);
  const shown = useMemo(() => {
    const col = sort ? p.columns.find((c) => c.key === sort.key) : undefined;
    return sortRows(filterRows(p.rows, p.columns, query), col, sort?.dir ?? 'asc');
  }, [p.rows, p.columns, query, sort]);

  const toggle = (key: string) =>
    setSort((s) => (s?.key === key ? { key, dir: s.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: 'asc' }));

  const header = (c: Column<R>) => {
    const sorted = sort?.key === c.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined;
    return html`<th scope="col" class=${c.class} aria-sort=${sorted}>
      ${c.sortable === false
        ? c.label
        : html`<button type="button" class="th-sort" onClick=${() => toggle(c.key)}>
            ${c.label}<span class="sort-mark" aria-hidden="true">${sorted === 'ascending' ? '▲' : sorted === 'descending' ? '▼' : ''}</span>
          </button>`}
    </th>`;
  };

  return html`<div class="table-wrap">
    ${p.filter !== false &&
    html`<div class="table-tools">
      <label for=${`q${id}`}>${p.filter ?? t('table.filter')}</label>
      <input id=${`q${id}`} type="search" value=${query} onInput=${(e: Event) => setQuery((e.currentTarget as HTMLInputElement).value)} />
      <span class="table-count" role="status">${query ? t('table.count', { shown: shown.length, total: p.rows.length }) : ''}</span>
    </div>`}
    <div class="table-scroll">
    <table class="table">
      <caption class="sr-only">${p.label}</caption>
      <thead><tr>${p.columns.map(header)}</tr></thead>
      <tbody>
        ${shown.map(
          (r) => html`<tr key=${p.rowKey(r)} class=${p.rowClass?.(r)}>
            ${p.columns.map((c) => html`<td class=${c.class} data-label=${c.label}>${c.render ? c.render(r) : c.value(r)}</td>`)}
          </tr>`,
        )}
      </tbody>
    </table>
    </div>
    ${shown.length === 0 &&
    html`<p class="table-empty">${p.rows.length === 0 ? (p.empty ?? t('table.empty')) : t('table.noMatch')}</p>`}
  </div>`;
}
