/**
 * The Backup jobs view, reached through the Backups view:
 *
 *   #/backups/jobs         when the scheduler last ran (red when it stopped); the jobs: schedule,
 *                          guests, storage, mode, keep, mail, last and next run; run now, edit, delete
 *   #/backups/jobs/new     create a job with the original's fields (node, mail recipient, storage,
 *                          all guests or a selection, keep N, weekdays, start time, mode, compression)
 *                          and keep daily/weekly/monthly
 *   #/backups/jobs/<id>    edit it
 */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../../html';
import { t, type MessageKey } from '../../i18n';
import type { Me } from '../../api';
import { client, type JobView } from '../../client';
import { HeldNotice, useHeld } from '../../cluster';
import { href, navigate } from '../../router';
import { formatTime } from '../../format';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable, type Column } from '../../components/data-table';
import { ErrorBanner } from '../../components/error-banner';
import { Field, fieldError, formError } from '../../components/field';
import { useAction, useLoad } from '../../hooks';
import { ProgressBar } from '../../components/progress-bar';
import { StatusBadge } from '../../components/status-badge';
import { TASK_STATUS_KEY, TASK_TONE } from '../../tasks';
import type { BackupJob, Weekday } from '../../../node-cgi/api-types';
import { BackupTabs, ModeFields, useBackupsDone, useStorages } from './common';
import { SchedulerStatus } from './scheduler';
import type { ViewProps } from '../props';

/** The API's order (Sunday first). */
const WEEKDAYS: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
/** Monday first, as the original's form. */
const DAYS_IN_FORM: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const dayLabel = (d: Weekday) => t(`day.${d}` as MessageKey);

export function scheduleText(j: Pick<BackupJob, 'weekdays' | 'start'>): string {
  if (j.weekdays.length === 0) return '—';
  const days = j.weekdays.length === 7 ? t('backup.all') : DAYS_IN_FORM.filter((d) => j.weekdays.includes(d)).map(dayLabel).join(' ');
  return `${days} ${j.start}`;
}

function LastRun({ j }: { j: JobView }) {
  const r = j.lastRun;
  if (!r) return html`<span class="muted">${t('jobs.never')}</span>`;
  return html`<a href=${href('tasks', r.task)}><${StatusBadge} tone=${TASK_TONE[r.status]} label=${t(TASK_STATUS_KEY[r.status])} /></a>
    ${r.status === 'running' ? html`<${ProgressBar} value=${r.progress} label=${j.id} />` : html`<span class="task-message">${formatTime(r.end ?? r.start)}</span>`}
    ${r.status === 'failed' && html`<span class="task-message text-failed">${r.message}</span>`}`;
}

