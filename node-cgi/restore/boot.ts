/**
 * Run from backup (restore-on-the-fly): a guest that starts straight off a
 * backup, whatever its size, and leaves the backup as it was.
 *
 *   POST /api/backup/local:101:20261125T220000Z/boot
 *   → claim VMID 106; for each disk
 *       qemu-img create -q -f qcow2 -F qcow2 -b <backup>/vm-101-disk-0.qcow2 <images>/106/vm-106-disk-0.qcow2
 *     (QEMU opens the backing file read-only: every write lands in the overlay)
 *   → config 106 with NICs linkDown and the mark { temporary: { backup, source: 101, purpose: "run", … } }
 *   → start (-S, set_link off, cont: the network is never up before the user connects it)
 *   → task "run-from-backup" watches it: when its QEMU ends, the guest and
 *     its overlays are deleted, unless a live restore made it a normal guest.
 *
 * A temporary guest whose watcher died (reboot, kill) is found by
 * cleanTemporaries(): a stopped one is deleted, a running one gets a new
 * watcher, a boot check's sandbox is stopped and deleted.
 */
import { conflict } from '../lib/errors';
import { createImage } from '../tools/qemu-img';
import { nodeName } from '../lib/paths';
import { checkedVmid } from '../lib/validate';
import { startTask, taskRunning, type TaskRun } from '../tasks/task';
import {
  deleteVm, diskPath, findGuest, guestOf, listVmConfigs, patchStartedConfig, qmpCommand, startVm, stopVm, updateVmConfig, usedVmids,
  vmStatus, writeVmConfig, type Guest, type TemporaryMark, type VmConfig, type VmState,
} from '../vm';
import { claimVmid, dropClaim, settleClaim } from './claim';
import { releaseVmid, reserveVmid } from '../cluster/placement';
import { overlayPlan, type BackupSource } from './plan';
import { nodeFacts } from './source';

/** How often the watcher looks at its guest. */
export const WATCH_INTERVAL_MS = 1_000;
/** A temporary guest younger than this without a watcher is still being set up: clean-up leaves it alone. */
export const WATCH_START_GRACE_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BootResult {
  vmid: number;
  warnings: string[];
  /** The task that discards the guest when it stops. */
  task: string;
}

/** Make a temporary guest whose disks are overlays on the backup's images, and start it. */
export async function startFromBackup(b: BackupSource, o: { vmid?: number; purpose: 'run' | 'bootcheck'; owner: string }): Promise<{ config: VmConfig; warnings: string[] }> {
  // In a cluster the VMID comes from the master (unique in the cluster); its
  // tick gives it back once the temporary guest is gone.
  const reserved = await reserveVmid(o.vmid ?? null, b.manifest.name ?? '', usedVmids());
  let vmid: number;
  try {
    vmid = claimVmid(reserved ?? o.vmid, o.owner);
  } catch (e) {
    if (reserved !== null) await releaseVmid(reserved);
    throw e;
  }
  let config: VmConfig | undefined;
  try {
    const plan = overlayPlan(b, vmid, o.purpose, nodeFacts());
    config = plan.config;
    for (const ov of plan.overlays) await createImage(diskPath(vmid, ov), 'qcow2', null, { backing: ov.backing });
    writeVmConfig(config);
    settleClaim(vmid);
    await startVm(guestOf(config));
    return { config, warnings: plan.warnings };
  } catch (e) {
    const g = config ? findGuest(vmid) : undefined;
    if (g) {
      if (g.pid !== null) await stopVm(g).catch(() => undefined);
      deleteVm(g);
    } else {
      dropClaim(vmid);
    }
    if (reserved !== null) await releaseVmid(reserved);
    throw e;
  }
}

/** A guest running from a backup, as GET /api/restore lists it. */
export interface TemporaryGuest {
  vmid: number;
  name: string;
  node: string;
  status: VmState;
  /** Its network cards are unplugged. */
  linkDown: boolean;
  temporary: TemporaryMark;
}

/** The guests that run from a backup (and boot checks' sandboxes) among those `shown`, with their status. */
export async function temporaryGuests(shown: (vmid: number) => boolean): Promise<TemporaryGuest[]> {
  const out: TemporaryGuest[] = [];
  for (const c of listVmConfigs()) {
    if (!c.temporary || !shown(c.vmid)) continue;
    const st = await vmStatus(guestOf(c));
    out.push({ vmid: c.vmid, name: c.name, node: c.node, status: st.status, linkDown: c.nics.some((n) => n.linkDown === true), temporary: c.temporary });
  }
  return out;
}

