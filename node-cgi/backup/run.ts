/**
 * Backing up one guest onto an open storage, start to verified:
 *
 *   lock backup-vm-<vmid>  → remove partial folders left by dead tasks
 *   → .partial-<stamp>/ with .owner, config.json, backup.log
 *   → disks: live (blockdev-backup) | stop (shut down, copy offline, start again) | offline (stopped guest)
 *   → fsync, SHA-256 of every file → manifest.json (verification: null)
 *   → read back from the device, compare, qemu-img check → manifest.json (verification: ok)
 *   → rename .partial-<stamp> → <stamp>
 *
 * Any failure removes the partial folder and throws; the guest is left
 * running (stop mode starts it again whatever happened). Nothing but a
 * renamed folder with a passed verification is ever listed as verified.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { internal, explain } from '../lib/errors';
import { backupStoppedFile } from '../lib/paths';
import { fsyncPath, writeJsonAtomic } from '../lib/store';
import { pidNow, refuseIfMigrating } from '../vm';
import { guestStatus, readGuest, type BackupGuest, type GuestLifecycle } from './guest';
import { convertImage, qemuImgVersion, virtualSize } from '../tools/qemu-img';
import { liveBackup } from './engine';
import { agentForBackup } from './agent';
import { whileFrozen } from '../qemu/qga';
import { processAlive, processArgv } from '../lib/proc';
import { takeLongLock } from './lock';
import {
  BACKUP_ROOT, CONFIG_FILE, DELETING_PREFIX, LOG_FILE, MANIFEST_FILE, PARTIAL_PREFIX, backupDiskName, backupEntry, backupStamp,
} from './manifest';
import { sumFile, verifyBackup } from './verify';
import type { OpenStorage } from './target';
import type { BackupEntry, BackupManifest, BackupMethod, BackupMode, Compression, FileSum } from './types';

const OWNER_FILE = '.owner';

export interface GuestBackupInput {
  vmid: number;
  storage: OpenStorage;
  mode: BackupMode;
  compress: Compression;
  job: string | null;
  task: string;
  node: string;
  /** Bytes/s per disk for live copies; 0 = unlimited. */
  speed: number;
  copyRange: boolean;
  /** Time the guest gets to shut down in stop mode. */
  shutdownTimeoutMs: number;
  lifecycle: GuestLifecycle;
  /** Cluster mode, on the peer: the disks are the replicas here, the config the one the guest's node sent (cluster.ts). */
  replica?: ReplicaSource;
  /** Throws when what was copied cannot be trusted (a replica reconnected meanwhile): the backup is not kept. */
  afterCopy?: () => Promise<void>;
  log(line: string): void;
  /** 0..100 within this guest. */
  progress(pct: number, message: string): void;
}

/**
 * A guest of another node backed up from this node's replicas of its disks
 * (cluster mode): each disk is the first `bytes` of its DRBD backing file,
 * read while the resource is disconnected (nothing writes it then).
 */
export interface ReplicaSource {
  name: string | null;
  configText: string;
  disks: { file: string; path: string; bytes: number }[];
}

export interface GuestBackupResult {
  entry: BackupEntry;
  manifest: BackupManifest;
  dir: string;
}

export const guestBackupDir = (storageDir: string, vmid: number) => join(storageDir, BACKUP_ROOT, String(vmid));

/** Remove partial folders whose task is gone; returns the names removed. */
export function cleanPartials(vmDir: string, log: (l: string) => void): string[] {
  let names: string[];
  try {
    names = readdirSync(vmDir).filter((n) => n.startsWith(PARTIAL_PREFIX) || n.startsWith(DELETING_PREFIX));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    let owner = { pid: 0, task: '' };
    try {
      owner = JSON.parse(readFileSync(join(vmDir, n, OWNER_FILE), 'utf8'));
    } catch {
      // No owner: its writer died before writing it.
    }
    if (owner.pid && processAlive(owner.pid, owner.task)) continue;
    for (const pid of processesUsing(join(vmDir, n))) {
      process.kill(pid, 'SIGKILL');
      log(`killed process ${pid}, still writing into ${n}`);
    }
    rmSync(join(vmDir, n), { recursive: true, force: true });
    removed.push(n);
    log(`removed ${n}, left by ${owner.task ? `task ${owner.task}` : 'an interrupted backup'}`);
  }
  return removed;
}

/** Processes whose argv names a file under `dir` (an offline copy orphaned by a killed task). */
export function processesUsing(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(p) || Number(p) === process.pid) continue;
    // null: gone meanwhile.
    if (processArgv(Number(p))?.some((a) => a.startsWith(dir + '/'))) out.push(Number(p));
  }
  return out;
}

