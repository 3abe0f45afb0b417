/**
 * Keeping every node's ISO library like the master's. In a cluster, images
 * are uploaded to the master and copied to every node, so a guest can boot
 * its install medium wherever it runs.
 *
 *   PUT /api/iso/a.iso on the master → stored there → distribute('a.iso') → task "iso-distribute"
 *   task, for each other node at once:  GET /api/iso/cluster (its library) → syncPlan (sync.ts)
 *     → PUT /api/iso/cluster/a.iso?sha256=…  the file streamed from disk, signed; the node stores
 *       it as its own upload does and answers 201 only when the SHA-256 is the one named
 *     → DELETE /api/iso/cluster/c.iso        a copy the master no longer has
 *   task record: parts [{name: "n2", status, progress, message: "a.iso: 120.0 MiB of 600.0 MiB"}, …]
 *
 * A node that does not answer, or goes away mid-copy, fails its part (the
 * task names it; the node's own upload removes its partial file); the
 * master's minute tick (libraryTick) finds every node whose library
 * differs, one that joined since or was away included, and starts the task
 * for it. On a single node, or a member, there is nothing to do.
 */
import { closeSync, createReadStream, fstatSync, openSync, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import { conflict } from '../lib/errors';
import { formatBytes } from '../lib/format';
import { nodeName } from '../lib/paths';
import { callNode, forEachNode, isMaster, nodeJson, otherNodes, requireCluster } from '../cluster/members';
import { jsonAnswer, PeerError } from '../cluster/peer';
import { readCluster } from '../cluster/state';
import { listTasks, startTask, type TaskKind, type TaskRun } from '../tasks/task';
import { imagePath, listImages, readImage, type IsoImage } from './library';
import { isIsoName } from './names';
import { COPY_BUFFER_BYTES } from './upload';
import { copyTarget, parseNodeImages, removeTarget, syncPlan, type SyncStep } from './sync';

export const ISO_DISTRIBUTE = 'iso-distribute';
/** Where a node lists its library for the master. */
export const LIBRARY_TARGET = '/api/iso/cluster';
/** How long the master waits for a node's library list, or for a removal. */
export const LIBRARY_CALL_TIMEOUT_MS = 10_000;
/** A copy that moves no byte for this long is given up (a node gone without closing the connection). */
export const COPY_STALL_MS = 60_000;
/** Time a node has after the last byte to answer (flush to disk, rename). */
export const COPY_SETTLE_MS = 5 * 60_000;
/** Slowest rate the answer timeout of a copy allows for; a dead copy ends on COPY_STALL_MS long before. */
export const COPY_MIN_RATE_BYTES_S = 1024 * 1024; // 1 MiB/s

type CopyStep = Extract<SyncStep, { op: 'copy' }>;

/** How long a copy of `size` bytes may take to be answered, in all. */
export const copyAnswerTimeoutMs = (size: number) => COPY_SETTLE_MS + Math.ceil((size / COPY_MIN_RATE_BYTES_S) * 1000);

/**
 * After `name` appeared or disappeared on this node (upload, delete): on the
 * master of a cluster, start copying (or removing) it on the other nodes.
 * The task id, or null when there is nothing to do (a single node, a member).
 */
export function distribute(name: string, user: string): string | null {
  const c = readCluster();
  if (!c || !isMaster(c)) return null;
  const nodes = otherNodes(c);
  if (nodes.length === 0) return null;
  return startTask({ kind: ISO_DISTRIBUTE, object: '/iso', user, params: { names: [name] }, message: `${name} to ${nodes.join(', ')}` });
}

interface DistributeParams {
  names: string[] | null;
  nodes: string[] | null;
}

function checkedParams(p: Record<string, unknown>): DistributeParams {
  const list = (v: unknown, ok: (s: string) => boolean, what: string): string[] | null => {
    if (v === undefined) return null;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && ok(s))) throw new Error(`bad ${what} in the task's params`);
    return v as string[];
  };
  return { names: list(p.names, isIsoName, 'image names'), nodes: list(p.nodes, () => true, 'node names') };
}