/** Start the task that discards a temporary guest when it stops, and note it in the mark. */
export function watch(vmid: number, user: string): string {
  const task = startTask({ kind: 'run-from-backup', object: `/vms/${vmid}`, user, params: { vmid }, message: `guest ${vmid} runs from a backup` });
  updateVmConfig(vmid, (c) => (c.temporary ? { ...c, temporary: { ...c.temporary, task } } : c));
  return task;
}

/** POST /api/backup/<id>/boot: a guest running from the backup, with its watcher. */
export async function bootBackup(b: BackupSource, o: { vmid?: number; user: string }): Promise<BootResult> {
  await cleanTemporaries(o.user);
  const { config, warnings } = await startFromBackup(b, { vmid: o.vmid, purpose: 'run', owner: '' });
  const task = watch(config.vmid, o.user);
  return { vmid: config.vmid, warnings, task };
}

/** Delete a stopped temporary guest: overlays, config, runtime files. The backup is not touched. */
export function discard(g: Guest): void {
  deleteVm(g);
}

/**
 * Temporary guests nobody watches: stopped ones are deleted, running ones
 * get a watcher; sandboxes of boot checks whose task died are stopped and
 * deleted. A mark younger than the start grace without a task belongs to a
 * guest being made right now and is left alone. Returns what was done.
 */
export async function cleanTemporaries(user: string, now = Date.now()): Promise<string[]> {
  const out: string[] = [];
  for (const c of listVmConfigs()) {
    const t = c.temporary;
    if (!t || c.node !== nodeName() || taskRunning(t.task)) continue;
    if (!t.task && now - t.since < WATCH_START_GRACE_MS) continue;
    const g = guestOf(c);
    const running = g.pid !== null;
    if (t.purpose === 'run' && running) {
      watch(c.vmid, user);
      out.push(`guest ${c.vmid}: runs from ${t.backup} without a watcher; watched again`);
      continue;
    }
    if (running) await stopVm(g);
    discard(g);
    out.push(`guest ${c.vmid}: ${running ? 'sandbox of a dead boot check' : 'stopped temporary guest'} from ${t.backup} deleted`);
  }
  return out;
}

/**
 * Task kind "run-from-backup", params { vmid }: lasts as long as the
 * temporary guest runs; when its QEMU ends, the guest is discarded. It is
 * started only for a guest whose QEMU already runs (after its start, or by
 * cleanTemporaries for a running one), so a QEMU missing at any look, the
 * first included, has stopped: a guest stopped before this process got to
 * look is discarded at once.
 */
export async function watchTask(t: TaskRun): Promise<string> {
  const vmid = checkedVmid(t.params.vmid);
  for (;;) {
    const g = findGuest(vmid);
    if (!g) return `guest ${vmid} was deleted`;
    const c = g.config;
    if (!c.temporary) return `guest ${vmid} was kept: it no longer depends on the backup`;
    if (c.temporary.task && c.temporary.task !== t.id) return `guest ${vmid} is watched by task ${c.temporary.task}`;
    if (g.pid === null) {
      discard(g);
      return `guest ${vmid} stopped: its overlays were discarded; backup ${c.temporary.backup} is unchanged`;
    }
    await sleep(WATCH_INTERVAL_MS);
  }
}

/** Connect (up) or unplug (down) every NIC of a running guest, and remember it for its next start. */
export async function setLinks(g: Guest, up: boolean): Promise<VmConfig> {
  const { vmid, config: cfg } = g;
  if (cfg.nics.length === 0) throw conflict(`guest ${vmid} has no network card`);
  if (g.pid === null) throw conflict(`guest ${vmid} is not running`);
  for (const n of cfg.nics) await qmpCommand(g, 'set_link', { name: n.id, up });
  const next = updateVmConfig(vmid, (c) => ({ ...c, nics: c.nics.map(({ linkDown: _, ...n }) => (up ? n : { ...n, linkDown: true })) }));
  patchStartedConfig(g, { nics: next.nics });
  return next;
}

