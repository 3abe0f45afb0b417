/**
 * Stage 2 of a node's boot, run once by init (inittab "sysinit") after the
 * initramfs has stacked the root: mounts, host name, kernel modules,
 * network, data disk, `ramvm init`, the node's separation (the data tree
 * handed to user ramvm, the record the root helper reads:
 * node-cgi/root/setup.ts), the lighttpd config. Bundled by the image build
 * into /opt/ramvm/lib/node-setup.js; init starts lighttpd (which becomes
 * ramvm), crond and the console after it returns.
 *
 * Every step and its output goes to /ram.log (the set-up log, the first thing
 * to read when a node misbehaves) and to the console, with the seconds since
 * power-on:
 *
 *   [  3.41] network: ip link add name vmbr0 type bridge stp_state 0 forward_delay 0
 *   [  3.52] data disk /dev/vda (datadisk=/dev/vda): no filesystem, making ext4
 *
 * Each line carries how far the set-up is, in percent; a prepared node
 * (build/image/prepared.ts) then forms its cluster in a process of its own
 * (`node-setup.js form`, as user ramvm) and waits at 92 % until it has:
 *
 *   [ 21.30]  92% cluster office: joining the master node1 at https://10.0.0.11:8007
 *   [ 24.02] 100% cluster office: node2 joined; the cluster lists node1, node2
 *
 * A failed step is logged and the boot goes on: a node that comes up in RAM
 * with a complaint in its log can be fixed from the browser; one that stops
 * at boot cannot.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, closeSync, constants, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseBootParams, defaultNodeName, type BootParams } from './boot-params';
import { BOOT_MODULES, kvmModuleFor, modulesForDevices, parseModulesAlias, parseProcModules } from './modules';
import { adminLine, askedNetworkPlan, consoleEnv, RAM_SETTINGS_LINE, batchIp, nativeStep, BRIDGE, bootEnv, chooseDataDisk, dataDiskPlan, dhcpArgs, networkPlan, parseBlkidType, DATA_LABEL, type Step } from './setup-plan';
import { fillNodeAddress, fillNodeName } from './layout';
import { PREPARED_DIR, parsePreparedNode, preparedJoinToken, withPrepared, FORM_PERCENT, type PreparedNode } from './prepared';
import { NODE_CLUSTER_PORT, NODE_DIST, NODE_HTTP_PORT, NODE_LIGHTTPD_CONF, NODE_LIGHTTPD_ERRORLOG, NODE_PATH, NODE_PORT, NODE_RAMVM_DIR, NODE_ROOT_HELPER } from './files';
import { connect } from 'node:net';
import { initNode } from '../../node-cgi/cli/init';
import { certFiles, fingerprintOf } from '../../node-cgi/cluster/identity';
import { KIOSK_DISPLAY_DIR, KIOSK_ENABLED_FILE, KIOSK_INPUT_MODULE, KIOSK_RUN, KIOSK_USER, drmCards, kioskDecision, kioskEnabledVars, memTotalMiB } from './kiosk';
import { readCluster } from '../../node-cgi/cluster/state';
import { readAccess } from '../../node-cgi/access/store';
import { acceptJoinToken, createCluster, joinCluster } from '../../node-cgi/cluster/membership';
import { blankDisk, keepSystemOnDisk, resolveDataDevice, type DataDevice, type SetupIo } from './sysdisk-node';
import { putStorage } from '../../node-cgi/backup/config';
import { scanBackups } from '../../node-cgi/backup/list';
import { BACKUP_MODE_MOUNT, BACKUP_MODE_STORAGE, writeBackupMode } from '../../node-cgi/restore/backup-mode';
import { accountsOf, dataTreePlan, KVM_GROUP, parseGroup, parsePasswd, registerNode } from '../../node-cgi/root/setup';

const LOG = '/ram.log';
/** fw_cfg entry the lab uses to hand a node its first admin password (never on the command line). */
const FW_CFG_PASSWORD = '/sys/firmware/qemu_fw_cfg/by_name/opt/ramvm/admin-password/raw';
/** How long to wait for the data disk's device node (USB disks appear late), in ms. */
const DATADISK_WAIT_MS = 10_000;

