/**
 * Run one node's web server: lay out the data tree (`ramvm init`), write the
 * lighttpd config from lighttpd.conf.in, start lighttpd in the foreground
 * and report when it serves. Used by `npm start` and by the tests (with a
 * temporary root and a free port).
 *
 * Started by root, the node is separated (node-cgi/root/setup.ts): the
 * users ramvm and ramvm-qemu are made if missing, the data tree is handed
 * to ramvm, the node is registered for the root helper and its sudoers
 * line installed; lighttpd binds its port as root and then runs as ramvm
 * (server.username), and so does every CGI. Its config then lives in the
 * root-owned registry, where ramvm cannot change what root reads at the
 * next start. Started by another user, everything runs as that user.
 *
 * ramvm must reach the bundles it serves and runs. A checkout it cannot
 * reach (below /root, 0700 on Debian) is served from a copy root makes in
 * the node's registry folder (servedDist); the root helper itself is run
 * by root from the checkout.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, cpSync, fchownSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { DIST, ROOT, cgiEntries } from './build';
import { basename } from 'node:path';
import { pathsFor, registryDir } from '../node-cgi/lib/paths';
import type { NodeRecord } from '../node-cgi/lib/separation';
import { ensureSudoers, ensureUsers, prepareDataTree, registerNode, unreachableReason, unregisterNode } from '../node-cgi/root/setup';
import { asUser } from '../node-cgi/root/trust';

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
   * Started by root: separate (the default) or run everything as root, the
   * way a node ran before separation (benchmarks compare the two).
   */
  separate?: boolean;
  /** The build to serve (default: this checkout's dist/). */
  dist?: string;
  /**
   * Port of the cluster socket (HTTPS always, on `listen`): default the UI
   * port when the UI is HTTPS (one socket), else the UI port + 1.
   */
  clusterPort?: number;
  /** The address other nodes reach this one at (RAMVM_ADDRESS); default `listen` when it is a specific address. */
  address?: string;
  /** Run lighttpd (and so every CGI, task and guest it starts) in this network namespace (tests). */
  netns?: string;
  /**
   * With `https`: a plain-HTTP socket on this port of `listen` that answers
   * every request with a redirect to the same path over HTTPS on `port`
   * (a node image: the address typed into a browser reaches the UI).
   */
  httpRedirectPort?: number;
}

export interface RunningServer {
  url: string;
  root: string;
  confFile: string;
  proc: ChildProcess;
  /** Output of `ramvm init` (the generated admin password, once). */
  initOutput: string;
  /** The node's record when it runs separated (started by root). */
  record?: NodeRecord;
  /** The build lighttpd serves and the CGIs run (RAMVM_DIST): the checkout's, or root's copy (servedDist). */
  dist: string;
  /** The cluster socket: "https://ADDR:PORT" (ADDR is `listen` for a wildcard listen). */
  clusterUrl: string;
  stop(): Promise<void>;
}

/** Largest request body lighttpd accepts, in KiB (ISO uploads of any practical size). */
const MAX_REQUEST_KB = 64 * 1024 * 1024; // 64 GiB

/** Where lighttpd puts its request-body temp files (see lighttpd.conf.in). */
export const uploadDir = (root: string) => join(resolve(root), 'run/ramvm/upload');

/**
 * The cluster port of a server: explicit, else the UI port with HTTPS, else
 * UI port + 1 (8006 → 8007). An HTTPS server may keep a cluster socket of
 * its own (the node image keeps 8007, where its peers look).
 */
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