/** The "iso-distribute" task: make the other nodes' libraries like this one's (`names` only, or all). */
export async function distributeTask(t: TaskRun): Promise<string> {
  const { names, nodes } = checkedParams(t.params);
  const c = requireCluster();
  if (!isMaster(c)) throw conflict(`node ${nodeName()} is no longer the master of cluster ${c.name} (${c.master} is): the master keeps the libraries alike`);
  const members = otherNodes(c);
  const targets = (nodes ?? members).filter((n) => members.includes(n));
  const mine = listImages();
  t.log(`${names ? names.join(', ') : 'the whole library'} to ${targets.join(', ') || 'no node'}`);
  const shares = new Map<string, number>();
  const progress = (node: string, pct: number, message?: string) => {
    shares.set(node, pct);
    t.part(node, { progress: pct, ...(message !== undefined ? { message } : {}) });
    t.progress([...shares.values()].reduce((a, b) => a + b, 0) / targets.length);
  };
  for (const n of targets) t.part(n, { status: 'waiting', message: 'waiting' });
  const results = await Promise.all(targets.map((n) => syncNode(t, n, mine, names, progress)));
  const failed = results.filter((r) => r.error !== null);
  const done = results.filter((r) => r.error === null).map((r) => `${r.node} (${r.summary})`);
  if (failed.length > 0) {
    throw new Error(
      `not on ${failed.map((r) => r.node).join(', ')}: ${failed.map((r) => `${r.node}: ${r.error}`).join('; ')}` +
        `${done.length ? `; done on ${done.join(', ')}` : ''}; the master's minute tick tries again`,
    );
  }
  return done.length ? `libraries alike: ${done.join(', ')}` : 'no other node';
}

interface NodeResult {
  node: string;
  summary: string;
  error: string | null;
}

/** One node's part: its library, the plan, each step; a node that does not answer ends its part. */
async function syncNode(
  t: TaskRun,
  node: string,
  mine: readonly IsoImage[],
  only: readonly string[] | null,
  progress: (node: string, pct: number, message?: string) => void,
): Promise<NodeResult> {
  t.part(node, { status: 'running', message: 'reading its library' });
  const errors: string[] = [];
  const did: string[] = [];
  try {
    const plan = syncPlan(node, mine, parseNodeImages(await nodeJson(node, 'GET', LIBRARY_TARGET, undefined, { timeoutMs: LIBRARY_CALL_TIMEOUT_MS })), only);
    for (const k of plan.kept) t.log(`${node}: ${k}`);
    const total = plan.steps.reduce((a, s) => a + (s.op === 'copy' ? s.size : 0), 0);
    let before = 0;
    for (const s of plan.steps) {
      try {
        if (s.op === 'remove') {
          await nodeJson(node, 'DELETE', removeTarget(s.name), undefined, { timeoutMs: LIBRARY_CALL_TIMEOUT_MS });
          t.log(`${node}: removed ${s.name}`);
          did.push(`${s.name} removed`);
          continue;
        }
        t.log(`${node}: copying ${s.name} (${formatBytes(s.size)})`);
        await copyTo(node, s, (bytes) => progress(node, total ? (100 * (before + bytes)) / total : 100, `${s.name}: ${formatBytes(bytes)} of ${formatBytes(s.size)}`));
        t.log(`${node}: ${s.name} stored, SHA-256 ${s.sha256} verified there`);
        did.push(`${s.name} copied`);
      } catch (e) {
        const msg = (e as Error).message;
        t.log(`${node}: ${msg}`);
        errors.push(msg);
        // A node that is gone takes nothing more this time.
        if (e instanceof PeerError) break;
      } finally {
        if (s.op === 'copy') before += s.size;
      }
    }
  } catch (e) {
    const msg = (e as Error).message;
    t.log(`${node}: ${msg}`);
    errors.push(msg);
  }
  const summary = did.length ? did.join(', ') : 'nothing to do';
  if (errors.length) {
    t.part(node, { status: 'failed', message: errors.join('; ') });
    return { node, summary, error: errors.join('; ') };
  }
  progress(node, 100);
  t.part(node, { status: 'ok', message: summary });
  return { node, summary, error: null };
}

/**
 * Stream one image to `node` (PUT, signed, its length told), reporting the
 * bytes sent; resolves once the node stored it with the SHA-256 named.
 * The file is read from this node's disk as the node takes it (no copy in
 * memory or a temp file); a copy that stalls for COPY_STALL_MS is ended.
 */
