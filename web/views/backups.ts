/**
 * The Backups view.
 *
 *   #/backups                    backups per guest and per storage (time, guest, storage, mode,
 *                                size, duration, verified, log), running backups with progress,
 *                                unacknowledged backup failures in red, "back up now"
 *   #/backups/backup/<id>        one backup: its manifest (files, sums, timings) and its log
 *   #/backups/jobs[/new|/<id>]   backup jobs (backup-jobs.ts)
 *
 * Failures come from GET /api/backup/alerts (a killed task counts too) and
 * stay red until acknowledged on the node, for every user and browser.
 */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import { api } from '../api';
import { href } from '../router';
import { formatDuration, formatTime } from '../format';
import { DataTable, type Column } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { Field, fieldError } from '../components/field';
import { ProgressBar } from '../components/progress-bar';
import { StatusBadge } from '../components/status-badge';
import { acknowledge, taskTitle, useTasks, type Task } from '../tasks';
import type { BackupAlert, BackupManifest, ListedBackup, StorageView } from '../../node-cgi/api-types';
import BackupJobsView from './backup-jobs';
import { RestoreActions } from './backup-restore';
import type { ViewProps } from './index';

/** How often alerts are read again (besides whenever a backup task ends). */
const ALERT_POLL_MS = 15_000;
export const BACKUP_KINDS = ['backup', 'backup-verify'];

export type Storage = StorageView;
type Entry = ListedBackup;

/** "1.2 GiB" */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A number that changes whenever a backup task ends: lists reload on it. */
export function useBackupsDone(): { running: Task[]; ended: string } {
  const { tasks } = useTasks();
  const mine = (tasks ?? []).filter((x) => BACKUP_KINDS.includes(x.kind));
  return { running: mine.filter((x) => x.status === 'running'), ended: mine.filter((x) => x.status !== 'running').map((x) => x.id).join() };
}

export function BackupTabs({ current }: { current: 'list' | 'jobs' }) {
  return html`<nav class="tabs" aria-label=${t('backup.tabs')}>
    <a href=${href('backups')} aria-current=${current === 'list' ? 'page' : undefined}>${t('backup.tab.list')}</a>
    <a href=${href('backups', 'jobs')} aria-current=${current === 'jobs' ? 'page' : undefined}>${t('backup.tab.jobs')}</a>
  </nav>`;
}

export function useStorages(): Storage[] {
  const [list, setList] = useState<Storage[]>([]);
  useEffect(() => {
    api.get<Storage[]>('/api/storage').then(setList, () => setList([]));
  }, []);
  return list;
}

