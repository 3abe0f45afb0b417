/**
 * The source's side of a migration: the request's checks (before the 202)
 * and the task "vm-migrate" that moves a stopped guest:
 *
 *   1. the target checks what it lacks and makes empty images, each served
 *      over NBD with TLS and this migration's key (incoming.ts);
 *   2. each disk is copied with `qemu-img convert -n --target-is-zero`:
 *      data only, so holes stay holes;
 *   3. both sides hash what the guest sees (SHA-256) and compare;
 *   4. the target writes the config, the master's placement index moves the
 *      guest, and only then are the source's disks and config removed.
 *
 * Any failure before step 4's placement move ends the target's part (its
 * servers, images, config) and leaves the source as it was. The lock of the
 * guest (vm/migration-lock.ts) keeps starts, deletes and backups out meanwhile.
 */
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { conflict, HttpError, invalid } from '../lib/errors';
import { run } from '../lib/exec';
import { processArgv } from '../lib/proc';
import { nodeName } from '../lib/paths';
import { checkedVmid } from '../lib/validate';
import { CONVERT_TIMEOUT_MS, parseConvertProgress, virtualSize } from '../tools/qemu-img';
import { checkedTaskId, publicTaskId, readTask, startTask, type TaskRun } from '../tasks/task';
import { nodeJson, requireCluster } from '../cluster/members';
import { checkedNodeName } from '../cluster/model';
import { movePlacement } from '../cluster/placement';
import type { ForwardedIdentity } from '../cluster/sign';
import {
  claimMigration, clearEnded, diskPath, dropGuestFiles, existingBridges, lockHolder, migrationHolder, mustLiveHere, openGuest, pidNow, refuseIfMigrating, releaseMigration,
  type Guest,
} from '../vm';
import { allocatedBytes, guestSha256 } from './disks';
import { arrivalTask, firstLine, MIGRATION_TLS_ID, outgoingPskDir, writePsk, type IncomingOffer } from './incoming';
import { Qmp } from '../qemu/qmp';
import { migratedLine, nbdCopyArgs, parseMapDataBytes, type MigrateRequest, type MovingDisk } from './plan';
import { eachReplica, keepConfigAsPeer, replicaFilesKept, replicatedMovePlan, undoReplicated, type ReplicatedMove } from './replicated';
import { deviceBytes, procHere, guestReplicas } from '../drbd/local';
import { deviceOf } from '../drbd/proc';

/** How long the target may take to hash its images (a verify), ms. */
const VERIFY_TIMEOUT_MS = 30 * 60_000;
/** How long the target may take to make its images and servers, ms. */
const PREPARE_TIMEOUT_MS = 60_000;
/** How long the task waits for the request that started it to write the lock, ms. */
const LOCK_WAIT_MS = 10_000;

const incoming = (vmid: number, what = '') => `/api/vm/${vmid}/migrate/incoming${what}`;

async function describeDisks(g: Guest, move: ReplicatedMove | null = null): Promise<MovingDisk[]> {
  const out: MovingDisk[] = [];
  for (const d of g.config.disks) {
    const r = move?.resources.find((x) => x.id === d.id);
    if (r) {
      // Nothing of it moves: the target opens its own replica.
      out.push({ id: d.id, file: d.file, format: d.format, virtualBytes: deviceBytes(r.minor), allocatedBytes: 0, replica: { resource: r.resource, minor: r.minor } });
      continue;
    }
    const file = diskPath(g.vmid, d);
    out.push({ id: d.id, file: d.file, format: d.format, virtualBytes: await virtualSize({ file, format: d.format }), allocatedBytes: allocatedBytes(file) });
  }
  return out;
}

function incomingBody(g: Guest, disks: MovingDisk[], online: boolean, task?: TaskRun) {
  return { config: g.config, disks, online, bridges: [...existingBridges(g.config.nics.map((n) => n.bridge))], ...(task ? { task: publicTaskId(task.id), user: task.user } : {}) };
}

/**
 * POST /api/vm/<vmid>/migrate on the guest's node: every refusal now (the
 * target's too), then the task, holding the guest's migration lock.
 */
