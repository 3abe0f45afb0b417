/**
 * The Backups card of a guest's page: the guest's backups, newest first,
 * each with Restore, Run from backup and its details (the Backups view's
 * rows, without the guest column), and Back up now for this guest. The
 * list reloads whenever a backup task ends.
 */
import type { Me } from '../../api';
import { client, type BackupListEntry as Entry } from '../../client';
import { DataTable } from '../../components/data-table';
import { ErrorBanner } from '../../components/error-banner';
import { useLoad } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';
import { backupColumns } from '../backups/actions';
import { useBackupsDone, useStorages } from '../backups/common';
import { BackupNow } from '../backups/now';

export function GuestBackups({ vmid, me }: { vmid: number; me: Me }) {
  const storages = useStorages();
  const { ended } = useBackupsDone();
  const { data, error } = useLoad(() => client.backups.list({ vmid }), [vmid, ended]);
  return html`<section class="card" aria-labelledby="g-backups">
    <div class="section-head">
      <h2 id="g-backups">${t('guests.backups')}</h2>
      <a href=${href('backups')}>${t('guests.backupsAll')}</a>
    </div>
    <${BackupNow} storages=${storages} vmid=${vmid} />
    <${ErrorBanner} error=${error} />
    ${data === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${t('guests.backupsOf', { vmid })} filter=${false} empty=${t('guests.backupsNone')}
          columns=${backupColumns({ me, guest: false })} rows=${data} rowKey=${(b: Entry) => `${b.node}/${b.id}`}
          rowClass=${(b: Entry) => (b.verified ? undefined : 'row-failed')} />`}
  </section>`;
}
