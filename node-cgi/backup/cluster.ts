/**
 * The cluster backup mode, both ends (cluster-plan.ts says what, as data):
 *
 *   the guest's node (clusterBackupGuest, in a "backup" task):
 *     facts (its resource files, /proc/drbd, /sys/block/drbdN/size, QMP status)
 *     → arm: the root helper started and checked, waiting (drbd/armed.ts)
 *     → hold (QMP stop, or the guest agent's guest-fsfreeze-freeze when it answers)
 *       → go: the armed helper's drbdsetup-84 disconnects → release (QMP cont, or guest-fsfreeze-thaw):
 *       the hold is logged in ms, and it holds the disconnects only, not the helper's start
 *     → POST /api/backup/replica on the peer (signed by this node) → its task "backup-replica",
 *       followed to its end with GET /api/backup/replica/<task> (signed too)
 *     → drbdadm connect: DRBD resyncs only what the guest wrote meanwhile
 *   the peer (replica route and task "backup-replica"):
 *     its own resource file and /proc/drbd checked (Secondary, disconnected, UpToDate)
 *     → the first <device bytes> of each backing file copied to the storage, verified (run.ts)
 *
 * Any failure: the guest released, every resource connected again, the
 * backup not kept (run.ts removes a partial one), the reason in the task's
 * log and so in the job's mail. DRBD commands go through replicaStep
 * (drbd/local.ts) or the armed helper (drbd/armed.ts), the places where
 * the node's root helper takes over.
 */
import { conflict, explain, HttpError, internal, invalid, notFound } from '../lib/errors';
import { drbdBackingFile, nodeName } from '../lib/paths';
import { checkedName, checkedVmid, only } from '../lib/validate';
import { Qmp } from '../qemu/qmp';
import { freezeFilesystems, thawFilesystems, type Qga } from '../qemu/qga';
import { agentForBackup } from './agent';
import { readTask, readTaskLog, startTask, type TaskRun } from '../tasks/task';
import { nodeJson, STATUS_TIMEOUT_MS } from '../cluster/members';
import { PeerError } from '../cluster/peer';
import { deviceOf, type DrbdDeviceState } from '../drbd/proc';
import { peerOf } from '../drbd/replica';
import { deviceBytes, diskIndex, procHere, guestReplicas, replicaHere, replicaStep } from '../drbd/local';
import { drbdResourceName, parseResourceName } from '../drbd/resource';
import { armDisconnect, type ArmedDisconnect, type GoDone } from '../drbd/armed';
import { refuseIfMigrating } from '../vm';
import { clusterBackupPlan, clusterRecovery, type ClusterBackupFacts, type ClusterStep, type PeerDisk } from './cluster-plan';
import { getStorage } from './config';
import { guestStatus, lifecycle, readGuest } from './guest';
import { closeStorage } from './list';
import { takeLongLock } from './lock';
import { backupDiskName } from './manifest';
import { backupGuest, type GuestBackupResult } from './run';
import { openStorage } from './target';
import { checkedCompress, checkedStorageName } from './validate';
import type { Compression } from './types';

/** How often the guest's node looks at the peer's task, ms. */
const PEER_POLL_MS = 1000;
/** How long the peer's backup may take, ms. */
const PEER_BACKUP_TIMEOUT_MS = 12 * 60 * 60_000; // 12 h
/** How long the peer may leave the looks at its task unanswered before the backup counts as failed, ms. */
export const PEER_SILENT_MS = 60_000;
/** How long the peer may take to accept the request, ms. */
const PEER_START_TIMEOUT_MS = 30_000;
/** Longest config a replica request carries, characters. */
const CONFIG_MAX_CHARS = 256 * 1024;

export interface ClusterBackupInput {
  vmid: number;
  storage: string;
  compress: Compression;
  job: string | null;
  task: string;
  user: string;
  log(line: string): void;
  progress(pct: number, message: string): void;
}

