/**
 * Failover of a guest with replicated disks: its node is down (powered
 * off, dead), and the cluster's other node, which holds a replica of every
 * disk and the config the guest's node shared last (drbd/guest.ts
 * shareGuestConfig), starts it from its replicas. Never automatic: two
 * nodes have no quorum, so an admin asks for it.
 *
 *   POST /api/vm/<vmid>/failover   on the surviving node → 202 task "vm-failover"
 *
 * The request is refused (409, every reason named) unless the guest's node
 * does not answer, every disk is replicated here, UpToDate on this node
 * (a replica that is Outdated or Inconsistent may lack writes the guest
 * made) and not Primary on the other side, and a copy of the config is
 * here. The task: this node becomes master when the master was the dead
 * node (epoch + 1, as POST /api/cluster/promote), writes the config as its
 * own guest's, moves the guest in the placement index, makes its replicas
 * Primary and starts the guest.
 *
 *   failoverRefusal({ vmid: 101, self: "n2", home: "n1", peerAnswers: true, … })
 *   → "failover of guest 101 to n2 refused: node n1 still answers: …"
 *
 * When the old node is back, `ramvm cluster tick` (replicaTick) finds its
 * guest placed elsewhere: its config there becomes the replica's copy,
 * and its replicas come up Secondary and resync from the new primary.
 */
import { rmSync } from 'node:fs';
import { conflict, forbidden } from '../lib/errors';
import { guestConfigFile, nodeName, replicaConfigFile } from '../lib/paths';
import { writeJsonAtomic } from '../lib/store';
import { checkedVmid } from '../lib/validate';
import { checkedNodeName } from '../cluster/model';
import { nodeJson, STATUS_TIMEOUT_MS } from '../cluster/members';
import { promote } from '../cluster/membership';
import { PeerError } from '../cluster/peer';
import { moveOnMaster } from '../cluster/placement';
import { commitChanges } from '../cluster/replicate';
import { readCluster, readPlacement } from '../cluster/state';
import { startTask, type TaskRun } from '../tasks/task';
import { drbdNodeStep } from '../drbd/edge';
import { nodeReplicas, replicaConfigCopy, replicaPeer } from '../drbd/guest';
import { guestReplicas, procHere, type LocalReplica } from '../drbd/local';
import { deviceOf, type DrbdDeviceState, type ProcDrbd } from '../drbd/proc';
import { findGuest, guestOf, listVmConfigs, openGuest, pidNow, startVm, writeVmConfig, type VmConfig } from '../vm';

export interface FailoverFacts {
  vmid: number;
  self: string;
  /** The node the guest lives on (placement index, else the config copy); null when none is known. */
  home: string | null;
  /** The guest's config is this node's own already. */
  livesHere: boolean;
  /** A copy of the guest's config is here. */
  hasConfig: boolean;
  /** The guest's node answered a status request (any answer, even an error). */
  peerAnswers: boolean;
  disks: readonly { id: string; replica: Pick<LocalReplica, 'name' | 'hosts'> | null; dev: DrbdDeviceState | undefined }[];
}

