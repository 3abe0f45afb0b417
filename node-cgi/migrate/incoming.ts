/**
 * The target's side of a migration, driven by the source's signed requests
 * (routes.ts):
 *
 *   POST   /api/vm/101/migrate/incoming?check=1   refusals only (409 naming each)
 *   POST   /api/vm/101/migrate/incoming           new empty images + one qemu-nbd each → {address, psk, exports};
 *                                                  live: QEMU waiting for the stream, its NBD server exporting them (listenForGuest)
 *   POST   /api/vm/101/migrate/incoming/verify    NBD servers gone, then SHA-256 and allocation of each image
 *   POST   /api/vm/101/migrate/incoming/commit    offline: the guest's config written here (it lives here now)
 *   DELETE /api/vm/101/migrate/incoming           abort: servers ended, images, config and record removed
 *   POST   /api/vm/101/migrate/incoming/done      the record dropped (the source is done)
 *
 * Live, the target resumes the guest without a request: at prepare time a
 * task "vm-migrate-in" starts here (arrivalTask), holds the arriving QEMU's
 * QMP socket and listens on a port of the cluster address for one line,
 * `go <token>\n`, the token a secret of this migration given to the source
 * in the (signed, TLS) answer of the prepare. The source sends it once its
 * RAM moved (it is paused) and its mirror ended; the task then waits for
 * the incoming migration to complete here, sends `cont`, answers `running
 * <epoch ms>` and only then writes the config. Without the line (the source
 * died, the network broke) the guest never runs here: an abort ends it.
 *
 * What it made is recorded in run/ramvm/migrate/<vmid>.json (the source,
 * the config, the qemu-nbd pids, whether it created the disk folder), so an
 * abort removes exactly that and nothing a guest of this node owns.
 */
import { createServer, type Socket } from 'node:net';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { conflict, HttpError, invalid, notFound } from '../lib/errors';
import { withQmp } from '../qemu/qmp';
import { guestConfigFile, guestImagesDir, isoFile, nodeName, paths, replicaConfigFile } from '../lib/paths';
import { run } from '../lib/exec';
import { processAlive } from '../lib/proc';
import { Qmp } from '../qemu/qmp';
import { checkedVmid } from '../lib/validate';
import { readTask, startTask, type TaskRun } from '../tasks/task';
import { readJson, removeFile, updateJson, writeJsonAtomic } from '../lib/store';
import { createImage } from '../tools/qemu-img';
import { findNode, urlAddress } from '../cluster/model';
import { readCluster, readPlacement } from '../cluster/state';
import { nodeJson, STATUS_TIMEOUT_MS } from '../cluster/members';
import { PeerAnswerError } from '../cluster/peer';
import { log } from '../lib/cgi';
import {
  checkVmConfig, diskPath, endIncoming, existingBridges, findVmConfig, parseMeminfo, randomMac, readNodeSettings, runningGuests, startIncoming, vmFiles,
  writeVmConfig, type VmConfig,
} from '../vm';
import { allocatedBytes, guestSha256 } from './disks';
import { incomingRefusals, nbdServerArgs, PSK_USER, type MovingDisk } from './plan';
import { eachReplica, undoReplicated, type MovingReplica } from './replicated';
import { diskIndex, procHere, replicaHere } from '../drbd/local';
import { deviceOf } from '../drbd/proc';
import { peerOf, replicaProblem } from '../drbd/replica';
import { DRBD_MINOR_MAX, drbdResourceName } from '../drbd/resource';

/** What the source sends: the guest's config, its disks, live or not. */
export interface IncomingRequest {
  config: VmConfig;
  disks: MovingDisk[];
  online: boolean;
  /** Bridges the guest's NICs use on the source (those that exist there). */
  bridges: string[];
  /** The source's task, asked later whether it still runs, and who started it (who may ask). */
  task?: string;
  user?: string;
}

