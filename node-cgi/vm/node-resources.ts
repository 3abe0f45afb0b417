/**
 * The figures of this node: CPU, memory, free space where the disks live,
 * KVM, and the memory its running guests claim against the overcommit limit.
 */
import { nodeName, paths } from '../lib/paths';
import { readFileSync } from 'node:fs';
import { listVmConfigs } from './config';
import { accelerator, kvmUsable } from './host';
import { runningGuests } from './power';
import { diskSpace, nodeCpuAndMemory } from './resources';
import { readNodeSettings } from './settings';
import type { NodeResources } from './types';

const MIB = 1024 * 1024;

export function nodeResources(now = Date.now()): NodeResources {
  const { usage, count, memory } = nodeCpuAndMemory(now);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number) as [number, number, number];
  const running = runningGuests();
  return {
    node: nodeName(),
    kvm: kvmUsable(),
    accel: accelerator(),
    cpu: { count, usage, loadavg: load },
    memory: { total: memory.total, available: memory.available, used: memory.total - memory.available },
    disk: { path: paths().images, ...diskSpace(paths().images) },
    guests: {
      total: listVmConfigs().filter((c) => c.node === nodeName()).length,
      running: running.length,
      memoryClaimed: running.reduce((s, g) => s + g.memory, 0) * MIB,
      memoryOvercommit: readNodeSettings().memoryOvercommit,
    },
  };
}
