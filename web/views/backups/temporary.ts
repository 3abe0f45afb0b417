/**
 * A guest that runs from a backup, marked wherever it shows: a badge and a
 * line in the guest list, the title of its console, and on its page a
 * banner that says from which backup it runs, whether its network is
 * plugged in, and that it is discarded when it stops, with what can be
 * done about each (connect or unplug the network, keep it as a normal
 * guest, stop and discard it).
 *
 *   temporaryText({ backup: 'local:101:20261125T220000Z', source: 101, purpose: 'run', … }, true)
 *   → "From the backup of guest 101 of 11/25/26, 10:00:00 PM · network unplugged · discarded when it stops"
 *
 * The warnings of the boot answer (IP and MAC conflicts) are kept for the
 * tab in sessionStorage by VMID, so the page that shows the guest after a
 * "Run from backup" (or a reload) still shows them.
 */
import { useState } from 'preact/hooks';
import type { TemporaryMark, VmState } from '../../../node-cgi/api-types';
import { client } from '../../client';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { ErrorBanner } from '../../components/error-banner';
import { StatusBadge } from '../../components/status-badge';
import { formatTime } from '../../format';
import { useAction } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';

const WARNINGS_KEY = (vmid: number) => `ramvm.restore.warnings.${vmid}`;

/** Keep the boot answer's warnings of a temporary guest for this tab. */
export function saveWarnings(vmid: number, warnings: string[]): void {
  try {
    sessionStorage.setItem(WARNINGS_KEY(vmid), JSON.stringify(warnings));
  } catch {
    /* private mode: the generic warning stays */
  }
}

export function savedWarnings(vmid: number): string[] {
  try {
    return JSON.parse(sessionStorage.getItem(WARNINGS_KEY(vmid)) ?? '[]') as string[];
  } catch {
    return [];
  }
}

/** When a backup was taken, from its id "<storage>:<vmid>:20261125T220000Z" (ms), or null. */
export function backupTime(id: string): number | null {
  const m = /:(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(id);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : null;
}

/** The values of the texts that say where the guest comes from. */
function source(mark: TemporaryMark): { source: number; time: string } {
  const time = backupTime(mark.backup);
  return { source: mark.source, time: time === null ? mark.backup : formatTime(time) };
}

/** One line for lists and titles: source, network, fate. */
export function temporaryText(mark: TemporaryMark, linkDown: boolean): string {
  if (mark.purpose === 'bootcheck') return t('temp.bootcheckLine', source(mark));
  return [t('temp.from', source(mark)), t(linkDown ? 'temp.unplugged' : 'temp.plugged'), t('temp.discarded')].join(' · ');
}

export function TemporaryBadge({ mark }: { mark: TemporaryMark }) {
  return html`<${StatusBadge} tone="warning" label=${t(mark.purpose === 'bootcheck' ? 'temp.badgeBootcheck' : 'temp.badge')} />`;
}

export interface TemporaryPanelProps {
  vmid: number;
  mark: TemporaryMark;
  linkDown: boolean;
  status: VmState;
  onChange: () => void;
  /** Link to the backup's page (not on the backup's page itself). */
  linkBackup?: boolean;
}

/** What a guest that runs from a backup is, and what can be done with it. */
export function TemporaryPanel({ vmid, mark, linkDown, status, onChange, linkBackup }: TemporaryPanelProps) {
  const [asking, setAsking] = useState<'connect' | 'discard' | null>(null);
  const [keepTask, setKeepTask] = useState<string | null>(null);
  const warnings = savedWarnings(vmid);
  const act = useAction(async (fn: () => Promise<unknown>) => {
    await fn();
    onChange();
  });
  const running = status !== 'stopped';
  if (mark.purpose === 'bootcheck') {
    return html`<div class="banner banner-warn temporary" role="status">
      <div class="banner-body"><strong>${t('temp.bootcheckTitle', { vmid })}</strong>
        <span class="banner-detail">${temporaryText(mark, true)}</span></div>
    </div>`;
  }
  return html`<div class="banner banner-warn temporary" role="region" aria-label=${t('temp.title', { vmid })}>
    <div class="banner-body">
      <strong>${t('temp.title', { vmid })}</strong>
      <dl class="props temp-props">
        <dt>${t('temp.backup')}</dt>
        <dd>${linkBackup ? html`<a href=${href('backups', 'backup', mark.backup)}>${t('temp.of', source(mark))}</a>` : t('temp.of', source(mark))}
          <span class="muted"> · ${t('restore.since')} ${formatTime(mark.since)}</span></dd>
        <dt>${t('restore.network')}</dt>
        <dd>${linkDown
          ? html`<${StatusBadge} tone="warning" label=${t('temp.unplugged')} /> ${t('restore.warnText', { source: mark.source })}`
          : html`<${StatusBadge} tone="ok" label=${t('temp.plugged')} />`}</dd>
        <dt>${t('temp.fate')}</dt>
        <dd>${t('temp.fateText')}</dd>
      </dl>
      ${warnings.length > 0 && html`<ul class="restore-warnings">${warnings.map((w) => html`<li>${w}</li>`)}</ul>`}
      ${running && html`<div class="panel-actions">
        ${linkDown
          ? html`<button type="button" class="btn" onClick=${() => setAsking('connect')}>${t('restore.connect')}</button>`
          : html`<button type="button" class="btn" onClick=${() => act.run(() => client.restores.link(vmid, false))}>${t('restore.unplug')}</button>`}
        <button type="button" class="btn btn-primary" disabled=${keepTask !== null}
          onClick=${() => act.run(async () => setKeepTask((await client.restores.keep(vmid)).task))}>${t('restore.keep')}</button>
        <button type="button" class="btn btn-danger" onClick=${() => setAsking('discard')}>${t('restore.discard')}</button>
      </div>`}
      ${keepTask && html`<p role="status"><a href=${href('tasks', keepTask)}>${t('restore.keepStarted')}</a></p>`}
      <${ErrorBanner} error=${act.error} />
    </div>
    <${ConfirmDialog} open=${asking === 'connect'} danger=${false} title=${t('restore.connectTitle', { vmid })}
      message=${t('restore.connectText', { source: mark.source })} confirmLabel=${t('restore.connect')}
      onConfirm=${async () => {
        await client.restores.link(vmid, true);
        setAsking(null);
        onChange();
      }}
      onCancel=${() => setAsking(null)} />
    <${ConfirmDialog} open=${asking === 'discard'} title=${t('restore.discardTitle', { vmid })}
      message=${t('restore.discardText')} confirmLabel=${t('restore.discard')}
      onConfirm=${async () => {
        await client.vms.stop(vmid);
        setAsking(null);
        onChange();
      }}
      onCancel=${() => setAsking(null)} />
  </div>`;
}