export async function startMigration(vmid: number, r: MigrateRequest, user: string, identity: ForwardedIdentity): Promise<string> {
  const g = openGuest(vmid);
  mustLiveHere(g);
  const c = requireCluster();
  if (r.target === nodeName()) throw invalid('target', `guest ${vmid} lives on node ${r.target} already`);
  if (!c.nodes.some((n) => n.name === r.target)) throw invalid('target', `no node ${r.target} in cluster ${c.name} (nodes: ${c.nodes.map((n) => n.name).join(', ')})`);
  refuseIfMigrating(vmid, 'migrate it');
  const backup = lockHolder(`backup-vm-${vmid}`);
  if (backup) throw conflict(`guest ${vmid} is being backed up (task ${backup}); migrate it after that`);
  const running = pidNow(g) !== null;
  const move = await replicatedMoveOf(g, r.target, r.online && running);
  if (r.online && !running) throw conflict(`guest ${vmid} is not running; migrate it with "online": false`);
  if (!r.online && running) throw conflict(`guest ${vmid} is running; stop it first, or migrate it live ("online": true)`);
  await nodeJson(r.target, 'POST', incoming(vmid, '?check=1'), incomingBody(g, await describeDisks(g, move), r.online), { timeoutMs: PREPARE_TIMEOUT_MS, identity });
  const t = claimMigration(vmid, () => {
    const id = startTask({ kind: 'vm-migrate', object: `/vms/${vmid}`, user, params: { vmid, target: r.target, online: r.online }, message: `migration of guest ${vmid} to ${r.target}` });
    return { id: checkedTaskId(id), pid: readTask(id).pid ?? 0, shown: id };
  });
  return t.shown;
}

/**
 * The replicated move of guest `g` to `target` (null: it has no replicated
 * disk); 409 naming why it cannot move so (replicated.ts).
 */
async function replicatedMoveOf(g: Guest, target: string, online: boolean): Promise<ReplicatedMove | null> {
  const disks = guestReplicas(g.vmid, g.config.disks);
  if (!disks.some((d) => d.replica)) return null;
  const proc = await procHere(nodeName());
  return replicatedMovePlan({
    vmid: g.vmid, node: nodeName(), target, online,
    disks: disks.map((d) => ({ ...d, dev: d.replica ? deviceOf(proc, d.replica.minor) : undefined })),
  });
}