function uptime(): string {
  try {
    return readFileSync('/proc/uptime', 'utf8').split(' ')[0]!.padStart(7);
  } catch {
    return '      ?';
  }
}

/** How far the set-up is, in percent: every log line shows it. */
let percent = 0;
/** /ram.log opened before the cluster's process drops root (the log stays root's). */
let logFd: number | undefined;

function log(line: string, consoleOnly = false): void {
  const text = `[${uptime()}] ${String(percent).padStart(3)}% ${line}\n`;
  process.stdout.write(text);
  if (consoleOnly) return;
  if (logFd !== undefined) writeSync(logFd, text);
  else appendFileSync(LOG, text);
}

function progress(p: number): void {
  percent = p;
}

function run(what: string, step: Step): boolean {
  const native = nativeStep(step);
  if (native) {
    try {
      for (const p of native.paths) {
        if (native.kind === 'mkdir') mkdirSync(p, { recursive: true });
        else chmodSync(p, native.mode);
      }
      log(`${what}: ${step.argv.join(' ')}`);
      return true;
    } catch (e) {
      log(`${what}: ${step.argv.join(' ')}  → ${(e as Error).message}${step.allowFail ? ' (going on)' : ' FAILED'}`);
      return false;
    }
  }
  const r = spawnSync(step.argv[0]!, step.argv.slice(1), { encoding: 'utf8', env: { PATH: NODE_PATH }, timeout: 120_000, ...(step.input ? { input: step.input } : {}) });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  const ok = r.status === 0;
  const shown = step.input ? `${step.argv.join(' ')} <<< ${step.input.trim().split('\n').join('; ')}` : step.argv.join(' ');
  log(`${what}: ${shown}${ok ? '' : `  → ${r.error ? r.error.message : `exit ${r.status}`}${step.allowFail ? ' (going on)' : ' FAILED'}`}`);
  if (out) for (const l of out.split('\n')) log(`    ${l}`);
  return ok;
}

function mounts(): void {
  const m = (argv: string[]) => run('mount', { argv: ['mount', ...argv], allowFail: true });
  mkdirSync('/dev/pts', { recursive: true });
  mkdirSync('/dev/shm', { recursive: true });
  m(['-t', 'devpts', '-o', 'gid=5,mode=620', 'devpts', '/dev/pts']);
  m(['-t', 'tmpfs', '-o', 'mode=1777,nosuid,nodev', 'shm', '/dev/shm']);
  m(['-t', 'tmpfs', '-o', 'mode=0755,nosuid,nodev', 'run', '/run']);
  mkdirSync('/run/lock', { recursive: true });
}

function modules(): void {
  const kvm = kvmModuleFor(readFileSync('/proc/cpuinfo', 'utf8'));
  if (!kvm) log('module: this CPU has no svm/vmx: guests run under TCG');
  run('module', { argv: ['modprobe', '-a', '-b', ...BOOT_MODULES, ...(kvm ? [kvm] : [])], allowFail: true });
  // Coldplug: every device present asks for its driver by modalias (resolved
  // here, one modprobe for all); the second pass catches devices that appeared
  // behind a driver of the first. Hot-plugged devices are mdev's (inittab).
  for (let pass = 0; pass < 2; pass++) if (!coldplug()) break;
  log(`kvm: ${existsSync('/dev/kvm') ? '/dev/kvm present, guests run under KVM' : 'no /dev/kvm, guests run under TCG'}`);
  // devtmpfs makes it root's alone; QEMU (ramvm-qemu) and the KVM probe (ramvm) open it through group kvm, as udev sets it on Debian.
  const kvmGroup = parseGroup(readFileSync('/etc/group', 'utf8')).get(KVM_GROUP);
  if (existsSync('/dev/kvm') && kvmGroup) {
    chownSync('/dev/kvm', 0, kvmGroup.gid);
    chmodSync('/dev/kvm', 0o660);
  }
}

