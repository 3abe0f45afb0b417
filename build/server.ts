/**
 * Run one node's web server: lay out the data tree (`ramvm init`), write the
 * lighttpd config from lighttpd.conf.in, start lighttpd in the foreground
 * and report when it serves. Used by `npm start` and by the tests (with a
 * temporary root and a free port).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { DIST, ROOT, cgiEntries } from './build';
import { basename } from 'node:path';
import { pathsFor } from '../node-cgi/lib/paths';

export interface ServerOptions {
  root: string;
  listen: string;
  port: number;
  node?: string;
  https?: boolean;
  /** Extra environment for `ramvm init` (e.g. RAMVM_ADMIN_PASSWORD); its RAMVM_KVM_DEVICE (the KVM device to check, tests) also reaches the CGIs. */
  env?: NodeJS.ProcessEnv;
  /** Keep lighttpd's stdout off the terminal (tests). */
  quiet?: boolean;
  /**
   * Port of the cluster socket (HTTPS always, on `listen`): default the UI
   * port when the UI is HTTPS (one socket), else the UI port + 1.
   */
  clusterPort?: number;
  /** The address other nodes reach this one at (RAMVM_ADDRESS); default `listen` when it is a specific address. */
  address?: string;
  /** Run lighttpd (and so every CGI, task and guest it starts) in this network namespace (tests). */
  netns?: string;
}

export interface RunningServer {
  url: string;
  root: string;
  confFile: string;
  proc: ChildProcess;
  /** Output of `ramvm init` (the generated admin password, once). */
  initOutput: string;
  /** The cluster socket: "https://ADDR:PORT" (ADDR is `listen` for a wildcard listen). */
  clusterUrl: string;
  stop(): Promise<void>;
}

/** Largest request body lighttpd accepts, in KiB (ISO uploads of any practical size). */
const MAX_REQUEST_KB = 64 * 1024 * 1024; // 64 GiB

/** Where lighttpd puts its request-body temp files (see lighttpd.conf.in). */
export const uploadDir = (root: string) => join(resolve(root), 'run/ramvm/upload');

/** The cluster port of a server: explicit, else the UI port with HTTPS, else UI port + 1 (8006 → 8007). */
export function clusterPortOf(opts: Pick<ServerOptions, 'port' | 'https' | 'clusterPort'>): number {
  return opts.clusterPort ?? (opts.https ? opts.port : opts.port + 1);
}

/** What the CGIs and the `ramvm` CLI learn of the server (also set by lighttpd.conf.in's setenv). */
export function serverEnv(opts: Pick<ServerOptions, 'listen' | 'port' | 'https' | 'clusterPort' | 'address'>): Record<string, string> {
  return {
    RAMVM_LISTEN: opts.listen,
    RAMVM_PORT: String(opts.port),
    RAMVM_CLUSTER_PORT: String(clusterPortOf(opts)),
    RAMVM_ADDRESS: opts.address ?? '',
  };
}

/** The node's certificate and key for lighttpd (made by `ramvm init`, node-cgi/cluster/identity.ts). */
export const nodePem = (root: string) => pathsFor(root).nodePem;

