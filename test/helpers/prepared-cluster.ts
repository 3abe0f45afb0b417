/**
 * A prepared pair in the lab, for the cluster image test and its benchmark:
 * two nodes booted from kernel + initrd ++ their prepared cpio
 * (build/lab/cluster.ts) on blank sparse disks, and the wait until the pair
 * is of use: both list each other, and a guest is created on node2 through
 * node1. Under TCG a member's call to a busy master can time out (503
 * "unavailable"); a client tries again, and so does this.
 */
import { join } from 'node:path';
import type { ImageBuild } from '../../build/image/image';
import { preparedLabInitrds } from '../../build/lab/cluster';
import { NodeVm, ensureSparseDisk, type Accel } from '../../build/lab/node-vm';
import { freePort, loginClient, type Client } from './node';

export interface PreparedPair {
  vms: [NodeVm, NodeVm];
  api1: Client;
  api2: Client;
  /** The cluster as node1 lists it once both are in. */
  cluster: { name: string; master: string; nodes: { name: string }[] };
  /** VMID of the guest created on node2 through node1. */
  vmid: number;
  /** Milliseconds from power-on of the first node to the guest's creation answered. */
  readyMs: number;
}

/** Tries `fn` each second until it returns something (an error marked `fatal` ends it at once); throws with the last error and the nodes' serial tails after `ms`. */
export async function until<X>(what: string, ms: number, fn: () => Promise<X | undefined>, vms: readonly NodeVm[] = []): Promise<X> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      if ((e as { fatal?: boolean }).fatal) throw e;
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const tails = vms.map((v) => `\n${v.config.name}: ${v.serialTail(12)}`).join('');
  throw new Error(`${what}: not after ${ms / 1000} s${last ? ` (${(last as Error).message})` : ''}${tails}`);
}

export async function bootPreparedPair(o: {
  image: ImageBuild; dir: string; hubPort: number; accel: Accel; password: string; memoryMiB: number; onStart?: (vm: NodeVm) => void;
  serveTimeoutMs: number; formTimeoutMs: number;
}): Promise<PreparedPair> {
  const initrds = preparedLabInitrds(o.image, o.dir, 2);
  const vms: NodeVm[] = [];
  for (const i of [1, 2]) {
    ensureSparseDisk(join(o.dir, `disk${i}.img`), 4);
    const vm = new NodeVm({
      name: `node${i}`, index: i, boot: { kernel: o.image.vmlinux, initrd: initrds[i - 1]! }, prepared: true, dataDisk: join(o.dir, `disk${i}.img`),
      memoryMiB: o.memoryMiB, cpus: 1, accel: o.accel, hubPort: o.hubPort, webPort: await freePort(), adminPassword: o.password, shell: true,
      runDir: join(o.dir, `node${i}`),
    });
    vms.push(vm);
    o.onStart?.(vm);
    vm.start();
  }
  const [n1, n2] = vms as [NodeVm, NodeVm];
  await Promise.all(vms.map((v) => v.waitServing(o.password, o.serveTimeoutMs)));
  const api1 = await loginClient(n1.url, 'admin', o.password);
  const cluster = await until('node1 lists node1 and node2', o.formTimeoutMs, async () => {
    const c = (await api1.get('/api/cluster')).json?.data;
    return c?.nodes?.length === 2 ? c : undefined;
  }, vms);
  // node2's users are the cluster's now: the same admin logs in there.
  const api2 = await until('login on node2', 60_000, () => loginClient(n2.url, 'admin', o.password), vms);
  const vmid = await until('a guest created on node2 through node1', 120_000, async () => {
    const r = await api1.post('/api/vm', { name: 'on-two', node: 'node2', memory: 32, nics: [], disks: [] });
    if (r.status === 503) throw new Error(r.text);
    if (r.status !== 201) throw Object.assign(new Error(`POST /api/vm: ${r.status} ${r.text}`), { fatal: true });
    return r.json.data.vmid as number;
  }, vms);
  return { vms: [n1, n2], api1, api2, cluster, vmid, readyMs: Date.now() - n1.startedAt };
}
