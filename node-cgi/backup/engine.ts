/**
 * The live backup: QEMU copies each disk of a running guest into a new
 * qcow2 file on the storage with `blockdev-backup` (sync full). All disks'
 * jobs start in one `transaction`, so together they are the guest's disks
 * as they were at one instant, whatever the guest writes meanwhile
 * (copy-before-write: a guest write to a not-yet-copied cluster first
 * copies the old data to the target).
 *
 *   qemu-img create -f qcow2 -o compression_type=zstd <target> <virtual size>
 *   → {"execute":"blockdev-add","arguments":{"driver":"qcow2","node-name":"ramvm-backup-101-0",
 *        "file":{"driver":"file","filename":"<target>"}}}
 *   → {"execute":"transaction","arguments":{"actions":[{"type":"blockdev-backup","data":{
 *        "job-id":"ramvm-backup-101-0","device":"<disk node>","target":"ramvm-backup-101-0",
 *        "sync":"full","compress":true,"auto-dismiss":false}}],"properties":{"completion-mode":"grouped"}}}
 *   poll query-jobs until every job is "concluded" (its "error" says why it failed) → job-dismiss
 *   → blockdev-del the target: only then is the file complete.
 *
 * The monitor is held only for each step (QMP serves one client at a time),
 * so guest actions are not blocked for the length of a backup.
 * Reference: https://qemu-project.gitlab.io/qemu/interop/bitmaps.html#example-single-drive-backup
 */
import { realpathSync } from 'node:fs';
import { createImage } from '../tools/qemu-img';
import { internal, HttpError, explain } from '../lib/errors';
import { dropJobs, queryJobs } from '../qemu/jobs';
import { withQmp } from '../qemu/qmp';
import type { Compression } from './types';

/** Job ids and target node names of ours start with this; leftovers are cleaned by the next run. */
export const JOB_PREFIX = 'ramvm-backup-';
/** How often the job's progress is read. */
export const POLL_MS = 500;

export interface LiveDisk {
  /** The guest's image file (to find its block node). */
  source: string;
  /** The qcow2 file to create on the storage. */
  target: string;
  virtualSize: number;
}

export interface LiveOptions {
  vmid: number;
  compress: Compression;
  /** Let the kernel copy ranges (copy_file_range) when not compressing. */
  copyRange: boolean;
  /** Bytes per second per disk; 0 = unlimited. */
  speed: number;
  log(line: string): void;
  progress(done: number, total: number): void;
  /** Runs the transaction, the instant the copy is taken (run.ts: with the guest's filesystems frozen); absent: as it is. */
  atInstant?: (take: () => Promise<void>) => Promise<void>;
}

interface BlockInfo {
  device: string;
  qdev?: string;
  inserted?: { 'node-name': string; file: string; image?: { filename: string } };
}

/** The transaction that starts every disk's job at the same instant. */
export function backupTransaction(
  jobs: readonly { job: string; device: string; target: string }[],
  o: Pick<LiveOptions, 'compress' | 'copyRange' | 'speed'>,
): Record<string, unknown> {
  return {
    actions: jobs.map((j) => ({
      type: 'blockdev-backup',
      data: {
        'job-id': j.job,
        device: j.device,
        target: j.target,
        sync: 'full',
        'auto-dismiss': false,
        ...(o.compress === 'zstd' ? { compress: true } : {}),
        ...(o.copyRange && o.compress === 'none' ? { 'x-perf': { 'use-copy-range': true } } : {}),
        ...(o.speed > 0 ? { speed: o.speed } : {}),
      },
    })),
    properties: { 'completion-mode': 'grouped' },
  };
}

