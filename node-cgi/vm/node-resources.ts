/**
 * The figures of this node: CPU, memory, free space where the disks live,
 * KVM (the device, this boot's probe, and what guests following the node's
 * setting run under), and the memory its running guests claim against the
 * overcommit limit.
 */
import { nodeName, paths } from '../lib/paths';
import { readFileSync } from 'node:fs';
import { listVmConfigs } from './config';
import { accelChoice, hostAccel, kvmDevice, kvmDeviceError } from './accel';
import { runningGuests } from './power';
import { diskSpace, nodeCpuAndMemory } from './resources';
import { readNodeSettings } from './settings';
import type { NodeResources } from './types';

const MIB = 1024 * 1024;

export async function nodeResources(now = Date.now()): Promise<NodeResources> {
  const { usage, count, memory } = nodeCpuAndMemory(now);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number) as [number, number, number];
  const running = runningGuests();
  const settings = readNodeSettings();
  const probe = await hostAccel();
  const deviceError = kvmDeviceError();
  const choice = accelChoice(undefined, settings.accel, { deviceError, device: kvmDevice(), probe });
  return {
    node: nodeName(),
    kvm: deviceError === null,
    accel: choice.accel,
    accelSetting: settings.accel,
    accelReason: choice.refusal ?? choice.reason,
    kvmProbe: probe,
    cpu: { count, usage, loadavg: load },
    memory: { total: memory.total, available: memory.available, used: memory.total - memory.available },
    disk: { path: paths().images, ...diskSpace(paths().images) },
    guests: {
      total: listVmConfigs().filter((c) => c.node === nodeName()).length,
      running: running.length,
      memoryClaimed: running.reduce((s, g) => s + g.memory, 0) * MIB,
      memoryOvercommit: settings.memoryOvercommit,
    },
  };
}
