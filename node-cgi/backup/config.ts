/**
 * Backup configuration on disk (etc/ramvm), read and written through the
 * locked, atomic store:
 *
 *   storage.json           { "storages": { "usb": { "type": "device", "label": "BACKUP1" } } }
 *   backup/jobs.json       { "jobs": { "nightly": BackupJob } }
 *   backup/job-state.json  { "nightly": { "lastScheduled": 1795643200000, "task": "2026…", "mailed": true } }
 *   backup/acks.json       { "<task id>": { "user": "admin", "time": 1795643300000 } }
 *   backup/mail.json       { "from": "ramvm@pve1", "transport": "smtp", "smtp": { "host": "mail.example.com", "port": 587, … } }
 *
 * The storage `local` (var/lib/vz/dump) is implied: it is never written to
 * storage.json, so listing storages costs no write.
 */
import { conflict, invalid, notFound } from '../lib/errors';
import { nodeName, paths } from '../lib/paths';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { readJson, updateJson, writeFileAtomic } from '../lib/store';
import type { SmtpRelay } from './smtp';
import { LOCAL_STORAGE, SYSTEM_DIRS, checkedStorageName, isMailAddress } from './validate';
import type { JobRunState } from './schedule';
import type { BackupJob, StorageConfig, StorageEntry } from './types';

export const storageFile = () => paths().storages;
export const jobsFile = () => paths().backupJobs;
export const jobStateFile = () => paths().backupJobStates;
export const acksFile = () => paths().backupAcks;
export const mailFile = () => paths().backupMail;

interface StorageFile {
  storages: Record<string, StorageConfig>;
}

export function listStorages(): StorageEntry[] {
  const f = readJson<StorageFile>(storageFile(), { storages: {} });
  const out: StorageEntry[] = [{ name: LOCAL_STORAGE, config: { type: 'dir', path: paths().dump }, builtin: true }];
  for (const [name, config] of Object.entries(f.storages).sort(([a], [b]) => a.localeCompare(b))) {
    if (name !== LOCAL_STORAGE) out.push({ name, config, builtin: false });
  }
  return out;
}

export function getStorage(name: string): StorageEntry {
  checkedStorageName(name);
  const s = listStorages().find((e) => e.name === name);
  if (!s) throw notFound(`no such storage: ${name}`);
  return s;
}

/** Folders a directory storage may not lie in: the system's and this node's own (config, runtime, images, ISOs, logs, program). */
export function forbiddenStorageDirs(): string[] {
  const p = paths();
  return [...SYSTEM_DIRS, p.etc, p.run, p.images, p.iso, p.log, p.dist];
}

/** 400 naming the field unless a job's storage exists (a job must not point at nothing). */
export function knownStorage<T extends { storage: string }>(job: T): T {
  if (!listStorages().some((s) => s.name === job.storage)) throw invalid('storage', `no such storage: ${job.storage}`);
  return job;
}

/** Create (create=true) or replace a storage; `local` is fixed. */
export function putStorage(name: string, config: StorageConfig, create: boolean): void {
  if (name === LOCAL_STORAGE) throw conflict('the storage local is built in and cannot be changed');
  updateJson<StorageFile>(storageFile(), { storages: {} }, (f) => {
    if (create && f.storages[name]) throw conflict(`storage ${name} exists already`);
    if (!create && !f.storages[name]) throw notFound(`no such storage: ${name}`);
    f.storages[name] = config;
    return f;
  });
}

export function deleteStorage(name: string): void {
  if (name === LOCAL_STORAGE) throw conflict('the storage local is built in and cannot be removed');
  const users = listJobs().filter((j) => j.storage === name).map((j) => j.id);
  if (users.length > 0) throw conflict(`storage ${name} is used by job(s) ${users.join(', ')}`);
  updateJson<StorageFile>(storageFile(), { storages: {} }, (f) => {
    if (!f.storages[name]) throw notFound(`no such storage: ${name}`);
    delete f.storages[name];
    return f;
  });
}

interface JobsFile {
  jobs: Record<string, BackupJob>;
}

export function listJobs(): BackupJob[] {
  const f = readJson<JobsFile>(jobsFile(), { jobs: {} });
  return Object.values(f.jobs).sort((a, b) => a.id.localeCompare(b.id));
}

export function getJob(id: string): BackupJob {
  const j = readJson<JobsFile>(jobsFile(), { jobs: {} }).jobs[id];
  if (!j) throw notFound(`no such backup job: ${id.slice(0, 80)}`);
  return j;
}

