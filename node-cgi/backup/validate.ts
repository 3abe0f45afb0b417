/**
 * Storages and jobs from the API, checked field by field. Each parser takes
 * the request body (and, for an update, the stored record) and returns the
 * record to store, or throws a 400 naming the field.
 *
 *   parseStorage("usb", { "type": "device", "label": "BACKUP1" })
 *   → { type: "device", label: "BACKUP1" }
 *   parseJob({ "storage": "usb", "weekdays": ["mon","fri"], "start": "22:00" }, null, ctx)
 *   → { id: "job-…", kind: "backup", mode: "snapshot", compress: "zstd", retention: { keepLast: 3, … }, … }
 */
import { isAbsolute, normalize } from 'node:path';
import { invalid } from '../lib/errors';
import { checkedName, checkedVmid, only, optionalBool } from '../lib/validate';
import { parseStartTime } from './schedule';
import {
  BACKUP_MODES, COMPRESSIONS, WEEKDAYS,
  type BackupJob, type BackupMode, type Compression, type RetentionPolicy, type StorageConfig, type Weekday,
} from './types';

/** The storage that always exists: RAMVM_ROOT/var/lib/vz/dump. */
export const LOCAL_STORAGE = 'local';
/** Default number of backups kept per guest (the original's "keep N"). */
export const DEFAULT_KEEP_LAST = 3;
/** Upper bound of each keep-* field. */
const KEEP_MAX = 1000;

export function checkedStorageName(v: unknown, field = 'storage'): string {
  return checkedName(v, field, 32);
}

/** Filesystem UUID as blkid prints it: "0a1b…-…" (ext4, xfs, btrfs) or "1234-ABCD" (FAT). */
const UUID_RE = /^[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}$|^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$|^[0-9A-Fa-f]{16}$/;
const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
/** A whole disk as the kernel names it (a backup disk to lay out): sdb, vdc, xvda, nvme0n1, mmcblk0. */
export const DISK_NAME_RE = /^(sd[a-z]{1,2}|vd[a-z]{1,2}|xvd[a-z]{1,2}|nvme[0-9]{1,2}n[0-9]{1,2}|mmcblk[0-9]{1,2})$/;
/** Filesystems a backup device may have (blkid's TYPE). */
export const FSTYPES = ['ext4', 'ext3', 'ext2', 'xfs', 'btrfs', 'vfat', 'exfat', 'ntfs', 'ntfs3'];
/**
 * Mount options a device storage may name: how the filesystem behaves, never
 * what the mount may do to the host (no exec, suid, dev, loop, helper=,
 * x-mount.*) nor who owns its files (no uid, gid, umask: on FAT-like
 * filesystems mountArgs() makes the node's user the owner). mountArgs()
 * puts nosuid,nodev,noexec last anyway. Each is a name, or a name and a
 * pattern of its value.
 */
const MOUNT_OPTIONS: Record<string, RegExp | null> = {
  noatime: null, relatime: null, nodiratime: null, lazytime: null, sync: null, dirsync: null, discard: null, nodiscard: null,
  errors: /^(remount-ro|continue)$/, commit: /^[0-9]{1,4}$/, data: /^(ordered|writeback|journal)$/, compress: /^(zstd|lzo|zlib)$/,
  iocharset: /^(utf8|iso8859-1)$/, utf8: null,
};
/**
 * Folders no directory storage may lie in: the system's, and the kernel's
 * own trees. The node's own folders (its config, runtime, images) are added
 * by the caller (nodeDirs() in config.ts).
 */
export const SYSTEM_DIRS = ['/proc', '/sys', '/dev', '/run', '/etc', '/boot', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/usr'];

/** "/a/b" lies in "/a" (or is it). */
const within = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/** "noatime,errors=remount-ro" → ["noatime", "errors=remount-ro"]; 400 naming the first option not on MOUNT_OPTIONS. */
export function checkedMountOptions(v: string, field = 'options'): string[] {
  const list = v.split(',');
  for (const opt of list) {
    const [name = '', value, ...more] = opt.split('=');
    const rule = MOUNT_OPTIONS[name];
    const ok = Object.prototype.hasOwnProperty.call(MOUNT_OPTIONS, name) && more.length === 0 && (rule === null ? value === undefined : value !== undefined && rule!.test(value));
    if (!ok) throw invalid(field, `"${opt.slice(0, 40)}" is not a mount option a storage may set; allowed: ${Object.keys(MOUNT_OPTIONS).join(', ')}`);
  }
  return list;
}

function optString(body: Record<string, unknown>, key: string, max = 200): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max || /[\0\n\r]/.test(v)) throw invalid(key, `must be a string of at most ${max} characters on one line`);
  return v;
}