/** Why guest `vmid` cannot fail over to this node now; null when it can. */
export function failoverRefusal(f: FailoverFacts): string | null {
  const problems: string[] = [];
  if (f.livesHere) problems.push(`guest ${f.vmid} lives on node ${f.self} already: start it`);
  else if (!f.home) problems.push(`no node is known for guest ${f.vmid}`);
  else if (f.home === f.self) problems.push(`the placement index puts guest ${f.vmid} on this node, which has no config of it`);
  if (!f.livesHere && !f.hasConfig) problems.push(`node ${f.self} holds no copy of the config of guest ${f.vmid} (its node shares it at the create, each start and each change)`);
  if (f.peerAnswers) problems.push(`node ${f.home} still answers: a failover is for a node that is down (stop the guest there and migrate it, or power that node off)`);
  if (!f.disks.length && !f.livesHere) problems.push(`guest ${f.vmid} has no disk replicated on node ${f.self}`);
  for (const d of f.disks) {
    if (!d.replica) {
      problems.push(`${d.id} is not replicated: its data is on node ${f.home ?? 'unknown'} only`);
      continue;
    }
    const name = d.replica.name;
    if (f.home && !d.replica.hosts.some((h) => h.name === f.home)) problems.push(`${name} is replicated between ${d.replica.hosts.map((h) => h.name).join(' and ')}, not with node ${f.home}`);
    const dev = d.dev;
    if (!dev || dev.connection === 'Unconfigured') problems.push(`${name} is not up on node ${f.self}`);
    else if (dev.disk !== 'UpToDate') problems.push(`${name} is ${dev.disk ?? 'unknown'} on node ${f.self}, not UpToDate: it may lack writes the guest made`);
    else if (dev.peerRole === 'Primary') problems.push(`${name} is Primary on the other node: the guest still runs there`);
  }
  return problems.length ? `failover of guest ${f.vmid} to node ${f.self} refused: ${problems.join('; ')}` : null;
}

/** Whether node `name` answers (any answer counts: only no answer at all means it is down). */
async function answers(name: string): Promise<boolean> {
  return nodeJson(name, 'GET', '/api/cluster/status', undefined, { timeoutMs: STATUS_TIMEOUT_MS }).then(
    () => true,
    (e) => !(e instanceof PeerError),
  );
}

/** The facts of a failover of guest `vmid` to this node, read now; replicas not up (after a boot) are brought up first. */
async function failoverFacts(vmid: number): Promise<FailoverFacts & { config: VmConfig | null }> {
  const self = nodeName();
  const own = findGuest(vmid);
  const copy = own ? null : (replicaConfigCopy(vmid) as VmConfig | null);
  const config = own?.config ?? copy;
  const home = readPlacement()[String(vmid)]?.node ?? copy?.node ?? replicaPeer(vmid);
  const list = guestReplicas(vmid, config?.disks ?? []);
  // /proc/drbd only when there is a replica to judge (a node without DRBD refuses for what it lacks).
  const none: ProcDrbd = { version: '', devices: [] };
  let proc = list.some((d) => d.replica) ? await procHere(self) : none;
  for (const d of list) {
    const dev = d.replica ? deviceOf(proc, d.replica.minor) : undefined;
    if (d.replica && (!dev || dev.connection === 'Unconfigured')) await drbdNodeStep('up', vmid, Number(d.id.slice(4))).catch(() => undefined);
  }
  if (proc !== none) proc = await procHere(self);
  return {
    vmid, self, home, config,
    livesHere: !!own?.here,
    hasConfig: !!copy,
    peerAnswers: !!home && home !== self && (await answers(home)),
    disks: list.map((d) => ({ ...d, dev: d.replica ? deviceOf(proc, d.replica.minor) : undefined })),
  };
}

/**
 * POST /api/vm/<vmid>/failover on the surviving node: every refusal now,
 * then the task. Making this node master (the master was the dead node)
 * needs what a promotion needs, Sys.Modify on /.
 */
export async function startFailover(vmid: number, user: string, canPromote: boolean): Promise<string> {
  const c = readCluster();
  if (!c) throw conflict(`node ${nodeName()} is in no cluster: a failover moves a guest between the two nodes of one`);
  const f = await failoverFacts(vmid);
  const why = failoverRefusal(f);
  if (why) throw conflict(why);
  if (c.master !== f.self && !canPromote) {
    throw forbidden(`the master ${c.master} is down: a failover makes node ${f.self} master, which needs Sys.Modify on /; promote it first (POST /api/cluster/promote)`);
  }
  return startTask({ kind: 'vm-failover', object: `/vms/${vmid}`, user, params: { vmid, from: f.home }, message: `failover of guest ${vmid} from ${f.home} to ${f.self}` });
}

