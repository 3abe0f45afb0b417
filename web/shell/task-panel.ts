/**
 * The task panel at the foot of every page: running tasks with progress
 * bars, tasks that just ended well, and failed tasks in red until the user
 * acknowledges them — they cannot be folded away, and each is announced
 * (role="alert") when it appears. At most PANEL_MAX of each kind are
 * listed; the rest are one click away in the Tasks view.
 */
import { html } from '../html';
import { t } from '../i18n';
import { href } from '../router';
import { formatTime } from '../format';
import { ErrorBanner } from '../components/error-banner';
import { Icon } from '../components/icon';
import { ProgressBar } from '../components/progress-bar';
import { StatusBadge } from '../components/status-badge';
import { acknowledge, panelTasks, taskTitle, useAcknowledged, useTasks, type Task } from '../tasks';

/** Tasks of one kind listed in the panel before "and N more". */
const PANEL_MAX = 3;

function More({ n }: { n: number }) {
  return n > 0 ? html`<li class="panel-more"><a href=${href('tasks')}>${t('panel.more', { n })}</a></li>` : null;
}

export function TaskPanel({ username }: { username: string }) {
  const { tasks, error } = useTasks();
  const acks = useAcknowledged(username);
  const { running, done, failed } = panelTasks(tasks ?? [], acks, Date.now());
  const ack = (ids: string[]) => acknowledge(username, ids, (tasks ?? []).map((x) => x.id));

  const summary = [
    running.length > 0 ? t('panel.running', { n: running.length }) : failed.length > 0 ? '' : t('panel.none'),
    failed.length > 0 ? t('panel.failed', { n: failed.length }) : '',
  ].filter(Boolean);

  const runningRow = (x: Task) => html`<li key=${x.id} class="panel-task">
    <a class="panel-name" href=${href('tasks', x.id)}>${taskTitle(x)}</a>
    <${ProgressBar} value=${x.progress} label=${taskTitle(x)} />
    <span class="panel-message">${x.message}</span>
  </li>`;

  const doneRow = (x: Task) => html`<li key=${x.id} class="panel-task">
    <a class="panel-name" href=${href('tasks', x.id)}>${taskTitle(x)}</a>
    <${StatusBadge} tone="ok" label=${t('task.status.ok')} />
    <span class="panel-message">${x.message}</span>
  </li>`;

  const failedRow = (x: Task) => html`<li key=${x.id} class="panel-failed-task" role="alert">
    <${StatusBadge} tone="failed" label=${t('task.status.failed')} />
    <span class="panel-what"><span class="panel-name">${taskTitle(x)}</span> <span class="panel-message">${x.message}</span></span>
    <span class="panel-time">${x.end !== null ? formatTime(x.end) : ''}</span>
    <span class="panel-actions">
      <a class="btn btn-small" href=${href('tasks', x.id)}>${t('panel.showLog')}</a>
      <button type="button" class="btn btn-small" onClick=${() => ack([x.id])}>${t('panel.acknowledge')}</button>
    </span>
  </li>`;

  return html`<section class=${`taskpanel${failed.length > 0 ? ' taskpanel-alarm' : ''}`} aria-labelledby="taskpanel-title">
    <div class="taskpanel-bar">
      <h2 id="taskpanel-title" class="taskpanel-title"><${Icon} name="tasks" />${t('panel.title')}</h2>
      <span class="taskpanel-summary">${summary.join(' · ')}</span>
      ${failed.length > 1 &&
      html`<button type="button" class="btn btn-small" onClick=${() => ack(failed.map((x) => x.id))}>${t('panel.acknowledgeAll')}</button>`}
      <a class="taskpanel-all" href=${href('tasks')}>${t('panel.allTasks')}</a>
    </div>
    ${error && html`<${ErrorBanner} error=${error} title=${t('panel.loadFailed')} />`}
    ${failed.length > 0 &&
    html`<div class="taskpanel-failed">
      <ul>
        ${failed.slice(0, PANEL_MAX).map(failedRow)}
        <${More} n=${failed.length - PANEL_MAX} />
      </ul>
    </div>`}
    ${running.length + done.length > 0 &&
    html`<ul class="taskpanel-list">
      ${running.slice(0, PANEL_MAX).map(runningRow)}
      <${More} n=${running.length - PANEL_MAX} />
      ${done.slice(0, PANEL_MAX).map(doneRow)}
    </ul>`}
  </section>`;
}
