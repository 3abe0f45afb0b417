/**
 * #/guests: every guest the user may see, with status, node, CPU, memory,
 * disk, uptime and power buttons, filtered and sorted in the table, polled
 * every POLL_MS. A guest that runs from a backup says so under its name.
 * In a cluster, a node filter picks one node's guests; a guest whose node
 * does not answer is "unknown", its buttons disabled with why.
 */
import type { VmListEntry } from '../../../node-cgi/api-types';
import { useState } from 'preact/hooks';
import type { Me } from '../../api';
import { client } from '../../client';
import { useCluster } from '../../cluster';
import { DataTable, type Column } from '../../components/data-table';
import { ErrorBanner } from '../../components/error-banner';
import { formatBytes as bytes, formatDuration, formatPercent } from '../../format';
import { usePoll } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';
import { can, GuestStatus, POLL_MS, Select, statusLabel } from './common';
import { PowerButtons } from './power';
import { TemporaryBadge, temporaryText } from '../backups/temporary';

/** The nodes to filter by: the cluster's, and any a guest names; none to choose from with fewer than two. */
export function filterNodes(clusterNodes: readonly string[], guests: readonly Pick<VmListEntry, 'node'>[]): string[] {
  const all = [...new Set([...clusterNodes, ...guests.map((g) => g.node)])].sort();
  return all.length > 1 ? all : [];
}

export function GuestList({ me }: { me: Me }) {
  const { data, error, reload } = usePoll(() => client.vms.list(), { every: POLL_MS });
  const nodes = filterNodes(useCluster().data?.nodes.map((n) => n.name) ?? [], data ?? []);
  const [node, setNode] = useState('');
  const rows = node ? (data ?? []).filter((g) => g.node === node) : data;
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
      render: (g) => html`<${PowerButtons} vmid=${g.vmid} name=${g.name} status=${g.status} fault=${g.fault} temporary=${g.temporary} node=${g.node} onDone=${reload} small=${true} />`,
    },
  ];
  return html`<div class="page-head">
      <h1>${t('guests.title')}</h1>
      ${can(me, 'VM.Allocate') && html`<a class="btn btn-primary" href=${href('guests', 'new')}>${t('guests.create')}</a>`}
    </div>
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${nodes.length > 0 &&
    html`<div class="table-tools node-filter">
      <label for="guest-node">${t('guests.col.node')}</label>
      <${Select} id="guest-node" value=${node} options=${[['', t('guests.allNodes')], ...nodes.map((n) => [n, n])]} onChange=${setNode} />
    </div>`}
    ${rows === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<div class="guest-list"><${DataTable}
          label=${t('guests.title')}
          filter=${t('guests.filter')}
          empty=${t('guests.empty')}
          columns=${columns}
          rows=${rows}
          rowKey=${(g: VmListEntry) => g.vmid}
          initialSort=${{ key: 'vmid', dir: 'asc' }}
        /></div>`}`;
}
