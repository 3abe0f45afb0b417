/**
 * Stop mode's shutdown and start of a guest, through the guests module:
 * the ACPI power button, a wait of up to the timeout, then a hard stop
 * (SIGTERM: QEMU flushes the disks); start as `POST /api/vm/<vmid>/start`.
 */
import { shutdownVm, startVm, stopVm, waitStopped } from '../vm/power';
import { guestPid } from './guest';
import type { GuestLifecycle } from './run';

export const lifecycle: GuestLifecycle = {
  async shutdown(vmid, timeoutMs, log) {
    if (guestPid(vmid) === null) return;
    await shutdownVm(vmid).catch((e) => log(`ACPI shutdown of guest ${vmid} refused: ${(e as Error).message}`));
    if (await waitStopped(vmid, timeoutMs)) return;
    log(`guest ${vmid} did not power off within ${Math.round(timeoutMs / 1000)} s: stopping it`);
    await stopVm(vmid);
  },
  async start(vmid) {
    await startVm(vmid);
  },
};