export interface IncomingOffer {
  address: string;
  /** Live: the port of the migration stream (QEMU's migrate-incoming). */
  migrationPort?: number;
  /** Hex key of this migration (TLS PSK of the NBD servers). */
  psk: string;
  pskUser: string;
  exports: { id: string; port: number; name: string }[];
  /** Live: where the source says "go" once it is paused and its mirror ended (arrivalTask). */
  go?: { port: number; token: string };
}

interface IncomingRecord {
  from: string;
  vmid: number;
  config: VmConfig;
  disks: MovingDisk[];
  nbd: { id: string; pidFile: string }[];
  createdDir: boolean;
  committed: boolean;
  /** The source's task (its public id, naming its node), and who started it. */
  task?: string;
  user?: string;
  /** Live: a QEMU waits here for the migration stream. */
  online?: boolean;
  /** A replicated guest: its resources here, primary for the move (an abort demotes them). */
  replicated?: MovingReplica[];
  /** Live: the task that resumes the guest on the source's "go", its port and the token the line must carry. */
  arrival?: { task: string; address: string; port: number; token: string; listening?: boolean };
}

/** QOM id of the TLS credentials a migration adds to QEMU (both ends). */
export const MIGRATION_TLS_ID = 'mig-tls';

/** How long a verify waits for the NBD servers to end after the source disconnected. */
const NBD_END_WAIT_MS = 10_000;
/** How long a prepare waits for the arrival task to listen, and an abort or done for it to end, ms. */
const ARRIVAL_WAIT_MS = 30_000;
/** How long the arrival task waits for the source's "go" (the mirror and the RAM move before it), ms. */
const ARRIVAL_TIMEOUT_MS = 60 * 60_000;
/** How long, after "go", the incoming migration may take to complete here, ms. */
const COMPLETE_WAIT_MS = 30_000;

const migrateRun = () => join(paths().run, 'migrate');
const recordFile = (vmid: number) => join(migrateRun(), `${vmid}.json`);
const pskDir = (vmid: number) => join(migrateRun(), `${vmid}.psk`);
/**
 * Live: made just before `cont`: from then on the guest runs here, whatever
 * else happens. A file of its own, not fsynced (the record is): an abort
 * in another process sees it at once, and after a crash there is no QEMU.
 */
const resumedFile = (vmid: number) => join(migrateRun(), `${vmid}.resumed`);