export function lighttpdConfig(opts: ServerOptions): string {
  const root = resolve(opts.root);
  const clusterPort = clusterPortOf(opts);
  const vars: Record<string, string> = {
    WWW: join(DIST, 'www'),
    DIST,
    ROOT: root,
    LISTEN: opts.listen,
    PORT: String(opts.port),
    LOGDIR: join(root, 'var/log/ramvm'),
    NODE: process.execPath,
    NODE_NAME: opts.node ?? hostname(),
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    KVM_DEVICE: opts.env?.RAMVM_KVM_DEVICE || '/dev/kvm',
    MAX_REQUEST_KB: String(MAX_REQUEST_KB),
    UPLOAD_DIR: uploadDir(root),
    HANDLERS: cgiEntries().map((f) => basename(f, '.ts')).filter((h) => h !== 'unknown').join('|'),
    TLS_PEM: nodePem(root),
    CLUSTER_PORT: String(clusterPort),
    ADDRESS: opts.address ?? '',
  };
  for (const [k, v] of Object.entries(vars)) {
    if (/["\\\n]/.test(v)) throw new Error(`${k} may not contain quotes, backslashes or newlines: ${v}`);
  }
  if (!Number.isInteger(clusterPort) || clusterPort < 1 || clusterPort > 65535) throw new Error(`cluster port must be a port number, not ${clusterPort}`);
  if (opts.https && clusterPort !== opts.port) throw new Error('with HTTPS the cluster socket is the UI socket: leave the cluster port unset or equal to the port');
  // Config fragments, built only from the checked values above. The cluster
  // socket speaks HTTPS even when the UI is HTTP.
  const listenSocket = `${opts.listen.includes(':') ? `[${opts.listen}]` : opts.listen}:${clusterPort}`;
  vars.TLS = opts.https
    ? `ssl.engine = "enable"\nssl.pemfile = "${vars.TLS_PEM}"\n`
    : `$SERVER["socket"] == "${listenSocket}" {\n  ssl.engine = "enable"\n  ssl.pemfile = "${vars.TLS_PEM}"\n}\n`;
  return readFileSync(join(ROOT, 'build/lighttpd.conf.in'), 'utf8').replace(/\{\{([A-Z_]+)\}\}/g, (_, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new Error(`lighttpd.conf.in: unknown placeholder ${k}`);
    return v;
  });
}

function waitForPort(host: string, port: number, timeoutMs: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((res, rej) => {
    const attempt = () => {
      if (proc.exitCode !== null) return rej(new Error(`lighttpd exited with status ${proc.exitCode}`));
      const s = connect(port, host);
      s.once('connect', () => {
        s.destroy();
        res();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) rej(new Error(`lighttpd did not listen on ${host}:${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const root = resolve(opts.root);
  const env = { ...process.env, ...opts.env, ...serverEnv(opts), RAMVM_ROOT: root, RAMVM_DIST: DIST, RAMVM_NODE: opts.node ?? hostname() };
  // init also makes the node's certificate (etc/ramvm/priv/node.pem), which the config names.
  const init = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'init'], { env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`ramvm init failed: ${init.stderr}`);
  const confFile = join(root, 'run/ramvm/lighttpd.conf');
  mkdirSync(uploadDir(root), { recursive: true, mode: 0o700 });
  // For the `ramvm` CLI run by hand: where this node listens (cluster/membership.ts serverEnv).
  writeFileSync(pathsFor(root).serverInfo, JSON.stringify(serverEnv(opts)) + '\n');
  writeFileSync(confFile, lighttpdConfig({ ...opts, root }));
  const check = spawnSync('lighttpd', ['-tt', '-f', confFile], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`lighttpd rejected its config: ${check.stderr}${check.stdout}`);
  // CGIs inherit lighttpd's stderr, not its errorlog: point both at the same
  // file (O_APPEND) so every handler's log line lands beside lighttpd's own.
  const logDir = join(root, 'var/log/ramvm');
  mkdirSync(logDir, { recursive: true });
  const errFd = openSync(join(logDir, 'lighttpd-error.log'), 'a', 0o640);
  const argv = [...(opts.netns ? ['ip', 'netns', 'exec', opts.netns] : []), 'lighttpd', '-D', '-f', confFile];
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', errFd], env });
  closeSync(errFd);
  await waitForPort(opts.listen, opts.port, 10_000, proc);
  const host = opts.listen.includes(':') ? `[${opts.listen}]` : opts.listen;
  const clusterHost = opts.address ?? host;
  return {
    url: `${opts.https ? 'https' : 'http'}://${host}:${opts.port}`,
    clusterUrl: `https://${clusterHost.includes(':') && !clusterHost.startsWith('[') ? `[${clusterHost}]` : clusterHost}:${clusterPortOf(opts)}`,
    root,
    confFile,
    proc,
    initOutput: init.stdout,
    stop: () =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return res();
        proc.once('exit', () => res());
        proc.kill('SIGTERM');
      }),
  };
}
