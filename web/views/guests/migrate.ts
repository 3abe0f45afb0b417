/**
 * The Migrate card of a guest's page, in a cluster of more than one node:
 * the node to move to, live or offline (live only while the guest runs,
 * offline only while it is stopped), and what will move — the disks' bytes
 * in use, and for a live move the guest's RAM. Once started, the task's
 * progress (disks, then RAM) until it ends; the page then shows the guest
 * on its new node.
 *
 *   html`<${Migrate} g=${guest} onDone=${reload} />`
 */
import { useState } from 'preact/hooks';
import type { VmDetail } from '../../../node-cgi/api-types';
import { client } from '../../client';
import { ErrorBanner } from '../../components/error-banner';
import { Field, fieldError, formError } from '../../components/field';
import { ProgressBar } from '../../components/progress-bar';
import { formatBytes } from '../../format';
import { useAction, usePoll } from '../../hooks';
import { useCluster } from '../../cluster';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';

/** How often a running migration's task is asked for its progress, ms. */
const TASK_POLL_MS = 1000;

function MigrationTask({ id, onEnd }: { id: string; onEnd: () => void }) {
  const { data: task } = usePoll(() => client.tasks.get(id), { every: TASK_POLL_MS, keys: [id] });
  const [told, setTold] = useState(false);
  if (task && task.status !== 'running' && !told) {
    setTold(true);
    onEnd();
  }
  return html`<div role="status">
    <${ProgressBar} value=${task?.progress ?? null} label=${t('migrate.progress')} tone=${task?.status === 'failed' ? 'failed' : task?.status === 'ok' ? 'ok' : 'running'} />
    <p>${task?.message ?? ''} <a href=${href('tasks', id)}>${t('migrate.taskLink')}</a></p>
  </div>`;
}

export function Migrate({ g, onDone }: { g: VmDetail; onDone: () => void }) {
  const cluster = useCluster();
  const others = (cluster.data?.nodes ?? []).filter((n) => n.name !== g.node);
  const [target, setTarget] = useState('');
  const [task, setTask] = useState<string | null>(null);
  const running = g.status !== 'stopped';
  const chosen = target || others.find((n) => n.online)?.name || '';
  const start = useAction(async () => {
    setTask((await client.vms.migrate(g.vmid, { target: chosen, online: running })).task);
  });
  if (!cluster.data || others.length === 0) return null;
  const disk = g.runtime.disks.reduce((s, d) => s + d.allocated, 0);
  return html`<section class="card" aria-labelledby="g-migrate">
    <h2 id="g-migrate">${t('migrate.title')}</h2>
    <form class="form-row form-row-fit" onSubmit=${(e: Event) => (e.preventDefault(), void start.run())}>
      <${Field} label=${t('migrate.target')} error=${fieldError(start.error, 'target')}>
        <select name="target" value=${chosen} onChange=${(e: Event) => setTarget((e.currentTarget as HTMLSelectElement).value)}>
          ${others.map((n) => html`<option value=${n.name} disabled=${!n.online} selected=${n.name === chosen}>${n.online ? n.name : t('migrate.offlineNode', { node: n.name })}</option>`)}
        </select>
      <//>
      <p class="muted">${running
        ? t('migrate.whatLive', { disk: formatBytes(disk), ram: formatBytes(g.memory * 1024 * 1024) })
        : t('migrate.whatOffline', { disk: formatBytes(disk) })}</p>
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled=${start.busy || !chosen || (task !== null && !start.error)}>${t(running ? 'migrate.startLive' : 'migrate.startOffline')}</button>
      </div>
    </form>
    <${ErrorBanner} error=${formError(start.error, ['target'])} />
    ${task && html`<${MigrationTask} id=${task} onEnd=${onDone} />`}
  </section>`;
}