export function lighttpdConfig(opts: ServerOptions & { runAs?: string; errorlog?: string }): string {
  const root = resolve(opts.root);
  const dist = opts.dist ?? DIST;
  const clusterPort = clusterPortOf(opts);
  const vars: Record<string, string> = {
    WWW: join(dist, 'www'),
    DIST: dist,
    ROOT: root,
    LISTEN: opts.listen,
    PORT: String(opts.port),
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
  if (opts.runAs) vars.RUN_AS = opts.runAs;
  if (opts.errorlog) vars.ERRORLOG_FILE = opts.errorlog;
  for (const [k, v] of Object.entries(vars)) {
    if (/["\\\n]/.test(v)) throw new Error(`${k} may not contain quotes, backslashes or newlines: ${v}`);
  }
  if (!Number.isInteger(clusterPort) || clusterPort < 1 || clusterPort > 65535) throw new Error(`cluster port must be a port number, not ${clusterPort}`);
  const redirect = opts.httpRedirectPort;
  if (redirect !== undefined) {
    if (!opts.https) throw new Error('an HTTP redirect port needs https: it sends browsers to the HTTPS UI');
    if (!Number.isInteger(redirect) || redirect < 1 || redirect > 65535 || redirect === opts.port || redirect === clusterPort) {
      throw new Error(`the HTTP redirect port must be a free port number of its own, not ${redirect}`);
    }
  }
  // Config fragments, built only from the checked values above. The cluster
  // socket speaks HTTPS even when the UI is HTTP.
  const socketOf = (port: number) => `${opts.listen.includes(':') ? `[${opts.listen}]` : opts.listen}:${port}`;
  const clusterSocket = `$SERVER["socket"] == "${socketOf(clusterPort)}" {\n  ssl.engine = "enable"\n  ssl.pemfile = "${vars.TLS_PEM}"\n}\n`;
  vars.TLS = opts.https
    ? `ssl.engine = "enable"\nssl.pemfile = "${vars.TLS_PEM}"\n${clusterPort !== opts.port ? clusterSocket : ''}`
    : clusterSocket;
  vars.HTTP_REDIRECT = redirect === undefined ? '# no plain-HTTP socket' : httpRedirectBlock(socketOf(redirect), opts.port);
  // Without an errorlog lighttpd writes its errors to its stderr, which startServer points at
  // var/log/ramvm/lighttpd-error.log, beside the CGIs' own (opened there without following a link).
  vars.ERRORLOG = opts.errorlog ? `server.errorlog = "${vars.ERRORLOG_FILE}"` : '# errors: to stderr (build/server.ts points it at var/log/ramvm/lighttpd-error.log)';
  // Bound to its port as root, lighttpd then runs (and runs every CGI) as the node's user.
  vars.USER = opts.runAs ? `server.username = "${vars.RUN_AS}"\nserver.groupname = "${vars.RUN_AS}"` : '# runs as the user that started it';
  return readFileSync(join(ROOT, 'build/lighttpd.conf.in'), 'utf8').replace(/\{\{([A-Z_]+)\}\}/g, (_, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new Error(`lighttpd.conf.in: unknown placeholder ${k}`);
    return v;
  });
}

/**
 * The plain-HTTP socket of an HTTPS server: a browser that asks for
 * http://HOST/PATH is sent to https://HOST:PORT/PATH (301); nothing is
 * served there, and a request without a usable Host gets 403. lighttpd
 * checked the Host's characters before the condition sees it, and the
 * pattern admits only a name, an IPv4 or a bracketed IPv6 address, so the
 * Location carries nothing else.
 */
export function httpRedirectBlock(socket: string, httpsPort: number): string {
  return [
    `$SERVER["socket"] == "${socket}" {`,
    '  ssl.engine = "disable"',
    '  url.rewrite-once = ( )',
    '  server.error-handler = ""',
    '  $HTTP["host"] =~ "^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+)(:[0-9]+)?$" {',
    `    url.redirect = ( "^/(.*)$" => "https://%1:${httpsPort}/$1" )`,
    '  }',
    '  else {',
    '    url.access-deny = ( "" )',
    '  }',
    '}',
    '',
  ].join('\n');
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

/**
 * Separate a node started by root (node-cgi/root/setup.ts): users, the data
 * tree handed to ramvm, the registry record, the sudoers line.
 */
export function separateNode(root: string, dist = DIST): NodeRecord {
  const accounts = ensureUsers();
  prepareDataTree(root, accounts);
  const rec = registerNode(root, accounts, { node: process.execPath, helper: join(dist, 'bin/ramvm-root') });
  ensureSudoers(rec);
  return rec;
}

/**
 * The build a separated node serves: `dist` itself when the node's user can
 * reach it, else a fresh copy in the node's registry folder (root's, which
 * that user may read but not change; removed with the registration).
 *
 *   /root/ramvm/dist (/root is 0700) → /run/ramvm-root/3f9c…/dist
 */
export function servedDist(root: string, dist: string): { dist: string; copied: string | null } {
  const why = unreachableReason(join(dist, 'bin/ramvm'));
  if (!why) return { dist, copied: null };
  const copy = join(registryDir(root), 'dist');
  rmSync(copy, { recursive: true, force: true });
  cpSync(dist, copy, { recursive: true });
  const still = unreachableReason(join(copy, 'bin/ramvm'));
  if (still) throw new Error(`the node's user cannot reach the copy of the build in ${copy} either: ${still}`);
  return { dist: copy, copied: why };
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const root = resolve(opts.root);
  const record = (opts.separate ?? true) && process.getuid?.() === 0 ? separateNode(root, opts.dist ?? DIST) : undefined;
  const served = record ? servedDist(root, opts.dist ?? DIST) : { dist: opts.dist ?? DIST, copied: null };
  if (served.copied && !opts.quiet) process.stdout.write(`serving a copy of the build from ${served.dist}: user ${record!.cgi.user} cannot reach ${opts.dist ?? DIST} (${served.copied})\n`);
  const dist = served.dist;
  const env = { ...process.env, ...opts.env, ...serverEnv(opts), RAMVM_ROOT: root, RAMVM_DIST: dist, RAMVM_NODE: opts.node ?? hostname() };
  if (!record) mkdirSync(uploadDir(root), { recursive: true, mode: 0o700 });
  // init also makes the node's certificate (etc/ramvm/priv/node.pem), which the config names;
  // on a separated node it becomes ramvm first (node-cgi/cli/ramvm.ts), so the key is ramvm's.
  const init = spawnSync(process.execPath, [join(dist, 'bin/ramvm'), 'init'], { env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`ramvm init failed: ${init.stderr}`);
  const confFile = record ? join(registryDir(root), 'lighttpd.conf') : join(root, 'run/ramvm/lighttpd.conf');
  // For the `ramvm` CLI run by hand: where this node listens (cluster/membership.ts serverEnv). In
  // the node's own folder, so written as its user: root never writes through a link that user made.
  const writeInfo = () => writeFileSync(pathsFor(root).serverInfo, JSON.stringify(serverEnv(opts)) + '\n');
  if (record) asUser(record.cgi, writeInfo);
  else writeInfo();
  writeFileSync(confFile, lighttpdConfig({ ...opts, root, dist, ...(record ? { runAs: record.cgi.user } : {}) }), { mode: 0o644 });
  const check = spawnSync('lighttpd', ['-tt', '-f', confFile], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`lighttpd rejected its config: ${check.stderr}${check.stdout}`);
  // CGIs inherit lighttpd's stderr, not its errorlog: point both at the same
  // file (O_APPEND) so every handler's log line lands beside lighttpd's own.
  const logDir = join(root, 'var/log/ramvm');
  mkdirSync(logDir, { recursive: true });
  // Root opens a file in the node's folder: never through a link the node's user may have put there.
  const errFd = openSync(join(logDir, 'lighttpd-error.log'), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
  if (record) fchownSync(errFd, record.cgi.uid, record.cgi.gid);
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
    ...(record ? { record } : {}),
    dist,
    // A separated node's registration (and root's copy of the build) ends with its server; the next start makes it again.
    stop: () =>
      new Promise<void>((res) => {
        const done = () => {
          if (record) unregisterNode(root);
          res();
        };
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        proc.once('exit', done);
        proc.kill('SIGTERM');
      }),
  };
}
