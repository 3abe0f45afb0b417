/**
 * #/nodes: every node of the cluster (or this one node), as GET
 * /api/cluster says: online, or in red since when it does not answer;
 * master or member; CPU, memory, disk; guests running of all; version, an
 * older one flagged, with the generation of the cluster-wide config it
 * holds, one behind the master's flagged; its address, the master's a
 * link to its UI; whether it has DRBD (replicated disks need it). Each name leads to the node's page.
 *
 * For an administrator (Sys.Modify): on a single node, create a cluster
 * or join one; on the master, add a node (a join token with the command
 * for the new node) and remove one that has no guests, after a
 * confirmation.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Me } from '../../api';
import { client } from '../../client';
import { clusterPoller, lagging, masterGeneration, olderVersion, offlineText, replicaTroubles, roleOf, selfOf, uiUrl, useCluster, type ClusterNodeView, type ClusterView } from '../../cluster';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable, type Column } from '../../components/data-table';
import { ErrorBanner } from '../../components/error-banner';
import { StatusBadge } from '../../components/status-badge';
import { formatBytes as bytes, formatPercent } from '../../format';
import { useLoad } from '../../hooks';
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

/** Removal of a node: `guests` counts each node's guests (null until known); the button says why when it may not go. */
export interface Removal {
  guests: ((node: string) => number) | null;
  onRemove: (n: ClusterNodeView) => void;
}

function RemoveButton({ n, c, rm }: { n: ClusterNodeView; c: ClusterView; rm: Removal }) {
  const why = rm.guests ? removal(n, c, rm.guests(n.name)) : null;
  return html`<button type="button" class="btn btn-small" disabled=${why !== null || !rm.guests} title=${why ? t(why[0], why[1]) : undefined}
      aria-label=${t('cluster.remove.of', { node: n.name })} onClick=${() => rm.onRemove(n)}>${t('cluster.remove')}</button>
    ${why && !n.master && html`<div class="muted">${t(why[0], why[1])}</div>`}`;
}

/** "config 7", with "behind the master (8)" when the master holds a newer one; empty for a node that did not say. */
export const generationText = (n: ClusterNodeView, c: ClusterView): string =>
  n.generation === undefined ? '' : [t('nodes.generation', { generation: n.generation }), lagging(n, c) ? t('nodes.lagging', { generation: masterGeneration(c) }) : ''].filter(Boolean).join(' ');

/** "DRBD: Yes" when the node's kernel has the DRBD module (it can hold replicated disks), "DRBD: No" when not; '' when it did not say. */
export const drbdText = (n: Pick<ClusterNodeView, 'drbd'>): string => (n.drbd === undefined ? '' : `DRBD: ${t(n.drbd ? 'guests.yes' : 'guests.no')}`);

/** The columns of the node table; `c` gives the versions to compare and where this page is served from; with `rm`, a removal column. */
export function nodeColumns(c: ClusterView, rm?: Removal): Column<ClusterNodeView>[] {
  const versions = c.nodes.map((n) => n.version);
  const self = selfOf(c);
  const r = (n: ClusterNodeView) => n.resources;
  const cols: Column<ClusterNodeView>[] = [
    {
      key: 'name',
      label: t('nodes.col.name'),
      value: (n) => [n.name, n.name === c.self ? t('nodes.self') : '', n.address, n.online ? t('nodes.online') : `${t('nodes.offline')} ${offlineText(n)}`, drbdText(n)].filter(Boolean).join(' '),
      sortValue: (n) => n.name,
      render: (n) => html`<a class="node-name" href=${href('nodes', n.name)}>${n.name}</a>
        ${n.name === c.self && html` <span class="muted">${t('nodes.self')}</span>`}
        <div class="muted">${n.master && n.name !== c.self ? html`<a href=${uiUrl(n, self, location)}>${n.address}</a>` : n.address}</div>
        <div><${NodeStatus} n=${n} /></div>
        ${n.drbd !== undefined && html`<div class="muted">${drbdText(n)}</div>`}`,
    },
    {
      key: 'cpu', label: t('nodes.col.cpu'), class: 'num', sortValue: (n) => r(n)?.cpu.usage,
      value: (n) => (r(n) ? t('node.cpuValue', { count: r(n)!.cpu.count, usage: formatPercent(r(n)!.cpu.usage) }) : ''),
      render: (n) => (r(n) ? html`<span title=${t('node.cpuValue', { count: r(n)!.cpu.count, usage: formatPercent(r(n)!.cpu.usage) })}>${formatPercent(r(n)!.cpu.usage)}</span>` : ''),
    },
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
      value: (n) => [n.version, olderVersion(n.version, versions) ? t('nodes.older') : '', generationText(n, c)].filter(Boolean).join(' '),
      render: (n) => html`${n.version}${olderVersion(n.version, versions) && html` <${StatusBadge} tone="warning" label=${t('nodes.older')} />`}
        ${n.generation !== undefined && html`<div class="muted">${t('nodes.generation', { generation: n.generation })}</div>`}
        ${lagging(n, c) && html`<${StatusBadge} tone="warning" label=${t('nodes.lagging', { generation: masterGeneration(c) })} />`}`,
    },
  ];
  if (roleOf(c) !== 'single') {
    cols.splice(1, 0, {
      key: 'role', label: t('nodes.col.role'),
      value: (n) => t(n.master ? 'nodes.master' : 'nodes.member'),
      render: (n) => (n.master ? html`<${StatusBadge} tone="neutral" label=${t('nodes.master')} />` : t('nodes.member')),
    });
  }
  if (rm) {
    cols.push({ key: 'actions', label: t('table.actions'), value: () => '', sortable: false, render: (n) => html`<${RemoveButton} n=${n} c=${c} rm=${rm} />` });
  }
  return cols;
}