/** Store a job; `update` computes it from the stored one (null when new). */
export function saveJob(id: string | null, update: (prev: BackupJob | null) => BackupJob): BackupJob {
  let saved: BackupJob | undefined;
  updateJson<JobsFile>(jobsFile(), { jobs: {} }, (f) => {
    const prev = id ? f.jobs[id] : null;
    if (id && !prev) throw notFound(`no such backup job: ${id}`);
    const job = update(prev ?? null);
    if (!id && f.jobs[job.id]) throw conflict(`backup job ${job.id} exists already`);
    f.jobs[job.id] = job;
    saved = job;
    return f;
  });
  return saved!;
}

export function deleteJob(id: string): void {
  updateJson<JobsFile>(jobsFile(), { jobs: {} }, (f) => {
    if (!f.jobs[id]) throw notFound(`no such backup job: ${id}`);
    delete f.jobs[id];
    return f;
  });
}

export interface JobState extends JobRunState {
  /** The failure of `task` was mailed (or needs no mail). */
  mailed?: boolean;
}

export function readJobStates(): Record<string, JobState> {
  return readJson<Record<string, JobState>>(jobStateFile(), {});
}

export function updateJobState(id: string, fn: (s: JobState | undefined) => JobState): void {
  updateJson<Record<string, JobState>>(jobStateFile(), {}, (all) => {
    all[id] = fn(all[id]);
    return all;
  });
}

export interface Ack {
  user: string;
  time: number;
}

export function readAcks(): Record<string, Ack> {
  return readJson<Record<string, Ack>>(acksFile(), {});
}

export function addAcks(taskIds: readonly string[], user: string): void {
  updateJson<Record<string, Ack>>(acksFile(), {}, (all) => {
    for (const id of taskIds) all[id] ??= { user, time: Date.now() };
    return all;
  });
}

export type MailTransport = 'sendmail' | 'smtp';

/**
 * How backup mail leaves the node (backup/mail.json): through the fixed
 * sendmail program (SENDMAIL_ARGV: any MTA installs it) or an SMTP relay
 * described as data. The relay's password lives apart, in
 * etc/ramvm/priv/smtp-password (mode 0600), and no answer shows it.
 */
export interface MailSettings {
  from: string;
  transport: MailTransport;
  smtp: SmtpRelay | null;
}

/** GET /api/backup/mail: the settings, and whether a password for the relay is stored. */
export interface MailView extends MailSettings {
  passwordSet: boolean;
}

/** The one sendmail program mail may go through, and how: recipients from the headers, a lone "." is no end. Not configurable. */
export const SENDMAIL = '/usr/sbin/sendmail';
export const SENDMAIL_ARGV = [SENDMAIL, '-t', '-oi'];

/** The sender when none is set: ramvm@<node>, or ramvm@localhost where the node's name is no host name. */
export function defaultMailFrom(node: string): string {
  const from = `ramvm@${node}`;
  return isMailAddress(from) ? from : 'ramvm@localhost';
}

/**
 * The settings as stored. A file of an older version holds "sendmail", a
 * command line: it is not run any more (mail goes through SENDMAIL), and
 * `ramvm init` removes it (migrateMailSettings).
 */
export function readMailSettings(): MailSettings {
  const s = readJson<Partial<MailSettings>>(mailFile(), {});
  return {
    from: s.from ?? defaultMailFrom(nodeName()),
    transport: s.transport === 'smtp' && s.smtp ? 'smtp' : 'sendmail',
    smtp: s.smtp ?? null,
  };
}

export const readMailView = (): MailView => ({ ...readMailSettings(), passwordSet: readSmtpPassword() !== null });

/** The relay's password, or null when none is stored. */
export function readSmtpPassword(): string | null {
  try {
    return readFileSync(paths().smtpPassword, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Store the settings, and the password: a string sets it, null removes it,
 * undefined keeps it.
 */
export function writeMailSettings(s: MailSettings, password: string | null | undefined): void {
  updateJson<Partial<MailSettings>>(mailFile(), {}, () => {
    if (password === null) rmSync(paths().smtpPassword, { force: true });
    else if (password !== undefined) {
      mkdirSync(paths().priv, { recursive: true, mode: 0o700 });
      writeFileAtomic(paths().smtpPassword, password, 0o600);
    }
    return { from: s.from, transport: s.transport, ...(s.smtp ? { smtp: s.smtp } : {}) };
  });
}

/**
 * Drop the command line a settings file of an older version holds (it ran
 * as root whatever it was); the message says what became of it, null when
 * there was none.
 */
export function migrateMailSettings(): string | null {
  const s = readJson<Record<string, unknown>>(mailFile(), {});
  if (!('sendmail' in s)) return null;
  const { sendmail, ...rest } = s;
  updateJson<Record<string, unknown>>(mailFile(), {}, () => rest);
  return `mail: the configured command ${JSON.stringify(sendmail)} is no longer used: mail goes through ${SENDMAIL} ` +
    '(any MTA), or through an SMTP relay set with PUT /api/backup/mail';
}