export interface ClusterBackupResult {
  /** The verified backup on the peer's storage: "<storage>:<vmid>:<stamp>". */
  id: string;
  /** How long the guest was held (null: it was not running). */
  holdMs: number | null;
  peer: string;
}

/**
 * The facts of the plan, read on the guest's node (/proc/drbd only when a
 * disk is replicated: a node without DRBD has none). The agent is pinged
 * only when `log` is given (the backup itself; the check before it refuses
 * the same either way), and what it said goes there.
 */
async function clusterFacts(vmid: number, log?: (l: string) => void): Promise<ClusterBackupFacts> {
  const g = readGuest(vmid);
  const replicas = guestReplicas(vmid, g.handle.config.disks);
  const proc = replicas.some((d) => d.replica) ? await procHere(nodeName()) : null;
  const status = await guestStatus(g.handle);
  const agent = log ? await agentForBackup(g.handle, status) : { freeze: false, line: null };
  if (agent.line) log?.(agent.line);
  return {
    vmid,
    node: nodeName(),
    status,
    agent: agent.freeze,
    disks: replicas.map(({ id, replica }) => ({
      id, replica, dev: replica && proc ? deviceOf(proc, replica.minor) : undefined, bytes: replica ? deviceBytes(replica.minor) : 0,
    })),
  };
}

/** 409 naming why guest `vmid` cannot be backed up in cluster mode now (POST /api/backup/run checks before its task). */
export async function checkClusterBackup(vmid: number): Promise<void> {
  clusterBackupPlan(await clusterFacts(vmid));
}

/**
 * Whether a look at the peer's task that got no answer (`e`) ends the wait:
 * an answer that is an error does at once (the task is unknown there, say),
 * and so does a peer that is not who it should be;
 * no answer only once the peer has been silent for PEER_SILENT_MS since its
 * last answer. A peer busy with the backup itself may miss a 4 s look or two.
 */
export function peerSilenceEnds(e: unknown, lastAnswerAt: number, now: number): boolean {
  const silent = e instanceof PeerError && (e.failure === 'timeout' || e.failure === 'unreachable');
  return !silent || now - lastAnswerAt > PEER_SILENT_MS;
}

/** The peer's task of a replica backup, followed until it ends (GET /api/backup/replica/<task> there); its log lines are copied into ours. */
async function followPeerTask(peer: string, task: string, log: (l: string) => void): Promise<string> {
  const deadline = Date.now() + PEER_BACKUP_TIMEOUT_MS;
  const path = `/api/backup/replica/${encodeURIComponent(task)}`;
  let lastAnswerAt = Date.now();
  for (;;) {
    let t: ReplicaTaskView;
    try {
      t = await nodeJson<ReplicaTaskView>(peer, 'GET', path, undefined, { timeoutMs: STATUS_TIMEOUT_MS });
      lastAnswerAt = Date.now();
    } catch (e) {
      if (peerSilenceEnds(e, lastAnswerAt, Date.now())) throw e;
      await new Promise((r) => setTimeout(r, PEER_POLL_MS));
      continue;
    }
    if (t.status !== 'running') {
      for (const l of t.lines) log(`${peer}: ${l}`);
      if (t.status !== 'ok') throw new HttpError('internal', `the backup on node ${peer} failed: ${t.message}`);
      return t.message;
    }
    if (Date.now() > deadline) throw new HttpError('timeout', `the backup on node ${peer} did not end within ${PEER_BACKUP_TIMEOUT_MS / 3_600_000} h`);
    await new Promise((r) => setTimeout(r, PEER_POLL_MS));
  }
}

export interface ReplicaTaskView {
  status: 'running' | 'ok' | 'failed';
  progress: number;
  message: string;
  /** The log, once the task ended. */
  lines: string[];
}

/** GET /api/backup/replica/<task> from the guest's node: a "backup-replica" task of this node, its log once it ended; 404 for any other task. */
export function replicaTaskView(id: string): ReplicaTaskView {
  const t = readTask(id);
  if (t.kind !== 'backup-replica') throw notFound(`no such task: ${id.slice(0, 100)}`);
  return { status: t.status, progress: t.progress, message: t.message, lines: t.status === 'running' ? [] : readTaskLog(id) };
}

