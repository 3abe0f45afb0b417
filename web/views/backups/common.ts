/**
 * What the pages of the Backups view share: their tabs, the storages to
 * choose from, the mode and compression fields, and a value that changes
 * whenever a backup task ends (lists reload on it).
 */
import { html } from '../../html';
import { t } from '../../i18n';
import { client, type Storage } from '../../client';
import { Field } from '../../components/field';
import { useLoad } from '../../hooks';
import { href } from '../../router';
import { useTasks, type Task } from '../../tasks';

export const BACKUP_KINDS = ['backup', 'backup-verify'];

/** The running backup tasks, and a string that changes whenever one ends. */
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

/** The storages to back up to; none while loading or when they cannot be read. */
export function useStorages(): Storage[] {
  return useLoad(client.storages.list).data ?? [];
}

export interface ModeFieldsProps {
  mode: string;
  compress: string;
  onMode: (mode: string) => void;
  onCompress: (compress: string) => void;
}

/** How a backup runs: mode (snapshot or stop) and compression, for Back up now and a job's form. */
export function ModeFields(p: ModeFieldsProps) {
  const val = (e: Event) => (e.currentTarget as HTMLSelectElement).value;
  return html`<${Field} label=${t('backup.mode')}>
      <select name="mode" value=${p.mode} onChange=${(e: Event) => p.onMode(val(e))}>
        <option value="snapshot">${t('backup.mode.snapshot')}</option>
        <option value="stop">${t('backup.mode.stop')}</option>
      </select>
    <//>
    <${Field} label=${t('backup.compress')}>
      <select name="compress" value=${p.compress} onChange=${(e: Event) => p.onCompress(val(e))}>
        <option value="zstd">${t('backup.compress.zstd')}</option>
        <option value="none">${t('backup.compress.none')}</option>
      </select>
    <//>`;
}
