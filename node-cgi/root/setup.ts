/**
 * The root-side start of a separated node: what runs as root before
 * lighttpd drops to the node's user (build/server.ts for `npm start` and
 * the tests, build/image/node-setup.ts on an image node).
 *
 * 1. Users: `ramvm` (lighttpd, CGIs, tasks, the CLI) and `ramvm-qemu`
 *    (every guest's QEMU), whose group is ramvm's: disks, QMP and VNC
 *    sockets are shared through that group, while etc/ramvm (keys, users,
 *    configs) is ramvm's alone. Both are in group kvm where it exists.
 * 2. The data tree handed to ramvm with modes that keep QEMU out of what it
 *    does not need (dataTreePlan).
 * 3. The node record in the root-owned registry (lib/paths.ts), the only
 *    thing the root helper believes.
 * 4. One sudoers line: ramvm may run the helper bundle as root, nothing
 *    else, and only while the bundle and every folder above it are root's.
 *
 *   /etc/sudoers.d/ramvm-1a2b3c4d5e6f:
 *   ramvm ALL=(root) NOPASSWD: /usr/bin/node /opt/ramvm/dist/bin/ramvm-root *
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { registryDir, ROOT_REGISTRY } from '../lib/paths';
import { nodeRecordFile, parseNodeRecord, type NodeRecord, type NodeUser } from '../lib/separation';
import { untrustedReason } from './trust';

export const CGI_USER = 'ramvm';
export const QEMU_USER = 'ramvm-qemu';
/** The group /dev/kvm belongs to on Debian (udev); QEMU needs it for KVM, the CGIs for the KVM probe. */
export const KVM_GROUP = 'kvm';
const NOLOGIN = ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin'];

export interface Accounts {
  cgi: NodeUser;
  qemu: NodeUser & { groups: number[] };
}

/** /etc/passwd → name → ids. */
export function parsePasswd(text: string): Map<string, { uid: number; gid: number }> {
  const out = new Map<string, { uid: number; gid: number }>();
  for (const l of text.split('\n')) {
    const f = l.split(':');
    if (f.length >= 4 && f[0]) out.set(f[0], { uid: Number(f[2]), gid: Number(f[3]) });
  }
  return out;
}

/** /etc/group → name → gid and members. */
export function parseGroup(text: string): Map<string, { gid: number; members: string[] }> {
  const out = new Map<string, { gid: number; members: string[] }>();
  for (const l of text.split('\n')) {
    const f = l.split(':');
    if (f.length >= 4 && f[0]) out.set(f[0], { gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) });
  }
  return out;
}

/**
 * The useradd/usermod argv that make the two users as they must be, from
 * /etc/passwd and /etc/group as they are; [] when nothing is missing.
 */
export function usersPlan(passwd: ReturnType<typeof parsePasswd>, group: ReturnType<typeof parseGroup>): string[][] {
  const plan: string[][] = [];
  const kvm = group.get(KVM_GROUP);
  const extra = kvm ? ['--groups', KVM_GROUP] : [];
  if (!passwd.has(CGI_USER)) plan.push(['useradd', '--system', '--user-group', ...extra, ...NOLOGIN, CGI_USER]);
  if (!passwd.has(QEMU_USER)) plan.push(['useradd', '--system', '--gid', CGI_USER, ...extra, ...NOLOGIN, QEMU_USER]);
  for (const u of [CGI_USER, QEMU_USER]) {
    if (kvm && passwd.has(u) && !kvm.members.includes(u)) plan.push(['usermod', '--append', '--groups', KVM_GROUP, u]);
  }
  return plan;
}

/** The two users' ids from /etc/passwd and /etc/group; throws when one is missing or is root. */
export function accountsOf(passwd: ReturnType<typeof parsePasswd>, group: ReturnType<typeof parseGroup>): Accounts {
  const cgi = passwd.get(CGI_USER);
  const qemu = passwd.get(QEMU_USER);
  if (!cgi || !qemu) throw new Error(`users ${CGI_USER} and ${QEMU_USER} must exist`);
  if (cgi.uid === 0 || qemu.uid === 0 || cgi.gid === 0) throw new Error(`${CGI_USER} and ${QEMU_USER} must not be root`);
  if (qemu.gid !== cgi.gid) throw new Error(`${QEMU_USER}'s group must be ${CGI_USER}'s (it shares disks and sockets through it)`);
  const kvm = group.get(KVM_GROUP);
  return {
    cgi: { user: CGI_USER, uid: cgi.uid, gid: cgi.gid },
    qemu: { user: QEMU_USER, uid: qemu.uid, gid: qemu.gid, groups: kvm ? [kvm.gid] : [] },
  };
}