/** One pass of the coldplug: the drivers of every device present that has none loaded; false when none was wanted. */
let aliasRules: ReturnType<typeof parseModulesAlias> | undefined;
function coldplug(): boolean {
  const rules = (aliasRules ??= parseModulesAlias(readFileSync(`/lib/modules/${release()}/modules.alias`, 'utf8')));
  const wanted = modulesForDevices(deviceModaliases(), rules, parseProcModules(readFileSync('/proc/modules', 'utf8')));
  if (wanted.length === 0) return false;
  run('module', { argv: ['modprobe', '-a', '-b', ...wanted], allowFail: true });
  return true;
}

function release(): string {
  return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
}

/** The modalias of every device, read bus by bus (/sys/bus/NAME/devices/DEV/modalias): far fewer reads than walking /sys/devices. */
function deviceModaliases(): string[] {
  const out = new Set<string>();
  for (const bus of readdirSync('/sys/bus')) {
    let devices: string[];
    try {
      devices = readdirSync(`/sys/bus/${bus}/devices`);
    } catch {
      continue;
    }
    for (const d of devices) {
      try {
        const a = readFileSync(`/sys/bus/${bus}/devices/${d}/modalias`, 'utf8').trim();
        if (a) out.add(a);
      } catch {
        /* no modalias */
      }
    }
  }
  return [...out];
}

function nics(): { names: string[]; firstMac?: string } {
  const names = readdirSync('/sys/class/net')
    .filter((n) => existsSync(`/sys/class/net/${n}/device`))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const firstMac = names[0] ? readFileSync(`/sys/class/net/${names[0]}/address`, 'utf8').trim() : undefined;
  return { names, ...(firstMac ? { firstMac } : {}) };
}

function network(p: BootParams, node: string, names: string[]): void {
  const plan = networkPlan(p, names);
  for (const e of plan.errors) log(`network: ${e}`);
  for (const s of batchIp(plan.steps)) run('network', s);
  if (plan.resolvConf) writeFileSync('/etc/resolv.conf', plan.resolvConf);
  for (const iface of plan.dhcp) run('network', { argv: dhcpArgs(iface, node), allowFail: true });
}

function waitForPath(path: string, ms: number): boolean {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) return false;
    spawnSync('sleep', ['0.2']);
  }
  return true;
}

/** The set-up's log and runner, for the parts that live in modules of their own. */
const io: SetupIo = { log: (line) => log(line), run: (what, argv) => run(what, { argv, allowFail: true }) };

function dataDisk(p: BootParams): DataDevice | null {
  let labelled: string | null = null;
  if (!p.ramonly && (!p.datadisk || p.datadisk === 'auto')) {
    const r = spawnSync('blkid', ['-L', DATA_LABEL], { encoding: 'utf8', env: { PATH: NODE_PATH } });
    labelled = r.status === 0 ? r.stdout.trim() || null : null;
  }
  // datadisk=auto (prepared images), or ramvm.sysdisk=1 on a machine without a data disk: the first disk with nothing on it.
  const blank = !p.ramonly && !labelled && (p.datadisk === 'auto' || (!p.datadisk && p.sysdisk)) ? blankDisk(io) : null;
  if (blank && !p.datadisk) p = { ...p, datadisk: blank };
  const choice = chooseDataDisk(p, labelled, blank);
  if (!choice.device) {
    log(`data disk: none (${choice.why})`);
    return null;
  }
  if (!waitForPath(choice.device, DATADISK_WAIT_MS)) {
    log(`data disk ${choice.device} (${choice.why}): no such device after ${DATADISK_WAIT_MS / 1000} s; everything stays in RAM`);
    return null;
  }
  // A system disk's data partition, a blank disk partitioned for the system, or the device as it is.
  const dd = resolveDataDevice(choice.device, p, io);
  if (!dd) return null;
  const probe = spawnSync('blkid', ['-p', '-o', 'export', dd.device], { encoding: 'utf8', env: { PATH: NODE_PATH } });
  // blkid exits 2 when it finds no signature at all: a blank disk. Other failures are errors.
  if (probe.status !== 0 && probe.status !== 2) {
    log(`data disk ${dd.device}: blkid failed (exit ${probe.status}): ${probe.stderr}; everything stays in RAM`);
    return null;
  }
  const fsType = probe.status === 2 ? null : parseBlkidType(probe.stdout);
  log(`data disk ${dd.device} (${choice.why}): ${fsType ? `${fsType} filesystem` : 'blank, making ext4'}`);
  for (const s of dataDiskPlan(dd.device, fsType)) {
    if (!run('data disk', s) && !s.allowFail) {
      log(`data disk ${dd.device}: set-up failed; everything stays in RAM`);
      spawnSync('umount', ['-R', '/mnt/data'], { env: { PATH: NODE_PATH } });
      return null;
    }
  }
  return dd;
}

