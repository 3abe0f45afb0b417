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
 * A failed step is logged and the boot goes on: a node that comes up in RAM
 * with a complaint in its log can be fixed from the browser; one that stops
 * at boot cannot.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, closeSync, constants, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseBootParams, defaultNodeName, type BootParams } from './boot-params';
import { BOOT_MODULES, kvmModuleFor, modulesForDevices, parseModulesAlias, parseProcModules } from './modules';
import { batchIp, bootEnv, chooseDataDisk, dataDiskPlan, dhcpArgs, networkPlan, parseBlkidType, DATA_LABEL, type Step } from './setup-plan';
import { fillNodeName } from './layout';
import { NODE_DIST, NODE_LIGHTTPD_CONF, NODE_LIGHTTPD_ERRORLOG, NODE_PATH, NODE_PORT, NODE_RAMVM_DIR, NODE_ROOT_HELPER } from './files';
import { initNode } from '../../node-cgi/cli/init';
import { certFiles } from '../../node-cgi/cluster/identity';
import { HTTPS_TEMPLATE, KIOSK_DISPLAY_DIR, KIOSK_ENABLED_FILE, KIOSK_INPUT_MODULE, KIOSK_RUN, KIOSK_USER, drmCards, kioskDecision, kioskEnabledVars, memTotalMiB } from './kiosk';
import { blankDisk, keepSystemOnDisk, resolveDataDevice, type DataDevice, type SetupIo } from './sysdisk-node';
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

function log(line: string, consoleOnly = false): void {
  const text = `[${uptime()}] ${line}\n`;
  process.stdout.write(text);
  if (!consoleOnly) appendFileSync(LOG, text);
}

function run(what: string, step: Step): boolean {
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
  const rules = parseModulesAlias(readFileSync(`/lib/modules/${release()}/modules.alias`, 'utf8'));
  for (let pass = 0; pass < 2; pass++) {
    const wanted = modulesForDevices(deviceModaliases(), rules, parseProcModules(readFileSync('/proc/modules', 'utf8')));
    if (wanted.length === 0) break;
    run('module', { argv: ['modprobe', '-a', '-b', ...wanted], allowFail: true });
  }
  log(`kvm: ${existsSync('/dev/kvm') ? '/dev/kvm present, guests run under KVM' : 'no /dev/kvm, guests run under TCG'}`);
  // devtmpfs makes it root's alone; QEMU (ramvm-qemu) and the KVM probe (ramvm) open it through group kvm, as udev sets it on Debian.
  const kvmGroup = parseGroup(readFileSync('/etc/group', 'utf8')).get(KVM_GROUP);
  if (existsSync('/dev/kvm') && kvmGroup) {
    chownSync('/dev/kvm', 0, kvmGroup.gid);
    chmodSync('/dev/kvm', 0o660);
  }
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

function waitFor(path: string, ms: number): boolean {
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
  if (!p.ramonly && !p.datadisk) {
    const r = spawnSync('blkid', ['-L', DATA_LABEL], { encoding: 'utf8', env: { PATH: NODE_PATH } });
    labelled = r.status === 0 ? r.stdout.trim() || null : null;
  }
  if (!p.ramonly && !p.datadisk && !labelled && p.sysdisk) {
    // ramvm.sysdisk=1 on a machine without a data disk: the first disk with nothing on it becomes one.
    const blank = blankDisk(io);
    if (blank) p = { ...p, datadisk: blank };
  }
  const choice = chooseDataDisk(p, labelled);
  if (!choice.device) {
    log(`data disk: none (${choice.why})`);
    return null;
  }
  if (!waitFor(choice.device, DATADISK_WAIT_MS)) {
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

function firstPassword(): string | undefined {
  try {
    const pw = readFileSync(FW_CFG_PASSWORD, 'utf8').trim();
    return pw || undefined;
  } catch {
    return undefined;
  }
}

/**
 * HTTPS, when the image ships the TLS template (the kiosk variant): the
 * node's certificate is the one `ramvm init` made on its first boot
 * (cluster/identity.ts), kept in /etc/ramvm/priv on the data disk (in RAM
 * with ramonly: a new one every boot).
 */
function https(): string | null {
  if (!existsSync(HTTPS_TEMPLATE)) return null;
  if (!existsSync(certFiles().pem)) {
    log(`https: no certificate ${certFiles().pem}: the UI is served over http`);
    return null;
  }
  return readFileSync(HTTPS_TEMPLATE, 'utf8');
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

function main(): void {
  mounts();
  const cmdline = readFileSync('/proc/cmdline', 'utf8').trim();
  log(`ramvm node set-up; kernel command line: ${cmdline}`);
  const { params, errors } = parseBootParams(cmdline);
  for (const e of errors) log(`boot parameter ${e}`);

  modules();
  const found = nics();
  const node = params.node ?? defaultNodeName(found.firstMac);
  writeFileSync('/etc/hostname', node + '\n');
  writeFileSync('/etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${node}\n::1\tlocalhost\n`);
  run('hostname', { argv: ['hostname', node] });
  writeFileSync('/run/ramvm-boot.env', bootEnv(params, node));

  network(params, node, found.names);
  const disk = dataDisk(params);
  keepSystemOnDisk(disk, params, node, io);

  process.env.RAMVM_ROOT = '/';
  process.env.RAMVM_DIST = NODE_DIST;
  process.env.RAMVM_NODE = node;
  const password = firstPassword();
  const init = initNode(password ? { ...process.env, RAMVM_ADMIN_PASSWORD: password } : process.env);
  log(`ramvm init: ${init.createdAdmin ? 'created user admin' : 'users kept from the data disk'}; node certificate ${certFiles().crt} ${init.madeCertificate ? 'made' : 'kept from an earlier boot'}`);
  if (init.generatedPassword) log(`ramvm: password of user admin: ${init.generatedPassword}  (shown once, on this console only)`, true);

  separate();

  const template = https() ?? readFileSync(`${NODE_RAMVM_DIR}/lighttpd.conf.in`, 'utf8');
  mkdirSync(dirname(NODE_LIGHTTPD_CONF), { recursive: true });
  writeFileSync(NODE_LIGHTTPD_CONF, fillNodeName(template, node), { mode: 0o644 });
  mkdirSync('/var/spool/cron/crontabs', { recursive: true });

  kiosk(params);

  const addrs = addresses();
  const scheme = existsSync(HTTPS_TEMPLATE) ? 'https' : 'http';
  log(`ramvm node ${node}: ${disk ? `data on ${disk.device}` : 'RAM only'}; web UI on ${scheme} port ${NODE_PORT} of ${addrs.join(', ') || 'no address yet'}`);
  log(`set-up done`);
}

try {
  main();
} catch (e) {
  log(`set-up failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
}
