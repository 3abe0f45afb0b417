/**
 * The Tasks view: "#/tasks" lists this node's tasks (status, progress,
 * duration, filter; in a cluster every node's, with a Node column);
 * "#/tasks/<id>" shows one task with its log, which follows the task
 * while it runs (polled every LOG_POLL_MS, scrolled along unless the
 * reader has scrolled up). A task that works on several things at once
 * (an ISO image copied to each node) shows each part's status, progress
 * and message.
 */
import { useLayoutEffect, useRef } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import type { Me } from '../api';
import { client } from '../client';
import { usePoll, type Loaded } from '../hooks';
import { roleOf, useCluster } from '../cluster';
import { href } from '../router';
import { formatDuration, formatTime } from '../format';
import { DataTable, type Column } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { ProgressBar } from '../components/progress-bar';
import { StatusBadge, type Tone } from '../components/status-badge';
import {
  acknowledge,
  TASK_STATUS_KEY,
  TASK_TONE,
  taskTitle,
  useAcknowledged,
  useTasks,
  type Task,
} from '../tasks';
import type { TaskPart } from '../../node-cgi/api-types';
import type { ViewProps } from './props';

/** Log refresh interval while the task runs. */
export const LOG_POLL_MS = 1000;
/** The log shows at most this many of the last lines. */
const LOG_TAIL_LINES = 2000;

const duration = (x: Task, now: number) => formatDuration((x.end ?? now) - x.start);

/**
 * The wait before the log is read again: while the task runs, LOG_POLL_MS;
 * after a failure to reach the node (network, 5xx) five times that; never
 * once the task has ended or the node refused (403, 404).
 */
export function logPollMs({ data, error }: Loaded<[Task, unknown]>): number | null {
  if (error) {
    const status = (error as { status?: number }).status ?? 0;
    return status === 0 || status >= 500 ? LOG_POLL_MS * 5 : null;
  }
  return data?.[0].status === 'running' ? LOG_POLL_MS : null;
}

function TaskStatus({ task }: { task: Task }) {
  return html`<${StatusBadge} tone=${TASK_TONE[task.status]} label=${t(TASK_STATUS_KEY[task.status])} />`;
}

function TaskProgress({ task }: { task: Task }) {
  if (task.status === 'running') {
    return html`<${ProgressBar} value=${task.progress} label=${taskTitle(task)} />
      <span class="task-message">${task.message}</span>`;
  }
  return html`<span class=${`task-message${task.status === 'failed' ? ' text-failed' : ''}`}>${task.message}</span>`;
}

const PART_TONE: Record<TaskPart['status'], Tone> = { ...TASK_TONE, waiting: 'neutral' };
const PART_STATUS_KEY = { ...TASK_STATUS_KEY, waiting: 'task.status.waiting' } as const;

/** The parts of a task (`parts` of its record): one row each, with its own progress while it is not done. */
export function TaskParts({ task }: { task: Task }) {
  if (!task.parts?.length) return null;
  return html`<table class="table task-parts">
    <thead><tr><th>${t('tasks.part')}</th><th>${t('tasks.col.status')}</th><th>${t('tasks.col.progress')}</th></tr></thead>
    <tbody>${task.parts.map(
      (p) => html`<tr>
        <td>${p.name}</td>
        <td><${StatusBadge} tone=${PART_TONE[p.status]} label=${t(PART_STATUS_KEY[p.status])} /></td>
        <td>
          ${(p.status === 'running' || p.status === 'waiting') && html`<${ProgressBar} value=${p.progress} label=${`${taskTitle(task)}: ${p.name}`} />`}
          <span class=${`task-message${p.status === 'failed' ? ' text-failed' : ''}`}>${p.message}</span>
        </td>
      </tr>`,
    )}</tbody>
  </table>`;
}