/** The id of the verified backup the peer's task reports ("… verified local:101:2026…"). */
export function verifiedIdOf(message: string): string {
  const m = /verified ([A-Za-z0-9_-]+:[0-9]+:[0-9TZ]+)/.exec(message);
  if (!m) throw internal(`the peer's task did not name a verified backup: ${message.slice(0, 200)}`);
  return m[1]!;
}

/** A step as the task's log names it: "disconnect vm-101-disk-0", "go vm-101-disk-0 vm-101-disk-1". */
const shownStep = (s: ClusterStep) => [s.step, ...('resource' in s ? [s.resource] : 'resources' in s ? s.resources : [])].join(' ');

/**
 * The parts of a hold for its log line, from the times (ms, performance.now())
 * of the stop sent, its answer, the go's answer and the cont's answer, and the
 * go's own parts (armed.ts goParts):
 *
 *   holdPartsText(0, 20.5, 71, 90, { toHelperMs: 4, helperMs: 35.25, backMs: 11.25 })
 *   → "stop 20.5 ms, go → answer 50.5 ms (to the helper 4.0 ms, its disconnect 35.3 ms, back 11.3 ms), cont 19.0 ms"
 */
export function holdPartsText(heldAt: number, stoppedAt: number, goneAt: number, releasedAt: number, go: Omit<GoDone, 'resources'>, hold = 'stop', release = 'cont'): string {
  const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : 'not told');
  return `${hold} ${ms(stoppedAt - heldAt)}, go → answer ${ms(goneAt - stoppedAt)} (to the helper ${ms(go.toHelperMs)}, its disconnect ${ms(go.helperMs)}, back ${ms(go.backMs)}), ${release} ${ms(releasedAt - goneAt)}`;
}

/**
 * Carry out `steps` in order with `doStep`; when one fails, the steps of
 * its recovery (clusterRecovery: the guest released, the helper dismissed,
 * the resources connected), each tried and logged, then the failure thrown.
 */
export async function runClusterSteps(steps: readonly ClusterStep[], doStep: (s: ClusterStep) => Promise<void>, log: (l: string) => void): Promise<void> {
  for (const [n, s] of steps.entries()) {
    try {
      await doStep(s);
    } catch (e) {
      log(`cluster mode: ${shownStep(s)} failed: ${explain(e)}`);
      for (const r of clusterRecovery(steps, n)) {
        try {
          await doStep(r);
          log(`cluster mode: ${shownStep(r)} done after the failure`);
        } catch (e2) {
          log(`CLUSTER MODE: ${shownStep(r)} FAILED TOO: ${explain(e2)}`);
        }
      }
      throw e;
    }
  }
}

/**
 * A cluster-mode backup of one guest of this node: the plan's steps, and
 * its recovery when one fails. Returns the peer's verified backup and how
 * long the guest was held.
 */
