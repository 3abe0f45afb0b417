/**
 * The Backups view.
 *
 *   #/backups                    backups per guest and per storage (time, guest, storage, mode,
 *                                size, duration, verified; restore, run from backup, details),
 *                                running backups with progress, unacknowledged backup failures
 *                                and a scheduler that stopped in red, "back up now"
 *   #/backups/backup/<id>        one backup: its manifest (files, sums, timings) and its log
 *   #/backups/jobs[/new|/<id>]   backup jobs (backups/jobs.ts)
 *
 * Failures come from GET /api/backup/alerts (a killed task counts too) and
 * stay red until acknowledged on the node, for every user and browser.
 */
import { useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import type { Me } from '../api';
import { client, type BackupListEntry as Entry, type Storage } from '../client';
import { href } from '../router';
import { formatBytes, formatDuration, formatTime } from '../format';
import { DataTable } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { Field } from '../components/field';
import { useAction, useLoad, usePoll } from '../hooks';
import { ProgressBar } from '../components/progress-bar';
import { acknowledge, taskTitle, type Task } from '../tasks';
import type { BackupManifest } from '../../node-cgi/api-types';
import { BackupTabs, useBackupsDone, useStorages } from './backups/common';
import BackupJobsView from './backups/jobs';
import { RestoreActions } from './backups/restore';
import { backupColumns, guestLabel, VerifiedBadge } from './backups/actions';
import { BackupNow } from './backups/now';
import { BackupMode } from './backups/backup-mode';
import type { ViewProps } from './props';

/** How often alerts are read again (besides whenever a backup task ends). */
const ALERT_POLL_MS = 15_000;

function Alerts({ me, ended }: { me: Me; ended: string }) {
  const poll = usePoll(client.backups.alerts, { every: ALERT_POLL_MS, keys: [ended] });
  const ack = useAction(async (tasks?: string[]) => {
    const r = await client.backups.acknowledge(tasks);
    acknowledge(me.username, r.acknowledged);
    await poll.reload();
  });
  const alerts = poll.data ?? [];
  const error = ack.error ?? poll.error;
  if (alerts.length === 0) return html`<${ErrorBanner} error=${error} />`;
  return html`<section class="banner banner-error alerts" role="alert" aria-labelledby="backup-alerts">
    <div class="banner-body">
      <h2 id="backup-alerts">${t('backup.alerts')}</h2>
      <p>${t('backup.alertsIntro')}</p>
      <ul class="alert-list">
        ${alerts.map((a) => (a.kind === 'scheduler'
          ? html`<li key=${a.task} class="alert-scheduler">
              <strong>${t('backup.alertScheduler', { time: formatTime(a.time) })}</strong>
              <span class="alert-message">${a.message}</span>
              <span class="muted">${t('backup.alertSchedulerEnds')}</span>
              <span class="panel-actions"><a class="btn btn-small" href=${href('backups', 'jobs')}>${t('backup.tab.jobs')}</a></span>
            </li>`
          : html`<li key=${a.task}>
              <strong>${formatTime(a.time)}</strong> · ${a.job ? t('backup.alertJob', { job: a.job }) : a.object}:
              <span class="alert-message">${a.message}</span>
              <span class="panel-actions">
                <a class="btn btn-small" href=${href('tasks', a.task)}>${t('backup.showLog')}</a>
                <button type="button" class="btn btn-small" onClick=${() => ack.run([a.task])}>${t('backup.ack')}</button>
              </span>
            </li>`))}
      </ul>
      ${alerts.filter((a) => a.kind !== 'scheduler').length > 1 && html`<button type="button" class="btn" onClick=${() => ack.run()}>${t('backup.ackAll')}</button>`}
    </div>
  </section>`;
}

function Running({ running }: { running: Task[] }) {
  if (running.length === 0) return null;
  return html`<section class="card" aria-labelledby="backup-running">
    <h2 id="backup-running">${t('backup.running')}</h2>
    <ul class="plain-list">
      ${running.map((x) => html`<li key=${x.id}>
        <a href=${href('tasks', x.id)}>${taskTitle(x)}</a>
        <${ProgressBar} value=${x.progress} label=${taskTitle(x)} />
        <span class="task-message">${x.message}</span>
      </li>`)}
    </ul>
  </section>`;
}

function BackupList({ me, storages, ended }: { me: Me; storages: Storage[]; ended: string }) {
  const [vmid, setVmid] = useState('');
  const [storage, setStorage] = useState('');
  const { data: rows, error } = useLoad(() => client.backups.list({ vmid, storage }), [vmid, storage, ended]);
  // Every guest with a backup, for the filter (the rows shown may be filtered).
  const all = useLoad(client.backups.list, [ended]).data ?? [];
  const guests = [...new Map(all.map((b) => [b.vmid, b.name])).entries()].sort((a, b) => a[0] - b[0]);
  const columns = backupColumns({ me, guest: true });
  return html`<section aria-labelledby="backup-list">
    <h2 id="backup-list">${t('backup.list')}</h2>
    <div class="form-row">
      <${Field} label=${t('backup.filterGuest')}>
        <select name="filter-vmid" value=${vmid} onChange=${(e: Event) => setVmid((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">${t('backup.all')}</option>
          ${guests.map(([id, name]) => html`<option value=${String(id)}>${guestLabel(id, name)}</option>`)}
        </select>
      <//>
      <${Field} label=${t('backup.filterStorage')}>
        <select name="filter-storage" value=${storage} onChange=${(e: Event) => setStorage((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">${t('backup.all')}</option>
          ${storages.map((s) => html`<option value=${s.name}>${s.name}</option>`)}
        </select>
      <//>
    </div>
    <${ErrorBanner} error=${error} />
    ${rows === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${t('backup.list')} filter=${t('backup.filter')} empty=${t('backup.empty')}
          columns=${columns} rows=${rows} rowKey=${(b: Entry) => `${b.node}/${b.id}`}
          rowClass=${(b: Entry) => (b.verified ? undefined : 'row-failed')} />`}
  </section>`;
}

function BackupDetail({ id }: { id: string }) {
  const { data, error } = useLoad(() => Promise.all([client.backups.get(id), client.backups.log(id)]), [id]);
  const [b, log] = data ?? [null, null];
  return html`<p class="crumbs"><a href=${href('backups')}>${t('backup.back')}</a></p>
    <h1>${b ? `${guestLabel(b.vmid, b.name)} · ${formatTime(b.time)}` : t('backup.title')}</h1>
    <${ErrorBanner} error=${error} />
    ${!b && !error && html`<p>${t('app.loading')}</p>`}
    ${b && html`<section class="card" aria-labelledby="backup-details">
      <h2 id="backup-details">${t('backup.details')}</h2>
      <div class="task-head"><${VerifiedBadge} b=${b} /></div>
      <dl class="props">
        <dt>${t('backup.id')}</dt><dd><code>${b.id}</code></dd>
        <dt>${t('backup.col.storage')}</dt><dd>${b.storage}</dd>
        <dt>${t('top.node')}</dt><dd>${b.node}</dd>
        <dt>${t('backup.col.mode')}</dt><dd>${b.mode} · ${b.method} · ${b.compress}</dd>
        <dt>${t('backup.col.size')}</dt><dd>${formatBytes(b.size)}</dd>
        <dt>${t('backup.col.duration')}</dt><dd>${formatDuration(b.durationMs)}</dd>
        ${b.verifiedAt && html`<dt>${t('backup.verifiedAt')}</dt><dd>${formatTime(b.verifiedAt)}</dd>`}
        ${b.problems.length > 0 && html`<dt>${t('backup.problems')}</dt><dd class="text-failed">${b.problems.join('; ')}</dd>`}
        <dt>${t('backup.task')}</dt><dd><a href=${href('tasks', b.task)}><code>${b.task}</code></a></dd>
        ${b.job && html`<dt>${t('backup.job')}</dt><dd><a href=${href('backups', 'jobs', b.job)}>${b.job}</a></dd>`}
      </dl>
    </section>
    <${RestoreActions} b=${b} />
    <section class="card" aria-labelledby="backup-files">
      <h2 id="backup-files">${t('backup.files')}</h2>
      <${DataTable} label=${t('backup.files')} filter=${false} columns=${[
        { key: 'name', label: t('backup.file'), value: (f: BackupManifest['files'][number]) => f.name },
        { key: 'size', label: t('backup.col.size'), value: (f: BackupManifest['files'][number]) => formatBytes(f.size), sortValue: (f: BackupManifest['files'][number]) => f.size, class: 'num' },
        { key: 'sha', label: 'SHA-256', value: (f: BackupManifest['files'][number]) => f.sha256, render: (f: BackupManifest['files'][number]) => html`<code>${f.sha256}</code>` },
      ]} rows=${b.manifest.files} rowKey=${(f: { name: string }) => f.name} />
    </section>
    <section class="card" aria-labelledby="backup-log">
      <h2 id="backup-log">${t('backup.log')}</h2>
      ${log && html`<pre class="log" tabindex="0" role="log" aria-label=${t('backup.log')}>${log.lines.map((l) => `${l}\n`)}</pre>`}
    </section>`}`;
}

function BackupsHome({ me }: { me: Me }) {
  const storages = useStorages();
  const { running, ended } = useBackupsDone();
  return html`<h1>${t('backup.title')}</h1>
    <${BackupTabs} current="list" />
    <${BackupMode} me=${me} />
    <${Alerts} me=${me} ended=${ended} />
    <${Running} running=${running} />
    <section class="card" aria-labelledby="backup-now">
      <h2 id="backup-now">${t('backup.now')}</h2>
      <${BackupNow} storages=${storages} />
    </section>
    <${BackupList} me=${me} storages=${storages} ended=${ended} />`;
}

export default function BackupsView({ parts, me }: ViewProps) {
  if (parts[0] === 'jobs') return html`<${BackupJobsView} parts=${parts.slice(1)} me=${me} />`;
  if (parts[0] === 'backup' && parts[1]) return html`<${BackupDetail} id=${parts[1]} />`;
  return html`<${BackupsHome} me=${me} />`;
}
