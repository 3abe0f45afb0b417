/**
 * Task kind "live-restore": while a guest runs from a backup, copy the
 * backup's data into the node's disk folder; at the end the guest no longer
 * depends on the backup and is a normal guest (its mark is gone).
 *
 *   params { vmid: 106, speed: 0 }     speed: bytes/s per disk, 0 = unlimited
 *   for each disk (plan.ts liveRestoreSteps), one after the other:
 *     original qcow2 → {"execute": "block-stream", "arguments": {"job-id": "ramvm-restore-106-disk0", "device": "drive-disk0"}}
 *                      the overlay pulls in what it lacks and drops its backing file
 *     original raw   → qemu-img create -f raw vm-106-disk-0.raw <size>
 *                      {"execute": "blockdev-add", …raw node "ramvm-restore-106-disk0"…}
 *                      {"execute": "blockdev-mirror", … "sync": "full"}  → READY → job-complete
 *                      the drive switches to the raw file; the config says so; the overlay is removed
 *   poll query-jobs until "concluded" (its "error" says why it failed) → job-dismiss
 *   → config without the mark (the watcher then ends without discarding)
 *
 * Guest writes during the copy land in the overlay (stream skips what the
 * overlay holds) or are mirrored (mirror), so none is lost. When a copy
 * fails, the job is cancelled, a mirror's target removed, and the guest
 * keeps running on the backup; the task fails. The monitor is held only
 * for each step, so power actions are never blocked by a long copy.
 */
import { rmSync, statSync } from 'node:fs';
import { internal, conflict, HttpError } from '../lib/errors';
import { createImage } from '../tools/qemu-img';
import { checkedVmid } from '../lib/validate';
import { dropJobs, type QueryJob } from '../qemu/jobs';
import { withQmp } from '../qemu/qmp';
import { takeLongLock } from '../backup/lock';
import { startTask, type TaskRun } from '../tasks/task';
import { parseSize } from '../lib/validate';
import { diskPath, openGuest, patchStartedConfig, updateVmConfig, type Guest, type VmConfig } from '../vm';
import { liveRestoreSteps, mirrorArgs, mirrorTargetArgs, parseQueryBlock, RESTORE_JOB_PREFIX, streamArgs, type LiveStep } from './plan';

/** How often a job's state is read. */
export const JOB_POLL_MS = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function qmpOf(g: Guest) {
  const socket = g.files.qmp;
  return <T = unknown>(command: string, args?: Record<string, unknown>) => withQmp(socket, (q) => q.execute<T>(command, args));
}

/** Wait until job `id` reaches one of `states`; throws with QEMU's error when it concludes with one. */
async function waitJob(qmp: ReturnType<typeof qmpOf>, id: string, states: string[], onProgress: (done: number, total: number) => void): Promise<QueryJob> {
  for (;;) {
    const job = (await qmp<QueryJob[]>('query-jobs')).find((j) => j.id === id);
    if (!job) throw internal(`QEMU job ${id} vanished`);
    onProgress(job['current-progress'], job['total-progress']);
    if (job.status === 'concluded' && job.error) throw new HttpError('exec_failed', `copy ${id} failed: ${job.error}`);
    if (states.includes(job.status)) return job;
    if (job.status === 'concluded' || job.status === 'aborting') throw new HttpError('exec_failed', `copy ${id} ended early (${job.status})`);
    await sleep(JOB_POLL_MS);
  }
}

/** Cancel and dismiss a job of ours, if it is there; never throws (the guest may be gone: nothing is left to drop then). */
async function dropJob(g: Guest, id: string): Promise<void> {
  await dropJobs(g.files.qmp, (x) => x === id, `copy ${id}`).catch(() => undefined);
}

async function dropNode(qmp: ReturnType<typeof qmpOf>, node: string): Promise<void> {
  try {
    await qmp('blockdev-del', { 'node-name': node });
  } catch {
    // Not there (never added, or the drive uses it now).
  }
}

/** What the running guest runs with now: its disks, and no mark once it is kept. */
function updateRunConfig(g: Guest, config: VmConfig): void {
  patchStartedConfig(g, { disks: config.disks, ...(config.temporary ? {} : { temporary: undefined }) });
}

/** Start the task "live-restore" of guest `vmid` at `speed` bytes/s (0: unlimited); the task id. */
export function startLiveRestore(vmid: number, speed: number, user: string): string {
  return startTask({ kind: 'live-restore', object: `/vms/${vmid}`, user, params: { vmid, speed }, message: `live restore of guest ${vmid}` });
}