export async function clusterBackupGuest(i: ClusterBackupInput): Promise<ClusterBackupResult> {
  const release = await takeLongLock(`backup-vm-${i.vmid}`, i.task, 0);
  let qmp: Qmp | null = null;
  let armed: ArmedDisconnect | null = null;
  // The freeze's connection, kept open to thaw through.
  let frozen: { qga: Qga; count: number } | null = null;
  try {
    refuseIfMigrating(i.vmid, 'back it up');
    const plan = clusterBackupPlan(await clusterFacts(i.vmid, i.log));
    i.log(`cluster mode: guest ${i.vmid} ${plan.hold ? `held by ${plan.hold}` : 'not running, not held'}, its replicas backed up on node ${plan.peer}`);
    if (plan.hold === 'pause') qmp = await Qmp.connect(readGuest(i.vmid).handle.files.qmp);
    const agentPath = readGuest(i.vmid).handle.files.agent;
    let heldAt = 0;
    let holdMs: number | null = null;
    // The hold's parts, ms: stop answered, go answered (the helper's own disconnect time in it).
    let stoppedAt = 0;
    let goneAt = 0;
    let go: GoDone = { resources: [], toHelperMs: NaN, helperMs: NaN, backMs: NaN };
    let message = '';
    const doStep = async (s: ClusterStep) => {
      switch (s.step) {
        case 'arm':
          armed = await armDisconnect(i.vmid, s.resources.map((r) => parseResourceName(r)!.disk));
          return;
        case 'go':
          if (!armed) throw internal(`guest ${i.vmid}: the disconnect was not armed`);
          go = await armed.go();
          goneAt = performance.now();
          return;
        case 'disarm':
          armed?.dismiss();
          return;
        case 'hold':
          if (s.how === 'freeze') {
            // The agent's freeze syncs every filesystem, and the sync ends in
            // a flush of the disk: through virtio-blk to the DRBD device,
            // which (protocol C) completes a write and a flush only once the
            // peer has it too. So once the freeze answers, every write the
            // guest's filesystems made is on the peer, and none comes until
            // the thaw: the go's disconnect cuts a clean copy there. The same
            // functions as a snapshot backup's freeze (qemu/qga.ts).
            heldAt = performance.now();
            frozen = await freezeFilesystems(agentPath);
            stoppedAt = performance.now();
            i.log(`filesystems frozen (${frozen.count}) by the guest agent in ${(stoppedAt - heldAt).toFixed(1)} ms`);
            return;
          }
          heldAt = performance.now();
          await qmp!.execute('stop');
          stoppedAt = performance.now();
          return;
        case 'release':
          if (s.how === 'thaw') {
            const n = await thawFilesystems(agentPath, frozen?.qga);
            frozen = null;
            holdMs = performance.now() - heldAt;
            i.log(`filesystems thawed (${n}): guest ${i.vmid} held for ${holdMs.toFixed(1)} ms (frozen while its replicas were disconnected): ${holdPartsText(heldAt, stoppedAt, goneAt, heldAt + holdMs, go, 'freeze', 'thaw')}`);
            return;
          }
          await qmp!.execute('cont');
          holdMs = performance.now() - heldAt;
          i.log(`guest ${i.vmid} held for ${holdMs.toFixed(1)} ms (${s.how === 'resume' ? 'paused' : 'frozen'} while its replicas were disconnected): ${holdPartsText(heldAt, stoppedAt, goneAt, heldAt + holdMs, go)}`);
          return;
        case 'disconnect':
        case 'connect':
          await replicaStep(s.step, s.resource);
          return;
        case 'backup-on-peer':
          i.progress(5, `backing up the replicas of guest ${i.vmid} on node ${s.peer}`);
          message = await backupOnPeer(s.peer, s.disks, i);
          return;
      }
    };
    await runClusterSteps(plan.steps, doStep, i.log);
    const proc = await procHere(nodeName()).catch(() => null);
    for (const d of plan.steps.filter((s) => s.step === 'connect')) {
      const minor = plan.steps.flatMap((x) => (x.step === 'backup-on-peer' ? x.disks : [])).find((x) => x.resource === d.resource)?.minor ?? -1;
      const dev: DrbdDeviceState | undefined = proc ? deviceOf(proc, minor) : undefined;
      i.log(`${d.resource} connected again${dev ? `: ${dev.connection}, ${dev.outOfSyncKiB ?? 0} KiB to resync` : ''}`);
    }
    return { id: verifiedIdOf(message), holdMs, peer: plan.peer };
  } finally {
    (armed as ArmedDisconnect | null)?.dismiss();
    (frozen as { qga: Qga; count: number } | null)?.qga.close();
    qmp?.close();
    release();
  }
}

