/**
 * Where things live on a node. Production uses the real root ("/"); `npm
 * start` and the tests move everything below RAMVM_ROOT (default ./var).
 * Every path under etc/, run/, var/lib/vz/ and var/log/ comes from here and
 * nowhere else: folders and fixed files as fields of `paths()`, the files
 * of one object (a guest, a task, a storage) from the functions below.
 *
 *   RAMVM_ROOT=/tmp/r  →  paths().users            /tmp/r/etc/ramvm/users.json
 *                         guestRunFile(101, 'qmp')  /tmp/r/run/ramvm/qemu/101.qmp
 *                         taskFile(id, 'log')       /tmp/r/var/log/ramvm/tasks/<id>.log
 *
 * Layouts inside a backup storage (<storage>/ramvm/101/<stamp>/…) are the
 * backup format's, in backup/manifest.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export interface Paths {
  root: string;
  /** Cluster and node config: users, acl, tokens, vms/<vmid>.json, jobs. */
  etc: string;
  /** Secrets (auth key); mode 0700. */
  priv: string;
  vms: string;
  /** Per-node settings, nodes/<node>.json. */
  nodes: string;
  /** Backup jobs, their state, alerts acknowledged, mail and restore settings, device catalogs. */
  backupEtc: string;
  iso: string;
  images: string;
  dump: string;
  run: string;
  qemuRun: string;
  locks: string;
  /** Guests that a stop-mode backup shut down, until they run again. */
  backupStopped: string;
  /**
   * Mount points of external backup devices while a job uses them: in the
   * root-owned registry of the node (the root helper mounts there), never in
   * the data tree, whose folders the node's user could swap for a link.
   */
  backupMounts: string;
  log: string;
  tasks: string;
  /** Built CGIs, web bundle and the `ramvm` CLI (set by the lighttpd config). */
  dist: string;

  /** The cluster key: signs tickets, CSRF tokens and (through a derived key) requests between nodes. */
  authKey: string;
  /** The SMTP relay's password for backup mail (mode 0600). */
  smtpPassword: string;
  /** The node's TLS certificate, its key, and both for lighttpd (cluster/identity.ts). */
  nodeCert: string;
  nodeKey: string;
  nodePem: string;
  /** Cluster-wide files of a cluster: cluster.json (membership), vms.json (which node each guest is on). */
  clusterConfig: string;
  placement: string;
  /** Join tokens of a master (hashed). */
  joinTokens: string;
  /** Nonces of node requests seen lately (one file each). */
  nonces: string;
  /** When each other node last answered this one (cluster/seen.ts). */
  clusterSeen: string;
  /** Where `npm start` listens, for the `ramvm` CLI. */
  serverInfo: string;
  /** The set-up log of a node booted from the node image (/ram.log; build/image/node-setup.ts). */
  setupLog: string;
  users: string;
  groups: string;
  acl: string;
  tokens: string;
  storages: string;
  backupJobs: string;
  backupJobStates: string;
  backupAcks: string;
  backupMail: string;
  restoreSettings: string;
  /** Failed logins per user and address (lost on reboot, on purpose). */
  loginThrottle: string;
  /** The accelerator probed at the first start since boot. */
  accelCache: string;
  /** The node's last CPU reading, for the CPU use between two reads. */
  nodeCpuSample: string;
  auditLog: string;
  backupTickLog: string;
  /** The cron.d file `ramvm backup install-cron` writes (/etc/cron.d/ramvm-backup on a node). */
  backupCronFile: string;
  /** When the backup scheduler last ticked, and how. */
  backupSchedulerTick: string;
  /** The episode of a stalled scheduler that was last mailed about. */
  backupSchedulerMailed: string;
  /** The `ramvm` CLI, which runs tasks. */
  ramvmBin: string;
}

