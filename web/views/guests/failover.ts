/**
 * The Failover card of a guest's page whose node does not answer (the page
 * could not load the guest): in a cluster with a node offline, a button
 * that asks this node to start the guest from its replicas
 * (POST /api/vm/<vmid>/failover), then the task's link. The node refuses
 * with its reasons when it cannot (a replica not UpToDate, the node still
 * answering), shown as the error.
 *
 *   html`<${Failover} vmid=${101} />`
 */
import { useState } from 'preact/hooks';
import { client } from '../../client';
import { ErrorBanner } from '../../components/error-banner';
import { useAction } from '../../hooks';
import { useCluster } from '../../cluster';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';

export function Failover({ vmid }: { vmid: number }) {
  const cluster = useCluster();
  const [task, setTask] = useState<string | null>(null);
  const go = useAction(async () => setTask((await client.vms.failover(vmid)).task));
  const offline = (cluster.data?.nodes ?? []).filter((n) => !n.online).map((n) => n.name);
  if (!cluster.data || offline.length === 0) return null;
  return html`<section class="card" aria-labelledby="g-failover">
    <h2 id="g-failover">${t('failover.title')}</h2>
    <p>${t('failover.what', { nodes: offline.join(', '), self: cluster.data.self })}</p>
    <div class="form-actions">
      <button type="button" class="btn btn-danger" disabled=${go.busy || task !== null} onClick=${() => go.run()}>${t('failover.start', { vmid, self: cluster.data.self })}</button>
    </div>
    <${ErrorBanner} error=${go.error} />
    ${task && html`<p role="status">${t('failover.started')} <a href=${href('tasks', task)}>${t('migrate.taskLink')}</a></p>`}
  </section>`;
}
