/**
 * What the pages of the Backups view share: their tabs, the storages to
 * choose from, and a value that changes whenever a backup task ends (lists
 * reload on it).
 */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { client, type Storage } from '../../client';
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

export function useStorages(): Storage[] {
  const [list, setList] = useState<Storage[]>([]);
  useEffect(() => {
    client.storages.list().then(setList, () => setList([]));
  }, []);
  return list;
}