/** The request to the peer, and its task followed to the end; the task's closing message. */
async function backupOnPeer(peer: string, disks: PeerDisk[], i: ClusterBackupInput): Promise<string> {
  const g = readGuest(i.vmid);
  const body = {
    vmid: i.vmid, storage: i.storage, compress: i.compress, job: i.job, user: i.user, source: i.task,
    config: g.configText, disks: disks.map((d) => ({ id: d.id, resource: d.resource, minor: d.minor })),
  };
  const { task } = await nodeJson<{ task: string }>(peer, 'POST', '/api/backup/replica', body, { timeoutMs: PEER_START_TIMEOUT_MS });
  i.log(`node ${peer} backs the replicas up in its task ${task}`);
  return followPeerTask(peer, task, i.log);
}

export interface ReplicaRequest {
  vmid: number;
  storage: string;
  compress: Compression;
  job: string | null;
  user: string;
  source: string;
  configText: string;
  disks: { id: string; file: string; resource: string; minor: number }[];
}

/** The body of POST /api/backup/replica, checked: disks named as the config names them, resources as ramvm names them. */
export function parseReplicaRequest(body: Record<string, unknown>): ReplicaRequest {
  only(body, ['vmid', 'storage', 'compress', 'job', 'user', 'source', 'config', 'disks']);
  const vmid = checkedVmid(body.vmid);
  if (typeof body.config !== 'string' || body.config.length > CONFIG_MAX_CHARS) throw invalid('config', `must be the guest's config file, at most ${CONFIG_MAX_CHARS} characters`);
  let config: { vmid?: unknown; disks?: { id?: unknown; file?: unknown }[] };
  try {
    config = JSON.parse(body.config);
  } catch {
    throw invalid('config', 'is not JSON');
  }
  if (config?.vmid !== vmid || !Array.isArray(config.disks)) throw invalid('config', `is not the config of guest ${vmid}`);
  if (!Array.isArray(body.disks) || body.disks.length === 0 || body.disks.length !== config.disks.length) throw invalid('disks', 'one entry per disk of the config');
  const disks = (body.disks as Record<string, unknown>[]).map((d, k) => {
    const c = config.disks![k]!;
    if (typeof d !== 'object' || d === null || d.id !== c.id || typeof d.id !== 'string') throw invalid('disks', `entry ${k} is not disk ${String(c?.id)} of the config`);
    const resource = drbdResourceName(vmid, diskIndex(d.id));
    if (d.resource !== resource) throw invalid('disks', `${d.id} of guest ${vmid} is resource ${resource}`);
    if (typeof d.minor !== 'number' || !Number.isInteger(d.minor) || d.minor < 0 || d.minor > 255) throw invalid('disks', `minor of ${d.id} must be 0–255`);
    if (typeof c.file !== 'string' || !/^vm-[0-9]+-disk-[0-9]+\.(raw|qcow2|drbd)$/.test(c.file)) throw invalid('config', `${d.id} has no disk file name`);
    return { id: d.id, file: backupDiskName(c.file.replace(/\.drbd$/, '.raw')), resource, minor: d.minor };
  });
  const job = body.job === null || body.job === undefined ? null : checkedName(body.job, 'job', 64);
  const user = typeof body.user === 'string' && /^[A-Za-z0-9._@-]{1,64}$/.test(body.user) ? body.user : null;
  if (!user) throw invalid('user', 'must name the user the backup runs for');
  const source = typeof body.source === 'string' && /^[A-Za-z0-9.:_-]{1,160}$/.test(body.source) ? body.source : '';
  return { vmid, storage: checkedStorageName(body.storage), compress: checkedCompress(body.compress), job, user, source, configText: body.config, disks };
}

/**
 * Why this node cannot back up its replica of `resource` now (null: it
 * can): it must be Secondary, disconnected from the guest's node (so
 * nothing changes it), and UpToDate (its data is the last the guest wrote
 * before the disconnect).
 */