/** How long backup mode waits for its backup filesystem (a USB disk appears late), in ms. */
const BACKUP_WAIT_MS = 30_000;

/**
 * Backup mode (ramvm.backup=UUID, the boot menu of a backup disk): the
 * backup filesystem found by UUID, its partition and disk set read-only,
 * the filesystem mounted read-only without a journal replay, and made the
 * storage "backupdisk" of this RAM-only node. Nothing is written to that
 * disk: the node's settings stay in RAM.
 */
function backupMode(p: BootParams): void {
  if (!p.backup) return;
  const deadline = Date.now() + BACKUP_WAIT_MS;
  let dev = '';
  for (;;) {
    // A USB disk is enumerated after its controller's driver came: its own drivers (usb-storage, sd_mod) by a later pass, as mdev would (it runs only after the set-up).
    coldplug();
    dev = spawnSync('blkid', ['-c', '/dev/null', '-U', p.backup], { encoding: 'utf8', env: { PATH: NODE_PATH } }).stdout?.trim() ?? '';
    if (dev || Date.now() > deadline) break;
    spawnSync('sleep', ['0.5'], { env: { PATH: NODE_PATH } });
  }
  if (!dev) {
    log(`backup mode: no filesystem with UUID ${p.backup} after ${BACKUP_WAIT_MS / 1000} s; no backups to run`);
    return;
  }
  const name = dev.replace(/^\/dev\//, '');
  // A partition's sysfs entry lies in its disk's: /sys/devices/…/sda/sda3.
  const disk = existsSync(`/sys/class/block/${name}/partition`) ? `/dev/${basename(dirname(realpathSync(`/sys/class/block/${name}`)))}` : null;
  for (const d of [dev, ...(disk ? [disk] : [])]) run('backup mode', { argv: ['blockdev', '--setro', d], allowFail: true });
  const fstype = spawnSync('blkid', ['-c', '/dev/null', '-o', 'value', '-s', 'TYPE', dev], { encoding: 'utf8', env: { PATH: NODE_PATH } }).stdout?.trim() ?? '';
  // ro alone still replays an ext3/ext4 journal (and XFS its log): noload/norecovery do not.
  const opts = ['ro', 'nosuid', 'nodev', 'noexec', ...(fstype === 'ext3' || fstype === 'ext4' ? ['noload'] : fstype === 'xfs' ? ['norecovery'] : [])];
  mkdirSync(BACKUP_MODE_MOUNT, { recursive: true });
  if (!run('backup mode', { argv: ['mount', ...(fstype ? ['-t', fstype] : []), '-o', opts.join(','), dev, BACKUP_MODE_MOUNT] })) {
    log(`backup mode: ${dev} could not be mounted; no backups to run`);
    return;
  }
  putStorage(BACKUP_MODE_STORAGE, { type: 'dir', path: BACKUP_MODE_MOUNT, mountpoint: true, comment: `the backup disk this node booted from (${dev}, read-only)` }, true);
  writeBackupMode({ storage: BACKUP_MODE_STORAGE, device: dev, uuid: p.backup, mount: BACKUP_MODE_MOUNT, since: Date.now() });
  const guests = new Set(scanBackups(BACKUP_MODE_MOUNT, BACKUP_MODE_STORAGE).map((b) => b.manifest.vmid));
  log(`backup mode: ${dev}${disk ? ` (disk ${disk})` : ''} mounted read-only at ${BACKUP_MODE_MOUNT} as storage ${BACKUP_MODE_STORAGE}: backups of ${guests.size} guest${guests.size === 1 ? '' : 's'} (${[...guests].join(', ')}); settings stay in RAM`);
}

function firstPassword(): string | undefined {
  try {
    const pw = readFileSync(FW_CFG_PASSWORD, 'utf8').trim();
    return pw || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The node serves HTTPS with the certificate `ramvm init` made on the first
 * boot of its data disk (cluster/identity.ts), kept in /etc/ramvm/priv there
 * (in RAM with ramonly: a new one every boot); without it lighttpd cannot
 * start, which the log says.
 */
function certificate(): void {
  const { crt, pem } = certFiles();
  try {
    // node.pem, what lighttpd serves (written atomically, unlike openssl's node.crt).
    log(`https: certificate ${crt}, SHA-256 fingerprint ${fingerprintOf(readFileSync(pem, 'utf8'))}`);
  } catch (e) {
    log(`https: no usable certificate in ${pem} (${(e as Error).message}): the web server cannot start`);
  }
}

/**
 * The kiosk (kiosk variant only: it ships the KMS drivers): its drivers,
 * the decision (logged), and what its runner needs: a tmpfs home for the
 * kiosk user, root's side of the kiosk (kiosk.ts KIOSK_DISPLAY_DIR) with the
 * node's certificate as the engine's only trusted one and the runner's
 * variables.
 */
function kiosk(params: BootParams): void {
  if (!existsSync(`${NODE_RAMVM_DIR}/lib/kiosk`)) return;
  // The display's driver came with the coldplug (modules.alias); the keyboard's events need evdev.
  if (params.kiosk) run('kiosk', { argv: ['modprobe', '-b', KIOSK_INPUT_MODULE], allowFail: true });
  let cards: string[] = [];
  try {
    cards = drmCards(readdirSync('/sys/class/drm'));
  } catch {
    /* no DRM at all */
  }
  const d = kioskDecision({ enabled: params.kiosk, drmCards: cards, memTotalMiB: memTotalMiB(readFileSync('/proc/meminfo', 'utf8')) });
  log(d.why);
  if (!d.run) return;
  mkdirSync(`${KIOSK_RUN}/cache`, { recursive: true });
  for (const f of [KIOSK_RUN, `${KIOSK_RUN}/cache`]) chownSync(f, KIOSK_USER.uid, KIOSK_USER.gid);
  chmodSync(KIOSK_RUN, 0o700);
  mkdirSync(KIOSK_DISPLAY_DIR, { recursive: true });
  chownSync(KIOSK_DISPLAY_DIR, 0, KIOSK_USER.gid);
  chmodSync(KIOSK_DISPLAY_DIR, 0o710);
  copyFileSync(certFiles().crt, `${KIOSK_DISPLAY_DIR}/trust.crt`);
  chmodSync(`${KIOSK_DISPLAY_DIR}/trust.crt`, 0o644);
  writeFileSync(KIOSK_ENABLED_FILE, kioskEnabledVars({ keymap: params.keymap, blankS: params.blankS }), { mode: 0o600 });
}

function addresses(): string[] {
  const r = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8', env: { PATH: NODE_PATH } });
  return [...(r.stdout ?? '').matchAll(/^\d+:\s+(\S+)\s+inet\s+([0-9.]+)\//gm)].filter((m) => m[1] !== 'lo').map((m) => `${m[2]} (${m[1]})`);
}

/**
 * Hand the data tree to ramvm (what `ramvm init` just wrote as root
 * included) and register the node for the root helper. The users are the
 * image's own (rootfs/etc/passwd); nothing but this set-up runs yet, so the
 * tree holds still while it is handed over.
 */
function separate(): void {
  const accounts = accountsOf(parsePasswd(readFileSync('/etc/passwd', 'utf8')), parseGroup(readFileSync('/etc/group', 'utf8')));
  for (const s of dataTreePlan('/', accounts)) run('separation', s);
  registerNode('/', accounts, NODE_ROOT_HELPER);
  // lighttpd opens its error log after it became ramvm (files.ts).
  closeSync(openSync(NODE_LIGHTTPD_ERRORLOG, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o640));
  chownSync(NODE_LIGHTTPD_ERRORLOG, accounts.cgi.uid, accounts.cgi.gid);
  log(`separation: lighttpd and the CGIs run as ${accounts.cgi.user} (${accounts.cgi.uid}), guests' QEMU as ${accounts.qemu.user} (${accounts.qemu.uid})`);
}

/** A prepared node's node.json, or null for an ordinary node (or a bad file, logged). */
function readPrepared(): PreparedNode | null {
  if (!existsSync(`${PREPARED_DIR}/node.json`)) return null;
  try {
    return parsePreparedNode(readFileSync(`${PREPARED_DIR}/node.json`, 'utf8'));
  } catch (e) {
    log(`cluster: ${PREPARED_DIR}/node.json: ${(e as Error).message}; this node forms no cluster`);
    return null;
  }
}

/** First boot of a prepared node's data: its certificate is the one made at build time, which its peers pin. */
function preparedCertificate(): void {
  const pem = '/etc/ramvm/priv/node.pem';
  if (existsSync(pem)) return;
  mkdirSync('/etc/ramvm/priv', { recursive: true, mode: 0o700 });
  writeFileSync(pem, readFileSync(`${PREPARED_DIR}/node.pem`), { mode: 0o600 });
  log('cluster: the node certificate made with the prepared image (its peers pin its fingerprint)');
}

function main(): void {
  progress(2);
  mounts();
  const cmdline = readFileSync('/proc/cmdline', 'utf8').trim();
  log(`ramvm node set-up; kernel command line: ${cmdline}`);
  const parsed = parseBootParams(cmdline);
  for (const e of parsed.errors) log(`boot parameter ${e}`);
  const prepared = readPrepared();
  const params = prepared ? withPrepared(parsed.params, prepared) : parsed.params;
  if (prepared) log(`cluster ${prepared.cluster}: prepared node ${prepared.name} (${prepared.ip.address}/${prepared.ip.prefix}), master ${prepared.master}`);

  progress(10);
  modules();
  progress(30);
  const found = nics();
  const node = params.node ?? defaultNodeName(found.firstMac);
  writeFileSync('/etc/hostname', node + '\n');
  writeFileSync('/etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${node}\n::1\tlocalhost\n`);
  run('hostname', { argv: ['hostname', node] });
  writeFileSync('/run/ramvm-boot.env', bootEnv(params, node));
  writeFileSync('/run/ramvm-console.env', consoleEnv(params));

  progress(35);
  network(params, node, found.names);
  progress(50);
  const disk = dataDisk(params);
  if (!disk) appendFileSync('/run/ramvm-console.env', RAM_SETTINGS_LINE);
  keepSystemOnDisk(disk, params, node, io);

  progress(65);
  process.env.RAMVM_ROOT = '/';
  process.env.RAMVM_DIST = NODE_DIST;
  process.env.RAMVM_NODE = node;
  if (prepared) preparedCertificate();
  const password = firstPassword();
  const init = initNode(password ? { ...process.env, RAMVM_ADMIN_PASSWORD: password } : process.env);
  backupMode(params);
  log(`ramvm init: ${init.createdAdmin ? 'created user admin' : 'users kept from the data disk'}; node certificate ${certFiles().crt} ${init.madeCertificate ? 'made' : 'kept from an earlier boot'}`);
  if (init.generatedPassword) log(`ramvm: password of user admin: ${init.generatedPassword}  (shown once, on this console only)`, true);

  progress(75);
  separate();

  progress(85);
  certificate();
  const template = readFileSync(`${NODE_RAMVM_DIR}/lighttpd.conf.in`, 'utf8');
  mkdirSync(dirname(NODE_LIGHTTPD_CONF), { recursive: true });
  const conf = fillNodeName(template, node);
  writeFileSync(NODE_LIGHTTPD_CONF, params.ip ? fillNodeAddress(conf, params.ip.address) : conf, { mode: 0o644 });
  mkdirSync('/var/spool/cron/crontabs', { recursive: true });

  kiosk(params);

  const addrs = addresses();
  log(`ramvm node ${node}: ${disk ? `data on ${disk.device}` : 'RAM only'}; web UI on https port ${NODE_PORT} of ${addrs.join(', ') || 'no address yet'} (http port ${NODE_HTTP_PORT} redirects there)`);
  if (prepared) {
    progress(90);
    log('set-up done; the cluster forms once the web server runs');
    // Its own process: init starts lighttpd only after this set-up returns, and the cluster needs it.
    const child = spawn(process.execPath, [__filename, 'form'], { detached: true, stdio: ['ignore', 'inherit', 'inherit'], env: { PATH: NODE_PATH } });
    child.unref();
  } else {
    progress(100);
    log('set-up done');
  }
}

/** Milliseconds between tries to reach the master, and how long a node keeps trying. */
const FORM_RETRY_MS = 2_000;
const FORM_GIVE_UP_MS = 30 * 60_000;

/**
 * A prepared node forms its cluster (see prepared.ts): the secret read as
 * root, then as user ramvm, like the CGIs. Node 1 creates the cluster and
 * accepts each peer's derived join token; the others join node 1 pinned to
 * its build-time fingerprint, trying until it answers.
 */
async function form(): Promise<void> {
  logFd = openSync(LOG, 'a');
  progress(FORM_PERCENT);
  const prepared = readPrepared();
  if (!prepared) return;
  const secret = Buffer.from(readFileSync(`${PREPARED_DIR}/secret`, 'utf8').trim(), 'hex');
  const accounts = accountsOf(parsePasswd(readFileSync('/etc/passwd', 'utf8')), parseGroup(readFileSync('/etc/group', 'utf8')));
  const node = readFileSync('/etc/hostname', 'utf8').trim();
  process.setgroups!([]);
  process.setgid!(accounts.cgi.gid);
  process.setuid!(accounts.cgi.uid);
  const address = prepared.nodes.find((n) => n.name === node)?.address ?? prepared.ip.address;
  Object.assign(process.env, {
    RAMVM_ROOT: '/', RAMVM_DIST: NODE_DIST, RAMVM_NODE: node, RAMVM_ADDRESS: address,
    RAMVM_LISTEN: '0.0.0.0', RAMVM_PORT: String(NODE_PORT), RAMVM_CLUSTER_PORT: String(NODE_CLUSTER_PORT),
  });
  const say = (line: string) => log(`cluster ${prepared.cluster}: ${line}`);
  const names = () => (readCluster()?.nodes ?? []).map((n) => n.name);
  const have = readCluster();
  if (have) {
    progress(100);
    say(`this node is in cluster ${have.name} already (master ${have.master}; nodes ${names().join(', ')})`);
    return;
  }
  const deadline = Date.now() + FORM_GIVE_UP_MS;
  // Both sides need this node's web server: the master answers joins, and a joiner is checked back at its cluster port.
  await waitFor(`127.0.0.1:${NODE_CLUSTER_PORT}`);
  if (node === prepared.master) {
    createCluster(prepared.cluster);
    for (const n of prepared.nodes) if (n.name !== node) acceptJoinToken(preparedJoinToken(secret, n.name));
    say(`created with this node (${node}) as master; waiting for ${prepared.nodes.filter((n) => n.name !== node).map((n) => n.name).join(', ')} to join`);
    while (prepared.nodes.some((n) => !names().includes(n.name))) {
      if (Date.now() > deadline) return say(`gave up waiting after ${FORM_GIVE_UP_MS / 60_000} min; the cluster lists ${names().join(', ')}`);
      await sleep(FORM_RETRY_MS);
    }
  } else {
    const master = prepared.nodes.find((n) => n.name === prepared.master)!;
    const url = `https://${master.address}:${NODE_CLUSTER_PORT}`;
    say(`joining the master ${master.name} at ${url} (certificate ${master.fingerprint})`);
    let last = '';
    for (;;) {
      try {
        await joinCluster({ master: { name: master.name, url, fingerprint: master.fingerprint }, token: preparedJoinToken(secret, node) }, say);
        break;
      } catch (e) {
        const why = (e as Error).message;
        if (why !== last) say(`not yet: ${why}; trying again every ${FORM_RETRY_MS / 1000} s`);
        last = why;
        if (Date.now() > deadline) return say(`gave up after ${FORM_GIVE_UP_MS / 60_000} min`);
        await sleep(FORM_RETRY_MS);
      }
    }
  }
  progress(100);
  say(`formed: the cluster lists ${names().join(', ')}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until something listens on HOST:PORT (this node's own web server). */
async function waitFor(hostPort: string): Promise<void> {
  const [host, port] = hostPort.split(':');
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(Number(port), host!);
      s.once('connect', () => (s.destroy(), res(true)));
      s.once('error', () => res(false));
    });
    if (ok) return;
    await sleep(250);
  }
}

/**
 * `node-setup.js net ADDR/PREFIX GATEWAY DNS` (the console, as root): the IP
 * settings typed on the console replace what DHCP gave vmbr0; `net dhcp`
 * starts DHCP on vmbr0 when ramvm.ip=ask held it back. Prints why an answer
 * is refused (exit 2) or where the node is reachable now.
 */
function net(args: string[]): void {
  const node = readFileSync('/etc/hostname', 'utf8').trim();
  percent = 100;
  if (args[0] === 'dhcp') {
    if (readFileSync('/run/ramvm-console.env', 'utf8').includes('RAMVM_IP_ASK=1')) {
      run('console', { argv: dhcpArgs(BRIDGE, node), allowFail: true });
    }
    status();
    return;
  }
  let plan;
  try {
    plan = askedNetworkPlan(args[0] ?? '', args[1] ?? '', args[2] ?? '');
  } catch (e) {
    process.stdout.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  // The answer replaces DHCP on vmbr0 for this boot.
  try {
    const pid = Number(readFileSync(`/run/udhcpc.${BRIDGE}.pid`, 'utf8').trim());
    if (pid > 1) process.kill(pid, 'SIGTERM');
  } catch {
    /* no DHCP client on vmbr0 */
  }
  for (const step of plan.steps) run('console', step);
  if (plan.resolvConf) writeFileSync('/etc/resolv.conf', plan.resolvConf);
  log(`console: vmbr0 has ${args[0]} now${args[1] ? `, gateway ${args[1]}` : ''}${plan.resolvConf ? `, DNS ${args[2]}` : ''} (typed on the console)`);
  status();
}

/** `node-setup.js status`: the URLs to open and whether an administrator exists. */
function status(): void {
  const urls = addresses().map((a) => `  https://${a.split(' ')[0]}:${NODE_PORT}/   ${a.split(' ')[1] ?? ''}`);
  process.stdout.write(urls.length ? `open in a browser:\n${urls.join('\n')}\n` : 'no address yet: the web UI cannot be reached\n');
  process.env.RAMVM_ROOT = '/';
  const a = readAccess();
  const admins = a.acl.acl.filter((e) => e.path === '/' && e.role === 'Administrator' && e.user && a.users.users[e.user]?.enabled).map((e) => e.user!);
  let inRam = false;
  try {
    inRam = readFileSync('/run/ramvm-console.env', 'utf8').includes(RAM_SETTINGS_LINE);
  } catch {
    /* a set-up that wrote no console env: a data disk's node of an older image */
  }
  process.stdout.write(adminLine(admins, !inRam));
}


if (process.argv[2] === 'form') {
  form().catch((e) => log(`cluster: forming failed: ${(e as Error).stack ?? e}`));
} else if (process.argv[2] === 'net') {
  net(process.argv.slice(3));
} else if (process.argv[2] === 'status') {
  status();
} else {
  try {
    main();
  } catch (e) {
    log(`set-up failed: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  }
}
