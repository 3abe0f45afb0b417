/**
 * The task kinds of restores, by name (the CLI, which runs tasks, joins
 * every feature's):
 *
 *   restore          a backup becomes a guest again (restore.ts)
 *   live-restore     a guest running from a backup copies it in (live.ts)
 *   boot-check       a backup booted in a sandbox (bootcheck.ts)
 *   run-from-backup  the watcher that discards a temporary guest when it stops (boot.ts)
 */
import type { TaskKind } from '../tasks/task';
import { watchTask } from './boot';
import { bootCheckTask } from './bootcheck';
import { liveRestoreTask } from './live';
import { restoreTask } from './restore';

export const RESTORE_TASK_KINDS: Record<string, TaskKind> = {
  restore: restoreTask,
  'live-restore': liveRestoreTask,
  'boot-check': bootCheckTask,
  'run-from-backup': watchTask,
};
