/**
 * Task kinds of guests (VM_TASK_KINDS: these and "disk-check" of
 * disk-check.ts), and `ramvm boot`.
 *
 * "vm-shutdown" params { vmid: 101, timeout: 60, forceStop: true }:
 *   press the ACPI power button, wait up to `timeout` seconds for the
 *   guest to power off; then stop it hard when `forceStop`, else fail.
 *
 * `ramvm boot`: start the guests of this node marked "start at boot", in
 * VMID order, one after the other (a failed one does not stop the rest).
 */
import { nodeName } from '../lib/paths';
import { checkedVmid } from '../lib/validate';
import type { TaskKind, TaskRun } from '../tasks/task';
import { diskCheck } from './disk-check';
import { listVmConfigs } from './config';
import { shutdownVm, startVm, stopVm, waitStopped } from './power';
import { guestOf, openGuest } from './guest';
import type { VmConfig } from './types';

const WAIT_STEP_MS = 500;

export async function vmShutdownTask(t: TaskRun): Promise<string> {
  const g = openGuest(checkedVmid(t.params.vmid));
  const { vmid } = g;
  const timeoutS = Number(t.params.timeout);
  const force = t.params.forceStop === true;
  const began = Date.now();
  await shutdownVm(g);
  t.log(`ACPI power button pressed; waiting up to ${timeoutS} s for guest ${vmid} to power off`);
  const deadline = began + timeoutS * 1000;
  while (Date.now() < deadline) {
    if (await waitStopped(g, Math.min(WAIT_STEP_MS, deadline - Date.now()))) {
      return `guest ${vmid} powered off after ${((Date.now() - began) / 1000).toFixed(1)} s`;
    }
    t.progress(((Date.now() - began) / (timeoutS * 1000)) * 100, 'waiting for the guest to power off');
  }
  if (await waitStopped(g, 0)) return `guest ${vmid} powered off after ${timeoutS} s`;
  if (!force) throw new Error(`guest ${vmid} did not power off within ${timeoutS} s; it keeps running`);
  t.log(`guest ${vmid} did not power off within ${timeoutS} s; stopping it`);
  await stopVm(g);
  return `guest ${vmid} did not power off within ${timeoutS} s and was stopped`;
}

/** The task kinds of guests, by name (the CLI, which runs tasks, joins every feature's). */
export const VM_TASK_KINDS: Record<string, TaskKind> = {
  'disk-check': diskCheck,
  'vm-shutdown': vmShutdownTask,
};

/** The guests `ramvm boot` starts: this node's, marked onboot, in VMID order. */
export function bootPlan(configs: readonly VmConfig[], node: string): number[] {
  return configs
    .filter((c) => c.onboot && c.node === node)
    .map((c) => c.vmid)
    .sort((a, b) => a - b);
}

/** Start the onboot guests; one line per guest to `out`; false when any failed. */
export async function bootGuests(out: (line: string) => void): Promise<boolean> {
  let ok = true;
  const configs = listVmConfigs();
  for (const vmid of bootPlan(configs, nodeName())) {
    const g = guestOf(configs.find((c) => c.vmid === vmid)!);
    if (g.pid !== null) {
      out(`guest ${vmid}: already running`);
      continue;
    }
    try {
      const s = await startVm(g);
      out(`guest ${vmid}: started (${s.status})`);
    } catch (e) {
      ok = false;
      out(`guest ${vmid}: failed to start: ${(e as Error).message}`);
    }
  }
  return ok;
}
