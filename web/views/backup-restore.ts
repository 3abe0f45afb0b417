/**
 * What can be done with one backup, on its page in the Backups view
 * (#/backups/backup/<id>):
 *
 *   Run from backup  POST /api/backup/<id>/boot → the temporary guest with the
 *                    original's warning (IP and MAC conflicts), its screen
 *                    (a screenshot every SCREEN_REFRESH_MS; the full console
 *                    opens at #/console/<vmid>), connect or unplug its
 *                    network, keep it (live restore), stop and discard it
 *   Restore          POST /api/backup/<id>/restore {vmid?, force?} → task
 *   Boot check       the last check's result and screenshot; check now
 *
 * A guest already running from this backup (GET /api/restore) is shown
 * again after a reload; the warnings of the boot answer are kept for the
 * tab in sessionStorage, so a reload does not hide them.
 */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import { api, ApiError } from '../api';
import { href } from '../router';
import { formatTime } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorBanner } from '../components/error-banner';
import { Field, fieldError } from '../components/field';
import { StatusBadge } from '../components/status-badge';
import { useTasks } from '../tasks';
import type { BackupEntry, BootCheckResult, TemporaryGuest } from '../../node-cgi/api-types';

/** How often the temporary guest's screen is fetched again. */
export const SCREEN_REFRESH_MS = 2000;
/** Width of that screen, px (the node scales QEMU's screendump down). */
export const SCREEN_WIDTH_PX = 640;
const WARNINGS_KEY = (vmid: number) => `ramvm.restore.warnings.${vmid}`;

/** GET /api/restore */
type Temporary = TemporaryGuest;

function savedWarnings(vmid: number): string[] {
  try {
    return JSON.parse(sessionStorage.getItem(WARNINGS_KEY(vmid)) ?? '[]') as string[];
  } catch {
    return [];
  }
}

function Screen({ vmid }: { vmid: number }) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), SCREEN_REFRESH_MS);
    return () => clearInterval(timer);
  }, [vmid]);
  return html`<figure class="restore-screen">
    <img src=${`/api/monitor/${vmid}/screenshot?width=${SCREEN_WIDTH_PX}&n=${tick}`} alt=${t('restore.screen', { vmid })} width=${SCREEN_WIDTH_PX} />
    <figcaption><a href=${href('console', vmid)}>${t('restore.console')}</a></figcaption>
  </figure>`;
}

function TemporaryGuest({ g, onChange }: { g: Temporary; onChange: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [asking, setAsking] = useState<'connect' | 'discard' | null>(null);
  const [keepTask, setKeepTask] = useState<string | null>(null);
  const warnings = savedWarnings(g.vmid);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      onChange();
    } catch (e) {
      setError(e);
    }
  };
  return html`<section class="card" aria-labelledby="restore-temp">
    <h2 id="restore-temp">${t('restore.runningTitle', { vmid: g.vmid })}</h2>
    <div class="banner banner-warn" role="alert">
      <div class="banner-body">
        <strong>${t('restore.warnTitle')}</strong>
        <span class="banner-detail">${t('restore.warnText', { source: g.temporary.source })}</span>
        ${warnings.length > 0 && html`<ul class="restore-warnings">${warnings.map((w) => html`<li>${w}</li>`)}</ul>`}
      </div>
    </div>
    <dl class="props">
      <dt>${t('restore.guest')}</dt><dd>${g.vmid} ${g.name} · ${g.status}</dd>
      <dt>${t('restore.network')}</dt>
      <dd>${g.linkDown ? html`<${StatusBadge} tone="warning" label=${t('restore.disconnected')} />` : html`<${StatusBadge} tone="ok" label=${t('restore.connected')} />`}</dd>
      <dt>${t('restore.since')}</dt><dd>${formatTime(g.temporary.since)}</dd>
    </dl>
    <div class="panel-actions">
      ${g.linkDown
        ? html`<button type="button" class="btn" onClick=${() => setAsking('connect')}>${t('restore.connect')}</button>`
        : html`<button type="button" class="btn" onClick=${() => act(() => api.post(`/api/restore/${g.vmid}/link`, { up: false }))}>${t('restore.unplug')}</button>`}
      <button type="button" class="btn btn-primary" disabled=${keepTask !== null}
        onClick=${() => act(async () => setKeepTask((await api.post<{ task: string }>(`/api/restore/${g.vmid}/keep`, {})).task))}>${t('restore.keep')}</button>
      <button type="button" class="btn btn-danger" onClick=${() => setAsking('discard')}>${t('restore.discard')}</button>
    </div>
    ${keepTask && html`<p role="status"><a href=${href('tasks', keepTask)}>${t('restore.keepStarted')}</a></p>`}
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${g.status !== 'stopped' && html`<${Screen} vmid=${g.vmid} />`}
    <${ConfirmDialog} open=${asking === 'connect'} danger=${false} title=${t('restore.connectTitle', { vmid: g.vmid })}
      message=${t('restore.connectText', { source: g.temporary.source })} confirmLabel=${t('restore.connect')}
      onConfirm=${async () => {
        await api.post(`/api/restore/${g.vmid}/link`, { up: true });
        setAsking(null);
        onChange();
      }}
      onCancel=${() => setAsking(null)} />
    <${ConfirmDialog} open=${asking === 'discard'} title=${t('restore.discardTitle', { vmid: g.vmid })}
      message=${t('restore.discardText')} confirmLabel=${t('restore.discard')}
      onConfirm=${async () => {
        await api.post(`/api/vm/${g.vmid}/stop`);
        setAsking(null);
        onChange();
      }}
      onCancel=${() => setAsking(null)} />
  </section>`;
}

