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
import { closeSync, constants, cpSync, existsSync, fchownSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { DIST, ROOT, cgiEntries } from './build';
import { basename } from 'node:path';
import { registryDir } from '../node-cgi/lib/paths';
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
  stop(): Promise<void>;
}

/** Largest request body lighttpd accepts, in KiB (ISO uploads of any practical size). */
const MAX_REQUEST_KB = 64 * 1024 * 1024; // 64 GiB

/** Where lighttpd puts its request-body temp files (see lighttpd.conf.in). */
export const uploadDir = (root: string) => join(resolve(root), 'run/ramvm/upload');

export function lighttpdConfig(opts: ServerOptions & { tlsPem?: string; runAs?: string; errorlog?: string }): string {
  const root = resolve(opts.root);
  const dist = opts.dist ?? DIST;
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
  };
  if (opts.tlsPem) vars.TLS_PEM = opts.tlsPem;
  if (opts.runAs) vars.RUN_AS = opts.runAs;
  if (opts.errorlog) vars.ERRORLOG_FILE = opts.errorlog;
  for (const [k, v] of Object.entries(vars)) {
    if (/["\\\n]/.test(v)) throw new Error(`${k} may not contain quotes, backslashes or newlines: ${v}`);
  }
  // Config fragments, built only from the checked values above.
  vars.EXTRA_MODULES = opts.tlsPem ? ', "mod_openssl"' : '';
  vars.TLS = opts.tlsPem ? `ssl.engine = "enable"\nssl.pemfile = "${vars.TLS_PEM}"\n` : '';
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

/** A self-signed certificate for HTTPS mode, made once per data root (as the node's user on a separated node). */
function ensureCertificate(root: string, name: string, record?: NodeRecord): string {
  const dir = join(root, 'etc/ramvm/priv');
  const pem = join(dir, 'node.pem');
  const make = () => {
    if (existsSync(pem)) return;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = join(dir, 'node.key');
    const crt = join(dir, 'node.crt');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', `/CN=${name}`,
      '-addext', `subjectAltName=DNS:${name},DNS:localhost,IP:127.0.0.1`, '-keyout', key, '-out', crt], { stdio: 'pipe' });
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
    writeFileSync(pem, readFileSync(crt, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
  };
  if (record) asUser(record.cgi, make);
  else make();
  return pem;
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
  const env = { ...process.env, ...opts.env, RAMVM_ROOT: root, RAMVM_DIST: dist, RAMVM_NODE: opts.node ?? hostname() };
  if (!record) mkdirSync(uploadDir(root), { recursive: true, mode: 0o700 });
  // On a separated node `ramvm init` becomes ramvm itself (node-cgi/cli/ramvm.ts).
  const init = spawnSync(process.execPath, [join(dist, 'bin/ramvm'), 'init'], { env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`ramvm init failed: ${init.stderr}`);
  const tlsPem = opts.https ? ensureCertificate(root, opts.node ?? hostname(), record) : undefined;
  const confFile = record ? join(registryDir(root), 'lighttpd.conf') : join(root, 'run/ramvm/lighttpd.conf');
  writeFileSync(confFile, lighttpdConfig({ ...opts, root, dist, ...(tlsPem ? { tlsPem } : {}), ...(record ? { runAs: record.cgi.user } : {}) }), { mode: 0o644 });
  const check = spawnSync('lighttpd', ['-tt', '-f', confFile], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`lighttpd rejected its config: ${check.stderr}${check.stdout}`);
  // CGIs inherit lighttpd's stderr, not its errorlog: point both at the same
  // file (O_APPEND) so every handler's log line lands beside lighttpd's own.
  const logDir = join(root, 'var/log/ramvm');
  mkdirSync(logDir, { recursive: true });
  // Root opens a file in the node's folder: never through a link the node's user may have put there.
  const errFd = openSync(join(logDir, 'lighttpd-error.log'), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
  if (record) fchownSync(errFd, record.cgi.uid, record.cgi.gid);
  const proc = spawn('lighttpd', ['-D', '-f', confFile], { stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', errFd], env });
  closeSync(errFd);
  await waitForPort(opts.listen, opts.port, 10_000, proc);
  const host = opts.listen.includes(':') ? `[${opts.listen}]` : opts.listen;
  return {
    url: `${opts.https ? 'https' : 'http'}://${host}:${opts.port}`,
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
