/**
 * #/nodes: every node of the cluster (or this one node), as GET
 * /api/cluster says: online, or in red since when it does not answer;
 * master; CPU, memory, disk; guests running of all; version, an older one
 * flagged; the master's address as a link to its UI. Each name leads to
 * the node's page.
 */
import type { Me } from '../../api';
import { clusterPoller, olderVersion, offlineText, roleOf, selfOf, uiUrl, useCluster, type ClusterNodeView, type ClusterView } from '../../cluster';
import { DataTable, type Column } from '../../components/data-table';
import { ErrorBanner } from '../../components/error-banner';
import { StatusBadge } from '../../components/status-badge';
import { formatBytes as bytes, formatPercent } from '../../format';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';
import { useEffect } from 'preact/hooks';

/** Online, or offline with since when. */
export function NodeStatus({ n }: { n: ClusterNodeView }) {
  if (n.online) return html`<${StatusBadge} tone="ok" label=${t('nodes.online')} />`;
  return html`<${StatusBadge} tone="failed" label=${t('nodes.offline')} /><div class="text-failed node-since">${offlineText(n)}</div>`;
}

/** The columns of the node table; `c` gives the versions to compare and where this page is served from. */
export function nodeColumns(c: ClusterView): Column<ClusterNodeView>[] {
  const versions = c.nodes.map((n) => n.version);
  const self = selfOf(c);
  const r = (n: ClusterNodeView) => n.resources;
  return [
    { key: 'status', label: t('nodes.col.status'), value: (n) => (n.online ? t('nodes.online') : `${t('nodes.offline')} ${offlineText(n)}`), render: (n) => html`<${NodeStatus} n=${n} />` },
    {
      key: 'name',
      label: t('nodes.col.name'),
      value: (n) => [n.name, n.master ? t('nodes.master') : '', n.name === c.self ? t('nodes.self') : ''].filter(Boolean).join(' '),
      sortValue: (n) => n.name,
      render: (n) => html`<a class="node-name" href=${href('nodes', n.name)}>${n.name}</a>
        ${n.master && html` <${StatusBadge} tone="neutral" label=${t('nodes.master')} />`}
        ${n.name === c.self && html` <span class="muted">${t('nodes.self')}</span>`}`,
    },
    { key: 'cpu', label: t('nodes.col.cpu'), value: (n) => (r(n) ? t('node.cpuValue', { count: r(n)!.cpu.count, usage: formatPercent(r(n)!.cpu.usage) }) : ''), sortValue: (n) => r(n)?.cpu.usage, class: 'num' },
    {
      key: 'memory', label: t('nodes.col.memory'), class: 'num',
      value: (n) => (r(n) ? t('guests.ofTotal', { used: bytes(r(n)!.memory.used), total: bytes(r(n)!.memory.total) }) : ''),
      sortValue: (n) => r(n)?.memory.used,
    },
    {
      key: 'disk', label: t('nodes.col.disk'), class: 'num',
      value: (n) => (r(n) ? t('guests.ofTotal', { used: bytes(r(n)!.disk.total - r(n)!.disk.free), total: bytes(r(n)!.disk.total) }) : ''),
      sortValue: (n) => (r(n) ? r(n)!.disk.total - r(n)!.disk.free : undefined),
    },
    {
      key: 'guests', label: t('nodes.col.guests'), class: 'num',
      value: (n) => (r(n) ? t('nodes.guestsValue', { running: r(n)!.guests.running, total: r(n)!.guests.total }) : ''),
      sortValue: (n) => r(n)?.guests.total,
    },
    {
      key: 'version', label: t('nodes.col.version'),
      value: (n) => (olderVersion(n.version, versions) ? `${n.version} ${t('nodes.older')}` : n.version),
      render: (n) => html`${n.version}${olderVersion(n.version, versions) && html` <${StatusBadge} tone="warning" label=${t('nodes.older')} />`}`,
    },
    {
      key: 'address', label: t('nodes.col.address'), value: (n) => n.address,
      render: (n) => (n.master && n.name !== c.self ? html`<a href=${uiUrl(n, self, location)}>${n.address}</a>` : n.address),
    },
  ];
}

export function NodeList({ me }: { me: Me }) {
  const { data: c, error } = useCluster();
  // The shared poll may be 10 s old: ask now.
  useEffect(() => void clusterPoller.refresh(), []);
  return html`<div class="page-head"><h1>${t('nodes.title')}</h1></div>
    ${c && html`<p class="view-intro">${roleOf(c) === 'single'
      ? html`${t('nodes.single', { node: c.self })}${me.privileges.includes('Sys.Modify') && html` <a href=${href('cluster')}>${t('nodes.toCluster')}</a>`}`
      : t('nodes.intro', { cluster: c.name!, master: c.master!, count: c.nodes.length })}</p>`}
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${c === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable}
          label=${t('nodes.title')}
          filter=${false}
          columns=${nodeColumns(c)}
          rows=${c.nodes}
          rowKey=${(n: ClusterNodeView) => n.name}
          rowClass=${(n: ClusterNodeView) => (n.online ? undefined : 'row-failed')}
          initialSort=${{ key: 'name', dir: 'asc' }}
        />`}`;
}
