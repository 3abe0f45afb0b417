/**
 * `npm start`: one node in the foreground with the data tree under
 * RAMVM_ROOT (default ./var). Prints "listening on http://HOST:PORT" once
 * requests are served; SIGINT/SIGTERM stop lighttpd cleanly (guests are
 * separate processes and keep running). Once the server listens, `ramvm
 * boot` starts the guests marked "start at boot" (output prefixed "boot:"),
 * and each minute `ramvm cluster tick` keeps a cluster node in step (prefix
 * "cluster:").
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { buildCommand, DIST } from './build';
import { startServer } from './server';

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
  await buildCommand();
  if (stopping) return;
  const port = Number(process.env.RAMVM_PORT ?? 8006);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`RAMVM_PORT must be a port number, not ${process.env.RAMVM_PORT}`);
  const clusterPort = process.env.RAMVM_CLUSTER_PORT ? Number(process.env.RAMVM_CLUSTER_PORT) : undefined;
  if (clusterPort !== undefined && (!Number.isInteger(clusterPort) || clusterPort < 1 || clusterPort > 65535)) {
    throw new Error(`RAMVM_CLUSTER_PORT must be a port number, not ${process.env.RAMVM_CLUSTER_PORT}`);
  }
  server = await startServer({
    root: process.env.RAMVM_ROOT ?? './var',
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
  runCli(server.root, ['boot'], 'boot');
  const tick = setInterval(() => runCli(server!.root, ['cluster', 'tick'], 'cluster'), CLUSTER_TICK_MS);
  const proc = server.proc;
  await new Promise<void>((res) => (proc.exitCode !== null || proc.signalCode !== null ? res() : proc.once('exit', () => res())));
  clearInterval(tick);
}

/** How often `ramvm cluster tick` runs (a no-op outside a cluster). */
const CLUSTER_TICK_MS = 60_000;

/** Run the `ramvm` CLI in the background on this node's root; its lines go to stdout prefixed "<prefix>:". */
function runCli(root: string, args: string[], prefix: string): void {
  const env = { ...process.env, RAMVM_ROOT: root, RAMVM_DIST: DIST, RAMVM_NODE: process.env.RAMVM_NODE || hostname() };
  const child = spawn(process.execPath, [join(DIST, 'bin/ramvm'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) process.stdout.write(`${prefix}: ${line}\n`);
  };
  child.stdout.on('data', relay);
  child.stderr.on('data', relay);
}