function JobList() {
  const [notice, setNotice] = useState<{ id: string; task: string } | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const { running, ended } = useBackupsDone();
  const list = useLoad(client.backups.jobs.list, [ended, running.length]);
  const runNow = useAction(async (id: string) => {
    const r = await client.backups.jobs.run(id);
    setNotice({ id, task: r.task });
    await list.reload();
  });
  const jobs = list.data;
  const error = runNow.error ?? list.error;
  const columns: Column<JobView>[] = [
    { key: 'id', label: t('jobs.col.id'), value: (j) => j.id, render: (j) => html`<a href=${href('backups', 'jobs', j.id)}>${j.id}</a>${!j.enabled && html` <span class="muted">(${t('jobs.disabled')})</span>`}` },
    { key: 'schedule', label: t('jobs.col.schedule'), value: (j) => scheduleText(j) },
    { key: 'guests', label: t('jobs.col.guests'), value: (j) => (j.vmids === 'all' ? t('jobs.allGuests') : j.vmids.join(', ')) },
    { key: 'storage', label: t('backup.col.storage'), value: (j) => j.storage },
    { key: 'mode', label: t('backup.col.mode'), value: (j) => (j.kind === 'verify' ? t('jobs.kind.verify') : `${j.mode} · ${j.compress}`) },
    {
      key: 'keep', label: t('jobs.col.keep'),
      value: (j) => t('jobs.keepSummary', { last: j.retention.keepLast, daily: j.retention.keepDaily, weekly: j.retention.keepWeekly, monthly: j.retention.keepMonthly }),
    },
    { key: 'mail', label: t('jobs.f.mailto'), value: (j) => j.mailto || '—' },
    { key: 'last', label: t('jobs.col.lastRun'), value: (j) => j.lastRun?.status ?? '', render: (j) => html`<${LastRun} j=${j} />` },
    { key: 'next', label: t('jobs.col.next'), value: (j) => (j.next ? formatTime(j.next) : '—'), sortValue: (j) => j.next ?? '' },
    {
      key: 'actions', label: t('table.actions'), value: () => '', sortable: false,
      render: (j) => html`<span class="panel-actions">
        <button type="button" class="btn btn-small" disabled=${j.lastRun?.status === 'running'} onClick=${() => runNow.run(j.id)}>${t('jobs.runNow')}</button>
        <a class="btn btn-small" href=${href('backups', 'jobs', j.id)}>${t('jobs.edit')}</a>
        <button type="button" class="btn btn-small" onClick=${() => setDeleting(j.id)}>${t('jobs.delete')}</button>
      </span>`,
    },
  ];
  return html`<h1>${t('jobs.title')}</h1>
    <${BackupTabs} current="jobs" />
    <${SchedulerStatus} />
    <p><a class="btn btn-primary" href=${href('backups', 'jobs', 'new')}>${t('jobs.new')}</a></p>
    ${notice && html`<p role="status"><a href=${href('tasks', notice.task)}>${t('jobs.runStarted', { id: notice.id, task: notice.task })}</a></p>`}
    <${ErrorBanner} error=${error} />
    ${jobs === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${t('jobs.title')} filter=${t('jobs.filter')} empty=${t('jobs.empty')} columns=${columns} rows=${jobs}
          rowKey=${(j: JobView) => j.id} rowClass=${(j: JobView) => (j.lastRun?.status === 'failed' ? 'row-failed' : undefined)} />`}
    <${ConfirmDialog} open=${deleting !== null} title=${t('jobs.deleteTitle', { id: deleting ?? '' })} message=${t('jobs.deleteText')}
      confirmLabel=${t('jobs.delete')}
      onConfirm=${async () => {
        await client.backups.jobs.remove(deleting!);
        setDeleting(null);
        await list.reload();
      }}
      onCancel=${() => setDeleting(null)} />`;
}

interface FormState {
  id: string;
  enabled: boolean;
  kind: 'backup' | 'verify';
  node: string;
  mailto: string;
  mailOnSuccess: boolean;
  storage: string;
  allGuests: boolean;
  vmids: string;
  weekdays: Weekday[];
  start: string;
  mode: string;
  compress: string;
  keepLast: string;
  keepDaily: string;
  keepWeekly: string;
  keepMonthly: string;
  verifyAfterDays: string;
  comment: string;
}

const fromJob = (j: BackupJob): FormState => ({
  id: j.id, enabled: j.enabled, kind: j.kind, node: j.node, mailto: j.mailto, mailOnSuccess: j.mailOnSuccess, storage: j.storage,
  allGuests: j.vmids === 'all', vmids: j.vmids === 'all' ? '' : j.vmids.join(', '), weekdays: j.weekdays, start: j.start,
  mode: j.mode, compress: j.compress, keepLast: String(j.retention.keepLast), keepDaily: String(j.retention.keepDaily),
  keepWeekly: String(j.retention.keepWeekly), keepMonthly: String(j.retention.keepMonthly), verifyAfterDays: String(j.verifyAfterDays), comment: j.comment,
});

/** The retention fields, in the form's order. */
const KEEPS = ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const;

const EMPTY: FormState = {
  id: '', enabled: true, kind: 'backup', node: '', mailto: '', mailOnSuccess: false, storage: 'local', allGuests: true, vmids: '',
  weekdays: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '22:00', mode: 'snapshot', compress: 'zstd',
  keepLast: '3', keepDaily: '0', keepWeekly: '0', keepMonthly: '0', verifyAfterDays: '0', comment: '',
};

/** The request body of a form: numbers as numbers, "101, 102" as [101, 102]. */
export function jobBody(f: FormState, isNew: boolean): Record<string, unknown> {
  const num = (s: string) => (s.trim() === '' ? 0 : Number(s));
  const vmids = f.allGuests ? 'all' : f.vmids.split(/[\s,;]+/).filter(Boolean).map((v) => (/^\d+$/.test(v) ? Number(v) : v));
  return {
    ...(isNew && f.id ? { id: f.id } : {}),
    enabled: f.enabled, kind: f.kind, ...(f.node ? { node: f.node } : {}), mailto: f.mailto, mailOnSuccess: f.mailOnSuccess,
    storage: f.storage, vmids, weekdays: WEEKDAYS.filter((d) => f.weekdays.includes(d)), start: f.start, mode: f.mode, compress: f.compress,
    keepLast: num(f.keepLast), keepDaily: num(f.keepDaily), keepWeekly: num(f.keepWeekly), keepMonthly: num(f.keepMonthly),
    verifyAfterDays: num(f.verifyAfterDays), comment: f.comment,
  };
}

function JobForm({ id, me }: { id: string | null; me: Me }) {
  const [f, setF] = useState<FormState | null>(id ? null : { ...EMPTY, node: me.node });
  const storages = useStorages();
  const job = useLoad(() => (id ? client.backups.jobs.get(id) : Promise.resolve(null)), [id]);
  useEffect(() => {
    if (job.data) setF(fromJob(job.data));
  }, [job.data]);
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setF((s) => (s ? { ...s, [k]: v } : s));
  const val = (e: Event) => (e.currentTarget as HTMLInputElement).value;
  const save = useAction(async (form: FormState) => {
    if (id) await client.backups.jobs.update(id, jobBody(form, false));
    else await client.backups.jobs.create(jobBody(form, true));
    navigate(href('backups', 'jobs'));
  });
  const submit = (e: Event) => {
    e.preventDefault();
    if (f) void save.run(f);
  };
  const error = save.error ?? job.error;
  const fe = (k: string) => fieldError(error, k);
  const held = useHeld();
  const shown = ['id', 'node', 'mailto', 'storage', 'vmids', 'weekdays', 'start', 'keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly', 'verifyAfterDays', 'comment'];
  return html`<p class="crumbs"><a href=${href('backups', 'jobs')}>${t('jobs.back')}</a></p>
    <h1>${id ? t('jobs.editTitle', { id }) : t('jobs.new')}</h1>
    <${ErrorBanner} error=${formError(error, shown)} />
    ${!f && !error && html`<p>${t('app.loading')}</p>`}
    ${f && html`<form class="card job-form" onSubmit=${submit}>
      ${!id && html`<${Field} label=${t('jobs.f.id')} name="id" value=${f.id} onInput=${(e: Event) => set('id', val(e))} error=${fe('id')} />`}
      <label class="check"><input type="checkbox" name="enabled" checked=${f.enabled} onChange=${(e: Event) => set('enabled', (e.currentTarget as HTMLInputElement).checked)} /> ${t('jobs.f.enabled')}</label>
      <${Field} label=${t('jobs.f.kind')}>
        <select name="kind" value=${f.kind} onChange=${(e: Event) => set('kind', val(e) as FormState['kind'])}>
          <option value="backup">${t('jobs.kind.backup')}</option>
          <option value="verify">${t('jobs.kind.verify')}</option>
        </select>
      <//>
      <${Field} label=${t('jobs.f.node')} name="node" value=${f.node} onInput=${(e: Event) => set('node', val(e))} error=${fe('node')} />
      <${Field} label=${t('jobs.f.mailto')} name="mailto" type="email" value=${f.mailto} hint=${t('jobs.f.mailtoHint')} onInput=${(e: Event) => set('mailto', val(e))} error=${fe('mailto')} />
      <label class="check"><input type="checkbox" name="mailOnSuccess" checked=${f.mailOnSuccess} onChange=${(e: Event) => set('mailOnSuccess', (e.currentTarget as HTMLInputElement).checked)} /> ${t('jobs.f.mailOnSuccess')}</label>
      <${Field} label=${t('jobs.f.storage')} error=${fe('storage')}>
        <select name="storage" value=${f.storage} onChange=${(e: Event) => set('storage', val(e))}>
          ${(storages.some((s) => s.name === f.storage) ? storages : [...storages, { name: f.storage }]).map((s) => html`<option value=${s.name}>${s.name}</option>`)}
        </select>
      <//>
      <label class="check"><input type="checkbox" name="allGuests" checked=${f.allGuests} onChange=${(e: Event) => set('allGuests', (e.currentTarget as HTMLInputElement).checked)} /> ${t('jobs.f.allGuests')}</label>
      ${!f.allGuests && html`<${Field} label=${t('jobs.f.vmids')} name="vmids" value=${f.vmids} hint=${t('jobs.f.vmidsHint')} onInput=${(e: Event) => set('vmids', val(e))} error=${fe('vmids')} />`}
      <fieldset class="weekdays">
        <legend>${t('jobs.f.weekdays')}</legend>
        ${DAYS_IN_FORM.map((d) => html`<label class="check"><input type="checkbox" name=${`day-${d}`} checked=${f.weekdays.includes(d)}
          onChange=${(e: Event) => set('weekdays', (e.currentTarget as HTMLInputElement).checked ? [...f.weekdays, d] : f.weekdays.filter((x) => x !== d))} /> ${dayLabel(d)}</label>`)}
        ${fe('weekdays') && html`<p class="field-error">${fe('weekdays')}</p>`}
      </fieldset>
      <${Field} label=${t('jobs.f.start')} name="start" type="time" value=${f.start} onInput=${(e: Event) => set('start', val(e))} error=${fe('start')} />
      ${f.kind === 'backup' && html`
        <${ModeFields} mode=${f.mode} compress=${f.compress} onMode=${(v: string) => set('mode', v)} onCompress=${(v: string) => set('compress', v)} />
        <div class="form-row">
          ${KEEPS.map((k) => html`<${Field} label=${t(`jobs.f.${k}`)} name=${k} type="number" min="0" value=${f[k]} onInput=${(e: Event) => set(k, val(e))} error=${fe(k)} />`)}
        </div>`}
      ${f.kind === 'verify' && html`<${Field} label=${t('jobs.f.verifyAfterDays')} name="verifyAfterDays" type="number" min="0" value=${f.verifyAfterDays} onInput=${(e: Event) => set('verifyAfterDays', val(e))} error=${fe('verifyAfterDays')} />`}
      <${Field} label=${t('jobs.f.comment')} name="comment" value=${f.comment} onInput=${(e: Event) => set('comment', val(e))} error=${fe('comment')} />
      <${HeldNotice} held=${held} />
      <div class="form-actions"><button type="submit" class="btn btn-primary" disabled=${save.busy || held !== null}>${id ? t('jobs.save') : t('jobs.create')}</button></div>
    </form>`}`;
}

export default function BackupJobsView({ parts, me }: ViewProps) {
  if (parts[0] === 'new') return html`<${JobForm} id=${null} me=${me} />`;
  if (parts[0]) return html`<${JobForm} key=${parts[0]} id=${parts[0]} me=${me} />`;
  return html`<${JobList} />`;
}