/** Block node of each image from `query-block`, matched by real path. */
export function diskNodes(blocks: readonly BlockInfo[], sources: readonly string[]): string[] {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  return sources.map((s) => {
    const want = real(s);
    const b = blocks.find((x) => x.inserted && (real(x.inserted.file) === want || (x.inserted.image && real(x.inserted.image.filename) === want)));
    if (!b?.inserted) throw internal(`the running guest does not use the disk ${s}`);
    return b.inserted['node-name'];
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cancel and remove jobs and target nodes of ours left by an interrupted run. */
export async function cleanLeftovers(qmpPath: string, vmid: number, log: (l: string) => void): Promise<void> {
  const prefix = `${JOB_PREFIX}${vmid}-`;
  await dropJobs(qmpPath, (id) => id.startsWith(prefix), 'a job of an interrupted backup', (j, action) =>
    log(action === 'dismissed' ? `removed the finished job ${j.id} of an interrupted backup` : `cancelled the job ${j.id} of an interrupted backup`));
  const nodes = await withQmp(qmpPath, (q) => q.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true }));
  const ours = [...new Set(nodes.map((n) => n['node-name']).filter((n) => n.startsWith(prefix)))];
  if (ours.length === 0) return;
  await withQmp(qmpPath, async (q) => {
    for (const n of ours) {
      await q.execute('blockdev-del', { 'node-name': n });
      log(`detached the target ${n} of an interrupted backup`);
    }
  });
}

/**
 * Copy the disks of a running guest. On any failure the jobs are cancelled
 * and the targets detached; the caller removes the files. A guest that
 * stopped on a write error while the target filled up is resumed.
 */
export async function liveBackup(qmpPath: string, disks: readonly LiveDisk[], o: LiveOptions): Promise<void> {
  await cleanLeftovers(qmpPath, o.vmid, o.log);
  const blocks = await withQmp(qmpPath, (q) => q.execute<BlockInfo[]>('query-block'));
  const devices = diskNodes(blocks, disks.map((d) => d.source));
  const names = disks.map((_, i) => `${JOB_PREFIX}${o.vmid}-${i}`);
  for (const d of disks) await createImage(d.target, 'qcow2', d.virtualSize, { zstd: o.compress === 'zstd' });
  const added: string[] = [];
  let started = false;
  try {
    await withQmp(qmpPath, async (q) => {
      for (const [i, d] of disks.entries()) {
        await q.execute('blockdev-add', { driver: 'qcow2', 'node-name': names[i], file: { driver: 'file', filename: d.target } });
        added.push(names[i]!);
      }
      const wasRunning = (await q.execute<{ status: string }>('query-status')).status;
      o.log(`guest state at the start of the copy: ${wasRunning}`);
      const take = async () => {
        await q.execute('transaction', backupTransaction(disks.map((_, i) => ({ job: names[i]!, device: devices[i]!, target: names[i]! })), o));
        started = true;
      };
      await (o.atInstant ? o.atInstant(take) : take());
    });
    o.log(`copy started: ${disks.length} disk(s), ${o.compress === 'zstd' ? 'zstd-compressed clusters' : 'uncompressed'}${o.copyRange && o.compress === 'none' ? ', copy offload' : ''}${o.speed ? `, limit ${Math.round(o.speed / 1048576)} MiB/s` : ''}`);
    const errors = await waitJobs(qmpPath, names, o);
    if (errors.length > 0) throw new HttpError('exec_failed', `QEMU's backup job failed: ${errors.join('; ')}`);
  } finally {
    if (started) await dropJobs(qmpPath, (id) => names.includes(id), 'the backup jobs').catch((e) => o.log(`cleaning the jobs failed: ${explain(e)}`));
    if (added.length > 0) {
      await withQmp(qmpPath, async (q) => {
        for (const n of added) await q.execute('blockdev-del', { 'node-name': n });
      }).catch((e) => o.log(`detaching the targets failed: ${explain(e)}`));
    }
    await resumeAfterIoError(qmpPath, o.log).catch(() => undefined);
  }
}

/** Follow the jobs until all concluded; returns their errors ("ramvm-backup-101-0: No space left on device"). */
async function waitJobs(qmpPath: string, names: readonly string[], o: LiveOptions): Promise<string[]> {
  for (;;) {
    const all = await queryJobs(qmpPath);
    const mine = all.filter((j) => names.includes(j.id));
    if (mine.length !== names.length) throw internal('a backup job vanished from QEMU');
    const done = mine.reduce((s, j) => s + j['current-progress'], 0);
    const total = mine.reduce((s, j) => s + j['total-progress'], 0);
    o.progress(done, total);
    const failed = mine.filter((j) => j.error);
    if (mine.every((j) => j.status === 'concluded') || (failed.length > 0 && mine.every((j) => ['concluded', 'aborting', 'null'].includes(j.status)))) {
      await withQmp(qmpPath, async (q) => {
        for (const j of mine) if (j.status === 'concluded') await q.execute('job-dismiss', { id: j.id });
      });
      return failed.map((j) => `${j.id}: ${j.error}`);
    }
    await sleep(POLL_MS);
  }
}

/** A guest paused by a failed write (default werror=enospc) runs again. */
async function resumeAfterIoError(qmpPath: string, log: (l: string) => void): Promise<void> {
  await withQmp(qmpPath, async (q) => {
    const s = await q.execute<{ status: string }>('query-status');
    if (s.status === 'io-error') {
      await q.execute('cont');
      log('the guest had paused on a write error during the copy; resumed it');
    }
  });
}
