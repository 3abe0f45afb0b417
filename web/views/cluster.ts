/**
 * The Cluster page (#/cluster): what the cluster is and where its master
 * is, and, for holders of Sys.Modify on /, what an admin does with it:
 *
 *   single node   create a cluster, or join one (master URL, token, fingerprint)
 *   master        make a join token (the Nodes view lists the nodes and removes one)
 *   member        promote this node, only while its master does not answer
 *
 * The parts live in cluster/: forms.ts (the cards) and model.ts (checks).
 */
import { useEffect } from 'preact/hooks';
import { clusterPoller, masterOf, roleOf, uiUrl, selfOf, useCluster, type ClusterView } from '../cluster';
import { ErrorBanner } from '../components/error-banner';
import { html } from '../html';
import { t } from '../i18n';
import { href } from '../router';
import { Copyable, CreateCard, JoinCard, PromoteCard, TokenCard } from './cluster/forms';
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
        <${Copyable} label=${t('cluster.field.master')} text=${master.url} />
        <${Copyable} label=${t('cluster.field.fingerprint')} text=${master.fingerprint} />`}
      <dt>${t('cluster.epoch')}</dt><dd>${t('cluster.epochValue', { epoch: c.epoch, generation: c.generation })}</dd>
    </dl>
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
    <p><a href=${href('nodes')}>${t('cluster.nodes', { count: c.nodes.length })}</a></p>`;
}