/** Replicated disks in trouble (disconnected, outdated): a banner above the nodes, as hard to miss as a failed backup. */
function ReplicaWarnings({ c }: { c: ClusterView }) {
  const troubles = replicaTroubles(c);
  if (troubles.length === 0) return null;
  return html`<section class="banner banner-error alerts" role="alert" aria-labelledby="replica-alerts">
    <div class="banner-body">
      <h2 id="replica-alerts">${t('nodes.replicaAlerts')}</h2>
      <ul class="alert-list">
        ${troubles.map((x) => html`<li key=${`${x.node}/${x.resource}`}>
          <strong>${t('nodes.replicaOn', { node: x.node, resource: x.resource })}</strong>:
          <span class="alert-message">${x.warning}</span>
          <span class="panel-actions"><a class="btn btn-small" href=${href('guests', String(x.vmid))}>${t('nodes.replicaGuest', { vmid: String(x.vmid) })}</a></span>
        </li>`)}
      </ul>
    </div>
  </section>`;
}

export function NodeList({ me }: { me: Me }) {
  const { data: c, error } = useCluster();
  const [removing, setRemoving] = useState<ClusterNodeView | null>(null);
  // The shared poll may be 10 s old: ask now.
  useEffect(() => void clusterPoller.refresh(), []);
  const admin = me.privileges.includes('Sys.Modify');
  const role = c ? roleOf(c) : null;
  const removes = admin && role === 'master';
  // Guests per node from the guest list: it counts those of a node that does not answer too (its figures do not).
  const vms = useLoad(() => (removes ? client.vms.list() : Promise.resolve(null)), [removes, c?.generation]);
  const rm: Removal | undefined = removes ? { guests: vms.data ? (node) => vms.data!.filter((g) => g.node === node).length : null, onRemove: setRemoving } : undefined;
  return html`<div class="page-head"><h1>${t('nodes.title')}</h1></div>
    ${c && html`<p class="view-intro">${role === 'single'
      ? t('nodes.single', { node: c.self })
      : html`${t('nodes.intro', { cluster: c.name!, master: c.master!, count: c.nodes.length })} <a href=${href('cluster')}>${t('nav.cluster')}</a>`}</p>`}
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${c && html`<${ReplicaWarnings} c=${c} />`}
    <${ErrorBanner} error=${vms.error} />
    ${c === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<div class="node-list"><${DataTable}
          label=${t('nodes.title')}
          filter=${false}
          columns=${nodeColumns(c, rm)}
          rows=${c.nodes}
          rowKey=${(n: ClusterNodeView) => n.name}
          rowClass=${(n: ClusterNodeView) => (n.online ? undefined : 'row-failed')}
          initialSort=${{ key: 'name', dir: 'asc' }}
        /></div>`}
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
