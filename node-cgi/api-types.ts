/**
 * The answers of the node's API as types: the "data" of each endpoint's
 * `{"data": …}`, in one place. Each is declared beside the code that
 * builds it and named here; the web app imports them from this file only,
 * and only with `import type`, so nothing of the node enters its bundle:
 *
 *   import type { VmDetail, TaskRecord } from '../node-cgi/api-types';
 *   const vm = await api.get<VmDetail>('/api/vm/101');
 */

// /api/access
export type { MeView, TicketView, UserView, GroupView, AclEntryView, RoleView, PrivilegeView, TokenView, NewToken } from './access/model';
export type { AuditEvent } from './access/audit';
export type { Privilege, RoleName } from './access/privileges';

// /api/task
export type { TaskRecord, TaskStatus, TaskPart } from './tasks/task';

// /api/vm, /api/node, and what a guest's config holds
export type {
  VmListEntry, VmDetail, VmStatusView, VmConfig, VmCreateRequest, VmState, VmListState, VmStatusInfo, VmResources, DiskConfig, NicConfig, NicRuntime,
  DiskUsage, TemporaryMark, NodeResources, NodeSettings, OsType, DiskBus, DiskFormat, CacheMode, NicModel, Accelerator, AccelSetting,
  HostAccel, VmFault, FaultState, VmCreateCheck, Issue, SetupLog,
} from './vm';

// /api/iso
export type { IsoImage, GuestRef } from './iso/library';

// /api/storage, /api/backup
export type {
  StorageView, StorageConfig, JobView, BackupJob, Weekday, ListedBackup, BackupDetail, BackupEntry, BackupManifest, BackupMode, Compression,
  BackupAlert,
} from './backup/types';
export type { SchedulerHealth } from './backup/scheduler';

// /api/monitor
export type { MonitorAccess } from './console/monitor';
export type { MailSettings, MailView } from './backup/config';

// /api/restore, /api/backup/<id>/restore|boot|bootcheck
export type { TemporaryGuest, BootResult } from './restore/boot';
export type { BootCheckResult } from './restore/bootcheck';
export type { BootCheckSetting } from './restore/settings';
export type { BackupModeView, BackupModeGuest } from './restore/backup-mode';

// /api/cluster
export type { ClusterView, ClusterNodeView } from './handlers/cluster';
export type { JoinTokenAnswer } from './cluster/membership';
