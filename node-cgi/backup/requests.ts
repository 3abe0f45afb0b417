/**
 * Requests on backups as data: each parser takes what a client sent and
 * returns what to do, or throws 400 "invalid" naming the field. Pure; the
 * handler then checks the caller's privileges on what it names and acts.
 * Storages and jobs have their own parsers in validate.ts.
 *
 *   parseBackupRun({ vmid: 101, bwlimit: 50 })
 *   → { vmid: 101, storage: "local", mode: "snapshot", compress: "zstd", mailto: "", mailOnSuccess: false, speed: 52428800 }
 *   parseMailSettings({ from: "backup@example.com" }, current) → { sendmail: current.sendmail, from: "backup@example.com" }
 */
import { invalid } from '../lib/errors';
import { checkedBandwidth, checkedVmid } from '../lib/validate';
import type { MailSettings } from './config';
import { checkedCompress, checkedMail, checkedMode, checkedStorageName, LOCAL_STORAGE } from './validate';
import type { BackupMode, Compression } from './types';

/** Longest age a verify run may select by, days (10 years). */
export const VERIFY_AGE_MAX_DAYS = 3650;
/** Items of a sendmail argv, and characters of one. */
const SENDMAIL_ARGS_MAX = 20;
const SENDMAIL_ARG_MAX_CHARS = 512;

/** GET /api/backup?vmid=&storage= */
export function parseBackupQuery(q: URLSearchParams): { vmid?: number; storage?: string } {
  const vmid = q.get('vmid');
  const storage = q.get('storage');
  return { ...(vmid ? { vmid: checkedVmid(vmid) } : {}), ...(storage ? { storage: checkedStorageName(storage) } : {}) };
}

export interface BackupRun {
  vmid: number;
  storage: string;
  mode: BackupMode;
  compress: Compression;
  mailto: string;
  mailOnSuccess: boolean;
  /** Bytes/s per disk of a live copy; 0 = unlimited. */
  speed: number;
}

/** POST /api/backup/run {vmid, storage?, mode?, compress?, mailto?, mailOnSuccess?, bwlimit? (MiB/s)} */
export function parseBackupRun(body: Record<string, unknown>): BackupRun {
  return {
    vmid: checkedVmid(body.vmid),
    storage: checkedStorageName(body.storage ?? LOCAL_STORAGE),
    mode: checkedMode(body.mode),
    compress: checkedCompress(body.compress),
    mailto: checkedMail(body.mailto),
    mailOnSuccess: body.mailOnSuccess === true,
    speed: checkedBandwidth(body.bwlimit),
  };
}

export interface VerifyRun {
  storage: string;
  vmid?: number;
  /** Only backups not verified for this many days; 0 = all. */
  olderThanDays: number;
  mailto: string;
}

/** POST /api/backup/verify {storage?, vmid?, olderThanDays?, mailto?} */
export function parseVerifyRun(body: Record<string, unknown>): VerifyRun {
  const storage = checkedStorageName(body.storage ?? LOCAL_STORAGE);
  const vmid = body.vmid === undefined || body.vmid === null ? undefined : checkedVmid(body.vmid);
  const days = body.olderThanDays ?? 0;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 0 || days > VERIFY_AGE_MAX_DAYS) {
    throw invalid('olderThanDays', `must be an integer 0..${VERIFY_AGE_MAX_DAYS}`);
  }
  return { storage, ...(vmid ? { vmid } : {}), olderThanDays: days, mailto: checkedMail(body.mailto) };
}

/** POST /api/backup/alerts/ack {tasks?}: the task ids, or null for every alert the caller may acknowledge. */
export function parseAlertAck(body: Record<string, unknown>): { tasks: string[] | null } {
  if (body.tasks === undefined) return { tasks: null };
  if (!Array.isArray(body.tasks) || body.tasks.some((t) => typeof t !== 'string')) throw invalid('tasks', 'must be a list of task ids');
  return { tasks: body.tasks as string[] };
}

/** PUT /api/backup/mail {sendmail?, from?} laid over the current settings. */
export function parseMailSettings(body: Record<string, unknown>, cur: MailSettings): MailSettings {
  const argv = body.sendmail ?? cur.sendmail;
  if (
    !Array.isArray(argv) || argv.length === 0 || argv.length > SENDMAIL_ARGS_MAX ||
    argv.some((a) => typeof a !== 'string' || a.length === 0 || a.length > SENDMAIL_ARG_MAX_CHARS || /[\0\n]/.test(a))
  ) {
    throw invalid('sendmail', 'must be a non-empty argv list, e.g. ["/usr/sbin/sendmail", "-t", "-oi"]');
  }
  if ((argv[0] as string).startsWith('-')) throw invalid('sendmail', 'the first item is the program');
  const from = body.from === undefined ? cur.from : checkedMail(body.from, 'from');
  if (!from) throw invalid('from', 'must be a mail address');
  return { sendmail: argv as string[], from };
}