function sh(argv: readonly string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

const readAccounts = () => [parsePasswd(readFileSync('/etc/passwd', 'utf8')), parseGroup(readFileSync('/etc/group', 'utf8'))] as const;

/** Make the users where they are missing (passwd's useradd); their ids. */
export function ensureUsers(): Accounts {
  for (const argv of usersPlan(...readAccounts())) sh(argv);
  return accountsOf(...readAccounts());
}

export interface Step {
  argv: string[];
}

/** The data folders the node's user owns, below its root. */
export const DATA_DIRS = ['etc/ramvm', 'var/lib/vz', 'run/ramvm', 'var/log/ramvm'] as const;

/**
 * Steps (argv) that hand a data root to the node's user, safe to run on
 * every start and on a tree that root wrote before (chown -R -h and chmod
 * -R never follow a link):
 *
 *   etc/ramvm      0700  users, ACL, tokens, guest configs, keys: ramvm only
 *   var/log/ramvm  0700  task logs, audit log
 *   var/lib/vz     0750  disks, ISO images, local backups: QEMU reads through the group;
 *                        disk images are group-writable (QEMU writes them)
 *   run/ramvm      0750  runtime state; QEMU passes through to qemu/
 *   run/ramvm/qemu 0770  QEMU's sockets, serial logs, pid records, screendumps
 */
export function dataTreePlan(root: string, a: Pick<Accounts, 'cgi'>): Step[] {
  const r = resolve(root);
  const d = (p: string) => join(r, p);
  const owner = `${a.cgi.uid}:${a.cgi.gid}`;
  return [
    { argv: ['mkdir', '-p', ...DATA_DIRS.map(d), d('run/ramvm/qemu'), d('run/ramvm/upload'), d('var/lib/vz/images')] },
    ...(r === '/' ? [] : [{ argv: ['chmod', 'go+x', r] }]),
    { argv: ['chown', '-R', '-h', owner, ...DATA_DIRS.map(d)] },
    { argv: ['chmod', '0700', d('etc/ramvm'), d('var/log/ramvm'), d('run/ramvm/upload')] },
    { argv: ['chmod', '0750', d('var/lib/vz'), d('run/ramvm')] },
    { argv: ['chmod', '0770', d('run/ramvm/qemu')] },
    { argv: ['chmod', '-R', 'g+rwX', d('var/lib/vz/images')] },
  ];
}

/** Why the node's user cannot reach `path` (a folder above it is closed to others), or null. */
export function unreachableReason(path: string): string | null {
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return `${p} is closed to other users`;
    if (p === '/') return null;
  }
}

/** Hand the data tree to the node's user (dataTreePlan). */
export function prepareDataTree(root: string, a: Accounts): void {
  const why = unreachableReason(root);
  if (why) throw new Error(`the node's user ${a.cgi.user} cannot reach the data root ${root}: ${why}; choose a RAMVM_ROOT it can reach`);
  for (const s of dataTreePlan(root, a)) sh(s.argv);
}

/**
 * Why `path` may not be run as root by sudo: it, or a folder above it, is
 * a link, is not root's, or may be written by others (who could then put
 * anything there). null when it is safe.
 */
export function unsafeForRoot(path: string): string | null {
  for (let p = resolve(path); ; p = dirname(p)) {
    let why: string | null;
    try {
      why = untrustedReason(lstatSync(p), p);
    } catch {
      why = `${p} does not exist`;
    }
    if (why) return why;
    if (p === '/') return null;
  }
}

