/**
 * Where things live on a node. Production uses the real root ("/"); `npm
 * start` and the tests move everything below RAMVM_ROOT (default ./var).
 * Every path of DESIGN.md's table comes from here and nowhere else.
 *
 *   RAMVM_ROOT=/tmp/r  →  /tmp/r/etc/ramvm/users.json, /tmp/r/run/ramvm/qemu/101.qmp, …
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export interface Paths {
  root: string;
  /** Cluster and node config: users, acl, tokens, vms/<vmid>.json, jobs. */
  etc: string;
  /** Secrets (auth key); mode 0700. */
  priv: string;
  vms: string;
  iso: string;
  images: string;
  dump: string;
  run: string;
  qemuRun: string;
  locks: string;
  log: string;
  tasks: string;
  /** Built CGIs, web bundle and the `ramvm` CLI (set by the lighttpd config). */
  dist: string;
}

export function pathsFor(root: string, dist?: string): Paths {
  const r = resolve(root);
  const etc = join(r, 'etc/ramvm');
  const run = join(r, 'run/ramvm');
  const log = join(r, 'var/log/ramvm');
  return {
    root: r,
    etc,
    priv: join(etc, 'priv'),
    vms: join(etc, 'vms'),
    iso: join(r, 'var/lib/vz/template/iso'),
    images: join(r, 'var/lib/vz/images'),
    dump: join(r, 'var/lib/vz/dump'),
    run,
    qemuRun: join(run, 'qemu'),
    locks: join(run, 'lock'),
    log,
    tasks: join(log, 'tasks'),
    // Bundles live in dist/cgi/ and dist/bin/, so the bundle's parent is dist/.
    dist: resolve(dist ?? process.env.RAMVM_DIST ?? join(__dirname, '..')),
  };
}

let cached: { root: string | undefined; dist: string | undefined; paths: Paths } | undefined;

/** The paths of this process, from RAMVM_ROOT (default ./var); kept until RAMVM_ROOT or RAMVM_DIST changes. */
export function paths(): Paths {
  const root = process.env.RAMVM_ROOT;
  const dist = process.env.RAMVM_DIST;
  if (!cached || cached.root !== root || cached.dist !== dist) cached = { root, dist, paths: pathsFor(root ?? './var') };
  return cached.paths;
}

/** The node's name: RAMVM_NODE, else the host name. */
export function nodeName(): string {
  return process.env.RAMVM_NODE || hostname();
}