function Alerts({ me, ended }: { me: ViewProps['me']; ended: string }) {
  const [alerts, setAlerts] = useState<BackupAlert[]>([]);
  const [error, setError] = useState<unknown>(null);
  const load = () => api.get<BackupAlert[]>('/api/backup/alerts').then((a) => (setAlerts(a), setError(null)), setError);
  useEffect(() => {
    void load();
    const timer = setInterval(load, ALERT_POLL_MS);
    return () => clearInterval(timer);
  }, [ended]);
  const ack = async (tasks?: string[]) => {
    try {
      const r = await api.post<{ acknowledged: string[] }>('/api/backup/alerts/ack', tasks ? { tasks } : {});
      acknowledge(me.username, r.acknowledged);
      await load();
    } catch (e) {
      setError(e);
    }
  };
  if (alerts.length === 0) return error ? html`<${ErrorBanner} error=${error} />` : null;
  return html`<section class="banner banner-error alerts" role="alert" aria-labelledby="backup-alerts">
    <div class="banner-body">
      <h2 id="backup-alerts">${t('backup.alerts')}</h2>
      <p>${t('backup.alertsIntro')}</p>
      <ul class="alert-list">
        ${alerts.map((a) => html`<li key=${a.task}>
          <strong>${formatTime(Date.parse(a.time))}</strong> · ${a.job ? t('backup.alertJob', { job: a.job }) : a.object}:
          <span class="alert-message">${a.message}</span>
          <span class="panel-actions">
            <a class="btn btn-small" href=${href('tasks', a.task)}>${t('backup.showLog')}</a>
            <button type="button" class="btn btn-small" onClick=${() => ack([a.task])}>${t('backup.ack')}</button>
          </span>
        </li>`)}
      </ul>
      ${alerts.length > 1 && html`<button type="button" class="btn" onClick=${() => ack()}>${t('backup.ackAll')}</button>`}
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

function BackupNow({ storages }: { storages: Storage[] }) {
  const [vmid, setVmid] = useState('');
  const [storage, setStorage] = useState('local');
  const [mode, setMode] = useState('snapshot');
  const [compress, setCompress] = useState('zstd');
  const [error, setError] = useState<unknown>(null);
  const [started, setStarted] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<{ task: string }>('/api/backup/run', { vmid: Number(vmid), storage, mode, compress });
      setStarted(r.task);
    } catch (err) {
      setError(err);
      setStarted(null);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card" aria-labelledby="backup-now">
    <h2 id="backup-now">${t('backup.now')}</h2>
    <form class="form-row" onSubmit=${submit}>
      <${Field} label=${t('backup.guest')} name="vmid" type="number" min="100" required value=${vmid}
        onInput=${(e: Event) => setVmid((e.currentTarget as HTMLInputElement).value)} error=${fieldError(error, 'vmid')} />
      <${Field} label=${t('backup.storage')} error=${fieldError(error, 'storage')}>
        <select name="storage" value=${storage} onChange=${(e: Event) => setStorage((e.currentTarget as HTMLSelectElement).value)}>
          ${storages.map((s) => html`<option value=${s.name}>${s.name}</option>`)}
        </select>
      <//>
      <${Field} label=${t('backup.mode')}>
        <select name="mode" value=${mode} onChange=${(e: Event) => setMode((e.currentTarget as HTMLSelectElement).value)}>
          <option value="snapshot">${t('backup.mode.snapshot')}</option>
          <option value="stop">${t('backup.mode.stop')}</option>
        </select>
      <//>
      <${Field} label=${t('backup.compress')}>
        <select name="compress" value=${compress} onChange=${(e: Event) => setCompress((e.currentTarget as HTMLSelectElement).value)}>
          <option value="zstd">${t('backup.compress.zstd')}</option>
          <option value="none">${t('backup.compress.none')}</option>
        </select>
      <//>
      <div class="form-actions"><button type="submit" class="btn btn-primary" disabled=${busy}>${t('backup.start')}</button></div>
    </form>
    ${error && !fieldError(error, 'vmid') && !fieldError(error, 'storage') && html`<${ErrorBanner} error=${error} />`}
    ${started && html`<p role="status"><a href=${href('tasks', started)}>${t('backup.started', { task: started })}</a></p>`}
  </section>`;
}

function VerifiedBadge({ b }: { b: Entry }) {
  return b.verified
    ? html`<${StatusBadge} tone="ok" label=${t('backup.verified')} />`
    : html`<span title=${b.problems.join('\n')}><${StatusBadge} tone="failed" label=${t('backup.notVerified')} /></span>`;
}