/** The sudoers line of a node (user, node binary, helper bundle), refused for a path sudoers would read otherwise. */
export function sudoersText(rec: Pick<NodeRecord, 'node' | 'helper'> & { cgi: Pick<NodeUser, 'user'> }): string {
  for (const p of [rec.node, rec.helper]) if (!/^\/[A-Za-z0-9_./-]+$/.test(p)) throw new Error(`a path in a sudoers line may hold letters, digits, "_", ".", "/" and "-" only: ${p}`);
  return [
    `# ramvm: user ${rec.cgi.user} (its CGIs and tasks) may run its root helper as root, and nothing else.`,
    '# Written by the root-side start of ramvm (node-cgi/root/setup.ts).',
    `Defaults:${rec.cgi.user} env_reset`,
    `${rec.cgi.user} ALL=(root) NOPASSWD: ${rec.node} ${rec.helper} *`,
    '',
  ].join('\n');
}

/** /etc/sudoers.d/ramvm-<12 hex of the helper's path>: one file per installed copy (no "." in it: sudo would skip it). */
export const sudoersFile = (helper: string, dir = '/etc/sudoers.d') => join(dir, `ramvm-${createHash('sha256').update(helper).digest('hex').slice(0, 12)}`);

/** Install the node's sudoers line, checked by visudo first; refused while the helper or node could be changed by others than root. */
export function ensureSudoers(rec: NodeRecord): void {
  for (const p of [rec.node, rec.helper]) {
    const why = unsafeForRoot(p);
    if (why) throw new Error(`the root helper cannot be run as root from here: ${why}. Keep ramvm (and node) where only root may write, e.g. not below /tmp or a user's home`);
  }
  const includes = readFileSync('/etc/sudoers', 'utf8');
  if (!/^\s*[@#]includedir\s+\/etc\/sudoers\.d\s*$/m.test(includes)) throw new Error('/etc/sudoers does not include /etc/sudoers.d: add "@includedir /etc/sudoers.d"');
  const file = sudoersFile(rec.helper);
  const text = sudoersText(rec);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  // A name with a dot: sudo skips it while it is checked.
  const tmp = `${file}.new`;
  writeFileSync(tmp, text, { mode: 0o440 });
  try {
    sh(['visudo', '-c', '-q', '-f', tmp]);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Write the node's record into the registry (and its mount folder); what the helper and the CGIs read. */
export function registerNode(root: string, a: Accounts, paths: { node: string; helper: string }): NodeRecord {
  const r = resolve(root);
  const rec: NodeRecord = { root: r, node: paths.node, helper: paths.helper, cgi: a.cgi, qemu: a.qemu };
  parseNodeRecord(JSON.stringify(rec));
  const dir = registryDir(r);
  for (const d of [ROOT_REGISTRY, dir, join(dir, 'mnt')]) {
    mkdirSync(d, { recursive: true, mode: 0o755 });
    chmodSync(d, 0o755);
    const why = untrustedReason(lstatSync(d), d);
    if (why) throw new Error(`the registry cannot be trusted: ${why}`);
  }
  const file = nodeRecordFile(r);
  writeFileSync(`${file}.tmp`, JSON.stringify(rec, null, 2) + '\n', { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
  return rec;
}

/**
 * Remove a node's registration (a test node that ends). Mount points are
 * removed with rmdir only: one still mounted stays, and nothing below it
 * is touched.
 */
export function unregisterNode(root: string): void {
  const dir = registryDir(root);
  const mnt = join(dir, 'mnt');
  let left = false;
  for (const d of existsSync(mnt) ? readdirSync(mnt) : []) {
    try {
      rmdirSync(join(mnt, d));
    } catch {
      left = true;
    }
  }
  for (const f of ['node.json', 'lighttpd.conf']) rmSync(join(dir, f), { force: true });
  // A copy of the build served to a node whose user could not reach the checkout (build/server.ts),
  // and the DRBD resource files the root helper wrote for the node's replicated disks (root/drbd.ts).
  for (const d of ['dist', 'drbd']) rmSync(join(dir, d), { recursive: true, force: true });
  if (left) return;
  for (const d of [mnt, dir]) {
    try {
      rmdirSync(d);
    } catch {
      // Gone already, or something was left in it.
    }
  }
}
