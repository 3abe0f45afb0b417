/**
 * The Cluster page (#/cluster): what the cluster is and where its master
 * is, and, for holders of Sys.Modify on /, what an admin does with it:
 *
 *   single node   create a cluster, or join one (master URL, token, fingerprint)
 *   master        make a join token; remove a node that has no guests
 *   member        promote this node, only while its master does not answer
 *
 * The parts live in cluster/: forms.ts (the cards) and model.ts (checks).
 */
import { useEffect, useState } from 'preact/hooks';
import { client } from '../client';
import { clusterPoller, masterOf, roleOf, uiUrl, selfOf, useCluster, type ClusterNodeView, type ClusterView } from '../cluster';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DataTable, type Column } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { StatusBadge } from '../components/status-badge';
import { formatTime } from '../format';
import { useLoad } from '../hooks';
import { html } from '../html';
import { t } from '../i18n';
import { href } from '../router';
import { Copyable, CreateCard, JoinCard, PromoteCard, TokenCard } from './cluster/forms';
import { removal } from './cluster/model';
import { NodeStatus } from './nodes/list';
import type { ViewProps } from './props';

function Summary({ c }: { c: ClusterView }) {
  const master = masterOf(c);
  return html`<section class="card" aria-labelledby="c-summary">
    <h2 id="c-summary">${t('cluster.summary')}</h2>
    <dl class="props">
      <dt>${t('cluster.name')}</dt><dd>${c.name}</dd>
      <dt>${t('cluster.thisNode')}</dt><dd>${t(roleOf(c) === 'master' ? 'cluster.role.master' : 'cluster.role.member', { node: c.self })}</dd>
      ${master && html`<dt>${t('cluster.master')}</dt>
        <dd><${NodeStatus} n=${master} /> ${master.name === c.self ? master.name : html`<a href=${uiUrl(master, selfOf(c), location)}>${master.name}</a>`}</dd>
        <${Copyable} label=${t('cluster.masterUrl')} text=${master.url} />
        <${Copyable} label=${t('cluster.masterFingerprint')} text=${master.fingerprint} />`}
      <dt>${t('cluster.epoch')}</dt><dd>${t('cluster.epochValue', { epoch: c.epoch, generation: c.generation })}</dd>
    </dl>
  </section>`;
}

/** The members, and on the master for an admin, removal of those without guests. */
function Members({ c, admin }: { c: ClusterView; admin: boolean }) {
  const [removing, setRemoving] = useState<ClusterNodeView | null>(null);
  // Guests per node from the guest list: it counts the guests of a node that does not answer too.
  const vms = useLoad(() => (admin ? client.vms.list() : Promise.resolve([])), [admin]);
  const guests = (n: string) => vms.data?.filter((g) => g.node === n).length ?? 0;
  const columns: Column<ClusterNodeView>[] = [
    { key: 'name', label: t('nodes.col.name'), value: (n) => n.name, render: (n) => html`<a href=${href('nodes', n.name)}>${n.name}</a>${n.master && html` <${StatusBadge} tone="neutral" label=${t('nodes.master')} />`}` },
    { key: 'status', label: t('nodes.col.status'), value: (n) => String(n.online), render: (n) => html`<${NodeStatus} n=${n} />` },
    { key: 'url', label: t('nodes.col.address'), value: (n) => n.url, render: (n) => html`<code>${n.url}</code>` },
    { key: 'joined', label: t('nodes.joined'), value: (n) => (n.joined ? formatTime(n.joined * 1000) : ''), sortValue: (n) => n.joined },
  ];
  if (admin) {
    columns.push({
      key: 'actions', label: t('table.actions'), value: () => '', sortable: false,
      render: (n) => {
        const why = vms.data ? removal(n, c, guests(n.name)) : null;
        return html`<button type="button" class="btn btn-small" disabled=${why !== null || !vms.data} title=${why ? t(why[0], why[1]) : undefined}
            aria-label=${t('cluster.remove.of', { node: n.name })} onClick=${() => setRemoving(n)}>${t('cluster.remove')}</button>
          ${why && !n.master && html`<div class="muted">${t(why[0], why[1])}</div>`}`;
      },
    });
  }
  return html`<section class="card" aria-labelledby="c-nodes">
    <h2 id="c-nodes">${t('cluster.nodes')}</h2>
    <${ErrorBanner} error=${vms.error} />
    <${DataTable} label=${t('cluster.nodes')} filter=${false} columns=${columns} rows=${c.nodes} rowKey=${(n: ClusterNodeView) => n.name}
      rowClass=${(n: ClusterNodeView) => (n.online ? undefined : 'row-failed')} initialSort=${{ key: 'name', dir: 'asc' }} />
    ${removing &&
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
    />`}
  </section>`;
}

export default function ClusterPage({ me }: ViewProps) {
  const { data: c, error } = useCluster();
  // The shared poll may be 10 s old: ask now.
  useEffect(() => void clusterPoller.refresh(), []);
  const admin = me.privileges.includes('Sys.Modify');
  if (!c) return html`<h1>${t('nav.cluster')}</h1>${error ? html`<${ErrorBanner} error=${error} />` : html`<p>${t('app.loading')}</p>`}`;
  const role = roleOf(c);
  if (role === 'single') {
    return html`<h1>${t('nav.cluster')}</h1>
      <p class="view-intro">${t('cluster.single', { node: c.self })}</p>
      ${admin ? html`<${CreateCard} /><${JoinCard} c=${c} />` : html`<p>${t('cluster.adminOnly')}</p>`}`;
  }
  return html`<h1>${t('cluster.title', { cluster: c.name! })}</h1>
    ${error && html`<${ErrorBanner} error=${error} />`}
    <${Summary} c=${c} />
    ${admin && role === 'master' && html`<${TokenCard} />`}
    ${admin && role === 'member' && !c.masterOnline && html`<${PromoteCard} c=${c} />`}
    <${Members} c=${c} admin=${admin && role === 'master'} />`;
}
