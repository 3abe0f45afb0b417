/**
 * Backup configuration on disk (etc/ramvm), read and written through the
 * locked, atomic store:
 *
 *   storage.json           { "storages": { "usb": { "type": "device", "label": "BACKUP1" } } }
 *   backup/jobs.json       { "jobs": { "nightly": BackupJob } }
 *   backup/job-state.json  { "nightly": { "lastScheduled": 1795643200000, "task": "2026…", "mailed": true } }
 *   backup/acks.json       { "<task id>": { "user": "admin", "time": 1795643300000 } }
 *   backup/mail.json       { "sendmail": ["sendmail", "-t", "-oi"], "from": "ramvm@pve1" }
 *
 * The storage `local` (var/lib/vz/dump) is implied: it is never written to
 * storage.json, so listing storages costs no write.
 */
import { HttpError, conflict, notFound } from '../lib/errors';
import { nodeName, paths } from '../lib/paths';
import { readJson, updateJson } from '../lib/store';
import { LOCAL_STORAGE, checkedStorageName, isMailAddress } from './validate';
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

export interface MailSettings {
  /** argv; the message goes to its stdin. */
  sendmail: string[];
  from: string;
}

export const DEFAULT_SENDMAIL = ['sendmail', '-t', '-oi'];

/** The sender when none is set: ramvm@<node>, or ramvm@localhost where the node's name is no host name. */
export function defaultMailFrom(node: string): string {
  const from = `ramvm@${node}`;
  return isMailAddress(from) ? from : 'ramvm@localhost';
}

export function readMailSettings(): MailSettings {
  const s = readJson<Partial<MailSettings>>(mailFile(), {});
  return { sendmail: s.sendmail ?? DEFAULT_SENDMAIL, from: s.from ?? defaultMailFrom(nodeName()) };
}

export function writeMailSettings(s: MailSettings): void {
  if (s.sendmail.length === 0) throw new HttpError('invalid', 'sendmail: must not be empty');
  updateJson<Partial<MailSettings>>(mailFile(), {}, () => s);
}