/** The body of a prepare, checked: a config that validates for this VMID, its disks named as the config names them. */
export function checkedIncoming(vmid: number, body: Record<string, unknown>): IncomingRequest {
  if (typeof body.config !== 'object' || body.config === null) throw invalid('config', 'the guest\'s config is required');
  // It is checked as the config it will be here: on this node.
  const here = { ...(body.config as Record<string, unknown>), node: nodeName() };
  const { config, issues } = checkVmConfig(here, { node: nodeName(), isos: null, macsTaken: new Set(), newMac: randomMac, now: Date.now(), mode: 'update' });
  if (!config) throw invalid('config', issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  if (config.vmid !== vmid) throw invalid('config', `is the config of guest ${config.vmid}, not of ${vmid}`);
  if (!Array.isArray(body.disks) || body.disks.length !== config.disks.length) throw invalid('disks', 'one entry per disk of the config');
  const disks = (body.disks as Record<string, unknown>[]).map((d, i): MovingDisk => {
    const c = config.disks[i]!;
    if (d.id !== c.id || d.file !== c.file || d.format !== c.format) throw invalid('disks', `entry ${i} is not disk ${c.id} of the config`);
    for (const k of ['virtualBytes', 'allocatedBytes'] as const) {
      if (typeof d[k] !== 'number' || !Number.isSafeInteger(d[k]) || (d[k] as number) < 0) throw invalid('disks', `${k} of ${c.id} must be a byte count`);
    }
    const replica = d.replica === undefined ? undefined : checkedReplica(vmid, c.id, d.replica);
    return { id: c.id, file: c.file, format: c.format, virtualBytes: d.virtualBytes as number, allocatedBytes: d.allocatedBytes as number, ...(replica ? { replica } : {}) };
  });
  if (disks.some((d) => d.replica) && !(disks.every((d) => d.replica) && body.online === true)) throw invalid('disks', 'a replicated guest moves live, with all its disks replicated');
  const bridges = Array.isArray(body.bridges) ? body.bridges.filter((b): b is string => typeof b === 'string' && /^[A-Za-z0-9_.-]{1,15}$/.test(b)) : [];
  const task = typeof body.task === 'string' && /^[A-Za-z0-9.:-]{1,160}$/.test(body.task) ? body.task : undefined;
  const user = typeof body.user === 'string' && /^[A-Za-z0-9._@-]{1,64}$/.test(body.user) ? body.user : undefined;
  return { config, disks, online: body.online === true, bridges, ...(task ? { task } : {}), ...(user ? { user } : {}) };
}

/** A disk's replica as the source names it: the resource ramvm names for that disk, a minor. */
function checkedReplica(vmid: number, id: string, v: unknown): { resource: string; minor: number } {
  const r = v as { resource?: unknown; minor?: unknown } | null;
  const resource = drbdResourceName(vmid, diskIndex(id));
  if (typeof r !== 'object' || r === null || r.resource !== resource) throw invalid('disks', `the replica of ${id} is resource ${resource}`);
  if (typeof r.minor !== 'number' || !Number.isInteger(r.minor) || r.minor < 0 || r.minor > DRBD_MINOR_MAX) throw invalid('disks', `the minor of ${id} must be 0–${DRBD_MINOR_MAX}`);
  return { resource, minor: r.minor };
}

/**
 * This node's replicas of a replicated guest coming from `from`: each must
 * be up here with the same minor, replicated with `from`, Secondary, and
 * Connected and UpToDate on both sides. The resources, or 409 naming
 * every reason.
 */
async function localReplicas(vmid: number, r: IncomingRequest, from: string | undefined): Promise<MovingReplica[]> {
  const problems: string[] = [];
  const out: MovingReplica[] = [];
  const proc = await procHere(nodeName());
  for (const d of r.disks) {
    const here = replicaHere(vmid, diskIndex(d.id));
    if (!here) {
      problems.push(`${d.replica!.resource} is not up on node ${nodeName()}`);
      continue;
    }
    if (here.minor !== d.replica!.minor) problems.push(`${here.name} is minor ${here.minor} here, not ${d.replica!.minor}`);
    if (from !== undefined && peerOf(here, nodeName()) !== from) problems.push(`${here.name} is replicated with ${peerOf(here, nodeName())}, not with ${from}`);
    const dev = deviceOf(proc, here.minor);
    const p = replicaProblem(dev, here.name);
    if (p) problems.push(p);
    else if (dev?.role !== 'Secondary') problems.push(`${here.name} is ${dev?.role ?? 'unknown'} on node ${nodeName()}, not Secondary`);
    out.push({ id: d.id, resource: here.name, minor: here.minor });
  }
  if (problems.length) throw conflict(`node ${nodeName()} cannot take replicated guest ${vmid}: ${problems.join('; ')}`);
  return out;
}

function freeBytes(dir: string): number {
  mkdirSync(dir, { recursive: true });
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** 409 naming everything this node lacks to take the guest (a replicated guest: its replicas here, checked). */
export async function checkIncoming(vmid: number, r: IncomingRequest, from?: string): Promise<MovingReplica[]> {
  await dropStale(vmid);
  const inFlight = readJson<IncomingRecord>(recordFile(vmid));
  if (inFlight) throw conflict(`node ${nodeName()} is already receiving guest ${vmid} from ${inFlight.from} (task ${inFlight.task ?? 'unknown'})`);
  const replicated = r.disks.some((d) => d.replica);
  const refusals = incomingRefusals({
    node: nodeName(),
    vmid,
    online: r.online,
    configExists: existsSync(guestConfigFile(vmid)),
    // A replicated guest's folder holds this node's replicas already, and nothing is copied into it.
    imagesExist: !replicated && existsSync(guestImagesDir(vmid)),
    memory: {
      total: parseMeminfo(readFileSync('/proc/meminfo', 'utf8')).total,
      claimed: runningGuests().reduce((s, g) => s + g.memory, 0) * 1024 * 1024,
      ratio: readNodeSettings().memoryOvercommit,
    },
    guestMemoryMiB: r.config.memory,
    bridgesNeeded: r.bridges,
    bridgesHere: existingBridges(r.bridges),
    cdrom: r.config.cdrom,
    cdromHere: r.config.cdrom ? existsSync(isoFile(r.config.cdrom)) : false,
    freeBytes: freeBytes(paths().images),
    disks: replicated ? [] : r.disks,
  });
  if (refusals.length) throw conflict(refusals.join('; '));
  return replicated ? localReplicas(vmid, r, from) : [];
}

/**
 * A migration whose source task is no more (killed, its node rebooted)
 * left its record here: the source's node says the task is not running
 * (or knows no such task), so what it made here goes. While the source
 * does not answer, the record stays (the task may still run there).
 */
async function dropStale(vmid: number): Promise<void> {
  const rec = readJson<IncomingRecord>(recordFile(vmid));
  if (!rec?.task || !rec.user || rec.committed) return;
  let running: boolean;
  try {
    running = (await nodeJson<{ status: string }>(rec.from, 'GET', `/api/task/${encodeURIComponent(rec.task)}`, undefined, { timeoutMs: STATUS_TIMEOUT_MS, identity: { username: rec.user } })).status === 'running';
  } catch (e) {
    if (!(e instanceof PeerAnswerError && e.code === 'not_found')) return;
    running = false;
  }
  if (running) return;
  log(`guest ${vmid}: the migration from ${rec.from} (task ${rec.task}) ended without finishing; removing what it made here`);
  await abortIncoming(vmid);
}

/** This node's address on the cluster link (the host of its cluster URL). */
function clusterAddress(): string {
  const c = readCluster();
  const me = c && findNode(c, nodeName());
  if (!me) throw conflict(`node ${nodeName()} is in no cluster`);
  return urlAddress(me.url).replace(/^\[|\]$/g, '');
}

/** A TCP port free on `address` now (the kernel's pick). */
function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, address, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Empty images like the source's, each served by its own qemu-nbd on the cluster address. */
export async function prepareIncoming(vmid: number, from: string, r: IncomingRequest): Promise<IncomingOffer> {
  const replicas = await checkIncoming(vmid, r, from);
  const rec: IncomingRecord = { from, vmid, config: r.config, disks: r.disks, nbd: [], createdDir: false, committed: false, ...(r.task ? { task: r.task } : {}), ...(r.user ? { user: r.user } : {}) };
  sharedDir(migrateRun());
  writeJsonAtomic(recordFile(vmid), rec);
  try {
    // Only a folder made here goes with an abort (a replicated guest's holds this node's replicas).
    rec.createdDir = !existsSync(guestImagesDir(vmid));
    mkdirSync(guestImagesDir(vmid), { recursive: true });
    writeJsonAtomic(recordFile(vmid), rec);
    const psk = randomBytes(32).toString('hex');
    writePsk(pskDir(vmid), PSK_USER, psk);
    const address = clusterAddress();
    const exports: IncomingOffer['exports'] = [];
    if (r.online) {
      if (replicas.length) {
        // Recorded first: an abort demotes and forbids two primaries again, whatever of this happened.
        rec.replicated = replicas;
        writeJsonAtomic(recordFile(vmid), rec);
        await eachReplica(replicas, 'two-primaries');
        await eachReplica(replicas, 'primary');
      }
      for (const d of r.disks) if (!d.replica) await createImage(diskPath(vmid, d), d.format, d.virtualBytes);
      rec.online = true;
      writeJsonAtomic(recordFile(vmid), rec);
      const listening = await listenForGuest(vmid, r, address);
      return { address, psk, pskUser: PSK_USER, ...listening, go: await startArrival(vmid, rec, address, r.user) };
    }
    for (const d of r.disks) {
      const file = diskPath(vmid, d);
      await createImage(file, d.format, d.virtualBytes);
      const pidFile = join(migrateRun(), `${vmid}.${d.id}.nbd.pid`);
      rec.nbd.push({ id: d.id, pidFile });
      writeJsonAtomic(recordFile(vmid), rec);
      const port = await freePort(address);
      await run(nbdServerArgs(file, d.format, { address, port, name: d.id, pskDir: pskDir(vmid) }, pidFile), { timeoutMs: 30_000 });
      exports.push({ id: d.id, port, name: d.id });
    }
    return { address, psk, pskUser: PSK_USER, exports };
  } catch (e) {
    await abortIncoming(vmid);
    throw e;
  }
}

/**
 * Live: QEMU started with -incoming defer; its own NBD server exports the
 * new (empty) disks writable for the source's mirror, and it listens for
 * the migration stream, both with TLS and this migration's key:
 *
 *   object-add {"qom-type": "tls-creds-psk", "id": "mig-tls", "endpoint": "server", "dir": …}
 *   nbd-server-start {"addr": {"type": "inet", "data": {"host": ADDR, "port": P1}}, "tls-creds": "mig-tls"}
 *   block-export-add {"type": "nbd", "id": "mig-disk0", "node-name": <drive-disk0's node>, "writable": true, "name": "disk0"}
 *   migrate-set-parameters {"tls-creds": "mig-tls"}
 *   migrate-incoming {"uri": "tcp:ADDR:P2"}
 */
async function listenForGuest(vmid: number, r: IncomingRequest, address: string): Promise<Pick<IncomingOffer, 'exports' | 'migrationPort'>> {
  await startIncoming({ ...r.config, node: nodeName() });
  const nbdPort = await freePort(address);
  const migrationPort = await freePort(address);
  const host = (port: number) => ({ host: address, port: String(port) });
  const exports: IncomingOffer['exports'] = [];
  // Replicated disks are there already: only the others are exported for the source's mirror.
  const copied = r.disks.filter((d) => !d.replica);
  await withQmp(vmFiles(vmid).qmp, async (q) => {
    await q.execute('object-add', { 'qom-type': 'tls-creds-psk', id: MIGRATION_TLS_ID, endpoint: 'server', dir: pskDir(vmid) });
    const blocks = await q.execute<{ device: string; inserted?: { 'node-name': string } }[]>('query-block');
    if (copied.length) await q.execute('nbd-server-start', { addr: { type: 'inet', data: host(nbdPort) }, 'tls-creds': MIGRATION_TLS_ID });
    for (const d of copied) {
      const node = blocks.find((b) => b.device === `drive-${d.id}`)?.inserted?.['node-name'];
      if (!node) throw new HttpError('internal', `QEMU of guest ${vmid} has no drive-${d.id}`);
      await q.execute('block-export-add', { type: 'nbd', id: `mig-${d.id}`, 'node-name': node, writable: true, name: d.id });
      exports.push({ id: d.id, port: nbdPort, name: d.id });
    }
    await q.execute('migrate-set-parameters', { 'tls-creds': MIGRATION_TLS_ID });
    await q.execute('migrate-incoming', { uri: `tcp:${address.includes(':') ? `[${address}]` : address}:${migrationPort}` });
  });
  return { exports, migrationPort };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function updateRecord(vmid: number, fn: (r: IncomingRecord) => IncomingRecord): IncomingRecord {
  return updateJson<IncomingRecord | null>(recordFile(vmid), null, (r) => {
    if (!r) throw notFound(`node ${nodeName()} is receiving no guest ${vmid}`);
    return fn(r);
  })!;
}

/** Live: start the task that resumes the guest on the source's "go"; back once it listens. */
async function startArrival(vmid: number, rec: IncomingRecord, address: string, user = 'root@pam'): Promise<{ port: number; token: string }> {
  const port = await freePort(address);
  const token = randomBytes(32).toString('hex');
  updateRecord(vmid, (r) => ({ ...r, arrival: { task: '', address, port, token } }));
  const task = startTask({ kind: 'vm-migrate-in', object: `/vms/${vmid}`, user, params: { vmid }, message: `arrival of guest ${vmid} from ${rec.from}` });
  updateRecord(vmid, (r) => ({ ...r, arrival: { ...r.arrival!, task } }));
  const deadline = Date.now() + ARRIVAL_WAIT_MS;
  while (!readJson<IncomingRecord>(recordFile(vmid))?.arrival?.listening) {
    const t = readTask(task);
    if (t.status !== 'running') throw new HttpError('internal', `the arrival task of guest ${vmid} ended: ${t.message}`);
    if (Date.now() > deadline) throw new HttpError('timeout', `the arrival task of guest ${vmid} did not listen within ${ARRIVAL_WAIT_MS / 1000} s`);
    await sleep(20);
  }
  return { port, token };
}

/** The first line a connection sends (at most `max` bytes). */
export function firstLine(c: Socket, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    c.setEncoding('latin1');
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
      else if (buf.length > max) reject(new Error('line too long'));
    });
    c.on('error', reject);
    c.on('end', () => reject(new Error('closed before a line')));
  });
}

