/**
 * Backup mode, atop the Backups view of a node booted from a backup disk:
 * what the node is (RAM only, the disk mounted read-only), and the guests
 * of every backup on that disk, each with its latest backup's Run button
 * and the warning about its IP and MAC addresses. Nothing shows on an
 * ordinary node (GET /api/restore/backup-mode says `active: false`).
 */
import type { Me } from '../../api';
import { client, type BackupModeView } from '../../client';
import { useLoad } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { formatTime } from '../../format';
import { BackupActions, guestLabel } from './actions';
import type { BackupListEntry } from '../../client';

export function BackupMode({ me }: { me: Me }) {
  const { data } = useLoad<BackupModeView>(client.restores.backupMode, []);
  const storage = data?.active ? data.storage : null;
  const listed = useLoad<BackupListEntry[]>(() => (storage ? client.backups.list({ storage }) : Promise.resolve([])), [storage]).data ?? [];
  if (!data || !data.active) return null;
  return html`<section class="card banner-warning backup-mode" aria-labelledby="backup-mode">
    <h2 id="backup-mode">${t('backupMode.title')}</h2>
    <p>${t('backupMode.intro', { device: data.device, storage: data.storage })}${data.readOnly ? '' : html` <strong>${t('backupMode.notReadOnly')}</strong>`}</p>
    ${data.guests.length === 0 ? html`<p class="muted">${t('backupMode.none')}</p>` : html`<ul class="backup-mode-guests">
      ${data.guests.map((g) => {
        const latest = listed.find((b) => b.id === g.backups[0]?.id);
        return html`<li key=${g.vmid}>
          <strong>${guestLabel(g.vmid, g.name)}</strong>
          <span class="muted"> ${t('backupMode.backups', { n: g.backups.length, time: g.backups[0] ? formatTime(g.backups[0].time) : '' })}</span>
          ${latest && html` <${BackupActions} b=${latest} me=${me} />`}
          <p class=${g.seen.length ? 'error' : 'muted'}>${g.warning}</p>
        </li>`;
      })}
    </ul>`}
  </section>`;
}