export async function copyTo(node: string, step: CopyStep, onBytes: (sent: number) => void): Promise<void> {
  const fd = openImageAsPlanned(step);
  const src = createReadStream('', { fd, highWaterMark: COPY_BUFFER_BYTES });
  let sent = 0;
  let stalled = false;
  const body = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      onBytes(sent);
      done(null, chunk);
    },
  });
  src.once('error', (e) => body.destroy(e));
  src.pipe(body);
  let seen = -1;
  const watch = setInterval(() => {
    if (sent === seen && sent < step.size) {
      stalled = true;
      body.destroy(new Error('stalled'));
    }
    seen = sent;
  }, COPY_STALL_MS);
  const where = () => `after ${formatBytes(sent)} of ${formatBytes(step.size)}`;
  try {
    const res = await callNode(node, {
      method: 'PUT',
      target: copyTarget(step),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(step.size) },
      body,
      answerTimeoutMs: copyAnswerTimeoutMs(step.size),
    });
    let stored: IsoImage;
    try {
      stored = (await jsonAnswer<IsoImage>(node, res)).data;
    } finally {
      res.socket?.destroy();
    }
    if (stored?.sha256 !== step.sha256) throw new Error(`node ${node} stored ${step.name} with SHA-256 ${stored?.sha256}, not ${step.sha256}`);
  } catch (e) {
    if (stalled) throw new PeerError(node, 'timeout', `copying ${step.name} to ${node} stalled ${where()}: no byte was taken for ${COPY_STALL_MS / 1000} s`);
    const err = e as Error;
    err.message = `copying ${step.name} to ${node} failed ${where()}: ${err.message}`;
    throw err;
  } finally {
    clearInterval(watch);
    src.destroy();
  }
}

/** An open descriptor of the image `step` was planned from; throws when it changed or went since. */
function openImageAsPlanned(step: CopyStep): number {
  let fd: number;
  try {
    fd = openSync(imagePath(step.name), 'r');
  } catch {
    throw new Error(`${step.name} is gone from this node since the copy was planned`);
  }
  try {
    const st = fstatSync(fd);
    const now = readImage(step.name);
    if (now.sha256 !== step.sha256 || st.size !== step.size || statSync(imagePath(step.name)).ino !== st.ino) {
      throw new Error(`${step.name} changed on this node since the copy was planned; the next run copies it as it is now`);
    }
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * The master's part of `ramvm cluster tick`: ask every other node for its
 * library and start the task for those whose library differs (unless one
 * runs). Lines saying what it did; none when every library is alike.
 */
export async function libraryTick(): Promise<string[]> {
  const c = readCluster();
  if (!c || !isMaster(c) || otherNodes(c).length === 0) return [];
  const running = listTasks().find((x) => x.kind === ISO_DISTRIBUTE && x.status === 'running');
  if (running) return [`ISO library: task ${running.id} is at work; the libraries are compared again at the next tick`];
  const mine = listImages();
  const answers = await forEachNode(
    otherNodes(c),
    async (n) => syncPlan(n, mine, parseNodeImages(await nodeJson(n, 'GET', LIBRARY_TARGET, undefined, { timeoutMs: LIBRARY_CALL_TIMEOUT_MS }))),
    LIBRARY_CALL_TIMEOUT_MS,
  );
  const due = answers.flatMap((a) => (a.ok && a.value.steps.length > 0 ? [{ node: a.node, steps: a.value.steps }] : []));
  if (due.length === 0) return [];
  const nodes = due.map((d) => d.node);
  const id = startTask({ kind: ISO_DISTRIBUTE, object: '/iso', user: 'cron', params: { nodes }, message: `ISO library to ${nodes.join(', ')}` });
  const what = due.map((d) => `${d.node}: ${d.steps.map((s) => `${s.op} ${s.name}`).join(', ')}`).join('; ');
  return [`ISO library differs (${what}): task ${id}`];
}

/** The ISO library's task kinds (cli/task-kinds.ts). */
export const ISO_TASK_KINDS: Record<string, TaskKind> = { [ISO_DISTRIBUTE]: distributeTask };
