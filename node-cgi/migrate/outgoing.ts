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
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, HttpError, invalid } from '../lib/errors';
import { run } from '../lib/exec';
import { nodeName } from '../lib/paths';
import { checkedVmid } from '../lib/validate';
import { CONVERT_TIMEOUT_MS, parseConvertProgress, virtualSize } from '../tools/qemu-img';
import { checkedTaskId, readTask, startTask, type TaskRun } from '../tasks/task';
import { nodeJson, requireCluster } from '../cluster/members';
import { checkedNodeName } from '../cluster/model';
import { movePlacement } from '../cluster/placement';
import type { ForwardedIdentity } from '../cluster/sign';
import {
  claimMigration, diskPath, dropGuestFiles, existingBridges, lockHolder, migrationHolder, mustLiveHere, openGuest, pidNow, refuseIfMigrating, releaseMigration,
  type Guest,
} from '../vm';
import { allocatedBytes, guestSha256 } from './disks';
import { outgoingPskDir, type IncomingOffer } from './incoming';
import { migratedLine, nbdCopyArgs, parseMapDataBytes, type MigrateRequest, type MovingDisk } from './plan';

/** How long the target may take to hash its images (a verify), ms. */
const VERIFY_TIMEOUT_MS = 30 * 60_000;
/** How long the target may take to make its images and servers, ms. */
const PREPARE_TIMEOUT_MS = 60_000;
/** How long the task waits for the request that started it to write the lock, ms. */
const LOCK_WAIT_MS = 10_000;

const incoming = (vmid: number, what = '') => `/api/vm/${vmid}/migrate/incoming${what}`;

async function describeDisks(g: Guest): Promise<MovingDisk[]> {
  const out: MovingDisk[] = [];
  for (const d of g.config.disks) {
    const file = diskPath(g.vmid, d);
    out.push({ id: d.id, file: d.file, format: d.format, virtualBytes: await virtualSize({ file, format: d.format }), allocatedBytes: allocatedBytes(file) });
  }
  return out;
}

function incomingBody(g: Guest, disks: MovingDisk[], online: boolean) {
  return { config: g.config, disks, online, bridges: [...existingBridges(g.config.nics.map((n) => n.bridge))] };
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
  if (r.online) throw invalid('online', 'live migration is not available yet; stop the guest and migrate it with "online": false');
  if (running) throw conflict(`guest ${vmid} is running; stop it first, or migrate it live ("online": true)`);
  await nodeJson(r.target, 'POST', incoming(vmid, '?check=1'), incomingBody(g, await describeDisks(g), r.online), { timeoutMs: PREPARE_TIMEOUT_MS, identity });
  const t = claimMigration(vmid, () => {
    const id = startTask({ kind: 'vm-migrate', object: `/vms/${vmid}`, user, params: { vmid, target: r.target, online: r.online }, message: `migration of guest ${vmid} to ${r.target}` });
    return { id: checkedTaskId(id), pid: readTask(id).pid ?? 0, shown: id };
  });
  return t.shown;
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
    return await migrateStopped(t, vmid, target);
  } finally {
    releaseMigration(vmid, t.id);
  }
}

async function dataBytes(file: string, format: string): Promise<number> {
  return parseMapDataBytes((await run(['qemu-img', 'map', '--output=json', '-f', format, file], { timeoutMs: 120_000 })).stdout);
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
  const offer = await nodeJson<IncomingOffer>(target, 'POST', incoming(vmid), incomingBody(g, disks, false), { timeoutMs: PREPARE_TIMEOUT_MS });
  const psk = outgoingPskDir(vmid);
  try {
    mkdirSync(psk, { recursive: true, mode: 0o700 });
    writeFileSync(join(psk, 'keys.psk'), `${offer.pskUser}:${offer.psk}\n`, { mode: 0o600 });
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

export const MIGRATE_TASK_KINDS = { 'vm-migrate': migrateTask };