/** True when `line` is "go <token>" with this migration's token. */
export function isGoLine(line: string, token: string): boolean {
  const m = /^go ([0-9a-f]{64})$/.exec(line);
  return !!m && timingSafeEqual(Buffer.from(m[1]!), Buffer.from(token));
}

/**
 * Task "vm-migrate-in" params { vmid }, on the target of a live migration:
 * holds the arriving QEMU's QMP socket, waits for the source's "go" (the
 * source is paused, its mirror ended), waits for the incoming migration to
 * complete here, then `cont` at once; the config is written after that.
 */
export async function arrivalTask(t: TaskRun): Promise<string> {
  const vmid = checkedVmid(t.params.vmid);
  const rec = openRecord(vmid);
  const a = rec.arrival;
  if (!rec.online || !a) throw conflict(`node ${nodeName()} is receiving no running guest ${vmid}`);
  const q = await Qmp.connect(vmFiles(vmid).qmp);
  const server = createServer();
  try {
    const conn = await new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new HttpError('timeout', `no "go" from node ${rec.from} within ${ARRIVAL_TIMEOUT_MS / 60_000} min; guest ${vmid} stays paused`)), ARRIVAL_TIMEOUT_MS);
      server.on('connection', (c) => {
        firstLine(c, 200).then((line) => {
          if (!isGoLine(line, a.token)) {
            c.end('refused\n');
            return;
          }
          clearTimeout(timer);
          resolve(c);
        }, () => c.destroy());
      });
      server.once('error', reject);
      server.listen(a.port, a.address, () => {
        updateRecord(vmid, (r) => ({ ...r, arrival: { ...r.arrival!, listening: true } }));
        t.log(`waiting on ${a.address}:${a.port} for node ${rec.from} to hand guest ${vmid} over`);
      });
    });
    const went = Date.now();
    server.close();
    // The source is paused and its mirror ended; the last of the RAM may still be loading here.
    const deadline = Date.now() + COMPLETE_WAIT_MS;
    for (;;) {
      const m = await q.execute<{ status?: string }>('query-migrate');
      if (m.status === 'completed') break;
      if (m.status === 'failed' || m.status === 'cancelled' || Date.now() > deadline) {
        conn.end(`failed ${m.status ?? 'none'}\n`);
        throw new HttpError('internal', `the incoming migration of guest ${vmid} is ${m.status ?? 'not there'}; the guest stays paused here`);
      }
      await sleep(2);
    }
    const complete = Date.now();
    writeFileSync(resumedFile(vmid), '');
    if (!rec.replicated) await q.execute('nbd-server-stop');
    await q.execute('cont');
    const at = Date.now();
    conn.end(`running ${at}\n`);
    t.log(`guest ${vmid} runs here since ${new Date(at).toISOString()}: the incoming migration was complete ${complete - went} ms after "go", cont ${at - complete} ms after that`);
    await settleArrival(q, vmid);
    return `guest ${vmid} arrived from node ${rec.from}`;
  } finally {
    server.close();
    q.close();
  }
}