/** Task "vm-failover" params { vmid, from }. */
export async function failoverTask(t: TaskRun): Promise<string> {
  const began = Date.now();
  const vmid = checkedVmid(t.params.vmid);
  const from = checkedNodeName(t.params.from, 'from');
  const self = nodeName();
  const f = await failoverFacts(vmid);
  const why = failoverRefusal(f);
  if (why) throw conflict(why);
  t.log(`guest ${vmid}: node ${from} does not answer; its replicas here: ${f.disks.map((d) => `${d.replica!.name} ${d.dev!.connection} ${d.dev!.disk}`).join(', ')}`);
  if (readCluster()?.master !== self) {
    t.progress(10, `making node ${self} master`);
    const p = await promote();
    t.log(`node ${self} is the master of cluster ${p.cluster.name} now (epoch ${p.cluster.epoch}); not told: ${p.unreachable.join(', ') || 'none'}`);
  }
  t.progress(30, 'taking over the config');
  writeVmConfig({ ...f.config!, node: self });
  rmSync(replicaConfigFile(vmid), { force: true });
  moveOnMaster(from, vmid, self);
  const commit = await commitChanges();
  t.log(`guest ${vmid} lives on node ${self} now (placement index${commit ? `, generation ${commit.generation}` : ''})`);
  t.progress(50, `starting guest ${vmid} from its replicas`);
  const st = await startVm(openGuest(vmid));
  const ms = Date.now() - began;
  t.closing(`failed over in ${ms} ms`);
  return `guest ${vmid} runs on node ${self} from its replicas (${st.status}), ${ms} ms after the task began`;
}

export const FAILOVER_TASK_KINDS = { 'vm-failover': failoverTask };

/**
 * `ramvm cluster tick`'s part for replicated disks, after the cluster
 * state is caught up: a guest of this node that the placement index puts
 * on its replica's other node (failed over while this node was away)
 * leaves this node's configs, kept as the replica's copy; every replica of
 * a guest the index knows is brought up when it is not (after a boot), and
 * one whose guest does not run here is made Secondary, so it resyncs from
 * the primary. Returns what it did.
 */
export async function replicaTick(): Promise<string[]> {
  const c = readCluster();
  if (!c) return [];
  const self = nodeName();
  const placement = readPlacement();
  const out: string[] = [];
  for (const cfg of listVmConfigs()) {
    const e = placement[String(cfg.vmid)];
    if (!cfg.disks.some((d) => d.replicated) || !e || e.node === self || e.node !== replicaPeer(cfg.vmid)) continue;
    if (pidNow(guestOf(cfg)) !== null) {
      out.push(`guest ${cfg.vmid} runs here, but the placement index puts it on node ${e.node}: left as it is (stop it here)`);
      continue;
    }
    writeJsonAtomic(replicaConfigFile(cfg.vmid), cfg, 0o640);
    rmSync(guestConfigFile(cfg.vmid), { force: true });
    out.push(`guest ${cfg.vmid} lives on node ${e.node} now (failed over while this node was away): its config here is kept as its replica's copy`);
  }
  for (const r of await nodeReplicas()) {
    const e = placement[String(r.vmid)];
    if (!e) continue;
    const runsHere = e.node === self && pidNow(guestOf(findGuest(r.vmid)?.config ?? ({ vmid: r.vmid } as VmConfig))) !== null;
    try {
      if (r.replication.connection === 'Unconfigured') {
        await drbdNodeStep('up', r.vmid, r.disk);
        out.push(`${r.resource}: up again`);
      }
      if (!runsHere && r.replication.role === 'Primary') {
        await drbdNodeStep('secondary', r.vmid, r.disk);
        out.push(`${r.resource}: Secondary (its guest does not run here)`);
      }
    } catch (err) {
      out.push(`${r.resource}: ${(err as Error).message}`);
    }
  }
  return out;
}
