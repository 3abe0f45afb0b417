/**
 * Boot check: proof that a backup boots. The backup is started in a
 * sandbox guest without any network card (overlays on the backup's images,
 * as when running from a backup), left to run for a set time, and a
 * screenshot of its screen is stored beside the backup:
 *
 *   <storage>/ramvm/101/20261125T220000Z/bootcheck.png    QMP screendump {"format": "png"}
 *   <storage>/ramvm/101/20261125T220000Z/bootcheck.json   { "time": 1795643300000, "seconds": 60, "ok": true,
 *                                                            "state": "running", "message": "…", "task": "…" }
 *
 * The check fails when the sandbox does not start, its QEMU ends before the
 * time is up, or QEMU is not running the guest at the end (paused on an
 * error, panicked). The sandbox is always stopped and deleted afterwards;
 * the backup's own files are only read.
 *
 * Per job (restore settings, bootCheck) the check runs after every
 * verified backup of the job, while the job still has its storage open;
 * `POST /api/backup/<id>/bootcheck` runs one now (task kind "boot-check").
 */
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { internal, explain } from '../lib/errors';
import { readJson, writeJsonAtomic } from '../lib/store';
import { screenshot } from '../console/screenshot';
import { scanBackups } from '../backup/list';
import { backupId } from '../backup/manifest';
import type { AfterBackupJob } from '../backup/job';
import type { TaskRun } from '../tasks/task';
import { deleteVm, findGuest, guestOf, pidNow, stopVm, updateVmConfig, vmStatus } from '../vm';
import { startFromBackup } from './boot';
import { copyRescueImage } from './medium';
import { bootBackupDisk, type BootBackupAnswer } from './backup-disk';
import { getStorage } from '../backup/config';
import { rootCall, separation } from '../lib/separation';
import type { BackupSource } from './plan';
import { checkedSeconds, jobBootCheck, readRestoreSettings } from './settings';
import { openBackup, readBackupConfig } from './source';

export const SCREENSHOT_FILE = 'bootcheck.png';
export const RESULT_FILE = 'bootcheck.json';
/** How often the sandbox is looked at while it runs. */
const LOOK_MS = 500;

export interface BootCheckResult {
  /** Unix ms of the end of the check. */
  time: number;
  seconds: number;
  ok: boolean;
  /** QEMU's run state at the end ("running", "paused", "internal-error", …) or "stopped". */
  state: string;
  message: string;
  task: string;
  /** Bytes of the stored screenshot (0 when none). */
  screenshot: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stored result of a backup's last boot check, or null. */
export function readBootCheck(dir: string): BootCheckResult | null {
  return readJson<BootCheckResult | null>(join(dir, RESULT_FILE), null);
}

/** Boot the backup in a sandbox for `seconds`; store screenshot and result beside it. */
export async function bootCheck(b: BackupSource, seconds: number, task: string, log: (l: string) => void): Promise<BootCheckResult> {
  const began = Date.now();
  let vmid: number | null = null;
  let state = 'stopped';
  let message = '';
  let png: Buffer | null = null;
  try {
    const { config } = await startFromBackup(b, { purpose: 'bootcheck', owner: task });
    vmid = config.vmid;
    const g = guestOf(updateVmConfig(vmid, (c) => (c.temporary ? { ...c, temporary: { ...c.temporary, task } } : c)));
    log(`boot check of ${b.id}: sandbox guest ${vmid} (no network) runs for ${seconds} s`);
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until && pidNow(g) !== null) await sleep(Math.min(LOOK_MS, until - Date.now()));
    const st = await vmStatus(guestOf(g.config));
    state = st.status === 'stopped' ? 'stopped' : st.qmpStatus ?? st.status;
    if (st.status !== 'stopped') png = await screenshot(g.files.qmp, vmid);
    message = state === 'running'
      ? `the guest ran for ${seconds} s; screenshot stored`
      : state === 'stopped'
        ? `the guest's QEMU ended after ${Math.round((Date.now() - began) / 1000)} s of ${seconds} s`
        : `QEMU is not running the guest after ${seconds} s: ${state}`;
  } catch (e) {
    message = `the sandbox did not run: ${explain(e)}`;
  } finally {
    if (vmid !== null) {
      try {
        const g = findGuest(vmid);
        if (g) {
          if (g.pid !== null) await stopVm(g);
          deleteVm(g);
        }
      } catch (e) {
        log(`boot check: removing sandbox guest ${vmid} failed: ${explain(e)}`);
      }
    }
  }
  const result: BootCheckResult = { time: Date.now(), seconds, ok: state === 'running' && png !== null, state, message, task, screenshot: png?.length ?? 0 };
  if (png) {
    const tmp = join(b.dir, `.${SCREENSHOT_FILE}.tmp`);
    writeFileSync(tmp, png);
    renameSync(tmp, join(b.dir, SCREENSHOT_FILE));
  } else if (existsSync(join(b.dir, SCREENSHOT_FILE))) {
    // An old screenshot must not stand for a check that failed.
    rmSync(join(b.dir, SCREENSHOT_FILE), { force: true });
  }
  writeJsonAtomic(join(b.dir, RESULT_FILE), result);
  log(`boot check of ${b.id}: ${result.ok ? 'OK' : 'FAILED'}: ${message}`);
  return result;
}