/** What wrote a backup, for its manifest. */
async function tools(): Promise<Record<string, string>> {
  return { 'qemu-img': await qemuImgVersion(), node: process.version, ramvm: '1' };
}

export async function backupGuest(i: GuestBackupInput): Promise<GuestBackupResult> {
  const releaseVm = await takeLongLock(`backup-vm-${i.vmid}`, i.task, 0);
  try {
    refuseIfMigrating(i.vmid, 'back it up');
  } catch (e) {
    releaseVm();
    throw e;
  }
  try {
    return await backupLocked(i);
  } finally {
    releaseVm();
  }
}

async function backupLocked(i: GuestBackupInput): Promise<GuestBackupResult> {
  const guest = i.replica ? null : readGuest(i.vmid);
  const name = i.replica ? i.replica.name : guest!.name;
  const vmDir = guestBackupDir(i.storage.dir, i.vmid);
  mkdirSync(vmDir, { recursive: true });
  cleanPartials(vmDir, i.log);

  let start = Date.now();
  while (existsAny(vmDir, backupStamp(start))) {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    start = Date.now();
  }
  const stamp = backupStamp(start);
  const partial = join(vmDir, PARTIAL_PREFIX + stamp);
  mkdirSync(partial);
  writeFileSync(join(partial, OWNER_FILE), JSON.stringify({ pid: process.pid, task: i.task }));
  let logOpen = true;
  const log = (line: string) => {
    i.log(line);
    if (logOpen) appendFileSync(join(partial, LOG_FILE), `${new Date().toISOString()} ${line}\n`);
  };
  try {
    log(`backup of guest ${i.vmid}${name ? ` (${name})` : ''}${i.replica ? ` from its replicas on node ${i.node}` : ''} to storage ${i.storage.name}, mode ${i.mode}, compression ${i.compress}, task ${i.task}`);
    writeFileSync(join(partial, CONFIG_FILE), i.replica ? i.replica.configText : guest!.configText);
    const status = guest ? await guestStatus(guest.handle) : 'stopped';
    const method: BackupMethod = status !== 'stopped' && i.mode === 'snapshot' ? 'live' : 'offline';
    const copyStart = Date.now();
    let downtime: number | undefined;
    const disks: DiskPlan[] = i.replica
      ? i.replica.disks.map((d) => ({ file: d.file, source: d.path, sourceFormat: 'raw', virtualSize: d.bytes }))
      : await Promise.all(guest!.disks.map(async (d) => ({
        file: backupDiskName(d.path), source: d.path, sourceFormat: d.format, virtualSize: await virtualSize({ file: d.path, format: d.format }),
      })));
    if (i.replica) {
      log(`copying the replicas of guest ${i.vmid} on node ${i.node}`);
      await copyOffline(i, disks, partial);
    } else if (method === 'live') {
      const agent = await agentForBackup(guest!.handle, status);
      if (agent.line) log(agent.line);
      const agentPath = guest!.handle.files.agent;
      await liveBackup(guest!.handle.files.qmp, disks.map((d) => ({ source: d.source, target: join(partial, d.file), virtualSize: d.virtualSize })), {
        vmid: i.vmid, compress: i.compress, copyRange: i.copyRange, speed: i.speed, log,
        ...(agent.freeze ? { atInstant: (take: () => Promise<void>) => whileFrozen(agentPath, log, take) } : {}),
        progress: (done, total) => i.progress(total ? (done / total) * 80 : 0, `copying disks of guest ${i.vmid}: ${Math.floor(done / 1048576)} of ${Math.floor(total / 1048576)} MiB`),
      });
    } else if (status !== 'stopped') {
      downtime = await stopModeCopy(i, guest!, disks, partial, log);
    } else {
      log('the guest is stopped: copying its disks offline');
      await copyOffline(i, disks, partial);
    }
    const copyMs = Date.now() - copyStart;
    log(`copy done in ${copyMs} ms`);
    await i.afterCopy?.();

    const sumStart = Date.now();
    const names = [CONFIG_FILE, ...disks.map((d) => d.file)];
    const files: FileSum[] = [];
    for (const n of names) {
      fsyncPath(join(partial, n));
      files.push(await sumFile(partial, n));
    }
    for (const f of files) log(`${f.name}: ${f.size} bytes, sha256 ${f.sha256}`);
    log('log closed; the manifest holds its checksum');
    logOpen = false;
    files.push(await sumFile(partial, LOG_FILE));
    const manifest: BackupManifest = {
      format: 1, vmid: i.vmid, name, node: i.node, storage: i.storage.name, stamp,
      start, end: Date.now(), mode: i.mode, method, compress: i.compress, task: i.task, job: i.job,
      disks: disks.map((d) => ({ file: d.file, source: d.source.split('/').pop()!, sourceFormat: d.sourceFormat, virtualSize: d.virtualSize })),
      files,
      timings: { copy: copyMs, sums: Date.now() - sumStart, ...(downtime !== undefined ? { downtime } : {}) },
      tools: await tools(),
      verification: null,
    };
    writeJsonAtomic(join(partial, MANIFEST_FILE), manifest);

    i.progress(80, `reading back the backup of guest ${i.vmid}`);
    const v = await verifyBackup(partial, manifest, i.log);
    if (!v.ok) throw internal(`the backup of guest ${i.vmid} did not read back correctly: ${v.problems.join('; ')}`);
    manifest.verification = v;
    writeJsonAtomic(join(partial, MANIFEST_FILE), manifest);
    rmSync(join(partial, OWNER_FILE), { force: true });
    const final = join(vmDir, stamp);
    renameSync(partial, final);
    fsyncPath(vmDir);
    i.progress(100, `guest ${i.vmid} backed up and verified`);
    const entry = backupEntry(manifest, i.storage.name);
    i.log(`backup ${entry.id} verified: ${entry.size} bytes in ${Math.round((Date.now() - start) / 1000)} s`);
    return { entry, manifest, dir: final };
  } catch (e) {
    i.log(`backup of guest ${i.vmid} failed: ${explain(e)}; removing ${PARTIAL_PREFIX}${stamp}`);
    rmSync(partial, { recursive: true, force: true });
    throw e;
  }
}