/** A boolean field; absent or null: `dflt`. */
const bool = (body: Record<string, unknown>, key: string, dflt: boolean) => optionalBool(body[key] ?? undefined, key, dflt);

/**
 * A storage from the API: `forbiddenDirs` are folders its path may not lie
 * in (SYSTEM_DIRS, and the node's own). Fields of the other type, or none
 * at all, are refused.
 */
export function parseStorage(name: string, body: Record<string, unknown>, forbiddenDirs: readonly string[] = SYSTEM_DIRS): StorageConfig {
  checkedStorageName(name, 'name');
  if (body.type === 'dir') only(body, ['type', 'path', 'mountpoint', 'comment']);
  if (body.type === 'device') only(body, ['type', 'uuid', 'label', 'fstype', 'options', 'boot', 'comment']);
  const comment = optString(body, 'comment');
  const base = comment ? { comment } : {};
  if (body.type === 'dir') {
    const p = body.path;
    if (typeof p !== 'string' || !isAbsolute(p) || normalize(p) !== p || p === '/' || p.length > 4096 || /[\0\n]/.test(p)) {
      throw invalid('path', 'must be an absolute, normalised directory path other than "/"');
    }
    const inside = forbiddenDirs.find((d) => within(p, d));
    if (inside) throw invalid('path', `must not lie in ${inside}, which belongs to the system or to the node itself`);
    const cfg: StorageConfig = { type: 'dir', path: p.replace(/\/$/, ''), ...base };
    if (bool(body, 'mountpoint', false)) cfg.mountpoint = true;
    return cfg;
  }
  if (body.type === 'device') {
    const uuid = optString(body, 'uuid', 64);
    const label = optString(body, 'label', 32);
    if (!uuid === !label) throw invalid('uuid', 'give exactly one of uuid or label');
    if (uuid && !UUID_RE.test(uuid)) throw invalid('uuid', 'is not a filesystem UUID (see blkid)');
    if (label && !LABEL_RE.test(label)) throw invalid('label', 'may contain letters, digits, ".", "_", "-" (1–32, not starting with a dash)');
    const fstype = optString(body, 'fstype', 16);
    if (fstype && !FSTYPES.includes(fstype)) throw invalid('fstype', `must be one of ${FSTYPES.join(', ')}`);
    const options = optString(body, 'options', 200);
    if (options) checkedMountOptions(options);
    const boot = bool(body, 'boot', false);
    return {
      type: 'device', ...(uuid ? { uuid } : {}), ...(label ? { label } : {}),
      ...(fstype ? { fstype } : {}), ...(options ? { options } : {}), ...(boot ? { boot } : {}), ...base,
    };
  }
  throw invalid('type', 'must be "dir" or "device"');
}

/** POST /api/storage/<name>/disk: { "device": "sdb" } → "sdb", a whole disk's kernel name. */
export function parseBackupDisk(body: Record<string, unknown>): string {
  only(body, ['device']);
  const d = typeof body.device === 'string' ? body.device.replace(/^\/dev\//, '') : '';
  if (!DISK_NAME_RE.test(d)) throw invalid('device', 'must be a whole disk such as sdb, /dev/sdb, vdc or nvme0n1');
  return d;
}

/** A mail address safe for a header line: no spaces, commas or line breaks. */
/**
 * One mail address: a local part, "@", and a domain of host-name labels. A
 * bare host name ("root@pve1", "ramvm@localhost") counts, as sendmail
 * qualifies it: the node's own default sender is one.
 */
const MAIL_RE = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Whether `v` is one mail address as checkedMail takes it. */
export const isMailAddress = (v: string): boolean => v.length <= 254 && MAIL_RE.test(v);

export function checkedMail(v: unknown, field = 'mailto'): string {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string' || !isMailAddress(v)) throw invalid(field, 'must be one mail address like admin@example.com');
  return v;
}

export function checkedMode(v: unknown, dflt: BackupMode = 'snapshot'): BackupMode {
  if (v === undefined || v === null) return dflt;
  if (!(BACKUP_MODES as readonly unknown[]).includes(v)) throw invalid('mode', `must be one of ${BACKUP_MODES.join(', ')}`);
  return v as BackupMode;
}

export function checkedCompress(v: unknown, dflt: Compression = 'zstd'): Compression {
  if (v === undefined || v === null) return dflt;
  if (!(COMPRESSIONS as readonly unknown[]).includes(v)) throw invalid('compress', `must be one of ${COMPRESSIONS.join(', ')}`);
  return v as Compression;
}

function count(v: unknown, field: string, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > KEEP_MAX) throw invalid(field, `must be an integer 0..${KEEP_MAX}`);
  return v;
}