/** Task kind "boot-check", params { backup, seconds }: one boot check now. */
export async function bootCheckTask(t: TaskRun): Promise<string> {
  const seconds = checkedSeconds(t.params.seconds);
  const b = await openBackup(String(t.params.backup), t.id, t.log);
  try {
    t.progress(5, `booting ${b.id} in a sandbox for ${seconds} s`);
    const r = await bootCheck(b, seconds, t.id, t.log);
    if (!r.ok) throw internal(`boot check of ${b.id} failed: ${r.message}`);
    return `boot check of ${b.id}: ${r.message}`;
  } finally {
    await b.release();
  }
}

/**
 * What a backup job does after its backups, while its storage is open:
 * boot checks of this run's verified backups (when the job asks for them),
 * the rescue image onto the storage (when one is configured), and, on a
 * device storage with `boot`, the disk's boot partition brought to that
 * image (restore/backup-disk.ts, through the root helper). Throws
 * when any of it failed, so the job fails and its alert and mail go out.
 * Backup jobs run it as their hook (cli/task-kinds.ts).
 */
export const afterBackupJob: AfterBackupJob = async (job, storage, task, log) => {
  if (!job.id) return;
  const problems: string[] = [];
  const bc = jobBootCheck(job.id);
  if (bc.enabled) {
    for (const s of scanBackups(storage.dir, storage.name).filter((x) => x.manifest.task === task && x.entry.verified)) {
      const id = backupId({ storage: storage.name, vmid: s.manifest.vmid, stamp: s.manifest.stamp });
      try {
        const r = await bootCheck({ id, dir: s.dir, manifest: s.manifest, config: readBackupConfig(s.dir, s.manifest) }, bc.seconds, task, log);
        if (!r.ok) problems.push(`boot check of ${id} failed: ${r.message}`);
      } catch (e) {
        problems.push(`boot check of ${id} failed: ${explain(e)}`);
      }
    }
  }
  const rescue = readRestoreSettings().rescueImage;
  let copied = false;
  if (rescue) {
    try {
      await copyRescueImage(rescue, storage.dir, log);
      copied = true;
    } catch (e) {
      problems.push(explain(e));
    }
  }
  const c = getStorage(storage.name).config;
  if (c.type === 'device' && c.boot) {
    if (!rescue) problems.push(`storage ${storage.name} is to boot, but no rescue image is set (PUT /api/restore/medium)`);
    else if (copied) {
      try {
        const sep = separation();
        const r = sep ? await rootCall<BootBackupAnswer>(sep, 'boot-backup', [storage.name]) : bootBackupDisk(storage.name);
        for (const n of r.notes) log(`storage ${storage.name}: ${n}`);
      } catch (e) {
        problems.push(`storage ${storage.name} was not made bootable: ${explain(e)}`);
      }
    }
  }
  if (problems.length > 0) throw internal(problems.join('; '));
};
