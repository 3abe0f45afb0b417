/**
 * Run one node's web server: lay out the data tree (`ramvm init`), write the
 * lighttpd config from lighttpd.conf.in, start lighttpd in the foreground
 * and report when it serves. Used by `npm start` and by the tests (with a
 * temporary root and a free port).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { DIST, ROOT, cgiEntries } from './build';
import { basename } from 'node:path';
import { OPENSSL_REQ_CONF, certPaths, certificateArgs } from './image/https';

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
}

export interface RunningServer {
  url: string;
  root: string;
  confFile: string;
  proc: ChildProcess;
  /** Output of `ramvm init` (the generated admin password, once). */
  initOutput: string;
  stop(): Promise<void>;
}

/** Largest request body lighttpd accepts, in KiB (ISO uploads of any practical size). */
const MAX_REQUEST_KB = 64 * 1024 * 1024; // 64 GiB

/** Where lighttpd puts its request-body temp files (see lighttpd.conf.in). */
export const uploadDir = (root: string) => join(resolve(root), 'run/ramvm/upload');

export function lighttpdConfig(opts: ServerOptions & { tlsPem?: string }): string {
  const root = resolve(opts.root);
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
  };
  if (opts.tlsPem) vars.TLS_PEM = opts.tlsPem;
  for (const [k, v] of Object.entries(vars)) {
    if (/["\\\n]/.test(v)) throw new Error(`${k} may not contain quotes, backslashes or newlines: ${v}`);
  }
  // Config fragments, built only from the checked values above.
  vars.EXTRA_MODULES = opts.tlsPem ? ', "mod_openssl"' : '';
  vars.TLS = opts.tlsPem ? `ssl.engine = "enable"\nssl.pemfile = "${vars.TLS_PEM}"\n` : '';
  return readFileSync(join(ROOT, 'build/lighttpd.conf.in'), 'utf8').replace(/\{\{([A-Z_]+)\}\}/g, (_, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new Error(`lighttpd.conf.in: unknown placeholder ${k}`);
    return v;
  });
}

/** A self-signed certificate for HTTPS mode, made once per data root (build/image/https.ts). */
function ensureCertificate(root: string, name: string): string {
  const p = certPaths(root);
  if (existsSync(p.pem)) return p.pem;
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const conf = join(p.dir, 'openssl-req.cnf');
  writeFileSync(conf, OPENSSL_REQ_CONF);
  const argv = certificateArgs(name, p, conf);
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'pipe' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  writeFileSync(p.pem, readFileSync(p.crt, 'utf8') + readFileSync(p.key, 'utf8'), { mode: 0o600 });
  return p.pem;
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
  const env = { ...process.env, ...opts.env, RAMVM_ROOT: root, RAMVM_DIST: DIST, RAMVM_NODE: opts.node ?? hostname() };
  const init = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'init'], { env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`ramvm init failed: ${init.stderr}`);
  const tlsPem = opts.https ? ensureCertificate(root, opts.node ?? hostname()) : undefined;
  const confFile = join(root, 'run/ramvm/lighttpd.conf');
  mkdirSync(uploadDir(root), { recursive: true, mode: 0o700 });
  writeFileSync(confFile, lighttpdConfig({ ...opts, root, ...(tlsPem ? { tlsPem } : {}) }));
  const check = spawnSync('lighttpd', ['-tt', '-f', confFile], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`lighttpd rejected its config: ${check.stderr}${check.stdout}`);
  // CGIs inherit lighttpd's stderr, not its errorlog: point both at the same
  // file (O_APPEND) so every handler's log line lands beside lighttpd's own.
  const logDir = join(root, 'var/log/ramvm');
  mkdirSync(logDir, { recursive: true });
  const errFd = openSync(join(logDir, 'lighttpd-error.log'), 'a', 0o640);
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
    stop: () =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return res();
        proc.once('exit', () => res());
        proc.kill('SIGTERM');
      }),
  };
}
