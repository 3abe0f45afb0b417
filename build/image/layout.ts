/**
 * The shape of a node image as data: which parts it is made of, where each
 * staged path goes, the GRUB menu of the ISO, the lighttpd config of a node,
 * and the size report against the ISO budget.
 *
 * A node boots a kernel and one initrd. The initrd is an early cpio (busybox,
 * three modules, the stage-1 /init; zstd) followed by an uncompressed cpio of
 * read-only squashfs parts, which /init stacks with overlayfs under a tmpfs:
 *
 *   initrd.img = early.cpio.zst ++ cpio(parts/ramvm.sfs, base.sfs, qemu.sfs, node.sfs, modules.sfs)
 *   /          = overlay(upper: tmpfs, lower: ramvm : base : qemu : node : modules)
 *
 * Each part is built and cached on its own (node and QEMU rarely change;
 * ramvm's own files change with every build), and each is a line of the
 * size report.
 */
import { NODE_DIST, NODE_PATH, NODE_PORT } from './node-paths';

/** The squashfs parts, top of the overlay first. */
export const PARTS = ['ramvm', 'base', 'qemu', 'node', 'modules'] as const;
export type PartName = (typeof PARTS)[number];

/**
 * The part a root path belongs to:
 *   /opt/ramvm/…                       → ramvm
 *   /usr/lib/modules/…                 → modules
 *   /usr/bin/node                      → node
 *   /usr/bin/qemu-*, qemu's dirs, firmware → qemu
 *   everything else (busybox, libraries, lighttpd, drbd, /etc) → base
 */