/** After "go": the guest runs (resumed if the arrival task ended before its `cont`), its config is written, the key goes. */
async function settleArrival(q: Qmp, vmid: number): Promise<VmConfig> {
  if ((await q.execute<{ status: string }>('query-status')).status !== 'running') {
    try {
      await q.execute('nbd-server-stop');
    } catch {
      // Stopped already.
    }
    await q.execute('cont');
  }
  const rec = openRecord(vmid);
  const cfg = { ...rec.config, node: nodeName() };
  writeVmConfig(cfg);
  // The copy this node kept as the guest's peer is the past: the guest's config is here now (the source keeps one instead).
  if (rec.replicated) rmSync(replicaConfigFile(vmid), { force: true });
  updateRecord(vmid, (r) => ({ ...r, committed: true }));
  // The migration's key goes with it: a later migration of this guest adds its own.
  await q.execute('migrate-set-parameters', { 'tls-creds': '' });
  try {
    await q.execute('object-del', { id: MIGRATION_TLS_ID });
  } catch {
    // Removed already.
  }
  return cfg;
}

/** Wait for the arrival task to end (`kill`: end it first); nothing when there is none. */
async function endArrival(rec: IncomingRecord, kill: boolean): Promise<void> {
  const task = rec.arrival?.task;
  if (!task) return;
  const deadline = Date.now() + ARRIVAL_WAIT_MS;
  for (;;) {
    let t;
    try {
      t = readTask(task);
    } catch {
      return;
    }
    if (t.status !== 'running' || t.pid === null) return;
    if (kill || Date.now() > deadline) process.kill(t.pid, 'SIGKILL');
    await sleep(20);
  }
}

