/**
 * Stop mode's shutdown and start of a guest. Shutdown: ACPI power button
 * (`system_powerdown`), wait for QEMU to exit, then `quit` (a hard stop)
 * after the timeout.
 */
import { HttpError } from '../lib/errors';
import { withQmp } from '../qemu/qmp';
import { guestPid, qmpSocket } from './guest';
import type { GuestLifecycle } from './run';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(vmid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (guestPid(vmid) === null) return true;
    await sleep(200);
  }
  return guestPid(vmid) === null;
}

export const lifecycle: GuestLifecycle = {
  async shutdown(vmid, timeoutMs, log) {
    if (guestPid(vmid) === null) return;
    await withQmp(qmpSocket(vmid), (q) => q.execute('system_powerdown')).catch(() => undefined);
    if (await waitGone(vmid, timeoutMs)) return;
    log(`guest ${vmid} did not shut down within ${Math.round(timeoutMs / 1000)} s: stopping it`);
    await withQmp(qmpSocket(vmid), (q) => q.execute('quit')).catch(() => undefined);
    if (!(await waitGone(vmid, 10_000))) throw new HttpError(500, 'internal', `guest ${vmid} does not stop`);
  },
  async start(vmid) {
    throw new HttpError(500, 'internal', `starting guest ${vmid} needs the guests module`);
  },
};
