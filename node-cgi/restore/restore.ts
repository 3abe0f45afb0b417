/**
 * Task kind "restore": a backup becomes a guest of this node again, as a
 * new VMID or over the guest it was taken of (stopped, with force).
 *
 *   params { backup: "local:101:20261125T220000Z", vmid: 105, force: false }
 *   → open the storage (mounting an external device), find the backup
 *   → SHA-256 of every file against the manifest                 (progress 0–30 %)
 *   → claim VMID 105 (or lock guest 101 for a restore over it)
 *   → qemu-img convert each disk into .restore-<file> beside the guest's disks  (30–95 %)
 *   → fsync; then, under the start lock and with the guest still stopped:
 *     rename each into place, remove the old disks the backup lacks, write the config
 *
 * Nothing of the target changes before that last step; a failure before it
 * removes the temporary files (and a new VMID's folder), so a failed or
 * killed restore never leaves a half-restored guest.
 */
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { internal, conflict } from '../lib/errors';
import { guestImagesDir } from '../lib/paths';
import { fsyncPath, withLock } from '../lib/store';
import { checkedVmid } from '../lib/validate';
import { convertImage } from '../tools/qemu-img';
import { takeLongLock } from '../backup/lock';
import type { TaskRun } from '../tasks/task';
import { beingStarted, diskPath, findGuest, findVmConfig, writeVmConfig } from '../vm';
import { claimVmid, dropClaim, settleClaim } from './claim';
import { releaseVmid } from '../cluster/placement';
import { restorePlan, type RestoreDisk } from './plan';
import { checkSums, nodeFacts, openBackup } from './source';

/** Name of a disk being restored, beside the guest's disks until the switch. */
export const tempName = (file: string) => `.restore-${file}`;

export async function restoreTask(t: TaskRun): Promise<string> {
  const vmid = checkedVmid(t.params.vmid);
  try {
    return await restoreAs(t, vmid);
  } catch (e) {
    // A new guest's VMID, reserved in a cluster when the restore was asked for, goes back.
    if (!findVmConfig(vmid)) await releaseVmid(vmid);
    throw e;
  }
}

async function restoreAs(t: TaskRun, vmid: number): Promise<string> {
  const force = t.params.force === true;
  const b = await openBackup(String(t.params.backup), t.id, t.log);
  try {
    t.log(`restore of backup ${b.id} (guest ${b.manifest.vmid}${b.manifest.name ? `, ${b.manifest.name}` : ''}, ${new Date(b.manifest.start).toISOString()}) as guest ${vmid}`);
    const problems = await checkSums(b.dir, b.manifest, (done, total) =>
      t.progress(total ? (done / total) * 30 : 30, `checking the backup's SHA-256: ${Math.floor(done / 1048576)} of ${Math.floor(total / 1048576)} MiB`));
    if (problems.length > 0) throw internal(`the backup does not match its manifest: ${problems.join('; ')}; nothing was restored`);
    t.log(`SHA-256 of ${b.manifest.files.length} files match the manifest`);

    const overwrite = findVmConfig(vmid) !== undefined;
    const plan = restorePlan(b, { vmid, force }, nodeFacts());
    for (const w of plan.warnings) t.log(`warning: ${w}`);
    const release = overwrite ? await takeLongLock(`restore-vm-${vmid}`, t.id, 0) : null;
    if (!overwrite) claimVmid(vmid, t.id);
    const temps = plan.disks.map((d) => join(guestImagesDir(vmid), tempName(d.file)));
    try {
      const total = plan.disks.reduce((s, d) => s + d.virtualSize, 0) || 1;
      let before = 0;
      for (const [i, d] of plan.disks.entries()) {
        t.log(`${d.id}: ${d.from.split('/').pop()} → ${d.file} (${d.format}, ${d.virtualSize} bytes)`);
        await convertImage({ file: d.from, format: 'qcow2' }, { file: temps[i]!, format: d.format }, 'none', (pct) =>
          t.progress(30 + ((before + (pct / 100) * d.virtualSize) / total) * 65, `restoring ${d.id} of guest ${vmid}: ${Math.floor(pct)} %`));
        fsyncPath(temps[i]!);
        before += d.virtualSize;
      }
      commit(vmid, overwrite, plan.disks, temps, plan.replaced, plan.config);
    } catch (e) {
      for (const f of temps) rmSync(f, { force: true });
      if (!overwrite) dropClaim(vmid);
      throw e;
    } finally {
      release?.();
    }
    if (!overwrite) settleClaim(vmid);
    t.progress(100, `guest ${vmid} restored`);
    return `backup ${b.id} restored as guest ${vmid}${overwrite ? ' (replacing its disks and config)' : ''}: ${plan.disks.length} disk(s)${plan.warnings.length ? `; ${plan.warnings.length} warning(s) in the log` : ''}`;
  } finally {
    await b.release();
  }
}

/** The switch: only now does the target change, and only while it is stopped. */
function commit(vmid: number, overwrite: boolean, disks: readonly RestoreDisk[], temps: readonly string[], replaced: readonly string[], config: Parameters<typeof writeVmConfig>[0]): void {
  withLock('vm-start', () => {
    const now = findGuest(vmid);
    if (overwrite && ((now && now.pid !== null) || beingStarted(vmid))) {
      throw conflict(`guest ${vmid} was started during the restore; nothing was changed`);
    }
    if (!overwrite && now) throw conflict(`VMID ${vmid} was taken during the restore`);
    disks.forEach((d, i) => renameSync(temps[i]!, diskPath(vmid, d)));
    for (const f of replaced) rmSync(diskPath(vmid, { file: f }), { force: true });
    fsyncPath(guestImagesDir(vmid));
    writeVmConfig(config);
  });
}