export async function liveRestoreTask(t: TaskRun): Promise<string> {
  const vmid = checkedVmid(t.params.vmid);
  const speed = typeof t.params.speed === 'number' && t.params.speed > 0 ? Math.round(t.params.speed) : 0;
  const release = await takeLongLock(`live-restore-${vmid}`, t.id, 0);
  try {
    const g = openGuest(vmid);
    const cfg = g.config;
    if (!cfg.temporary || cfg.temporary.purpose !== 'run') throw conflict(`guest ${vmid} does not run from a backup`);
    if (g.pid === null) throw conflict(`guest ${vmid} is not running: a live restore copies while it runs`);
    const qmp = qmpOf(g);
    for (const j of await qmp<QueryJob[]>('query-jobs')) {
      if (j.id.startsWith(`${RESTORE_JOB_PREFIX}${vmid}-`)) {
        t.log(`dropping job ${j.id} left by an earlier live restore`);
        await dropJob(g, j.id);
      }
    }
    const steps = liveRestoreSteps(cfg, parseQueryBlock(await qmp('query-block')));
    const sizes = new Map(cfg.disks.map((d) => [d.id, parseSize(d.size)]));
    const todo = steps.filter((s) => s.action !== 'done');
    const total = todo.reduce((s, x) => s + sizes.get(x.id)!, 0) || 1;
    t.log(`live restore of guest ${vmid} from ${cfg.temporary.backup}: ${steps.map((s) => `${s.id} ${s.action}`).join(', ')}${speed ? `, ${speed} bytes/s` : ''}`);
    let before = 0;
    for (const s of todo) {
      const size = sizes.get(s.id)!;
      const progress = (done: number, all: number) =>
        t.progress(((before + (all ? (done / all) * size : 0)) / total) * 99, `copying ${s.id} of guest ${vmid} off the backup: ${Math.floor(done / 1048576)} of ${Math.floor(all / 1048576)} MiB`);
      const began = Date.now();
      if (s.action === 'stream') await stream(g, qmp, s, speed, progress);
      else if (s.action === 'mirror') await mirror(g, qmp, s, size, speed, progress, t.log);
      t.log(`${s.id}: copied in ${Date.now() - began} ms`);
      before += size;
    }
    const done = updateVmConfig(vmid, (c) => {
      const { temporary: _, ...rest } = c;
      return rest;
    });
    updateRunConfig(g, done);
    return `guest ${vmid} no longer depends on backup ${cfg.temporary.backup}: ${todo.length} disk(s) copied while it ran; it is a normal guest now`;
  } finally {
    release();
  }
}

async function stream(g: Guest, qmp: ReturnType<typeof qmpOf>, s: Extract<LiveStep, { action: 'stream' }>, speed: number, progress: (d: number, t: number) => void): Promise<void> {
  await qmp('block-stream', streamArgs(s.job, s.device, speed));
  try {
    await waitJob(qmp, s.job, ['concluded'], progress);
    await qmp('job-dismiss', { id: s.job });
  } catch (e) {
    await dropJob(g, s.job);
    throw e;
  }
}

async function mirror(g: Guest, qmp: ReturnType<typeof qmpOf>, s: Extract<LiveStep, { action: 'mirror' }>, size: number, speed: number, progress: (d: number, t: number) => void, log: (l: string) => void): Promise<void> {
  const { vmid } = g;
  const target = diskPath(vmid, s.target);
  const overlay = diskPath(vmid, g.config.disks.find((d) => d.id === s.id)!);
  rmSync(target, { force: true });
  let switched = false;
  try {
    await createImage(target, 'raw', size);
    await qmp('blockdev-add', mirrorTargetArgs(s.target.node, target));
    await qmp('blockdev-mirror', mirrorArgs(s.job, s.device, s.target.node, speed));
    await waitJob(qmp, s.job, ['ready'], progress);
    await qmp('job-complete', { id: s.job });
    await waitJob(qmp, s.job, ['concluded'], progress);
    switched = true;
    await qmp('job-dismiss', { id: s.job });
  } catch (e) {
    if (!switched) {
      await dropJob(g, s.job);
      await dropNode(qmp, s.target.node);
      rmSync(target, { force: true });
      log(`${s.id}: copy failed; guest ${vmid} keeps running on the backup`);
    }
    throw e;
  }
  // The drive runs on the raw file now: the config follows, then the overlay goes.
  const next = updateVmConfig(vmid, (c) => ({ ...c, disks: c.disks.map((d) => (d.id === s.id ? { ...d, file: s.target.file, format: 'raw' as const } : d)) }));
  updateRunConfig(g, next);
  log(`${s.id}: the guest now runs on ${s.target.file} (${Math.round(statSync(target).blocks / 2048)} MiB allocated)`);
  rmSync(overlay, { force: true });
}