function nbdPid(pidFile: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && processAlive(pid, 'qemu-nbd') ? pid : null;
  } catch {
    return null;
  }
}

const alive = (rec: IncomingRecord) => rec.nbd.map((n) => nbdPid(n.pidFile)).filter((p): p is number => p !== null);

function openRecord(vmid: number, from?: string): IncomingRecord {
  const rec = readJson<IncomingRecord>(recordFile(vmid));
  if (!rec) throw notFound(`node ${nodeName()} is receiving no guest ${vmid}`);
  if (from !== undefined && rec.from !== from) throw conflict(`guest ${vmid} comes to ${nodeName()} from ${rec.from}, not from ${from}`);
  return rec;
}

/** After the copy: wait for the NBD servers to end, then the guest-visible SHA-256 and allocation of every image. */
export async function verifyIncoming(vmid: number, from: string): Promise<{ disks: { id: string; sha256: string; allocatedBytes: number }[] }> {
  const rec = openRecord(vmid, from);
  const deadline = Date.now() + NBD_END_WAIT_MS;
  while (alive(rec).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of alive(rec)) process.kill(pid, 'SIGTERM');
  const disks = [];
  for (const d of rec.disks) {
    const file = diskPath(vmid, d);
    disks.push({ id: d.id, sha256: await guestSha256(file, d.format), allocatedBytes: allocatedBytes(file) });
  }
  return { disks };
}

