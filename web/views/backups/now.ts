/**
 * Back up now: one guest to one storage, with mode and compression, as a
 * task. The Backups view offers the guests the user may back up
 * (GET /api/vm?can=VM.Backup); a guest's page backs up that guest.
 *
 *   html`<${BackupNow} storages=${storages} />`              choose the guest
 *   html`<${BackupNow} storages=${storages} vmid=${101} />`  this guest
 */
import { useEffect, useState } from 'preact/hooks';
import { client, type Storage } from '../../client';
import { ErrorBanner } from '../../components/error-banner';
import { Field, fieldError, formError } from '../../components/field';
import { useAction, useLoad } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';
import { guestLabel } from './actions';
import { ModeFields } from './common';

export interface BackupNowProps {
  storages: Storage[];
  /** The guest to back up; absent: a choice of the guests the user may back up. */
  vmid?: number;
}

export function BackupNow({ storages, vmid: fixed }: BackupNowProps) {
  const guests = useLoad(() => (fixed === undefined ? client.vms.list({ can: 'VM.Backup' }) : Promise.resolve([])));
  const choices = (guests.data ?? []).filter((g) => !g.temporary).sort((a, b) => a.vmid - b.vmid);
  const [vmid, setVmid] = useState('');
  const [storage, setStorage] = useState('local');
  const [mode, setMode] = useState('snapshot');
  const [compress, setCompress] = useState('zstd');
  const [started, setStarted] = useState<string | null>(null);
  // The first guest is chosen once the list is in.
  useEffect(() => {
    if (vmid === '' && choices.length > 0) setVmid(String(choices[0]!.vmid));
  }, [choices.length]);
  const target = fixed ?? Number(vmid);
  const start = useAction(async () => {
    setStarted(null);
    setStarted((await client.backups.run({ vmid: target, storage, mode, compress })).task);
  });
  const error = start.error ?? guests.error;
  const val = (e: Event) => (e.currentTarget as HTMLSelectElement).value;
  const none = fixed === undefined && guests.data !== null && choices.length === 0;
  return html`<form class="form-row form-row-fit" onSubmit=${(e: Event) => (e.preventDefault(), void start.run())}>
      ${fixed === undefined && html`<${Field} label=${t('backup.guest')} error=${fieldError(error, 'vmid')}>
        <select name="vmid" value=${vmid} disabled=${none} onChange=${(e: Event) => setVmid(val(e))}>
          ${none && html`<option value="">${t('backup.noGuests')}</option>`}
          ${choices.map((g) => html`<option value=${String(g.vmid)} selected=${String(g.vmid) === vmid}>${guestLabel(g.vmid, g.name)}</option>`)}
        </select>
      <//>`}
      <${Field} label=${t('backup.storage')} error=${fieldError(error, 'storage')}>
        <select name="storage" value=${storage} onChange=${(e: Event) => setStorage(val(e))}>
          ${storages.map((s) => html`<option value=${s.name} selected=${s.name === storage}>${s.name}</option>`)}
        </select>
      <//>
      <${ModeFields} mode=${mode} compress=${compress} onMode=${setMode} onCompress=${setCompress} />
      <div class="form-actions"><button type="submit" class="btn btn-primary" disabled=${start.busy || none || !target}>${t('backup.start')}</button></div>
    </form>
    <${ErrorBanner} error=${formError(error, ['vmid', 'storage'])} />
    ${started && html`<p role="status"><a href=${href('tasks', started)}>${t('backup.started', { task: started })}</a></p>`}`;
}
