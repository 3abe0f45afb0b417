/**
 * What a node does at boot, as data: the commands (argv arrays) that bring
 * up the network and the data disk, from the boot parameters and what the
 * set-up found on the machine. node-setup.ts runs them and logs each to
 * /ram.log; the unit tests check them as plans.
 *
 * Network: the first NIC (or ramvm.nic) is a port of bridge vmbr0, which
 * carries the node's address (ramvm.ip, else DHCP) and the guests' NICs;
 * every other NIC asks DHCP for an address of its own.
 *
 *   ramvm.ip=10.99.0.1/24, NICs eth0 eth1 →
 *     ip link set lo up; ip link add name vmbr0 type bridge stp_state 0 forward_delay 0;
 *     ip link set eth0 master vmbr0; ip link set eth0 up; ip link set vmbr0 up;
 *     ip addr add 10.99.0.1/24 dev vmbr0; ip link set eth1 up   (+ DHCP on eth1)
 *
 * Data disk: a blank device becomes ext4 labelled ramvm-data; an existing
 * ext filesystem is checked (e2fsck -p repairs what it safely can); then
 * the disk is mounted on /mnt/data and its etc/ramvm, var/lib/vz and
 * var/log/ramvm are bound over the node's own, so settings, guest disks,
 * ISO images, backups and task logs live on the disk and never in the image.
 */
import { isIPv4, type BootParams } from './boot-params';

export interface Step {
  argv: string[];
  /** Standard input of the command. */
  input?: string;
  /** A failure is logged and the boot goes on. */
  allowFail?: boolean;
}

/** A step the set-up does in its own process (nativeStep). */
export type NativeStep = { kind: 'mkdir'; paths: string[] } | { kind: 'chmod'; mode: number; paths: string[] };

/**
 * The steps the set-up does itself instead of spawning a program: each
 * spawn from node costs tens of milliseconds of a TCG node's boot, and
 * these two are a system call a path. Absolute paths only; null for any
 * other step, which is spawned.
 *
 *   mkdir -p /a /b      → { kind: "mkdir", paths: ["/a", "/b"] }
 *   chmod 0700 /a       → { kind: "chmod", mode: 0o700, paths: ["/a"] }
 *   chmod -R g+rwX /a   → null
 */
export function nativeStep(s: Step): NativeStep | null {
  const [cmd, first, ...paths] = s.argv;
  if (s.input !== undefined || paths.length === 0 || !paths.every((p) => p.startsWith('/'))) return null;
  if (cmd === 'mkdir' && first === '-p') return { kind: 'mkdir', paths };
  if (cmd === 'chmod' && first !== undefined && /^0?[0-7]{3}$/.test(first)) return { kind: 'chmod', mode: parseInt(first, 8), paths };
  return null;
}

/**
 * Runs of `ip …` steps as one `ip -force -batch -` (each process costs a
 * fork of the set-up under an emulated CPU): the commands become its input,
 * one a line, and it goes on past a failing one.
 */
export function batchIp(steps: readonly Step[]): Step[] {
  const out: Step[] = [];
  let batch: string[] = [];
  const flush = () => {
    if (batch.length === 1) out.push({ argv: ['ip', ...batch[0]!.split(' ')] });
    else if (batch.length > 1) out.push({ argv: ['ip', '-force', '-batch', '-'], input: batch.join('\n') + '\n' });
    batch = [];
  };
  for (const s of steps) {
    if (s.argv[0] === 'ip' && !s.input && s.argv.slice(1).every((a) => /^[A-Za-z0-9_./:-]+$/.test(a))) batch.push(s.argv.slice(1).join(' '));
    else {
      flush();
      out.push(s);
    }
  }
  flush();
  return out;
}

export const BRIDGE = 'vmbr0';
export const DATA_LABEL = 'ramvm-data';
export const DATA_MOUNT = '/mnt/data';
/** Directories of the node that live on the data disk when there is one. */
export const DATA_DIRS = ['etc/ramvm', 'var/lib/vz', 'var/log/ramvm'] as const;
/** How long DHCP may take before the boot goes on (udhcpc keeps trying in the background), in seconds. */
export const DHCP_TRIES = 3;
export const DHCP_TIMEOUT_S = 2;

export interface NetworkPlan {
  steps: Step[];
  /** Interfaces that ask DHCP for an address. */
  dhcp: string[];
  /** The NIC bridged into vmbr0, if any. */
  bridged?: string;
  /** Contents of /etc/resolv.conf for a static address with ramvm.dns. */
  resolvConf?: string;
  errors: string[];
}