export function partOf(path: string): PartName {
  if (path === '/opt/ramvm' || path.startsWith('/opt/ramvm/')) return 'ramvm';
  if (path.startsWith('/usr/lib/modules/')) return 'modules';
  if (path === '/usr/bin/node') return 'node';
  if (/^\/usr\/bin\/qemu-/.test(path) || /^\/usr\/(share\/(qemu|seabios)|lib\/ipxe|lib\/x86_64-linux-gnu\/qemu)\//.test(path)) return 'qemu';
  return 'base';
}

/**
 * Squashfs block size of each part, in KiB. The kernel (6.1) keeps, for
 * every mounted part and for good, a block per CPU for reading, three more
 * for fragments when the part has any (kmalloc'd: unreclaimable slab) and a
 * zstd window of a block: with 1 MiB blocks ~5 MiB of RAM a part. Small
 * blocks cost 0.1–0.8 MB of ISO a part (measured with zstd -19) and save
 * ~4.5 MiB of RAM each; node (one file, no fragments, the most to gain from
 * a large window) keeps 1 MiB.
 */
export const PART_BLOCK_KIB: Readonly<Record<PartName, number>> = { ramvm: 128, base: 128, qemu: 128, node: 1024, modules: 128 };

/** mksquashfs options of a part: zstd at its strongest (unpacking is cheap, bytes are not) with the part's block size. */
export function partSquashfsOpts(part: PartName): string[] {
  return ['-comp', 'zstd', '-Xcompression-level', '19', '-b', `${PART_BLOCK_KIB[part]}K`, '-noappend', '-all-root', '-no-progress', '-quiet'];
}

/**
 * GRUB modules an ISO carries (grub-mkrescue --install-modules; their
 * dependencies come along): the menu's commands (grubPreamble, grubConfig),
 * finding the medium as CD or stick, and video for the EFI console. All
 * 280 modules of both platforms would add 2.1 MB.
 */
export const ISO_GRUB_MODULES = [
  'normal', 'linux', 'serial', 'terminal', 'echo', 'test', 'configfile', 'reboot', 'halt',
  'iso9660', 'part_msdos', 'part_gpt', 'fat', 'search', 'search_fs_uuid', 'search_fs_file', 'search_label', 'all_video',
] as const;

/** grub-mkrescue's argv: a hybrid ISO (BIOS and UEFI, CD or USB stick) of the tree `dir`, volume RAMVM. */
export function grubMkrescueArgs(dir: string, iso: string): string[] {
  return ['grub-mkrescue', '--compress=xz', '--fonts=', '--locales=', '--themes=', `--install-modules=${ISO_GRUB_MODULES.join(' ')}`, '-o', iso, dir, '--', '-volid', 'RAMVM'];
}

/** The ISO size we aim for: the original system's ISO without its X server and browser, in bytes. */
export const ISO_GOAL_BYTES = 72 * 1000 * 1000; // 72 MB
/** Above this the image build fails: the original system's whole ISO, in bytes. */
export const ISO_LIMIT_BYTES = 100 * 1000 * 1000; // 100 MB

/** Kernel command line words every boot gets. */
export const BASE_CMDLINE = ['quiet', 'panic=10'];

export interface GrubEntry {
  title: string;
  /** Extra kernel parameters of this entry. */
  params: string[];
}

/** The boot menu of the ISO: the first entry boots unattended after the timeout. */
export const GRUB_ENTRIES: readonly GrubEntry[] = [
  { title: 'ramvm (data disk labelled ramvm-data, else RAM only)', params: [] },
  { title: 'ramvm, RAM only (no data disk)', params: ['ramonly'] },
  { title: 'ramvm with a root shell on the serial console (rescue)', params: ['ramvm.shell'] },
  { title: 'ramvm, and keep the system on the data disk (it boots without this medium)', params: ['ramvm.sysdisk=1'] },
  { title: 'ramvm, ask for the IP settings on the console (DHCP when nobody answers)', params: ['ramvm.ip=ask'] },
];

/**
 * The boot menu of a prepared node's ISO (prepared.ts): the node by name and
 * address first (its data disk: the one labelled ramvm-data, else the first
 * blank disk), then the rescue shell.
 */
export function preparedGrubEntries(p: { cluster: string; name: string; index: number; ip: { address: string; prefix: number } }): GrubEntry[] {
  const role = p.index === 1 ? 'master' : 'member';
  return [
    { title: `ramvm cluster ${p.cluster}: node ${p.name} (${role}, ${p.ip.address}/${p.ip.prefix})`, params: ['datadisk=auto'] },
    { title: `ramvm cluster ${p.cluster}: node ${p.name} with a root shell on the serial console (rescue)`, params: ['datadisk=auto', 'ramvm.shell'] },
  ];
}

/** Seconds the menu waits. */
export const GRUB_TIMEOUT_S = 3;

/** The first lines of every grub.cfg of ours (the ISO's, a system disk's): timeout, first entry, screen and serial line both. */
export function grubPreamble(): string[] {
  return [
    `set timeout=${GRUB_TIMEOUT_S}`,
    'set default=0',
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    '',
  ];
}

/**
 * grub.cfg of the ISO. Output goes to the screen and the first serial port,
 * so headless machines (and the lab) see the boot too; the last console=
 * is /dev/console. Press "e" in the menu to add ramvm.ip=… and friends.
 */
export function grubConfig(kernel: string, initrd: string, entries: readonly GrubEntry[] = GRUB_ENTRIES): string {
  const lines = grubPreamble();
  for (const e of entries) {
    const cmdline = [...BASE_CMDLINE, 'console=tty0', 'console=ttyS0,115200', ...e.params].join(' ');
    lines.push(`menuentry '${e.title.replace(/'/g, '')}' {`, `  linux ${kernel} ${cmdline}`, `  initrd ${initrd}`, '}', '');
  }
  return lines.join('\n');
}

/** Stands for the node name in the config template; the node's set-up fills it in at boot. */
export const NODE_NAME_PLACEHOLDER = 'ramvm-node-name-at-boot';

export interface HostPaths {
  /** dist/ of this checkout. */
  dist: string;
  /** The node binary that ran the build (lighttpdConfig puts process.execPath). */
  nodeExec: string;
  /** PATH of the build (lighttpdConfig passes it to CGIs). */
  path: string;
}

/**
 * The lighttpd config of a node from the config `npm start` would write on
 * the build machine (build/server.ts lighttpdConfig(), root "/"): the build
 * machine's paths are mapped to the node's. Throws when a build path
 * survives, so a template change that adds another host path is caught at
 * build time, not on a booted node.
 */
export function nodeLighttpdConfig(hostConf: string, host: HostPaths): string {
  const map: [string, string][] = [
    [host.dist, NODE_DIST],
    [host.nodeExec, '/usr/bin/node'],
    [`"PATH" => "${host.path}"`, `"PATH" => "${NODE_PATH}"`],
  ];
  let conf = hostConf;
  for (const [from, to] of map) {
    if (!conf.includes(from)) throw new Error(`lighttpd config: expected ${JSON.stringify(from)} in the generated config`);
    conf = conf.split(from).join(to);
  }
  if (host.dist !== NODE_DIST && conf.includes(host.dist)) throw new Error(`lighttpd config still names the build's ${host.dist}`);
  if (!conf.includes(`server.port = ${NODE_PORT}`)) throw new Error(`lighttpd config does not listen on port ${NODE_PORT}`);
  return conf;
}

/** The template with the node's name filled in (names are checked by parseBootParams). */
export function fillNodeName(template: string, node: string): string {
  if (!/^[a-z0-9-]+$/.test(node)) throw new Error(`bad node name ${JSON.stringify(node)}`);
  return template.split(NODE_NAME_PLACEHOLDER).join(node);
}

/**
 * The template with the node's own address set for the CGIs (RAMVM_ADDRESS:
 * the address other nodes reach it at), for a node with a static address.
 */
export function fillNodeAddress(conf: string, address: string): string {
  const empty = '"RAMVM_ADDRESS" => ""';
  if (!/^[0-9.]+$/.test(address)) throw new Error(`bad node address ${JSON.stringify(address)}`);
  if (!conf.includes(empty)) throw new Error('lighttpd config: no empty RAMVM_ADDRESS to fill in');
  return conf.split(empty).join(`"RAMVM_ADDRESS" => "${address}"`);
}

export interface ImageSizeRow {
  name: string;
  bytes: number;
  /** Bytes before compression, when the part is compressed. */
  rawBytes?: number;
  note?: string;
}

/** An ISO's size budget: the goal we aim for and the limit above which the build fails. */
export interface IsoBudget {
  goal: number;
  limit: number;
}

export const STANDARD_BUDGET: IsoBudget = { goal: ISO_GOAL_BYTES, limit: ISO_LIMIT_BYTES };
/** The kiosk variant: the original's ISO with X and a browser was 100 MB; a 2026 engine is bigger. */
export const KIOSK_BUDGET: IsoBudget = { goal: 120 * 1000 * 1000, limit: 160 * 1000 * 1000 };

/**
 * Rows for the report, the ISO last; `over` when the ISO exceeds the hard
 * limit. Without an ISO (`npm run image -- --no-iso`) the verdict is on
 * kernel + initrd, which the ISO exceeds only by its boot loader (~6 MB).
 * `last` (row name → bytes of the last build) adds each row's change.
 */
export function imageSizeReport(
  rows: readonly ImageSizeRow[], isoBytes: number, isoBuilt = true, budget: IsoBudget = STANDARD_BUDGET, last: Readonly<Record<string, number>> = {},
): { text: string; over: boolean; overGoal: boolean } {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const label = isoBuilt ? 'ISO' : 'kernel + initrd (no ISO built)';
  const w = Math.max(...rows.map((r) => r.name.length), 'kernel + initrd (no ISO built)'.length);
  const change = (name: string, bytes: number) => {
    const before = last[name];
    if (before === undefined) return '';
    const d = bytes - before;
    return Math.abs(d) < 50_000 ? '  = last build' : `  ${d > 0 ? '+' : '-'}${mb(Math.abs(d))} since the last build`;
  };
  const lines = rows.map((r) => `${r.name.padEnd(w)}  ${mb(r.bytes).padStart(9)}${r.rawBytes ? `  (${mb(r.rawBytes)} unpacked)` : ''}${r.note ? `  ${r.note}` : ''}${change(r.name, r.bytes)}`);
  const over = isoBytes > budget.limit;
  const overGoal = isoBytes > budget.goal;
  const verdict = over ? 'OVER THE LIMIT' : overGoal ? 'over the goal, under the limit' : 'within the goal';
  lines.push(`${label.padEnd(w)}  ${mb(isoBytes).padStart(9)}  goal ${mb(budget.goal)}, limit ${mb(budget.limit)}: ${verdict}${change(label, isoBytes)}`);
  return { text: lines.join('\n'), over, overGoal };
}

/** "Depends: linux-image-6.1.0-56-amd64" from `apt-cache depends linux-image-amd64` → the versioned package. */
export function kernelPackage(aptCacheDepends: string): string {
  const m = /Depends:\s*(linux-image-[0-9][^\s]*-amd64)\b/.exec(aptCacheDepends);
  if (!m) throw new Error(`no linux-image-*-amd64 in apt-cache depends output: ${aptCacheDepends.slice(0, 200)}`);
  return m[1]!;
}
