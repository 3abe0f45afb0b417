/**
 * #/nodes: every node of the cluster (or this one node), as GET
 * /api/cluster says: online, or in red since when it does not answer;
 * master or member; CPU, memory, disk; guests running of all; version, an
 * older one flagged; the generation of the cluster-wide config it holds,
 * one behind the master's flagged; its address, the master's a link to
 * its UI. Each name leads to the node's page.
 *
 * For an administrator (Sys.Modify): on a single node, create a cluster
 * or join one; on the master, add a node (a join token with the command
 * for the new node) and remove one that has no guests, after a
 * confirmation.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Me } from '../../api';
import { client } from '../../client';
import { clusterPoller, lagging, masterGeneration, olderVersion, offlineText, roleOf, selfOf, uiUrl, useCluster, type ClusterNodeView, type ClusterView } from '../../cluster';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable, type Column } from '../../components/data-table';
import { ErrorBanner } from '../../components/error-banner';
import { StatusBadge } from '../../components/status-badge';
import { formatBytes as bytes, formatPercent } from '../../format';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';
import { CreateCard, JoinCard, TokenCard } from '../cluster/forms';
import { removal } from '../cluster/model';

/** Online, or offline with since when. */
export function NodeStatus({ n }: { n: ClusterNodeView }) {
  if (n.online) return html`<${StatusBadge} tone="ok" label=${t('nodes.online')} />`;
  return html`<${StatusBadge} tone="failed" label=${t('nodes.offline')} /><div class="text-failed node-since">${offlineText(n)}</div>`;
}

/** The removal button of a node's row, disabled with why when it may not go (the master, a node with guests). */
function RemoveButton({ n, c, onRemove }: { n: ClusterNodeView; c: ClusterView; onRemove: (n: ClusterNodeView) => void }) {
  const why = removal(n, c, n.resources?.guests.total ?? 0);
  return html`<button type="button" class="btn btn-small" disabled=${why !== null} title=${why ? t(why[0], why[1]) : undefined}
      aria-label=${t('cluster.remove.of', { node: n.name })} onClick=${() => onRemove(n)}>${t('cluster.remove')}</button>
    ${why && !n.master && html`<div class="muted">${t(why[0], why[1])}</div>`}`;
}

/** The columns of the node table; `c` gives the versions to compare and where this page is served from; with `onRemove`, a removal column. */
export function nodeColumns(c: ClusterView, onRemove?: (n: ClusterNodeView) => void): Column<ClusterNodeView>[] {
  const versions = c.nodes.map((n) => n.version);
  const self = selfOf(c);
  const r = (n: ClusterNodeView) => n.resources;
  const cols: Column<ClusterNodeView>[] = [
    { key: 'status', label: t('nodes.col.status'), value: (n) => (n.online ? t('nodes.online') : `${t('nodes.offline')} ${offlineText(n)}`), render: (n) => html`<${NodeStatus} n=${n} />` },
    {
      key: 'name',
      label: t('nodes.col.name'),
      value: (n) => [n.name, n.name === c.self ? t('nodes.self') : ''].filter(Boolean).join(' '),
      sortValue: (n) => n.name,
      render: (n) => html`<a class="node-name" href=${href('nodes', n.name)}>${n.name}</a>
        ${n.name === c.self && html` <span class="muted">${t('nodes.self')}</span>`}`,
    },
    {
      key: 'role', label: t('nodes.col.role'),
      value: (n) => t(n.master ? 'nodes.master' : 'nodes.member'),
      render: (n) => (n.master ? html`<${StatusBadge} tone="neutral" label=${t('nodes.master')} />` : t('nodes.member')),
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
  ];
  if (roleOf(c) !== 'single') {
    cols.push({
      key: 'generation', label: t('nodes.col.generation'), class: 'num',
      value: (n) => (n.generation === undefined ? '' : lagging(n, c) ? `${n.generation} ${t('nodes.lagging', { generation: masterGeneration(c) })}` : n.generation),
      sortValue: (n) => n.generation,
      render: (n) => html`${n.generation ?? ''}${lagging(n, c) && html` <${StatusBadge} tone="warning" label=${t('nodes.lagging', { generation: masterGeneration(c) })} />`}`,
    });
  }
  cols.push({
    key: 'address', label: t('nodes.col.address'), value: (n) => n.address,
    render: (n) => (n.master && n.name !== c.self ? html`<a href=${uiUrl(n, self, location)}>${n.address}</a>` : n.address),
  });
  if (onRemove) {
    cols.push({ key: 'actions', label: t('table.actions'), value: () => '', sortable: false, render: (n) => html`<${RemoveButton} n=${n} c=${c} onRemove=${onRemove} />` });
  }
  return cols;
}

export function NodeList({ me }: { me: Me }) {
  const { data: c, error } = useCluster();
  const [removing, setRemoving] = useState<ClusterNodeView | null>(null);
  // The shared poll may be 10 s old: ask now.
  useEffect(() => void clusterPoller.refresh(), []);
  const admin = me.privileges.includes('Sys.Modify');
  const role = c ? roleOf(c) : null;
  return html`<div class="page-head"><h1>${t('nodes.title')}</h1></div>
    ${c && html`<p class="view-intro">${role === 'single'
      ? t('nodes.single', { node: c.self })
      : html`${t('nodes.intro', { cluster: c.name!, master: c.master!, count: c.nodes.length })} <a href=${href('cluster')}>${t('nav.cluster')}</a>`}</p>`}
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${c === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable}
          label=${t('nodes.title')}
          filter=${false}
          columns=${nodeColumns(c, admin && role === 'master' ? setRemoving : undefined)}
          rows=${c.nodes}
          rowKey=${(n: ClusterNodeView) => n.name}
          rowClass=${(n: ClusterNodeView) => (n.online ? undefined : 'row-failed')}
          initialSort=${{ key: 'name', dir: 'asc' }}
        />`}
    ${c && admin && role === 'single' && html`<${CreateCard} /><${JoinCard} c=${c} />`}
    ${c && admin && role === 'master' && html`<${TokenCard} />`}
    ${c && removing &&
    html`<${ConfirmDialog}
      open=${true}
      title=${t('cluster.remove.confirmTitle', { node: removing.name, cluster: c.name ?? '' })}
      message=${t(removing.online ? 'cluster.remove.confirmText' : 'cluster.remove.confirmOffline', { node: removing.name })}
      confirmLabel=${t('cluster.remove.confirm', { node: removing.name })}
      requireText=${removing.name}
      onConfirm=${async () => {
        await client.cluster.removeNode(removing.name);
        setRemoving(null);
        await clusterPoller.refresh();
      }}
      onCancel=${() => setRemoving(null)}
    />`}`;
}
