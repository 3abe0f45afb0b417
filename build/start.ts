/**
 * `npm start`: one node in the foreground with the data tree under
 * RAMVM_ROOT (default ./var). Prints "listening on http://HOST:PORT" once
 * requests are served; SIGINT/SIGTERM stop lighttpd cleanly (guests are
 * separate processes and keep running). Once the server listens, `ramvm
 * boot` starts the guests marked "start at boot" (output prefixed "boot:"),
 * and the process runs the backup scheduler's tick, `ramvm backup tick
 * npm-start`, the work cron does on image nodes: at once, then at each
 * whole minute (RAMVM_SCHEDULER_TICK_MS may ask for shorter, for tests).
 * A tick still running when the next is due is not doubled; lines it
 * prints are prefixed "backup:". After it, `ramvm cluster tick` keeps a
 * cluster node in step (prefix "cluster:"; nothing outside a cluster).
 *
 * Started by root, the node is separated (build/server.ts): its user ramvm
 * must reach the data root, so without RAMVM_ROOT a checkout it cannot
 * reach (below /root, 0700 on Debian) keeps its data in /var/lib/ramvm
 * instead of ./var (startRoot).
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { nextTickDelayMs, tickIntervalMs } from '../node-cgi/backup/scheduler';
import { buildCommand } from './build';
import { startServer } from './server';
import { unreachableReason } from '../node-cgi/root/setup';

/** The data root of a separated node whose user cannot reach ./var. */
export const SEPARATED_FALLBACK_ROOT = '/var/lib/ramvm';

/**
 * npm start's data root: RAMVM_ROOT, else ./var; started by root (a
 * separated node) with ./var where the node's user cannot reach it,
 * /var/lib/ramvm, and why.
 *
 *   ({}, "/root/ramvm", true, "/root is closed to other users") → { root: "/var/lib/ramvm", why: "…" }
 */
export function startRoot(envRoot: string | undefined, cwd: string, byRoot: boolean, unreachable: (path: string) => string | null): { root: string; why?: string } {
  if (envRoot) return { root: envRoot };
  const local = resolve(cwd, 'var');
  const why = byRoot ? unreachable(local) : null;
  return why ? { root: SEPARATED_FALLBACK_ROOT, why } : { root: local };
}

export async function startCommand(): Promise<void> {
  // Handlers first: a signal that lands before a listener exists takes the
  // default action and would kill us without stopping lighttpd.
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping the web server (running guests keep running)\n');
    void server?.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const tickMs = tickIntervalMs(process.env.RAMVM_SCHEDULER_TICK_MS);
  await buildCommand();
  if (stopping) return;
  const port = Number(process.env.RAMVM_PORT ?? 8006);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`RAMVM_PORT must be a port number, not ${process.env.RAMVM_PORT}`);
  const data = startRoot(process.env.RAMVM_ROOT, process.cwd(), process.getuid?.() === 0, unreachableReason);
  if (data.why) process.stdout.write(`data in ${data.root}, not ./var: the node's user cannot reach ./var (${data.why}); RAMVM_ROOT chooses another place\n`);
  const clusterPort = process.env.RAMVM_CLUSTER_PORT ? Number(process.env.RAMVM_CLUSTER_PORT) : undefined;
  if (clusterPort !== undefined && (!Number.isInteger(clusterPort) || clusterPort < 1 || clusterPort > 65535)) {
    throw new Error(`RAMVM_CLUSTER_PORT must be a port number, not ${process.env.RAMVM_CLUSTER_PORT}`);
  }
  server = await startServer({
    root: data.root,
    listen: process.env.RAMVM_LISTEN ?? '127.0.0.1',
    port,
    node: process.env.RAMVM_NODE || hostname(),
    https: process.env.RAMVM_HTTPS === '1',
    ...(clusterPort !== undefined ? { clusterPort } : {}),
    ...(process.env.RAMVM_ADDRESS ? { address: process.env.RAMVM_ADDRESS } : {}),
  });
  if (server.initOutput) process.stdout.write(server.initOutput);
  process.stdout.write(`ramvm node ${process.env.RAMVM_NODE || hostname()}: data in ${server.root}, log in ${server.root}/var/log/ramvm/lighttpd-error.log\n`);
  process.stdout.write(`listening on ${server.url}\n`);
  process.stdout.write(`cluster socket on ${server.clusterUrl}\n`);
  if (stopping) {
    // Asked to stop while starting up.
    await server.stop();
    return;
  }
  ramvm(server.root, server.dist, ['boot'], 'boot');
  const ticks = runScheduler(server.root, server.dist, tickMs);
  const proc = server.proc;
  await new Promise<void>((res) => (proc.exitCode !== null || proc.signalCode !== null ? res() : proc.once('exit', () => res())));
  ticks.stop();
}

/** Run the ramvm CLI in the background; its lines go to stdout prefixed "<prefix>:". Resolves when it ends. */
function ramvm(root: string, dist: string, args: string[], prefix: string): Promise<void> {
  const env = { ...process.env, RAMVM_ROOT: root, RAMVM_DIST: dist, RAMVM_NODE: process.env.RAMVM_NODE || hostname() };
  const child = spawn(process.execPath, [join(dist, 'bin/ramvm'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) process.stdout.write(`${prefix}: ${line}\n`);
  };
  child.stdout.on('data', relay);
  child.stderr.on('data', relay);
  return new Promise((res) => {
    child.once('error', (e) => (relay(Buffer.from(e.message)), res()));
    child.once('close', () => res());
  });
}

/** The minute work of this node: the backup scheduler's tick, then the cluster's; now, then at every whole interval; stop() ends the timer. */
function runScheduler(root: string, dist: string, intervalMs: number): { stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    timer = setTimeout(() => void tick(), nextTickDelayMs(Date.now(), intervalMs));
    if (running) return;
    running = true;
    try {
      await ramvm(root, dist, ['backup', 'tick', 'npm-start'], 'backup');
      // A cluster node keeps in step (a no-op outside a cluster).
      await ramvm(root, dist, ['cluster', 'tick'], 'cluster');
    } finally {
      running = false;
    }
  };
  void tick();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