function weekdays(v: unknown): Weekday[] {
  if (!Array.isArray(v)) throw invalid('weekdays', `must be a list of ${WEEKDAYS.join(', ')}`);
  const out = new Set<Weekday>();
  for (const d of v) {
    if (!(WEEKDAYS as readonly unknown[]).includes(d)) throw invalid('weekdays', `unknown day ${JSON.stringify(d)}; use ${WEEKDAYS.join(', ')}`);
    out.add(d as Weekday);
  }
  return WEEKDAYS.filter((d) => out.has(d));
}

function vmids(v: unknown): 'all' | number[] {
  if (v === 'all') return 'all';
  if (!Array.isArray(v) || v.length === 0) throw invalid('vmids', 'must be "all" or a non-empty list of VMIDs');
  return [...new Set(v.map((x) => checkedVmid(x, 'vmids')))].sort((a, b) => a - b);
}

const JOB_FIELDS = [
  'id', 'kind', 'enabled', 'node', 'mailto', 'mailOnSuccess', 'storage', 'vmids', 'weekdays', 'start', 'mode', 'compress', 'retention',
  'keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly', 'verifyAfterDays', 'comment',
];

export interface JobDefaults {
  node: string;
  now: number;
  newId: () => string;
}

/**
 * A job from a POST body (prev null) or a PUT body merged over the stored
 * job (prev). Unknown keys are refused so a typo does not pass silently.
 */
export function parseJob(body: Record<string, unknown>, prev: BackupJob | null, d: JobDefaults): BackupJob {
  only(body, JOB_FIELDS);
  const m = { ...(prev ?? {}), ...body } as Record<string, unknown>;
  const retIn = { ...(prev?.retention ?? {}), ...((body.retention as object) ?? {}) } as Record<string, unknown>;
  for (const k of ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly']) if (body[k] !== undefined) retIn[k] = body[k];
  const retention: RetentionPolicy = {
    keepLast: count(retIn.keepLast, 'keepLast', DEFAULT_KEEP_LAST),
    keepDaily: count(retIn.keepDaily, 'keepDaily', 0),
    keepWeekly: count(retIn.keepWeekly, 'keepWeekly', 0),
    keepMonthly: count(retIn.keepMonthly, 'keepMonthly', 0),
  };
  if (prev && body.id !== undefined && body.id !== prev.id) throw invalid('id', 'cannot be changed');
  const kind = m.kind ?? 'backup';
  if (kind !== 'backup' && kind !== 'verify') throw invalid('kind', 'must be "backup" or "verify"');
  const start = m.start ?? '22:00';
  if (typeof start !== 'string') throw invalid('start', 'must be a time HH:MM');
  try {
    parseStartTime(start);
  } catch {
    throw invalid('start', 'must be a time HH:MM (00:00–23:59)');
  }
  const comment = optString(m, 'comment', 500) ?? '';
  const verifyAfterDays = count(m.verifyAfterDays, 'verifyAfterDays', 0);
  return {
    id: prev?.id ?? (body.id !== undefined ? checkedName(body.id, 'id', 64) : d.newId()),
    kind,
    enabled: bool(m, 'enabled', true),
    node: m.node === undefined || m.node === null || m.node === '' ? d.node : checkedName(m.node, 'node', 63),
    mailto: checkedMail(m.mailto),
    mailOnSuccess: bool(m, 'mailOnSuccess', false),
    storage: checkedStorageName(m.storage ?? LOCAL_STORAGE),
    vmids: vmids(m.vmids ?? 'all'),
    weekdays: weekdays(m.weekdays ?? ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']),
    start,
    mode: checkedMode(m.mode),
    compress: checkedCompress(m.compress),
    retention,
    verifyAfterDays,
    comment,
    created: prev?.created ?? d.now,
  };
}