function RestoreForm({ b }: { b: BackupEntry }) {
  const [vmid, setVmid] = useState('');
  const [force, setForce] = useState(false);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [task, setTask] = useState<string | null>(null);
  const start = async () => {
    setError(null);
    try {
      const r = await api.post<{ task: string }>(`/api/backup/${encodeURIComponent(b.id)}/restore`, { ...(vmid ? { vmid: Number(vmid) } : {}), ...(force ? { force } : {}) });
      setTask(r.task);
    } catch (e) {
      setError(e);
    }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    if (force) setAsking(true);
    else void start();
  };
  return html`<section class="card" aria-labelledby="restore-form">
    <h2 id="restore-form">${t('restore.restoreTitle')}</h2>
    <form class="form-row" onSubmit=${submit}>
      <${Field} label=${t('restore.vmid')} name="restore-vmid" type="number" min="100" value=${vmid} hint=${t('restore.vmidHint', { vmid: b.vmid })}
        onInput=${(e: Event) => setVmid((e.currentTarget as HTMLInputElement).value)} error=${fieldError(error, 'vmid')} />
      <label class="check"><input type="checkbox" checked=${force} onChange=${(e: Event) => setForce((e.currentTarget as HTMLInputElement).checked)} />
        ${t('restore.force', { vmid: b.vmid })}</label>
      <div class="form-actions"><button type="submit" class="btn">${t('restore.restore')}</button></div>
    </form>
    ${error && !fieldError(error, 'vmid') && html`<${ErrorBanner} error=${error} />`}
    ${task && html`<p role="status"><a href=${href('tasks', task)}>${t('restore.restoreStarted', { task })}</a></p>`}
    <${ConfirmDialog} open=${asking} title=${t('restore.forceTitle', { vmid: b.vmid })} message=${t('restore.forceText', { vmid: b.vmid })}
      confirmLabel=${t('restore.forceConfirm', { vmid: b.vmid })} requireText=${String(b.vmid)}
      onConfirm=${async () => {
        setAsking(false);
        await start();
      }}
      onCancel=${() => setAsking(false)} />
  </section>`;
}

function BootCheck({ b }: { b: BackupEntry }) {
  const [result, setResult] = useState<BootCheckResult | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [task, setTask] = useState<string | null>(null);
  const { tasks } = useTasks();
  const ended = (tasks ?? []).find((x) => x.id === task && x.status !== 'running')?.id ?? '';
  const path = `/api/backup/${encodeURIComponent(b.id)}`;
  useEffect(() => {
    api.get<BootCheckResult>(`${path}/bootcheck`).then(setResult, (e) => (e instanceof ApiError && e.status === 404 ? setResult(null) : setError(e)));
  }, [b.id, ended]);
  const check = async () => {
    setError(null);
    try {
      setTask((await api.post<{ task: string }>(`${path}/bootcheck`, {})).task);
    } catch (e) {
      setError(e);
    }
  };
  return html`<section class="card" aria-labelledby="restore-bootcheck">
    <h2 id="restore-bootcheck">${t('restore.bootcheck')}</h2>
    ${result === null && html`<p>${t('restore.bootcheckNone')}</p>`}
    ${result && html`<p>
        <${StatusBadge} tone=${result.ok ? 'ok' : 'failed'} label=${result.ok ? t('restore.bootcheckOk') : t('restore.bootcheckFailed')} />
        ${' '}${formatTime(result.time)} · ${result.message}
      </p>
      ${result.screenshot > 0 && html`<img class="restore-shot" src=${`${path}/screenshot?t=${result.time}`} alt=${t('restore.bootcheckShot')} />`}`}
    <button type="button" class="btn" disabled=${!!task && !ended} onClick=${check}>${t('restore.bootcheckNow')}</button>
    ${task && html`<p role="status"><a href=${href('tasks', task)}>${t('restore.bootcheckStarted')}</a></p>`}
    ${error && html`<${ErrorBanner} error=${error} />`}
  </section>`;
}

export function RestoreActions({ b }: { b: BackupEntry }) {
  const [temps, setTemps] = useState<Temporary[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const load = () => api.get<Temporary[]>('/api/restore').then((all) => setTemps(all.filter((g) => g.temporary.backup === b.id && g.temporary.purpose === 'run')), setError);
  useEffect(() => {
    void load();
    const timer = setInterval(load, SCREEN_REFRESH_MS * 5);
    return () => clearInterval(timer);
  }, [b.id]);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<{ vmid: number; warnings: string[] }>(`/api/backup/${encodeURIComponent(b.id)}/boot`, {});
      try {
        sessionStorage.setItem(WARNINGS_KEY(r.vmid), JSON.stringify(r.warnings));
      } catch {
        /* private mode: the generic warning stays */
      }
      await load();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card" aria-labelledby="restore-run">
      <h2 id="restore-run">${t('restore.runTitle')}</h2>
      <p>${t('restore.runText')}</p>
      <button type="button" class="btn btn-primary" disabled=${busy} onClick=${run}>${t('restore.run')}</button>
      ${error && html`<${ErrorBanner} error=${error} />`}
    </section>
    ${temps.map((g) => html`<${TemporaryGuest} key=${g.vmid} g=${g} onChange=${load} />`)}
    <${RestoreForm} b=${b} />
    <${BootCheck} b=${b} />`;
}
