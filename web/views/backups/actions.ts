/**
 * A backup as a table row, with what can be done with it right there:
 * Restore (a dialog with the restore form), Run from backup (starts the
 * temporary guest and opens its page, which says what it is), and the
 * backup's page with its files and log. The Backups view lists every
 * backup this way, a guest's page its own backups (without the guest
 * column).
 *
 *   html`<${DataTable} … columns=${backupColumns({ me, guest: true })} rows=${backups} />`
 */
import { useState } from 'preact/hooks';
import type { Me } from '../../api';
import { client, type BackupListEntry as Entry } from '../../client';
import type { Column } from '../../components/data-table';
import { Dialog } from '../../components/dialog';
import { ErrorBanner } from '../../components/error-banner';
import { StatusBadge } from '../../components/status-badge';
import { formatBytes, formatDuration, formatTime } from '../../format';
import { useAction } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { href, navigate } from '../../router';
import { RestoreForm } from './restore';
import { saveWarnings } from './temporary';

/** "101 web", or "101" for a guest without a name. */
export const guestLabel = (vmid: number, name: string | null): string => (name ? `${vmid} ${name}` : String(vmid));

export function VerifiedBadge({ b }: { b: Entry }) {
  return b.verified
    ? html`<${StatusBadge} tone="ok" label=${t('backup.verified')} />`
    : html`<span title=${b.problems.join('\n')}><${StatusBadge} tone="failed" label=${t('backup.notVerified')} /></span>`;
}

/** Restore, Run from backup and the backup's page; restore and run for users who may make guests. */
export function BackupActions({ b, me }: { b: Entry; me: Me }) {
  const [restoring, setRestoring] = useState(false);
  const run = useAction(async () => {
    const r = await client.backups.boot(b.id);
    saveWarnings(r.vmid, r.warnings);
    navigate(href('guests', r.vmid));
  });
  const may = me.privileges.includes('VM.Backup') && me.privileges.includes('VM.Allocate');
  const when = formatTime(b.time);
  return html`<span class="panel-actions backup-actions">
      ${may && !b.offline && html`
        <button type="button" class="btn btn-small" aria-label=${t('backup.restoreOf', { vmid: b.vmid, time: when })}
          onClick=${() => setRestoring(true)}>${t('restore.restore')}…</button>
        <button type="button" class="btn btn-small" disabled=${run.busy} aria-busy=${run.busy || undefined}
          aria-label=${t('backup.runOf', { vmid: b.vmid, time: when })} onClick=${() => run.run()}>${t('restore.run')}</button>`}
      ${b.offline
        ? html`<span class="muted">${t('backup.offline')}</span>`
        : html`<a class="btn btn-small" href=${href('backups', 'backup', b.id)} aria-label=${t('backup.detailsOf', { vmid: b.vmid, time: when })}>${t('backup.details')}</a>`}
    </span>
    ${run.error && html`<${ErrorBanner} error=${run.error} onDismiss=${() => run.setError(null)} />`}
    <${Dialog} open=${restoring} title=${t('backup.restoreOf', { vmid: b.vmid, time: when })} onClose=${() => setRestoring(false)}>
      <p>${t('backup.restoreIntro')}</p>
      <${RestoreForm} b=${b} />
      <div class="dialog-buttons"><button type="button" class="btn dialog-cancel" onClick=${() => setRestoring(false)}>${t('dialog.close')}</button></div>
    </${Dialog}>`;
}

/** The columns of a backup table; `guest`: with the guest's column (the Backups view). */
export function backupColumns({ me, guest }: { me: Me; guest: boolean }): Column<Entry>[] {
  return [
    { key: 'time', label: t('backup.col.time'), value: (b) => formatTime(b.time), sortValue: (b) => b.time },
    ...(guest ? [{ key: 'guest', label: t('backup.col.guest'), value: (b: Entry) => guestLabel(b.vmid, b.name), sortValue: (b: Entry) => b.vmid }] : []),
    // The node whose storage holds it, when that is not the node of the page (a cluster-mode backup lies on the guest's peer).
    {
      key: 'storage', label: t('backup.col.storage'), value: (b) => (b.node === me.node ? b.storage : `${b.storage} (${b.node})`),
      render: (b) => html`${b.storage}${b.node !== me.node ? html` <span class="muted">(${b.node})</span>` : ''}${b.offline ? html` <span class="muted">(${t('backup.offline')})</span>` : ''}`,
    },
    { key: 'mode', label: t('backup.col.mode'), value: (b) => `${b.mode} · ${b.method} · ${b.compress}` },
    { key: 'size', label: t('backup.col.size'), value: (b) => formatBytes(b.size), sortValue: (b) => b.size, class: 'num' },
    ...(guest ? [{ key: 'duration', label: t('backup.col.duration'), value: (b: Entry) => formatDuration(b.durationMs), sortValue: (b: Entry) => b.durationMs, class: 'num' }] : []),
    { key: 'verified', label: t('backup.col.verified'), value: (b) => (b.verified ? t('backup.verified') : t('backup.notVerified')), render: (b) => html`<${VerifiedBadge} b=${b} />` },
    { key: 'actions', label: t('table.actions'), value: () => '', sortable: false, render: (b) => html`<${BackupActions} b=${b} me=${me} />` },
  ];
}