export function pathsFor(root: string, dist?: string): Paths {
  const r = resolve(root);
  const etc = join(r, 'etc/ramvm');
  const run = join(r, 'run/ramvm');
  const log = join(r, 'var/log/ramvm');
  const backupEtc = join(etc, 'backup');
  // Bundles live in dist/cgi/ and dist/bin/, so the bundle's parent is dist/.
  const distDir = resolve(dist ?? process.env.RAMVM_DIST ?? join(__dirname, '..'));
  return {
    root: r,
    etc,
    priv: join(etc, 'priv'),
    vms: join(etc, 'vms'),
    nodes: join(etc, 'nodes'),
    backupEtc,
    iso: join(r, 'var/lib/vz/template/iso'),
    images: join(r, 'var/lib/vz/images'),
    dump: join(r, 'var/lib/vz/dump'),
    run,
    qemuRun: join(run, 'qemu'),
    locks: join(run, 'lock'),
    backupStopped: join(run, 'backup-stopped'),
    backupMounts: join(registryDir(r), 'mnt'),
    log,
    tasks: join(log, 'tasks'),
    dist: distDir,

    authKey: join(etc, 'priv/authkey'),
    smtpPassword: join(etc, 'priv/smtp-password'),
    nodeCert: join(etc, 'priv/node.crt'),
    nodeKey: join(etc, 'priv/node.key'),
    nodePem: join(etc, 'priv/node.pem'),
    clusterConfig: join(etc, 'cluster/cluster.json'),
    placement: join(etc, 'cluster/vms.json'),
    joinTokens: join(etc, 'priv/join-tokens.json'),
    nonces: join(run, 'nonces'),
    clusterSeen: join(run, 'cluster-seen.json'),
    serverInfo: join(run, 'server.json'),
    setupLog: join(r, 'ram.log'),
    users: join(etc, 'users.json'),
    groups: join(etc, 'groups.json'),
    acl: join(etc, 'acl.json'),
    tokens: join(etc, 'tokens.json'),
    storages: join(etc, 'storage.json'),
    backupJobs: join(backupEtc, 'jobs.json'),
    backupJobStates: join(backupEtc, 'job-state.json'),
    backupAcks: join(backupEtc, 'acks.json'),
    backupMail: join(backupEtc, 'mail.json'),
    restoreSettings: join(backupEtc, 'restore.json'),
    loginThrottle: join(run, 'login-throttle.json'),
    accelCache: join(run, 'accel.json'),
    nodeCpuSample: join(run, 'node.cpu.json'),
    auditLog: join(log, 'audit.log'),
    backupTickLog: join(log, 'backup-tick.log'),
    backupCronFile: join(r, 'etc/cron.d/ramvm-backup'),
    backupSchedulerTick: join(run, 'backup-scheduler.json'),
    backupSchedulerMailed: join(run, 'backup-scheduler-mailed.json'),
    ramvmBin: join(distDir, 'bin/ramvm'),
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

/** True when this node is in a cluster (cluster-wide settings then change on the master only). */
export const inCluster = () => existsSync(paths().clusterConfig);

/** etc/ramvm/vms/101.json */
export const guestConfigFile = (vmid: number) => join(paths().vms, `${vmid}.json`);

/** var/lib/vz/images/101: the guest's disks (and, while a restore claims it, its owner file). */
export const guestImagesDir = (vmid: number) => join(paths().images, String(vmid));

/**
 * A runtime file of a guest in run/ramvm/qemu: "pid", "qmp", "status.qmp",
 * "vnc", "serial.log", "run.json", "cpu.json", "starting" → 101.pid, …
 */
export const guestRunFile = (vmid: number, name: string) => join(paths().qemuRun, `${vmid}.${name}`);

/** var/lib/vz/template/iso/debian-12.iso */
export const isoFile = (name: string) => join(paths().iso, name);

/** etc/ramvm/nodes/pve1.json */
export const nodeSettingsFile = (node: string) => join(paths().nodes, `${node}.json`);

/** var/log/ramvm/tasks/<id>.json (state) or <id>.log */
export const taskFile = (id: string, kind: 'json' | 'log') => join(paths().tasks, `${id}.${kind}`);

/** run/ramvm/lock/<name>.lock: a lock is a folder (mkdir is atomic). */
export const lockDir = (name: string) => join(paths().locks, `${name}.lock`);

/** etc/ramvm/backup/catalog-usb.json: what an external device held at the end of its last job. */
export const catalogFile = (storage: string) => join(paths().backupEtc, `catalog-${storage}.json`);

/** run/ramvm/backup-stopped/101.json */
export const backupStoppedFile = (vmid: number) => join(paths().backupStopped, `${vmid}.json`);

/** /run/ramvm-root/<node key>/mnt/usb */
export const deviceMountPoint = (storage: string) => join(paths().backupMounts, storage);

/** run/ramvm/join-<ref>: the token of a join task, read once and removed (cluster/membership.ts). */
export const joinTaskTokenFile = (ref: string) => join(paths().run, ref);

/** A file QEMU writes for one request and that goes with it (a screendump): run/ramvm/qemu/.<name> */
export const scratchFile = (name: string) => join(paths().qemuRun, `.${name}`);

/** run/ramvm/drbd/vm-101-disk-0.res: a replicated disk's resource file, written whenever it comes up (a node boots without it). */
export const drbdResourceFile = (resource: string) => join(paths().run, 'drbd', `${resource}.res`);

/** var/lib/vz/images/101/vm-101-disk-0.drbd: a replicated disk's backing file (raw, sparse, DRBD's meta-data at its end). */
export const drbdBackingFile = (vmid: number, resource: string) => join(guestImagesDir(vmid), `${resource}.drbd`);

/** var/lib/vz/images/101/vm-101.replica-config.json: on a replicated disk's peer, the guest's config as its node last shared it (for a failover). */
export const replicaConfigFile = (vmid: number) => join(guestImagesDir(vmid), `vm-${vmid}.replica-config.json`);

/**
 * Where a node started as root is registered: one root-owned folder per
 * data root, written by the root-side start (build/server.ts, the image's
 * set-up) and read by the root helper, which takes nothing about the node
 * from its caller. /run: a reboot clears it, and the next start writes it.
 *
 *   /run/ramvm-root/3f9c…/node.json   users, the data root, the helper's path (node-cgi/root/record.ts)
 *   /run/ramvm-root/3f9c…/mnt/usb     mount point of backup device "usb"
 *   /run/ramvm-root/helper.log        one line per call of the root helper
 */
export const ROOT_REGISTRY = '/run/ramvm-root';

/** A data root's name in the registry: 16 hex digits of the SHA-256 of its absolute path ("/" on a node). */
export function nodeKey(root: string): string {
  return createHash('sha256').update(resolve(root)).digest('hex').slice(0, 16);
}

/** /run/ramvm-root/<node key> */
export function registryDir(root: string): string {
  return join(ROOT_REGISTRY, nodeKey(root));
}
