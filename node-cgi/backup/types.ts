/**
 * The data of backups: storages, jobs, the manifest stored beside each
 * backup, and the list entries of the API. Shared by the CGIs, the task
 * kinds and (type-only) the web app.
 *
 *   etc/ramvm/storage.json      { "storages": { "usb": { "type": "device", "label": "BACKUP1" } } }
 *   etc/ramvm/backup/jobs.json  { "jobs": { "nightly": { …BackupJob } } }
 *   <storage>/ramvm/101/20261125T220000Z/manifest.json   BackupManifest
 */

/**
 * `snapshot`: live, no downtime; `stop`: shut down, back up, start again;
 * `cluster` (replicated guests): held for milliseconds while the replicas
 * disconnect, then backed up from the peer's copy on the peer (backup/cluster.ts).
 */
export const BACKUP_MODES = ['snapshot', 'stop', 'cluster'] as const;
export type BackupMode = (typeof BACKUP_MODES)[number];

export const COMPRESSIONS = ['zstd', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** How the disks were read: from the running guest (QEMU block job) or from the image files. */
export type BackupMethod = 'live' | 'offline';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export type StorageConfig =
  /** A directory; `mountpoint: true` refuses to write unless it is a mounted filesystem. */
  | { type: 'dir'; path: string; mountpoint?: boolean; comment?: string }
  /** An external device found by filesystem UUID or label, mounted for each job and unmounted after. */
  | {
    type: 'device'; uuid?: string; label?: string; fstype?: string; options?: string; comment?: string;
    /** Each job makes the disk boot its rescue image in backup mode (root/backup-disk.ts; the disk laid out by POST /api/storage/<name>/disk). */
    boot?: boolean;
  };

export interface StorageEntry {
  name: string;
  config: StorageConfig;
  /** True for the implied `local` storage. */
  builtin: boolean;
}

export interface RetentionPolicy {
  /** Keep the newest N verified backups (the original's "keep N"). */
  keepLast: number;
  keepDaily: number;
  keepWeekly: number;
  keepMonthly: number;
}

export type JobKind = 'backup' | 'verify';

export interface BackupJob {
  id: string;
  kind: JobKind;
  enabled: boolean;
  /** Node that runs it. */
  node: string;
  /** Mail recipient (empty: no mail). */
  mailto: string;
  /** Mail on success too (failures always mail when mailto is set). */
  mailOnSuccess: boolean;
  storage: string;
  /** "all" guests of the node, or a selection. */
  vmids: 'all' | number[];
  weekdays: Weekday[];
  /** Local time "HH:MM". */
  start: string;
  mode: BackupMode;
  compress: Compression;
  retention: RetentionPolicy;
  /** Verify jobs: re-read backups not verified for this many days (0 = all). */
  verifyAfterDays: number;
  comment: string;
  /** Unix ms; occurrences before it are never run. */
  created: number;
}

export interface FileSum {
  name: string;
  size: number;
  sha256: string;
}

export interface ManifestDisk {
  /** File in the backup folder: "vm-101-disk-0.qcow2". */
  file: string;
  /** The guest's image it came from and that image's format. */
  source: string;
  sourceFormat: string;
  virtualSize: number;
}

export interface Verification {
  ok: boolean;
  /** Unix ms. */
  time: number;
  durationMs: number;
  /** What failed, one line each; empty when ok. */
  problems: string[];
}

export interface BackupManifest {
  format: 1;
  vmid: number;
  name: string | null;
  node: string;
  storage: string;
  /** "20261125T220000Z", also the folder name. */
  stamp: string;
  /** Unix ms of the start and the end of the copy. */
  start: number;
  end: number;
  mode: BackupMode;
  method: BackupMethod;
  compress: Compression;
  /** Task that wrote it. */
  task: string;
  job: string | null;
  disks: ManifestDisk[];
  /** Every file of the backup but the manifest itself. */
  files: FileSum[];
  /** Milliseconds of each phase; `downtime` only in stop mode. */
  timings: { copy: number; sums: number; downtime?: number };
  tools: Record<string, string>;
  /** Set when the backup was read back; rewritten by verify jobs. */
  verification: Verification | null;
  /** Earlier verifications, newest last. */
  history?: Verification[];
}

/** A storage as GET /api/storage shows it: its config, whether it can be read now, and its space (bytes) when it can. */
export type StorageView = StorageConfig & {
  name: string;
  builtin: boolean;
  online: boolean;
  /** Why a directory storage is not online (missing, not mounted). */
  problem?: string;
  total?: number;
  avail?: number;
};

/** A job as GET /api/backup/jobs shows it: with its last run and its next start (ISO time). */
export type JobView = BackupJob & {
  lastRun: { task: string; status: 'running' | 'ok' | 'failed'; progress: number; message: string; start: number; end: number | null } | null;
  next: string | null;
};

/** One entry of GET /api/backup. */
export interface BackupEntry {
  /** "<storage>:<vmid>:<stamp>", e.g. "local:101:20261125T220000Z". */
  id: string;
  vmid: number;
  storage: string;
  /** ISO time of the backup's start. */
  time: string;
  mode: BackupMode;
  method: BackupMethod;
  compress: Compression;
  verified: boolean;
  verifiedAt: string | null;
  problems: string[];
  /** Bytes of all files. */
  size: number;
  durationMs: number;
  task: string;
  job: string | null;
  name: string | null;
}

/** An entry of GET /api/backup: the node whose storage holds it; of an unplugged device, from its catalog (`offline`). */
export type ListedBackup = BackupEntry & { node: string; offline?: boolean };

/** GET /api/backup/<id>: the entry with its node and its manifest. */
export type BackupDetail = BackupEntry & { node: string; manifest: BackupManifest };

/** A failure nobody acknowledged yet (alerts.ts), or the stopped scheduler (scheduler.ts). */
export interface BackupAlert {
  task: string;
  kind: string;
  object: string;
  job: string | null;
  vmids: number[] | 'all' | null;
  /** ISO time the task ended (or started, when it died). */
  time: string;
  message: string;
}