function TaskList({ me }: { me: Me }) {
  const { tasks, error } = useTasks();
  const acks = useAcknowledged(me.username);
  // In a cluster the master lists every node's tasks: say whose.
  const c = useCluster().data;
  const inCluster = !!c && roleOf(c) !== 'single';
  const now = Date.now();
  const columns: Column<Task>[] = [
    { key: 'status', label: t('tasks.col.status'), value: (x) => t(TASK_STATUS_KEY[x.status]), render: (x) => html`<${TaskStatus} task=${x} />` },
    {
      key: 'task',
      label: t('tasks.col.task'),
      value: taskTitle,
      render: (x) => html`<a href=${href('tasks', x.id)}>${taskTitle(x)}</a>`,
    },
    { key: 'user', label: t('tasks.col.user'), value: (x) => x.user },
    ...(inCluster ? [{ key: 'node', label: t('tasks.node'), value: (x: Task) => x.node }] : []),
    { key: 'start', label: t('tasks.col.started'), value: (x) => formatTime(x.start), sortValue: (x) => x.start },
    { key: 'duration', label: t('tasks.col.duration'), value: (x) => duration(x, now), sortValue: (x) => (x.end ?? now) - x.start, class: 'num' },
    { key: 'progress', label: t('tasks.col.progress'), value: (x) => x.message, render: (x) => html`<${TaskProgress} task=${x} />`, sortable: false },
  ];
  return html`<h1>${t('tasks.title')}</h1>
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${tasks === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable}
          label=${t('tasks.title')}
          filter=${t('tasks.filter')}
          empty=${t('tasks.empty')}
          columns=${columns}
          rows=${tasks}
          rowKey=${(x: Task) => x.id}
          rowClass=${(x: Task) => (x.status === 'failed' && !acks.has(x.id) ? 'row-failed' : undefined)}
        />`}`;
}

function LogViewer({ lines, following }: { lines: string[]; following: boolean }) {
  const ref = useRef<HTMLPreElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  const onScroll = () => {
    const el = ref.current;
    if (el) atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
  };
  return html`<div class="log-wrap">
    ${following && html`<p class="log-note">${t('tasks.logFollowing')}</p>`}
    ${lines.length >= LOG_TAIL_LINES && html`<p class="log-note">${t('tasks.logTail', { n: LOG_TAIL_LINES })}</p>`}
    ${lines.length === 0
      ? html`<p>${t('tasks.logEmpty')}</p>`
      : html`<pre class="log" ref=${ref} tabindex="0" role="log" aria-label=${t('tasks.log')} onScroll=${onScroll}>${lines.map(
          (l) => html`<span class=${/ TASK FAILED/.test(l) ? 'log-failed' : / TASK OK/.test(l) ? 'log-ok' : undefined}>${`${l}\n`}</span>`,
        )}</pre>`}
  </div>`;
}

function TaskDetail({ id, me }: { id: string; me: Me }) {
  const acks = useAcknowledged(me.username);
  const { data, error } = usePoll(() => Promise.all([client.tasks.get(id), client.tasks.log(id, LOG_TAIL_LINES)]), { every: logPollMs, keys: [id] });
  const [task, log] = data ?? [null, null];
  const lines = log?.lines ?? null;

  const now = Date.now();
  return html`<p class="crumbs"><a href=${href('tasks')}>${t('tasks.back')}</a></p>
    <h1>${task ? taskTitle(task) : t('tasks.title')}</h1>
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${!task && !error && html`<p>${t('app.loading')}</p>`}
    ${task &&
    html`<section class="card" aria-labelledby="task-details">
      <h2 id="task-details">${t('tasks.details')}</h2>
      <div class="task-head">
        <${TaskStatus} task=${task} />
        ${task.status === 'failed' &&
        (acks.has(task.id)
          ? html`<span class="muted">${t('tasks.acknowledged')}</span>`
          : html`<button type="button" class="btn" onClick=${() => acknowledge(me.username, [task.id])}>${t('panel.acknowledge')}</button>`)}
      </div>
      ${task.status === 'running' && html`<${ProgressBar} value=${task.progress} label=${taskTitle(task)} />`}
      <dl class="props">
        <dt>${t('tasks.message')}</dt><dd class=${task.status === 'failed' ? 'text-failed' : undefined}>${task.message}</dd>
        <dt>${t('tasks.object')}</dt><dd>${task.object}</dd>
        <dt>${t('tasks.col.user')}</dt><dd>${task.user}</dd>
        <dt>${t('tasks.node')}</dt><dd>${task.node}</dd>
        <dt>${t('tasks.col.started')}</dt><dd>${formatTime(task.start)}</dd>
        ${task.end !== null && html`<dt>${t('tasks.ended')}</dt><dd>${formatTime(task.end)}</dd>`}
        <dt>${t('tasks.col.duration')}</dt><dd>${duration(task, now)}</dd>
        <dt>${t('tasks.id')}</dt><dd><code>${task.id}</code></dd>
      </dl>
    </section>
    ${task.parts?.length &&
    html`<section class="card" aria-labelledby="task-parts">
      <h2 id="task-parts">${t('tasks.parts')}</h2>
      <${TaskParts} task=${task} />
    </section>`}
    <section class="card" aria-labelledby="task-log">
      <h2 id="task-log">${t('tasks.log')}</h2>
      ${lines && html`<${LogViewer} lines=${lines} following=${task.status === 'running'} />`}
    </section>`}`;
}

export default function TasksView({ parts, me }: ViewProps) {
  return parts[0] ? html`<${TaskDetail} id=${parts[0]} me=${me} />` : html`<${TaskList} me=${me} />`;
}