export function replicaBackupProblem(dev: DrbdDeviceState | undefined, resource: string, node: string): string | null {
  if (!dev || dev.connection === 'Unconfigured') return `${resource} is not up on node ${node}`;
  if (dev.role !== 'Secondary') return `${resource} is ${dev.role ?? 'unknown'} on node ${node}, not Secondary`;
  if (!['StandAlone', 'WFConnection'].includes(dev.connection)) return `${resource} is ${dev.connection} on node ${node}: the guest's node disconnects it before the backup`;
  if (dev.disk !== 'UpToDate') return `${resource} is ${dev.disk ?? 'unknown'} on node ${node}, not UpToDate`;
  return null;
}

/** Checks on this node (the peer) that hold before the task starts and again when it runs; the replicas' paths and sizes. */
async function replicaSources(r: ReplicaRequest, from: string): Promise<{ file: string; path: string; bytes: number }[]> {
  const proc = await procHere(nodeName());
  const problems: string[] = [];
  const out = [];
  for (const d of r.disks) {
    const here = replicaHere(r.vmid, diskIndex(d.id));
    if (!here) {
      problems.push(`${d.resource} is not up on node ${nodeName()}`);
      continue;
    }
    if (here.minor !== d.minor) problems.push(`${d.resource} is minor ${here.minor} on node ${nodeName()}, not ${d.minor}`);
    if (peerOf(here, nodeName()) !== from) problems.push(`${d.resource} is replicated with ${peerOf(here, nodeName())}, not with node ${from}`);
    const p = replicaBackupProblem(deviceOf(proc, here.minor), d.resource, nodeName());
    if (p) problems.push(p);
    out.push({ file: d.file, path: drbdBackingFile(r.vmid, d.resource), bytes: p ? 0 : deviceBytes(here.minor) });
  }
  if (problems.length) throw conflict(`the replicas of guest ${r.vmid} cannot be backed up here: ${problems.join('; ')}`);
  return out;
}

/** POST /api/backup/replica from the guest's node `from`: checked, then task "backup-replica" → its id. */
export async function startReplicaBackup(body: Record<string, unknown>, from: string): Promise<{ task: string }> {
  const r = parseReplicaRequest(body);
  getStorage(r.storage);
  await replicaSources(r, from);
  const task = startTask({
    kind: 'backup-replica', object: `/vms/${r.vmid}`, user: r.user, params: { request: body, from },
    message: `backup of the replicas of guest ${r.vmid} for node ${from}`,
  });
  return { task };
}

/** What a job does after each verified backup (retention), given by job.ts. */
export type AfterReplicaBackup = (dir: string, storage: string, vmid: number, job: string, log: (l: string) => void) => void;

/** Task "backup-replica" on the peer, params { request, from }: the replicas copied to the storage and verified; "… verified <id>". */
export async function replicaBackupTask(t: TaskRun, after: AfterReplicaBackup): Promise<string> {
  const from = checkedName(t.params.from, 'from', 63);
  const r = parseReplicaRequest(t.params.request as Record<string, unknown>);
  const disks = await replicaSources(r, from);
  const storage = getStorage(r.storage);
  const open = await openStorage(storage, t.id, t.log);
  let result: GuestBackupResult;
  try {
    t.log(`backing up the replicas of guest ${r.vmid} (task ${r.source} on node ${from})`);
    result = await backupGuest({
      vmid: r.vmid, storage: open, mode: 'cluster', compress: r.compress, job: r.job, task: t.id, node: nodeName(),
      speed: 0, copyRange: false, shutdownTimeoutMs: 0, lifecycle,
      replica: { name: (JSON.parse(r.configText) as { name?: string }).name ?? null, configText: r.configText, disks },
      // Still disconnected: no resync wrote into a replica while it was read.
      afterCopy: async () => {
        await replicaSources(r, from);
      },
      log: t.log, progress: (pct, msg) => t.progress(pct, msg),
    });
    if (r.job) {
      try {
        after(open.dir, open.name, r.vmid, r.job, t.log);
      } catch (e) {
        t.log(`retention for guest ${r.vmid} failed: ${explain(e)}`);
      }
    }
  } finally {
    await closeStorage(storage, open, t.log);
  }
  return `replicas of guest ${r.vmid} backed up and verified ${result.entry.id}`;
}