function existsAny(vmDir: string, stamp: string): boolean {
  for (const n of [stamp, PARTIAL_PREFIX + stamp]) {
    try {
      statSync(join(vmDir, n));
      return true;
    } catch {
      // free
    }
  }
  return false;
}

type DiskPlan = { file: string; source: string; sourceFormat: string; virtualSize: number };

async function copyOffline(i: GuestBackupInput, disks: readonly DiskPlan[], partial: string): Promise<void> {
  for (const [n, d] of disks.entries()) {
    // A replica: its backing file holds DRBD's meta-data after the guest's bytes.
    const from = i.replica ? { file: d.source, format: 'raw', bytes: d.virtualSize } : { file: d.source, format: d.sourceFormat };
    await convertImage(from, { file: join(partial, d.file), format: 'qcow2' }, i.compress, (pct) =>
      i.progress(((n + pct / 100) / disks.length) * 80, `copying ${d.file} of guest ${i.vmid}: ${Math.floor(pct)} %`));
  }
}

/**
 * Shut down, copy, start again — the start also after a failed copy.
 * Returns the downtime in ms. The guest is recorded until it runs again:
 * run/ramvm/backup-stopped/<vmid>.json { "task": "2026…", "pid": 4242, "time": 1795643200000 };
 * when the task dies before starting it (kill -9, a crash), the next
 * `ramvm backup tick` starts it (restartOrphans in job.ts).
 */
async function stopModeCopy(i: GuestBackupInput, guest: BackupGuest, disks: readonly DiskPlan[], partial: string, log: (l: string) => void): Promise<number> {
  const down = Date.now();
  log(`stop mode: shutting guest ${guest.vmid} down (up to ${Math.round(i.shutdownTimeoutMs / 1000)} s, then a hard stop)`);
  let failure: unknown = null;
  writeJsonAtomic(backupStoppedFile(guest.vmid), { task: i.task, pid: process.pid, time: down });
  try {
    await i.lifecycle.shutdown(guest.vmid, i.shutdownTimeoutMs, log);
    if (pidNow(guest.handle) !== null) throw internal(`guest ${guest.vmid} did not stop`);
    log('guest stopped: copying its disks');
    await copyOffline(i, disks, partial);
  } catch (e) {
    failure = e;
  }
  try {
    if (pidNow(guest.handle) === null) {
      await i.lifecycle.start(guest.vmid);
      log(`guest ${guest.vmid} started again after ${Date.now() - down} ms${failure ? ' (although the backup failed)' : ''}`);
    }
    rmSync(backupStoppedFile(guest.vmid), { force: true });
  } catch (e) {
    log(`STARTING GUEST ${guest.vmid} AGAIN FAILED: ${explain(e)}`);
    if (!failure) failure = internal(`the backup was taken but guest ${guest.vmid} did not start again: ${explain(e)}`);
  }
  if (failure) throw failure;
  return Date.now() - down;
}
