/**
 * `npm run bench -- image-cluster`: a prepared pair (build/lab/cluster.ts)
 * from power-on to of use — both nodes list each other and a guest is
 * created on node2 through node1 — against this run's bare boot (the same
 * kernel and early initramfs to PID 1 and off, image.bench.ts). Goal ≤ 60 s
 * in the lab (the original: about a minute virtualised).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goal, type BenchResult } from '../../build/bench';
import { buildImage } from '../../build/image/image';
import { startHub } from '../../build/lab/hub';
import { acquireLabLock } from '../../build/lab/lock';
import { labAccel, type NodeVm } from '../../build/lab/node-vm';
import { bootPreparedPair } from '../helpers/prepared-cluster';
import { bareBoot } from './image.bench';

const PASSWORD = 'bench-pw';
/** Power-on to a formed pair with a guest on node2. */
const CLUSTER_GOAL_S = 60;

export async function bench(): Promise<BenchResult[]> {
  const lock = await acquireLabLock({ what: 'the cluster image benchmark', wait: true, onWait: (h) => process.stderr.write(`image-cluster bench: waiting for the lab lock (${h})\n`) });
  const image = await buildImage({ iso: false });
  const { accel } = await labAccel();
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-cluster-bench-'));
  const hub = await startHub();
  const vms: NodeVm[] = [];
  try {
    const bare = (await bareBoot(image.vmlinux, accel, dir)).ms;
    const pair = await bootPreparedPair({
      image, dir, hubPort: hub.port, accel, password: PASSWORD, memoryMiB: 2048, onStart: (vm) => vms.push(vm),
      serveTimeoutMs: 600_000, formTimeoutMs: 600_000,
    });
    const formed = (vm: NodeVm) => Number(/\[\s*([0-9.]+)\] 100% cluster lab: formed/.exec(vm.serialLog())?.[1] ?? NaN);
    return [
      { name: `bare boot (kernel to PID 1 and off, ${accel})`, value: bare / 1000, unit: 's' },
      {
        name: 'prepared pair: power-on to both listing each other and a guest created on node2 through node1', value: pair.readyMs / 1000, unit: 's',
        baseline: { name: 'bare boot', value: bare / 1000 }, ratio: pair.readyMs / bare,
        goal: goal(`≤ ${CLUSTER_GOAL_S} s in the lab (the original: ~60 s virtualised)`, pair.readyMs <= CLUSTER_GOAL_S * 1000),
        note: `100 % in /ram.log at ${pair.vms.map((v) => `${v.config.name} ${formed(v).toFixed(1)} s`).join(', ')} of uptime`,
      },
    ];
  } finally {
    await Promise.all(vms.map((v) => v.stop()));
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
    lock.release();
  }
}
