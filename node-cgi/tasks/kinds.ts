/**
 * The registry of task kinds: name → code. `ramvm task run <id>` looks the
 * recorded kind up here. Each feature adds its kinds in its own module and
 * registers them in this one table.
 */
import type { TaskKind } from './task';
import { diskCheck } from './disk-check';
import { vmShutdownTask } from '../vm/tasks';
import { backupTask, sendMail, verifyTask } from '../backup/job';
import { schedulerMailTask } from '../backup/scheduler';
import { restoreTask } from '../restore/restore';
import { liveRestoreTask } from '../restore/live';
import { bootCheckTask } from '../restore/bootcheck';
import { watchTask } from '../restore/boot';

export const TASK_KINDS: Record<string, TaskKind> = {
  'disk-check': diskCheck,
  'vm-shutdown': vmShutdownTask,
  backup: backupTask,
  'backup-verify': verifyTask,
  'scheduler-mail': (t) => schedulerMailTask(t, sendMail),
  restore: restoreTask,
  'live-restore': liveRestoreTask,
  'boot-check': bootCheckTask,
  'run-from-backup': watchTask,
};