/** NICs are the /sys/class/net entries with a device (no lo, bridges, taps); sorted by the caller. */
export function networkPlan(p: BootParams, nics: readonly string[]): NetworkPlan {
  const steps: Step[] = [{ argv: ['ip', 'link', 'set', 'lo', 'up'] }];
  const errors: string[] = [];
  if (nics.length === 0) return { steps, dhcp: [], errors: ['no network card found: the node is reachable on its console only'] };
  let bridged = nics[0]!;
  if (p.nic) {
    if (nics.includes(p.nic)) bridged = p.nic;
    else errors.push(`ramvm.nic=${p.nic}: no such network card (have ${nics.join(', ')}); bridging ${bridged}`);
  }
  steps.push(
    { argv: ['ip', 'link', 'add', 'name', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'] },
    { argv: ['ip', 'link', 'set', bridged, 'master', BRIDGE] },
    { argv: ['ip', 'link', 'set', bridged, 'up'] },
    { argv: ['ip', 'link', 'set', BRIDGE, 'up'] },
  );
  const dhcp: string[] = [];
  let resolvConf: string | undefined;
  if (p.ip) {
    steps.push({ argv: ['ip', 'addr', 'add', `${p.ip.address}/${p.ip.prefix}`, 'dev', BRIDGE] });
    if (p.gw) steps.push({ argv: ['ip', 'route', 'add', 'default', 'via', p.gw, 'dev', BRIDGE] });
    if (p.dns) resolvConf = p.dns.map((a) => `nameserver ${a}\n`).join('');
  } else if (!p.askIp) {
    dhcp.push(BRIDGE);
  }
  for (const n of nics) {
    if (n === bridged) continue;
    steps.push({ argv: ['ip', 'link', 'set', n, 'up'] });
    dhcp.push(n);
  }
  return { steps, dhcp, bridged, ...(resolvConf ? { resolvConf } : {}), errors };
}

/** udhcpc for one interface: a few quick tries, then on in the background (renewals too). */
export function dhcpArgs(iface: string, node: string): string[] {
  return ['udhcpc', '-b', '-t', String(DHCP_TRIES), '-T', String(DHCP_TIMEOUT_S), '-i', iface, '-x', `hostname:${node}`,
    '-p', `/run/udhcpc.${iface}.pid`, '-s', '/usr/share/udhcpc/default.script'];
}

export type DataDiskChoice =
  | { device: string; why: string }
  | { device: null; why: string };

/**
 * Which data disk to use: ramonly → none; datadisk= → that one; else the
 * filesystem labelled ramvm-data if there is one; else none (RAM only).
 */
export function chooseDataDisk(p: BootParams, labelled: string | null, blank: string | null = null): DataDiskChoice {
  if (p.ramonly) return { device: null, why: 'ramonly: everything stays in RAM and is gone at the next boot' };
  if (p.datadisk === 'auto') {
    if (labelled) return { device: labelled, why: `datadisk=auto: the filesystem labelled ${DATA_LABEL}` };
    if (blank) return { device: blank, why: 'datadisk=auto: the first blank disk' };
    return { device: null, why: `datadisk=auto: no filesystem labelled ${DATA_LABEL} and no blank disk: everything stays in RAM` };
  }
  if (p.datadisk) return { device: p.datadisk, why: `datadisk=${p.datadisk}` };
  if (labelled) return { device: labelled, why: `the filesystem labelled ${DATA_LABEL}` };
  return { device: null, why: `no datadisk= and no filesystem labelled ${DATA_LABEL}: everything stays in RAM` };
}

/** ext2/3/4 as blkid names them; any other filesystem is mounted as it is, never checked or formatted. */
const EXT_TYPES = new Set(['ext2', 'ext3', 'ext4']);

/**
 * Steps to make `device` the data tree. `fsType` is blkid's TYPE, or null
 * when blkid found no filesystem signature at all (a blank disk): only then
 * is it formatted.
 */
export function dataDiskPlan(device: string, fsType: string | null): Step[] {
  const steps: Step[] = [];
  if (fsType === null) steps.push({ argv: ['mke2fs', '-q', '-F', '-t', 'ext4', '-L', DATA_LABEL, '-m', '0', device] });
  else if (EXT_TYPES.has(fsType)) steps.push({ argv: ['e2fsck', '-p', device], allowFail: true });
  steps.push({ argv: ['mkdir', '-p', DATA_MOUNT] }, { argv: ['mount', '-o', 'noatime', device, DATA_MOUNT] });
  steps.push({ argv: ['mkdir', '-p', ...DATA_DIRS.flatMap((d) => [`${DATA_MOUNT}/${d}`, `/${d}`])] });
  for (const d of DATA_DIRS) steps.push({ argv: ['mount', '--bind', `${DATA_MOUNT}/${d}`, `/${d}`] });
  return steps;
}

/** `blkid -o export DEVICE` → TYPE, or null when it printed nothing (exit 2: no signature). */
export function parseBlkidType(out: string): string | null {
  return /^TYPE=(\S+)$/m.exec(out)?.[1] ?? null;
}

/**
 * Shell assignments of the parameters the console script needs, values
 * single-quoted: { node: "alpha", shell: true } → "RAMVM_NODE='alpha'\nRAMVM_SHELL=1\n".
 */
export function bootEnv(p: BootParams, node: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `RAMVM_NODE=${q(node)}\nRAMVM_SHELL=${p.shell ? 1 : 0}\nRAMVM_RAMONLY=${p.ramonly ? 1 : 0}\n`;
}

/**
 * What the console script needs to know of the network (/run/ramvm-console.env):
 * whether the address came from the command line, and whether it was
 * ramvm.ip=ask (no DHCP on vmbr0 yet, a longer wait for an answer).
 */
/**
 * The console's line about the administrator: who, and where the password
 * came from: the first boot of the data disk, or this boot when the node
 * keeps its settings in RAM (ramonly, backup mode), whose set-up printed it
 * once on this console.
 */
export function adminLine(admins: readonly string[], settingsOnDisk: boolean): string {
  if (admins.length === 0) return 'no administrator on /: boot the rescue entry (a root shell) and set one up with "ramvm passwd admin"\n';
  const where = settingsOnDisk ? 'its password was set at the first boot of this data disk' : 'settings in RAM: its password was made at this boot and shown once above';
  return `administrator: ${admins.join(', ')} (${where})\n`;
}

/** The console env's line saying the settings live in RAM (no data disk), appended once the set-up knows. */
export const RAM_SETTINGS_LINE = 'RAMVM_SETTINGS_IN_RAM=1\n';

export function consoleEnv(p: BootParams): string {
  return `RAMVM_IP_STATIC=${p.ip ? 1 : 0}\nRAMVM_IP_ASK=${p.askIp ? 1 : 0}\n`;
}

export interface AskedNetwork {
  steps: Step[];
  resolvConf?: string;
  /** The address typed, without its prefix, for the URL the console shows. */
  address: string;
}

/**
 * The IP settings typed on the console ("10.0.0.5/24", "10.0.0.1" or "",
 * "10.0.0.1,10.0.0.2" or "") as the steps that put them on vmbr0 in place
 * of whatever DHCP gave it; throws saying what is wrong with an answer.
 */
export function askedNetworkPlan(address: string, gateway: string, dns: string): AskedNetwork {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(address.trim());
  if (!m || !isIPv4(m[1]!) || Number(m[2]) < 1 || Number(m[2]) > 32) throw new Error(`address: "${address.slice(0, 40)}" is no IPv4 address with a prefix length such as 192.168.1.10/24`);
  const gw = gateway.trim();
  if (gw && !isIPv4(gw)) throw new Error(`gateway: "${gw.slice(0, 40)}" is no IPv4 address`);
  const servers = dns.trim() ? dns.trim().split(/[ ,]+/) : [];
  const bad = servers.find((a) => !isIPv4(a));
  if (bad !== undefined) throw new Error(`DNS: "${bad.slice(0, 40)}" is no IPv4 address`);
  const steps: Step[] = [
    { argv: ['ip', 'addr', 'flush', 'dev', BRIDGE] },
    { argv: ['ip', 'addr', 'add', `${m[1]}/${m[2]}`, 'dev', BRIDGE] },
    ...(gw ? [{ argv: ['ip', 'route', 'replace', 'default', 'via', gw, 'dev', BRIDGE] }] : []),
  ];
  return { steps, address: m[1]!, ...(servers.length ? { resolvConf: servers.map((a) => `nameserver ${a}\n`).join('') } : {}) };
}
