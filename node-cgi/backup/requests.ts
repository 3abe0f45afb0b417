/**
 * Requests on backups as data: each parser takes what a client sent and
 * returns what to do, or throws 400 "invalid" naming the field. Pure; the
 * handler then checks the caller's privileges on what it names and acts.
 * Storages and jobs have their own parsers in validate.ts.
 *
 *   parseBackupRun({ vmid: 101, bwlimit: 50 })
 *   → { vmid: 101, storage: "local", mode: "snapshot", compress: "zstd", mailto: "", mailOnSuccess: false, speed: 52428800 }
 *   parseMailSettings({ transport: "smtp", smtp: { host: "mail.example.com" } }, current)
 *   → { settings: { from: current.from, transport: "smtp", smtp: { host: "mail.example.com", port: 587, security: "starttls" } }, password: null }
 */
import { invalid } from '../lib/errors';
import { checkedBandwidth, checkedVmid, only, optionalBool } from '../lib/validate';
import { isIP } from 'node:net';
import type { MailSettings } from './config';
import { normalFingerprint, type SmtpRelay, type SmtpSecurity } from './smtp';
import { checkedCompress, checkedMail, checkedMode, checkedStorageName, LOCAL_STORAGE } from './validate';
import type { BackupMode, Compression } from './types';

/** Alerts one request may acknowledge, and the longest task id it may name. */
const ALERT_ACK_MAX = 1000;
const TASK_ID_MAX_CHARS = 128;
/** Longest age a verify run may select by, days (10 years). */
export const VERIFY_AGE_MAX_DAYS = 3650;

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
  only(body, ['vmid', 'storage', 'mode', 'compress', 'mailto', 'mailOnSuccess', 'bwlimit']);
  return {
    vmid: checkedVmid(body.vmid),
    storage: checkedStorageName(body.storage ?? LOCAL_STORAGE),
    mode: checkedMode(body.mode),
    compress: checkedCompress(body.compress),
    mailto: checkedMail(body.mailto),
    mailOnSuccess: optionalBool(body.mailOnSuccess, 'mailOnSuccess'),
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
  only(body, ['storage', 'vmid', 'olderThanDays', 'mailto']);
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
  only(body, ['tasks']);
  if (body.tasks === undefined) return { tasks: null };
  if (!Array.isArray(body.tasks) || body.tasks.length > ALERT_ACK_MAX || body.tasks.some((t) => typeof t !== 'string' || t.length > TASK_ID_MAX_CHARS)) {
    throw invalid('tasks', `must be a list of at most ${ALERT_ACK_MAX} task ids`);
  }
  return { tasks: body.tasks as string[] };
}

/** Longest SMTP user name and password. */
const SMTP_TEXT_MAX_CHARS = 256;
const SMTP_PORT_OF: Record<SmtpSecurity, number> = { starttls: 587, tls: 465, none: 25 };
const SMTP_SECURITIES = Object.keys(SMTP_PORT_OF) as SmtpSecurity[];

/** A relay's host: a DNS name or an IP address, nothing that could be read as an option. */
function checkedRelayHost(v: unknown): string {
  if (typeof v === 'string' && (isIP(v) !== 0 || (v.length <= 253 && /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(v)))) return v;
  throw invalid('smtp.host', 'must be a host name or an IP address');
}

/** One line of text without control characters (a user name, a password). */
function checkedLine(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > SMTP_TEXT_MAX_CHARS || /[\u0000-\u001f\u007f]/.test(v)) {
    throw invalid(field, `must be 1–${SMTP_TEXT_MAX_CHARS} characters without control characters`);
  }
  return v;
}

/** {host, port?, security?, username?, fingerprint?} → the relay; the port follows the security unless given. */
export function parseSmtpRelay(v: unknown): SmtpRelay {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('smtp', 'must be an object {host, port?, security?, username?, fingerprint?}, or null');
  const b = v as Record<string, unknown>;
  only(b, ['host', 'port', 'security', 'username', 'fingerprint']);
  const security = (b.security ?? 'starttls') as SmtpSecurity;
  if (!SMTP_SECURITIES.includes(security)) throw invalid('smtp.security', `must be one of ${SMTP_SECURITIES.join(', ')}`);
  const port = b.port ?? SMTP_PORT_OF[security];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw invalid('smtp.port', 'must be a port number 1–65535');
  const relay: SmtpRelay = { host: checkedRelayHost(b.host), port, security };
  if (b.username !== undefined && b.username !== null && b.username !== '') {
    relay.username = checkedLine(b.username, 'smtp.username');
    if (security === 'none') throw invalid('smtp.username', 'a login is never sent over an unencrypted connection; use security starttls or tls');
  }
  if (b.fingerprint !== undefined && b.fingerprint !== null && b.fingerprint !== '') {
    const f = typeof b.fingerprint === 'string' ? normalFingerprint(b.fingerprint) : '';
    if (!/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(f)) throw invalid('smtp.fingerprint', 'must be the SHA-256 of the relay\'s certificate, 64 hex digits ("AB:CD:…")');
    relay.fingerprint = f;
  }
  return relay;
}

/** A change of the mail settings: the settings to store, and the password (string: set, null: remove, undefined: keep). */
export interface MailChange {
  settings: MailSettings;
  password: string | null | undefined;
}

const sameRelay = (a: SmtpRelay | null, b: SmtpRelay | null) =>
  a === b || (!!a && !!b && a.host === b.host && a.port === b.port && a.username === b.username);

/**
 * PUT /api/backup/mail {from?, transport?, smtp?, password?} laid over the
 * current settings. A command line ("sendmail") is refused: mail goes
 * through the fixed sendmail program or a relay. A stored password stays
 * with the relay it was given for: a new host, port or user name without a
 * new password removes it. `passwordSet`, as GET shows it, is taken back
 * and means nothing.
 */
export function parseMailSettings(body: Record<string, unknown>, cur: MailSettings): MailChange {
  if (body.sendmail !== undefined) {
    throw invalid('sendmail', 'a mail command is no longer configurable: mail goes through /usr/sbin/sendmail ("transport": "sendmail") or an SMTP relay ("transport": "smtp", "smtp": {"host", …})');
  }
  only(body, ['from', 'transport', 'smtp', 'password', 'passwordSet']);
  if (body.passwordSet !== undefined && typeof body.passwordSet !== 'boolean') throw invalid('passwordSet', 'is shown by GET and must be true or false');
  const from = body.from === undefined ? cur.from : checkedMail(body.from, 'from');
  if (!from) throw invalid('from', 'must be a mail address');
  const smtp = body.smtp === undefined ? cur.smtp : body.smtp === null ? null : parseSmtpRelay(body.smtp);
  const transport = body.transport ?? cur.transport;
  if (transport !== 'sendmail' && transport !== 'smtp') throw invalid('transport', 'must be "sendmail" or "smtp"');
  if (transport === 'smtp' && !smtp) throw invalid('smtp', 'the transport smtp needs a relay: {"host", "port"?, "security"?, "username"?}');
  let password: string | null | undefined;
  if (body.password === null || body.password === '') password = null;
  else if (body.password !== undefined) {
    password = checkedLine(body.password, 'password');
    if (!smtp?.username) throw invalid('password', 'goes with smtp.username');
  } else if (!sameRelay(cur.smtp, smtp)) password = null;
  return { settings: { from, transport, smtp }, password };
}
