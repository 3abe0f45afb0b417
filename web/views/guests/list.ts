/**
 * #/guests: every guest the user may see, with status, node, CPU, memory,
 * disk, uptime and power buttons, filtered and sorted in the table, polled
 * every POLL_MS. A guest that runs from a backup says so under its name.
 */
import type { VmListEntry } from '../../../node-cgi/api-types';
import type { Me } from '../../api';
import { client } from '../../client';
import { DataTable, type Column } from '../../components/data-table';
import { ErrorBanner } from '../../components/error-banner';
import { formatBytes as bytes, formatDuration, formatPercent } from '../../format';
import { usePoll } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';
import { can, GuestStatus, POLL_MS, statusLabel } from './common';
import { PowerButtons } from './power';
import { TemporaryBadge, temporaryText } from '../backups/temporary';

export function GuestList({ me }: { me: Me }) {
  const { data, error, reload } = usePoll(client.vms.list, { every: POLL_MS });
  const columns: Column<VmListEntry>[] = [
    { key: 'status', label: t('guests.col.status'), value: (g) => statusLabel(g.status, g.fault), render: (g) => html`<${GuestStatus} status=${g.status} fault=${g.fault} />` },
    {
      key: 'vmid',
      label: t('guests.col.guest'),
      value: (g) => `${g.vmid} ${g.name}${g.temporary ? ` ${temporaryText(g.temporary, g.linkDown === true)}` : ''}`,
      sortValue: (g) => g.vmid,
      render: (g) => html`<span class="guest-id">${g.vmid}</span> <a href=${href('guests', g.vmid)}>${g.name}</a>
        ${g.temporary && html` <${TemporaryBadge} mark=${g.temporary} /><div class="temp-line">${temporaryText(g.temporary, g.linkDown === true)}</div>`}`,
    },
    { key: 'node', label: t('guests.col.node'), value: (g) => g.node },
    { key: 'cpu', label: t('guests.col.cpu'), value: (g) => (g.status === 'stopped' ? '' : formatPercent(g.cpu)), sortValue: (g) => g.cpu, class: 'num' },
    {
      key: 'mem',
      label: t('guests.col.memory'),
      value: (g) => (g.status === 'stopped' ? bytes(g.maxmem) : t('guests.ofTotal', { used: bytes(g.mem), total: bytes(g.maxmem) })),
      sortValue: (g) => g.mem,
      class: 'num',
    },
    { key: 'disk', label: t('guests.col.disk'), value: (g) => t('guests.ofTotal', { used: bytes(g.disk), total: bytes(g.maxdisk) }), sortValue: (g) => g.disk, class: 'num' },
    { key: 'uptime', label: t('guests.col.uptime'), value: (g) => (g.status === 'stopped' ? '' : formatDuration(g.uptime * 1000)), sortValue: (g) => g.uptime, class: 'num' },
    {
      key: 'actions',
      label: t('table.actions'),
      value: () => '',
      sortable: false,
      render: (g) => html`<${PowerButtons} vmid=${g.vmid} name=${g.name} status=${g.status} fault=${g.fault} temporary=${g.temporary} onDone=${reload} small=${true} />`,
    },
  ];
  return html`<div class="page-head">
      <h1>${t('guests.title')}</h1>
      ${can(me, 'VM.Allocate') && html`<a class="btn btn-primary" href=${href('guests', 'new')}>${t('guests.create')}</a>`}
    </div>
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${data === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<div class="guest-list"><${DataTable}
          label=${t('guests.title')}
          filter=${t('guests.filter')}
          empty=${t('guests.empty')}
          columns=${columns}
          rows=${data}
          rowKey=${(g: VmListEntry) => g.vmid}
          initialSort=${{ key: 'vmid', dir: 'asc' }}
        /></div>`}`;
}
