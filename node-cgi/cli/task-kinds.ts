/**
 * Every task kind of the node, by name: `ramvm task run <id>` looks the
 * recorded kind up here. Each feature lists its own kinds; this is the one
 * place that knows them all, and where a backup job learns what the restore
 * side does after it (boot checks, the rescue medium).
 */
import type { TaskKind } from '../tasks/task';
import { VM_TASK_KINDS } from '../vm';
import { backupTaskKinds } from '../backup/job';
import { afterBackupJob } from '../restore/bootcheck';
import { RESTORE_TASK_KINDS } from '../restore/tasks';
import { CLUSTER_TASK_KINDS } from '../cluster/membership';
import { ISO_TASK_KINDS } from '../iso/distribute';
import { MIGRATE_TASK_KINDS } from '../migrate/outgoing';
import { FAILOVER_TASK_KINDS } from '../migrate/failover';

/** The features' tables; a name in two of them is a mistake (the unit test says so). */
export const KIND_TABLES: readonly Record<string, TaskKind>[] = [
  VM_TASK_KINDS,
  backupTaskKinds({ afterJob: [afterBackupJob] }),
  RESTORE_TASK_KINDS,
  CLUSTER_TASK_KINDS,
  ISO_TASK_KINDS,
  MIGRATE_TASK_KINDS,
  FAILOVER_TASK_KINDS,
];

export const TASK_KINDS: Record<string, TaskKind> = Object.assign({}, ...KIND_TABLES);