/** Offline: the guest lives here from now: its config, with this node's name. */
export async function commitIncoming(vmid: number, from: string): Promise<VmConfig> {
  const rec = openRecord(vmid, from);
  if (rec.online) throw conflict(`guest ${vmid} arrives live: it runs here on the source's "go" to its arrival task, not on a commit`);
  if (alive(rec).length) throw conflict(`the NBD servers of guest ${vmid} still run; verify first`);
  const cfg = { ...rec.config, node: nodeName() };
  writeVmConfig(cfg);
  writeJsonAtomic(recordFile(vmid), { ...rec, committed: true });
  return cfg;
}

/**
 * Remove what the migration made here (servers, images, a committed config
 * the placement index does not give this node). Live, the arrival task ends
 * first; if it had taken the "go" already, the guest runs here (or is
 * resumed now): nothing is removed, and the answer says `runsHere`.
 */
export async function abortIncoming(vmid: number, from?: string): Promise<{ removed: boolean; runsHere?: boolean }> {
  const rec = readJson<IncomingRecord>(recordFile(vmid));
  if (!rec) return { removed: false };
  if (from !== undefined && rec.from !== from) throw conflict(`guest ${vmid} comes to ${nodeName()} from ${rec.from}, not from ${from}`);
  await endArrival(rec, true);
  if (existsSync(resumedFile(vmid))) {
    await withQmp(vmFiles(vmid).qmp, (q) => settleArrival(q, vmid));
    log(`guest ${vmid}: the source's "go" came before the abort; the guest runs on node ${nodeName()}`);
    return { removed: false, runsHere: true };
  }
  for (const pid of alive(rec)) process.kill(pid, 'SIGTERM');
  for (const n of rec.nbd) rmSync(n.pidFile, { force: true });
  const placedHere = readPlacement()[String(vmid)]?.node === nodeName();
  if (rec.committed && placedHere) {
    // The move counted already: this node owns the guest now; only the record goes.
    await finishIncoming(vmid);
    return { removed: false };
  }
  if (rec.online) await endIncoming(vmid);
  if (rec.replicated) {
    for (const f of await undoReplicated(rec.replicated, true)) log(`guest ${vmid}: undoing the replicated move: ${f}`);
  }
  if (rec.committed) removeFile(guestConfigFile(vmid));
  if (rec.createdDir && !findVmConfig(vmid)) rmSync(guestImagesDir(vmid), { recursive: true, force: true });
  await finishIncoming(vmid);
  return { removed: true };
}

