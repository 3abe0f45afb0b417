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
import { useRef, useState } from 'preact/hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { ApiError } from '../../api';
import { client, urls, type TemporaryGuest as Temporary } from '../../client';
import { href } from '../../router';
import { formatTime } from '../../format';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { ErrorBanner } from '../../components/error-banner';
import { Field, fieldError, formError } from '../../components/field';
import { useAction, useLoad, usePoll } from '../../hooks';
import { StatusBadge } from '../../components/status-badge';
import { useTasks } from '../../tasks';
import { saveWarnings, TemporaryPanel } from './temporary';
import type { BackupEntry, BootCheckResult } from '../../../node-cgi/api-types';

/** How often the temporary guest's screen is fetched again. */
export const SCREEN_REFRESH_MS = 2000;
/** Width of that screen, px (the node scales QEMU's screendump down). */
export const SCREEN_WIDTH_PX = 640;
/** How often the guests running from this backup are listed again. */
const TEMPS_POLL_MS = SCREEN_REFRESH_MS * 5;

function Screen({ vmid }: { vmid: number }) {
  // A new number every SCREEN_REFRESH_MS, and with it a new URL: the <img> loads the screen again.
  const count = useRef(0);
  const tick = usePoll(async () => count.current++, { every: SCREEN_REFRESH_MS, keys: [vmid] }).data ?? 0;
  return html`<figure class="restore-screen">
    <img src=${urls.screenshot(vmid, SCREEN_WIDTH_PX, { n: tick })} alt=${t('restore.screen', { vmid })} width=${SCREEN_WIDTH_PX} />
    <figcaption><a href=${href('console', vmid)}>${t('restore.console')}</a></figcaption>
  </figure>`;
}

function TemporaryGuest({ g, onChange }: { g: Temporary; onChange: () => void }) {
  return html`<section class="card" aria-labelledby="restore-temp">
    <h2 id="restore-temp"><a href=${href('guests', g.vmid)}>${t('restore.runningTitle', { vmid: g.vmid })}</a></h2>
    <${TemporaryPanel} vmid=${g.vmid} mark=${g.temporary} linkDown=${g.linkDown} status=${g.status} onChange=${onChange} />
    ${g.status !== 'stopped' && html`<${Screen} vmid=${g.vmid} />`}
  </section>`;
}

/** Restore a backup: into its own guest (replacing it, asked first) or as another VMID; the task it started is linked. */
export function RestoreForm({ b }: { b: BackupEntry }) {
  const [vmid, setVmid] = useState('');
  const [force, setForce] = useState(false);
  const [asking, setAsking] = useState(false);
  const [task, setTask] = useState<string | null>(null);
  const start = useAction(async () => {
    const r = await client.backups.restore(b.id, { ...(vmid ? { vmid: Number(vmid) } : {}), ...(force ? { force } : {}) });
    setTask(r.task);
  });
  const error = start.error;
  const submit = (e: Event) => {
    e.preventDefault();
    if (force) setAsking(true);
    else void start.run();
  };
  return html`<form class="form-row" onSubmit=${submit}>
      <${Field} label=${t('restore.vmid')} name="restore-vmid" type="number" min="100" value=${vmid} hint=${t('restore.vmidHint', { vmid: b.vmid })}
        onInput=${(e: Event) => setVmid((e.currentTarget as HTMLInputElement).value)} error=${fieldError(error, 'vmid')} />
      <label class="check"><input type="checkbox" checked=${force} onChange=${(e: Event) => setForce((e.currentTarget as HTMLInputElement).checked)} />
        ${t('restore.force', { vmid: b.vmid })}</label>
      <div class="form-actions"><button type="submit" class="btn" disabled=${start.busy}>${t('restore.restore')}</button></div>
    </form>
    <${ErrorBanner} error=${formError(error, ['vmid'])} />
    ${task && html`<p role="status"><a href=${href('tasks', task)}>${t('restore.restoreStarted', { task })}</a></p>`}
    <${ConfirmDialog} open=${asking} title=${t('restore.forceTitle', { vmid: b.vmid })} message=${t('restore.forceText', { vmid: b.vmid })}
      confirmLabel=${t('restore.forceConfirm', { vmid: b.vmid })} requireText=${String(b.vmid)}
      onConfirm=${async () => {
        setAsking(false);
        await start.run();
      }}
      onCancel=${() => setAsking(false)} />`;
}

function BootCheck({ b }: { b: BackupEntry }) {
  const [task, setTask] = useState<string | null>(null);
  const { tasks } = useTasks();
  const ended = (tasks ?? []).find((x) => x.id === task && x.status !== 'running')?.id ?? '';
  // { last: null }: never checked (the node answers 404); data null: not loaded yet.
  const last = useLoad(
    () => client.backups.bootcheck(b.id).then((last): { last: BootCheckResult | null } => ({ last }), (e) => {
      if (e instanceof ApiError && e.status === 404) return { last: null };
      throw e;
    }),
    [b.id, ended],
  );
  const result = last.data?.last;
  const check = useAction(async () => setTask((await client.backups.checkBoot(b.id)).task));
  const error = check.error ?? last.error;
  return html`<section class="card" aria-labelledby="restore-bootcheck">
    <h2 id="restore-bootcheck">${t('restore.bootcheck')}</h2>
    ${result === null && html`<p>${t('restore.bootcheckNone')}</p>`}
    ${result && html`<p>
        <${StatusBadge} tone=${result.ok ? 'ok' : 'failed'} label=${result.ok ? t('restore.bootcheckOk') : t('restore.bootcheckFailed')} />
        ${' '}${formatTime(result.time)} · ${result.message}
      </p>
      ${result.screenshot > 0 && html`<img class="restore-shot" src=${urls.bootcheckShot(b.id, result.time)} alt=${t('restore.bootcheckShot')} />`}`}
    <button type="button" class="btn" disabled=${!!task && !ended} onClick=${() => check.run()}>${t('restore.bootcheckNow')}</button>
    ${task && html`<p role="status"><a href=${href('tasks', task)}>${t('restore.bootcheckStarted')}</a></p>`}
    <${ErrorBanner} error=${error} />
  </section>`;
}

export function RestoreActions({ b }: { b: BackupEntry }) {
  const temps = usePoll(
    () => client.restores.list().then((all) => all.filter((g) => g.temporary.backup === b.id && g.temporary.purpose === 'run')),
    { every: TEMPS_POLL_MS, keys: [b.id] },
  );
  const run = useAction(async () => {
    const r = await client.backups.boot(b.id);
    saveWarnings(r.vmid, r.warnings);
    await temps.reload();
  });
  return html`<section class="card" aria-labelledby="restore-run">
      <h2 id="restore-run">${t('restore.runTitle')}</h2>
      <p>${t('restore.runText')}</p>
      <button type="button" class="btn btn-primary" disabled=${run.busy} onClick=${() => run.run()}>${t('restore.run')}</button>
      <${ErrorBanner} error=${run.error ?? temps.error} />
    </section>
    ${(temps.data ?? []).map((g: Temporary) => html`<${TemporaryGuest} key=${g.vmid} g=${g} onChange=${temps.reload} />`)}
    <section class="card" aria-labelledby="restore-form">
      <h2 id="restore-form">${t('restore.restoreTitle')}</h2>
      <${RestoreForm} b=${b} />
    </section>
    <${BootCheck} b=${b} />`;
}