function BackupList({ storages, ended }: { storages: Storage[]; ended: string }) {
  const [vmid, setVmid] = useState('');
  const [storage, setStorage] = useState('');
  const [rows, setRows] = useState<Entry[] | null>(null);
  const [all, setAll] = useState<Entry[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const q = new URLSearchParams();
    if (vmid) q.set('vmid', vmid);
    if (storage) q.set('storage', storage);
    api.get<Entry[]>(`/api/backup${q.size ? `?${q}` : ''}`).then((r) => (setRows(r), setError(null)), setError);
  }, [vmid, storage, ended]);
  useEffect(() => {
    api.get<Entry[]>('/api/backup').then(setAll, () => undefined);
  }, [ended]);
  const guests = [...new Map(all.map((b) => [b.vmid, b.name])).entries()].sort((a, b) => a[0] - b[0]);
  const columns: Column<Entry>[] = [
    { key: 'time', label: t('backup.col.time'), value: (b) => formatTime(Date.parse(b.time)), sortValue: (b) => b.time },
    { key: 'guest', label: t('backup.col.guest'), value: (b) => `${b.vmid}${b.name ? ` ${b.name}` : ''}`, sortValue: (b) => b.vmid },
    { key: 'storage', label: t('backup.col.storage'), value: (b) => b.storage, render: (b) => html`${b.storage}${b.offline ? html` <span class="muted">(${t('backup.offline')})</span>` : ''}` },
    { key: 'mode', label: t('backup.col.mode'), value: (b) => `${b.mode} · ${b.method} · ${b.compress}` },
    { key: 'size', label: t('backup.col.size'), value: (b) => formatBytes(b.size), sortValue: (b) => b.size, class: 'num' },
    { key: 'duration', label: t('backup.col.duration'), value: (b) => formatDuration(b.durationMs), sortValue: (b) => b.durationMs, class: 'num' },
    { key: 'verified', label: t('backup.col.verified'), value: (b) => (b.verified ? t('backup.verified') : t('backup.notVerified')), render: (b) => html`<${VerifiedBadge} b=${b} />` },
    {
      key: 'log', label: t('backup.col.log'), value: (b) => b.id, sortable: false,
      render: (b) => (b.offline ? html`<span class="muted">—</span>` : html`<a href=${href('backups', 'backup', b.id)}>${t('backup.col.log')}</a>`),
    },
  ];
  return html`<section aria-labelledby="backup-list">
    <h2 id="backup-list">${t('backup.list')}</h2>
    <div class="form-row">
      <${Field} label=${t('backup.filterGuest')}>
        <select name="filter-vmid" value=${vmid} onChange=${(e: Event) => setVmid((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">${t('backup.all')}</option>
          ${guests.map(([id, name]) => html`<option value=${String(id)}>${id}${name ? ` ${name}` : ''}</option>`)}
        </select>
      <//>
      <${Field} label=${t('backup.filterStorage')}>
        <select name="filter-storage" value=${storage} onChange=${(e: Event) => setStorage((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">${t('backup.all')}</option>
          ${storages.map((s) => html`<option value=${s.name}>${s.name}</option>`)}
        </select>
      <//>
    </div>
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${rows === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${t('backup.list')} filter=${t('backup.filter')} empty=${t('backup.empty')}
          columns=${columns} rows=${rows} rowKey=${(b: Entry) => b.id}
          rowClass=${(b: Entry) => (b.verified ? undefined : 'row-failed')} />`}
  </section>`;
}

function BackupDetail({ id }: { id: string }) {
  const [b, setB] = useState<(Entry & { manifest: BackupManifest }) | null>(null);
  const [lines, setLines] = useState<string[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const path = `/api/backup/${encodeURIComponent(id)}`;
    Promise.all([api.get<Entry & { manifest: BackupManifest }>(path), api.get<{ lines: string[] }>(`${path}/log`)]).then(
      ([x, log]) => (setB(x), setLines(log.lines)),
      setError,
    );
  }, [id]);
  return html`<p class="crumbs"><a href=${href('backups')}>${t('backup.back')}</a></p>
    <h1>${b ? `${b.vmid}${b.name ? ` ${b.name}` : ''} · ${formatTime(Date.parse(b.time))}` : t('backup.title')}</h1>
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${!b && !error && html`<p>${t('app.loading')}</p>`}
    ${b && html`<section class="card" aria-labelledby="backup-details">
      <h2 id="backup-details">${t('backup.details')}</h2>
      <div class="task-head"><${VerifiedBadge} b=${b} /></div>
      <dl class="props">
        <dt>${t('backup.id')}</dt><dd><code>${b.id}</code></dd>
        <dt>${t('backup.col.storage')}</dt><dd>${b.storage}</dd>
        <dt>${t('backup.col.mode')}</dt><dd>${b.mode} · ${b.method} · ${b.compress}</dd>
        <dt>${t('backup.col.size')}</dt><dd>${formatBytes(b.size)}</dd>
        <dt>${t('backup.col.duration')}</dt><dd>${formatDuration(b.durationMs)}</dd>
        ${b.verifiedAt && html`<dt>${t('backup.verifiedAt')}</dt><dd>${formatTime(Date.parse(b.verifiedAt))}</dd>`}
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
      ${lines && html`<pre class="log" tabindex="0" role="log" aria-label=${t('backup.log')}>${lines.map((l) => `${l}\n`)}</pre>`}
    </section>`}`;
}

function BackupsHome({ me }: { me: ViewProps['me'] }) {
  const storages = useStorages();
  const { running, ended } = useBackupsDone();
  return html`<h1>${t('backup.title')}</h1>
    <${BackupTabs} current="list" />
    <${Alerts} me=${me} ended=${ended} />
    <${Running} running=${running} />
    <${BackupNow} storages=${storages} />
    <${BackupList} storages=${storages} ended=${ended} />`;
}

export default function BackupsView({ parts, me }: ViewProps) {
  if (parts[0] === 'jobs') return html`<${BackupJobsView} parts=${parts.slice(1)} me=${me} />`;
  if (parts[0] === 'backup' && parts[1]) return html`<${BackupDetail} id=${parts[1]} />`;
  return html`<${BackupsHome} me=${me} />`;
}