/** Wait until the request that started this task wrote the lock for it. */
async function ownLock(vmid: number, task: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (migrationHolder(vmid) !== task) {
    if (Date.now() > deadline) throw conflict(`guest ${vmid}: the migration lock is not this task's (${migrationHolder(vmid) ?? 'nobody'} holds it)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Task "vm-migrate" params { vmid, target, online }. */
export async function migrateTask(t: TaskRun): Promise<string> {
  const vmid = checkedVmid(t.params.vmid);
  const target = checkedNodeName(t.params.target, 'target');
  await ownLock(vmid, t.id);
  try {
    return await (t.params.online === true ? migrateRunning(t, vmid, target) : migrateStopped(t, vmid, target));
  } finally {
    releaseMigration(vmid, t.id);
  }
}

async function dataBytes(file: string, format: string): Promise<number> {
  // -U: a running guest's QEMU holds the image's write lock.
  return parseMapDataBytes((await run(['qemu-img', 'map', '-U', '--output=json', '-f', format, file], { timeoutMs: 120_000 })).stdout);
}

async function migrateStopped(t: TaskRun, vmid: number, target: string): Promise<string> {
  const began = Date.now();
  const g = openGuest(vmid);
  mustLiveHere(g);
  if (pidNow(g) !== null) throw conflict(`guest ${vmid} is running; a stopped guest is migrated offline`);
  const disks = await describeDisks(g);
  const data = await Promise.all(disks.map((d) => dataBytes(diskPath(vmid, d), d.format)));
  const moving = data.reduce((s, b) => s + b, 0);
  t.log(`moving guest ${vmid} (${g.config.name}) to node ${target}: ${disks.length} disk(s), ${moving} bytes of data, ` +
    `${disks.reduce((s, d) => s + d.allocatedBytes, 0)} bytes allocated of ${disks.reduce((s, d) => s + d.virtualBytes, 0)}`);
  t.progress(1, `preparing node ${target}`);
  const offer = await nodeJson<IncomingOffer>(target, 'POST', incoming(vmid), incomingBody(g, disks, false, t), { timeoutMs: PREPARE_TIMEOUT_MS });
  const psk = outgoingPskDir(vmid);
  try {
    writePsk(psk, offer.pskUser, offer.psk);
    let done = 0;
    for (const [i, d] of disks.entries()) {
      const ex = offer.exports.find((e) => e.id === d.id);
      if (!ex) throw new HttpError('internal', `node ${target} offered no export for ${d.id}`);
      t.log(`copying ${d.id} (${d.format}, ${data[i]} bytes of data) to ${offer.address}:${ex.port}`);
      await run(nbdCopyArgs(diskPath(vmid, d), d.format, { address: offer.address, port: ex.port, name: ex.name, pskDir: psk }), {
        timeoutMs: CONVERT_TIMEOUT_MS,
        onStdout: (chunk) => {
          const p = parseConvertProgress(chunk);
          if (p !== null && moving > 0) t.progress(2 + (85 * (done + (data[i]! * p) / 100)) / moving, `copying ${d.id}: ${p.toFixed(0)} %`);
        },
      });
      done += data[i]!;
    }
    t.progress(88, 'comparing SHA-256 of both sides');
    const [mine, theirs] = await Promise.all([
      Promise.all(disks.map((d) => guestSha256(diskPath(vmid, d), d.format))),
      nodeJson<{ disks: { id: string; sha256: string; allocatedBytes: number }[] }>(target, 'POST', incoming(vmid, '/verify'), {}, { timeoutMs: VERIFY_TIMEOUT_MS }),
    ]);
    for (const [i, d] of disks.entries()) {
      const there = theirs.disks.find((x) => x.id === d.id);
      t.log(`${d.id}: SHA-256 ${mine[i]} here, ${there?.sha256 ?? 'none'} on ${target}; allocated ${d.allocatedBytes} bytes here, ${there?.allocatedBytes ?? 0} there`);
      if (there?.sha256 !== mine[i]) throw new HttpError('internal', `the copy of ${d.id} on node ${target} differs from the source (SHA-256); nothing was moved`);
    }
    t.progress(95, 'moving the config');
    await nodeJson(target, 'POST', incoming(vmid, '/commit'), {}, { timeoutMs: PREPARE_TIMEOUT_MS });
    await movePlacement(vmid, target);
  } catch (e) {
    t.log(`failed: ${(e as Error).message}; removing what was made on node ${target}`);
    try {
      await nodeJson(target, 'DELETE', incoming(vmid), undefined, { timeoutMs: PREPARE_TIMEOUT_MS });
    } catch (e2) {
      t.log(`could not clean up on node ${target}: ${(e2 as Error).message}`);
    }
    throw e;
  } finally {
    rmSync(psk, { recursive: true, force: true });
  }
  t.log(`guest ${vmid} lives on node ${target} now; removing its disks and config here`);
  dropGuestFiles(openGuest(vmid));
  try {
    await nodeJson(target, 'POST', incoming(vmid, '/done'), {}, { timeoutMs: PREPARE_TIMEOUT_MS });
  } catch (e) {
    t.log(`node ${target} did not drop its migration record: ${(e as Error).message}`);
  }
  t.closing(migratedLine(Date.now() - began, 0, moving));
  return `guest ${vmid} migrated to node ${target}`;
}

/** How often a live migration looks at its jobs, ms. */
const POLL_MS = 50;
/** How often it looks at the RAM move (its end starts the downtime's count), and at the mirror's end, ms. */
const SWITCH_POLL_MS = 5;
/** How long the target's arrival task may take to answer "go", ms. */
const GO_TIMEOUT_MS = 30_000;
/** The downtime QEMU aims at when it switches over, ms (Proxmox VE's default is 100). */
export const DOWNTIME_LIMIT_MS = 50;
/** How long the mirror may take to be in sync, and RAM to move, ms. */
const LIVE_TIMEOUT_MS = 60 * 60_000;

interface BlockJob {
  device: string;
  len: number;
  offset: number;
  ready: boolean;
}
interface MigrateInfo {
  status: string;
  downtime?: number;
  'total-time'?: number;
  ram?: { transferred: number; total: number; remaining: number };
  'error-desc'?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Hand the guest over: "go <token>" to the target's arrival task (incoming.ts); the epoch ms of its `cont`. */
async function sayGo(address: string, go: { port: number; token: string }): Promise<number> {
  const c = connect({ host: address, port: go.port });
  const timer = setTimeout(() => c.destroy(new HttpError('timeout', `no answer to "go" within ${GO_TIMEOUT_MS / 1000} s`)), GO_TIMEOUT_MS);
  try {
    c.on('connect', () => c.write(`go ${go.token}\n`));
    const line = await firstLine(c, 200);
    const m = /^running (\d+)$/.exec(line);
    if (!m) throw new HttpError('internal', `the target answered "go" with "${line.slice(0, 100)}"`);
    return Number(m[1]);
  } finally {
    clearTimeout(timer);
    c.destroy();
  }
}

/**
 * Live: the source mirrors every disk into the target's NBD exports, then
 * migrates RAM; once QEMU says "completed" (the source is paused in
 * "postmigrate"), block-job-cancel ends each mirror after its last dirty
 * blocks (a READY mirror that is cancelled copies what is left and does not
 * switch), then one line "go" to the target's arrival task, which holds the
 * target QEMU's QMP socket and runs the guest at once (the config is
 * written there after that); the source QEMU quits.
 *
 *   object-add tls-creds-psk (client) · blockdev-add {"driver": "nbd", …} · blockdev-mirror {"sync": "full"}
 *   … query-block-jobs until every job is ready …
 *   migrate-set-parameters {"downtime-limit": 50, "tls-creds": …} · migrate {"uri": "tcp:ADDR:PORT"}
 *   … query-migrate until "completed" … block-job-cancel · "go" (target: cont) · quit
 *
 * Until the target runs, any failure cancels the jobs, lets the source run
 * on, and ends the target's QEMU and images. The downtime is from the
 * source's STOP event to the target's answer that it ran `cont` (both on
 * this node's clock).
 */
async function migrateRunning(t: TaskRun, vmid: number, target: string): Promise<string> {
  const began = Date.now();
  const g = openGuest(vmid);
  mustLiveHere(g);
  const pid = pidNow(g);
  if (pid === null) throw conflict(`guest ${vmid} is not running; a running guest is migrated live`);
  const move = await replicatedMoveOf(g, target, true);
  const disks = await describeDisks(g, move);
  // Replicated disks are on the target already: only the others are mirrored (none, for a replicated guest).
  const mirrored = disks.filter((d) => !d.replica);
  const data = await Promise.all(mirrored.map((d) => dataBytes(diskPath(vmid, d), d.format)));
  const moving = data.reduce((s, b) => s + b, 0);
  t.log(`moving running guest ${vmid} (${g.config.name}, ${g.config.memory} MiB) to node ${target}: ${disks.length} disk(s), ${moving} bytes of data`);
  if (move) {
    t.log(`its disks are replicated on node ${target}: only RAM moves; the steps: ${move.steps.join('; ')}`);
    await eachReplica(move.resources, 'two-primaries');
  }
  t.progress(1, `preparing node ${target}`);
  let offer: IncomingOffer;
  try {
    offer = await nodeJson<IncomingOffer>(target, 'POST', incoming(vmid), incomingBody(g, disks, true, t), { timeoutMs: PREPARE_TIMEOUT_MS });
  } catch (e) {
    if (move) for (const f of await undoReplicated(move.resources, false)) t.log(`undoing: ${f}`);
    throw e;
  }
  const psk = outgoingPskDir(vmid);
  writePsk(psk, offer.pskUser, offer.psk);
  const q = await Qmp.connect(g.files.qmp);
  let resumed = false;
  let completed = false;
  let downtime = 0;
  let stoppedAt: number | null = null;
  const offStop = q.onEvent((e) => {
    if (e.event === 'STOP' && e.timestamp && stoppedAt === null) stoppedAt = e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000;
  });
  try {
    if (!offer.go) throw new HttpError('internal', `node ${target} offered no arrival task for a live migration`);
    await q.execute('object-add', { 'qom-type': 'tls-creds-psk', id: MIGRATION_TLS_ID, endpoint: 'client', dir: psk, username: offer.pskUser });
    for (const d of mirrored) {
      const ex = offer.exports.find((e) => e.id === d.id);
      if (!ex) throw new HttpError('internal', `node ${target} offered no export for ${d.id}`);
      await q.execute('blockdev-add', {
        driver: 'nbd', 'node-name': `mig-${d.id}`, server: { type: 'inet', host: offer.address, port: String(ex.port) }, export: ex.name, 'tls-creds': MIGRATION_TLS_ID,
      });
      await q.execute('blockdev-mirror', { 'job-id': `mig-${d.id}`, device: `drive-${d.id}`, target: `mig-${d.id}`, sync: 'full' });
    }
    if (mirrored.length) t.log(`mirroring ${mirrored.map((d) => d.id).join(', ')} to ${offer.address}`);
    const deadline = Date.now() + LIVE_TIMEOUT_MS;
    for (;;) {
      const jobs = (await q.execute<BlockJob[]>('query-block-jobs')).filter((j) => j.device.startsWith('mig-'));
      if (jobs.length < mirrored.length) throw new HttpError('internal', `a disk mirror to node ${target} ended early (${mirrored.length - jobs.length} of ${mirrored.length} gone)`);
      const len = jobs.reduce((s, j) => s + j.len, 0);
      const off = jobs.reduce((s, j) => s + j.offset, 0);
      t.progress(2 + (48 * off) / Math.max(len, 1), `disks ${((100 * off) / Math.max(len, 1)).toFixed(0)} %, RAM 0 %`);
      if (jobs.every((j) => j.ready)) break;
      if (Date.now() > deadline) throw new HttpError('timeout', `the disk mirror to node ${target} did not get in sync within ${LIVE_TIMEOUT_MS / 60_000} min`);
      await sleep(POLL_MS);
    }
    t.log(`disks in sync on node ${target} after ${Date.now() - began} ms; moving RAM`);
    await q.execute('migrate-set-parameters', { 'downtime-limit': DOWNTIME_LIMIT_MS, 'tls-creds': MIGRATION_TLS_ID });
    const host = offer.address.includes(':') ? `[${offer.address}]` : offer.address;
    await q.execute('migrate', { uri: `tcp:${host}:${offer.migrationPort}` });
    let m: MigrateInfo;
    for (;;) {
      m = await q.execute<MigrateInfo>('query-migrate');
      if (m.status === 'completed') break;
      if (m.status === 'failed' || m.status === 'cancelled') throw new HttpError('internal', `the RAM migration to node ${target} ${m.status}${m['error-desc'] ? `: ${m['error-desc']}` : ''}`);
      const ram = m.ram;
      if (ram && ram.total > 0) t.progress(50 + (45 * (ram.total - ram.remaining)) / ram.total, `disks 100 %, RAM ${((100 * (ram.total - ram.remaining)) / ram.total).toFixed(0)} %`);
      if (Date.now() > deadline) throw new HttpError('timeout', `the RAM migration to node ${target} did not end within ${LIVE_TIMEOUT_MS / 60_000} min`);
      await sleep(SWITCH_POLL_MS);
    }
    completed = true;
    const stoppedSeen = Date.now();
    for (const d of mirrored) await q.execute('block-job-cancel', { device: `mig-${d.id}` });
    while ((await q.execute<BlockJob[]>('query-block-jobs')).some((j) => j.device.startsWith('mig-'))) await sleep(SWITCH_POLL_MS);
    let ranAt: number;
    try {
      await sayGo(offer.address, offer.go);
      // This node's clock (as the STOP event's): the answer came after the target's cont.
      ranAt = Date.now();
    } catch (e) {
      // The answer may be what got lost: the abort ends the arrival task and says whether it ran the guest.
      const r = await nodeJson<{ runsHere?: boolean }>(target, 'DELETE', incoming(vmid), undefined, { timeoutMs: PREPARE_TIMEOUT_MS });
      if (!r.runsHere) throw e;
      t.log(`"go" got no answer (${(e as Error).message}), but node ${target} runs the guest`);
      ranAt = Date.now();
    }
    resumed = true;
    // From the source's pause (its STOP event) to the target's cont.
    downtime = Math.round(ranAt - (stoppedAt ?? stoppedSeen - (m.downtime ?? 0)));
    t.log(`guest ${vmid} runs on node ${target}, ${downtime} ms after it paused here (QEMU's downtime ${m.downtime ?? 0} ms, ` +
      `mirror ended and "go" answered ${Date.now() - stoppedSeen} ms after the RAM move was seen complete); RAM moved in ${m['total-time'] ?? 0} ms`);
    try {
      await q.execute('quit');
    } catch {
      // QEMU may close the socket before it answers.
    }
  } catch (e) {
    if (resumed) throw e;
    t.log(`failed: ${(e as Error).message}; removing what was made on node ${target}`);
    let targetClean = false;
    let runsThere = false;
    try {
      runsThere = (await nodeJson<{ runsHere?: boolean }>(target, 'DELETE', incoming(vmid), undefined, { timeoutMs: PREPARE_TIMEOUT_MS })).runsHere === true;
      targetClean = !runsThere;
    } catch (e2) {
      t.log(`could not clean up on node ${target}: ${(e2 as Error).message}`);
    }
    if (runsThere) throw new HttpError('internal', `${(e as Error).message}; guest ${vmid} runs on node ${target}, its copy here stays paused`);
    // Once the RAM arrived, the target may already run the guest: the source runs on only when the target's QEMU is known gone.
    if (completed && !targetClean) {
      throw new HttpError('internal', `${(e as Error).message}; guest ${vmid} stays paused here, because node ${target} may run it: look there before you resume it`);
    }
    await undoSource(q, mirrored.map((d) => d.id), t);
    // The target demoted its side in the abort; two primaries are forbidden here again.
    if (move && targetClean) for (const f of await undoReplicated(move.resources, false)) t.log(`undoing: ${f}`);
    t.log(`guest ${vmid} runs on here`);
    throw e;
  } finally {
    offStop();
    q.close();
    rmSync(psk, { recursive: true, force: true });
  }
  const gone = Date.now() + 10_000;
  // A zombie (ended, not yet reaped) has an empty command line.
  while ((processArgv(pid) ?? []).join('') !== '' && Date.now() < gone) await sleep(POLL_MS);
  try {
    await movePlacement(vmid, target);
  } catch (e) {
    t.log(`the guest runs on node ${target}, but the placement index could not be told: ${(e as Error).message}`);
  }
  // Its QEMU quit: on a separated node the root helper removes the taps it made for it.
  await clearEnded(g);
  if (move) {
    // The source's QEMU is gone: its side back to Secondary, then one primary only, here and (in "done") there.
    try {
      await eachReplica(move.resources, 'secondary');
      await eachReplica(move.resources, 'one-primary');
      t.log(`${move.resources.map((r) => r.resource).join(', ')}: Secondary here, two primaries forbidden again`);
    } catch (e) {
      t.log(`THE REPLICAS HERE ARE NOT BACK TO SECONDARY: ${(e as Error).message}`);
    }
  }
  // A replicated guest's disks stay here as the target's peer side: only its config, runtime files and other images go.
  dropGuestFiles(openGuest(vmid), move ? replicaFilesKept(move.resources) : []);
  if (move) keepConfigAsPeer(g.config, target);
  try {
    await nodeJson(target, 'POST', incoming(vmid, '/done'), {}, { timeoutMs: PREPARE_TIMEOUT_MS });
  } catch (e) {
    t.log(`node ${target} did not drop its migration record: ${(e as Error).message}`);
  }
  t.closing(migratedLine(Date.now() - began, downtime, moving));
  return `guest ${vmid} migrated live to node ${target}`;
}

/** After a failed live migration: no jobs, no NBD nodes, no credentials, and the guest running on. */
async function undoSource(q: Qmp, ids: string[], t: TaskRun): Promise<void> {
  const tryIt = async (cmd: string, args?: Record<string, unknown>) => {
    try {
      await q.execute(cmd, args);
    } catch (e) {
      if (!/not found|Failed to find|No active|does not exist|not in/i.test((e as Error).message)) t.log(`${cmd}: ${(e as Error).message}`);
    }
  };
  await tryIt('migrate_cancel');
  for (const id of ids) await tryIt('block-job-cancel', { device: `mig-${id}`, force: true });
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    try {
      if (!(await q.execute<BlockJob[]>('query-block-jobs')).some((j) => j.device.startsWith('mig-'))) break;
    } catch {
      break;
    }
    await sleep(POLL_MS);
  }
  for (const id of ids) await tryIt('blockdev-del', { 'node-name': `mig-${id}` });
  await tryIt('object-del', { id: MIGRATION_TLS_ID });
  try {
    const st = await q.execute<{ status: string }>('query-status');
    if (st.status === 'postmigrate' || st.status === 'finish-migrate') await q.execute('cont');
  } catch (e) {
    t.log(`could not resume the guest here: ${(e as Error).message}`);
  }
}

export const MIGRATE_TASK_KINDS = { 'vm-migrate': migrateTask, 'vm-migrate-in': arrivalTask };