/** Drop the record and the key (after the arrival task, if any, wrote the config). */
export async function finishIncoming(vmid: number): Promise<void> {
  const rec = readJson<IncomingRecord>(recordFile(vmid));
  if (rec) await endArrival(rec, false);
  // The move is over: the source is Secondary again; two primaries are forbidden from now.
  if (rec?.replicated) await eachReplica(rec.replicated, 'one-primary').catch((e) => log(`guest ${vmid}: two primaries still allowed: ${(e as Error).message}`));
  rmSync(resumedFile(vmid), { force: true });
  for (const n of rec?.nbd ?? []) rmSync(n.pidFile, { force: true });
  rmSync(pskDir(vmid), { recursive: true, force: true });
  rmSync(recordFile(vmid), { force: true });
}

/** A folder the QEMU user (of the node's user's group) may enter and read in: 0750, whatever the umask. */
function sharedDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  chmodSync(dir, 0o750);
}

/**
 * The migration's key in `dir`/keys.psk, as QEMU's tls-creds-psk and
 * qemu-nbd read it. qemu-nbd and qemu-img run as the node's user, QEMU as
 * the QEMU user on a separated node, which reads it through the group they
 * share: the folder 0750, the key 0640, nobody else.
 */
export function writePsk(dir: string, user: string, psk: string): void {
  sharedDir(join(dir, '..'));
  sharedDir(dir);
  const file = join(dir, 'keys.psk');
  writeFileSync(file, `${user}:${psk}\n`, { mode: 0o640 });
  chmodSync(file, 0o640);
}

/** Where the source keeps its copy of the key while it copies (its own run/ folder). */
export function outgoingPskDir(vmid: number): string {
  return join(migrateRun(), `${vmid}.out.psk`);
}
