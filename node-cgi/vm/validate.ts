/**
 * Validation of a guest's config: one pure function from whatever a client
 * sent (plus a few facts about the node) to a complete VmConfig, or a list of
 * issues each naming its field. It refuses what QEMU would refuse at start,
 * so a guest that was accepted can be started.
 *
 *   checkVmConfig({ name: "web", disks: [{ size: "8G", bus: "virtio" }] }, facts)
 *   → { config: { vmid: 101, name: "web", memory: 512, …,
 *                 disks: [{ id: "disk0", file: "vm-101-disk-0.qcow2", size: "8G",
 *                           bus: "virtio", format: "qcow2", cache: "writeback" }], … },
 *       issues: [] }
 *   checkVmConfig({ memory: 8, sockets: 0 }, facts)
 *   → { issues: [{ field: "memory", message: "must be at least 16 MiB" },
 *                { field: "sockets", message: "must be an integer from 1 to 16" }] }
 */
import { HttpError } from '../lib/errors';
import { VMID_MAX, VMID_MIN, formatSize, parseSize } from '../lib/validate';
import { DRBD_BYTES_MAX, DRBD_BYTES_MIN } from '../drbd/record';
import {
  DEFAULT_BOOT, DEFAULT_BRIDGE, DEFAULT_CACHE, DEFAULT_CORES, DEFAULT_DISK_BUS, DEFAULT_DISK_FORMAT, DEFAULT_DISK_SIZE,
  DEFAULT_MEMORY_MIB, DEFAULT_NIC_MODEL, DEFAULT_OSTYPE, DEFAULT_SOCKETS, VMID_FIRST,
} from './defaults';
import {
  ACCEL_SETTINGS, CACHE_MODES, DISK_BUSES, DISK_FORMATS, NIC_MODELS, OS_TYPE_IDS,
  type AccelSetting, type DiskConfig, type NicConfig, type TemporaryMark, type VmConfig,
} from './types';

export const MEMORY_MIN_MIB = 16;
export const MEMORY_MAX_MIB = 4 * 1024 * 1024; // 4 TiB
export const SOCKETS_MAX = 16;
export const CORES_MAX = 128;
/** QEMU's vCPU limit of the i440fx machine ("pc"). */
export const VCPUS_MAX = 255;
export const DISKS_MAX = 16;
export const NICS_MAX = 8;
/** Disks per bus: IDE has 4 slots and the CD-ROM drive takes one (ide.1 unit 0); AHCI has 6 ports. */
export const DISKS_PER_BUS = { ide: 3, sata: 6, scsi: 16, virtio: 16 } as const;
export const DESCRIPTION_MAX_CHARS = 8192;
export const NAME_MAX_CHARS = 63;

export interface Issue {
  field: string;
  message: string;
}

/** POST /api/vm?dryrun=1: the config a create would write, or what is wrong. */
export interface VmCreateCheck {
  config?: VmConfig;
  issues: Issue[];
}

export interface ValidationFacts {
  /** This node's name. */
  node: string;
  /** Nodes a guest may live on (default: this node only). */
  nodes?: readonly string[];
  /** ISO images in the library; null: do not check. */
  isos: ReadonlySet<string> | null;
  /** MAC addresses of other guests. */
  macsTaken: ReadonlySet<string>;
  /** A fresh MAC address (random, MAC_PREFIX). */
  newMac(): string;
  /** Whether the filesystem of the disk images supports O_DIRECT (cache none/directsync); undefined: unknown. */
  directIo?: boolean;
  /** Unix ms, for `created`. */
  now: number;
  /** "create": disks get ids and files here; "update": disks must already have them. */
  mode: 'create' | 'update';
}

/** A Linux interface name: 1–15 chars, no "/" or blanks, not "." or "..". */
export function isInterfaceName(v: unknown): v is string {
  return typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(v) && !v.includes('..');
}

/** "02:52:4d:0a:0b:0c" → "02:52:4D:0A:0B:0C"; null unless a unicast colon MAC. */
export function normaliseMac(v: unknown): string | null {
  if (typeof v !== 'string' || !/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(v)) return null;
  const mac = v.toUpperCase();
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) return null; // multicast bit
  if (mac === '00:00:00:00:00:00') return null;
  return mac;
}

/** "vm-101-disk-0.qcow2" for disk 0 of guest 101. */
export function diskFileName(vmid: number, index: number, format: string): string {
  return `vm-${vmid}-disk-${index}.${format}`;
}

const ISO_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;

const TOP_FIELDS = new Set([
  'vmid', 'name', 'node', 'type', 'memory', 'sockets', 'cores', 'ostype', 'onboot', 'cdrom', 'disks', 'nics', 'boot', 'description', 'created',
  'temporary', 'accel', 'agent',
]);
const DISK_FIELDS = new Set(['id', 'file', 'size', 'bus', 'format', 'cache', 'replicated']);
const NIC_FIELDS = new Set(['id', 'model', 'bridge', 'mac', 'linkDown']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** The one validation: input → config or issues. Missing fields take the defaults. */
export function checkVmConfig(input: unknown, facts: ValidationFacts): { config?: VmConfig; issues: Issue[] } {
  const issues: Issue[] = [];
  const bad = (field: string, message: string) => issues.push({ field, message });
  if (!isObject(input)) return { issues: [{ field: 'body', message: 'must be a JSON object' }] };
  for (const k of Object.keys(input)) if (!TOP_FIELDS.has(k)) bad(k, 'unknown field');
  const pick = <T>(k: string, dflt: T): unknown => (input[k] === undefined ? dflt : input[k]);

  let vmid = VMID_FIRST;
  const v = input.vmid;
  if (!isInt(v) || v < VMID_MIN || v > VMID_MAX) bad('vmid', `must be an integer from ${VMID_MIN} to ${VMID_MAX}`);
  else vmid = v;

  const name = pick('name', `vm${vmid}`);
  if (typeof name !== 'string' || name.length > NAME_MAX_CHARS || !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(name)) {
    bad('name', 'must be a host name: letters, digits, "-" and ".", 1–63 characters, not starting or ending with "-"');
  }

  const node = pick('node', facts.node);
  const nodes = facts.nodes ?? [facts.node];
  if (typeof node !== 'string' || !nodes.includes(node)) {
    bad('node', `unknown node ${JSON.stringify(node)}; ${nodes.length === 1 ? `this node is "${facts.node}"` : `nodes: ${nodes.join(', ')}`}`);
  }

  if (pick('type', 'kvm') !== 'kvm') bad('type', 'must be "kvm"');

  const memory = pick('memory', DEFAULT_MEMORY_MIB);
  if (!isInt(memory)) bad('memory', 'must be a whole number of MiB');
  else if (memory < MEMORY_MIN_MIB) bad('memory', `must be at least ${MEMORY_MIN_MIB} MiB`);
  else if (memory > MEMORY_MAX_MIB) bad('memory', `must be at most ${MEMORY_MAX_MIB} MiB (4 TiB)`);

  const sockets = pick('sockets', DEFAULT_SOCKETS);
  const cores = pick('cores', DEFAULT_CORES);
  if (!isInt(sockets) || sockets < 1 || sockets > SOCKETS_MAX) bad('sockets', `must be an integer from 1 to ${SOCKETS_MAX}`);
  if (!isInt(cores) || cores < 1 || cores > CORES_MAX) bad('cores', `must be an integer from 1 to ${CORES_MAX}`);
  else if (isInt(sockets) && sockets * cores > VCPUS_MAX) bad('cores', `sockets × cores must be at most ${VCPUS_MAX} vCPUs (QEMU's limit for this machine)`);

  const ostype = pick('ostype', DEFAULT_OSTYPE);
  if (!(OS_TYPE_IDS as readonly unknown[]).includes(ostype)) bad('ostype', `must be one of ${OS_TYPE_IDS.join(', ')}`);

  const onboot = pick('onboot', false);
  if (typeof onboot !== 'boolean') bad('onboot', 'must be true or false');

  const cdrom = pick('cdrom', null);
  if (cdrom !== null) {
    if (typeof cdrom !== 'string' || !ISO_NAME_RE.test(cdrom) || cdrom.includes('..')) {
      bad('cdrom', 'must be the name of an ISO image in the library, or null');
    } else if (facts.isos && !facts.isos.has(cdrom)) {
      bad('cdrom', `no ISO image named "${cdrom}" in the library`);
    }
  }

  const disks = checkDisks(pick('disks', [{}]), vmid, facts, bad);
  const nics = checkNics(pick('nics', [{}]), facts, bad);

  const devices = new Set(['cdrom', ...disks.map((d) => d.id), ...nics.map((n) => n.id)]);
  let boot: string[] = DEFAULT_BOOT.filter((d) => devices.has(d));
  if (input.boot !== undefined) {
    if (!Array.isArray(input.boot) || !input.boot.every((b) => typeof b === 'string')) {
      bad('boot', 'must be a list of device ids like ["disk0", "cdrom", "net0"]');
    } else {
      const seen = new Set<string>();
      for (const b of input.boot as string[]) {
        if (!devices.has(b)) bad('boot', `"${b.slice(0, 40)}" is not a device of this guest (${[...devices].join(', ')})`);
        else if (seen.has(b)) bad('boot', `"${b}" is listed twice`);
        seen.add(b);
      }
      boot = input.boot as string[];
    }
  }

  const description = pick('description', '');
  if (typeof description !== 'string') bad('description', 'must be a string');
  else if (description.length > DESCRIPTION_MAX_CHARS) bad('description', `must be at most ${DESCRIPTION_MAX_CHARS} characters`);

  const created = pick('created', facts.now);
  if (!isInt(created) || created < 0) bad('created', 'must be a time in Unix milliseconds');

  const temporary = checkTemporary(input.temporary, facts, bad);

  // null or absent: the node's setting.
  const accel = input.accel ?? undefined;
  if (accel !== undefined && !(ACCEL_SETTINGS as readonly unknown[]).includes(accel)) {
    bad('accel', `must be one of ${ACCEL_SETTINGS.join(', ')}, or null for the node's setting`);
  }

  // Absent: no agent channel (configs written before the field have none).
  const agent = input.agent;
  if (agent !== undefined && typeof agent !== 'boolean') bad('agent', 'must be true or false');

  if (issues.length > 0) return { issues };
  return {
    issues,
    config: {
      vmid,
      name: name as string,
      node: node as string,
      type: 'kvm',
      memory: memory as number,
      sockets: sockets as number,
      cores: cores as number,
      ostype: ostype as VmConfig['ostype'],
      onboot: onboot as boolean,
      cdrom: cdrom as string | null,
      disks,
      nics,
      boot,
      description: description as string,
      created: created as number,
      ...(temporary ? { temporary } : {}),
      ...(accel !== undefined ? { accel: accel as AccelSetting } : {}),
      ...(agent !== undefined ? { agent: agent as boolean } : {}),
    },
  };
}

const TEMPORARY_PURPOSES = ['run', 'bootcheck'];

/**
 * The mark of a guest running from a backup: set by the node when it
 * makes one (update mode), refused from clients creating a guest.
 */
function checkTemporary(value: unknown, facts: ValidationFacts, bad: (f: string, m: string) => void): TemporaryMark | undefined {
  if (value === undefined) return undefined;
  if (facts.mode === 'create') {
    bad('temporary', 'is set by the node for a guest run from a backup; leave it out');
    return undefined;
  }
  const t = value as Record<string, unknown>;
  const formats = isObject(t?.formats) ? t.formats : null;
  if (
    !isObject(value) || typeof t.backup !== 'string' || t.backup.length > 200 || !isInt(t.source) ||
    !TEMPORARY_PURPOSES.includes(t.purpose as string) || !isInt(t.since) || (t.task !== undefined && typeof t.task !== 'string') ||
    !formats || !Object.values(formats).every((f) => (DISK_FORMATS as readonly unknown[]).includes(f))
  ) {
    bad('temporary', 'must be {backup, source, purpose: "run"|"bootcheck", since, formats, task?}');
    return undefined;
  }
  return value as unknown as TemporaryMark;
}

function checkDisks(value: unknown, vmid: number, facts: ValidationFacts, bad: (f: string, m: string) => void): DiskConfig[] {
  if (!Array.isArray(value)) {
    bad('disks', 'must be a list of disks');
    return [];
  }
  if (value.length > DISKS_MAX) bad('disks', `at most ${DISKS_MAX} disks per guest`);
  const out: DiskConfig[] = [];
  const perBus: Record<string, number> = {};
  const ids = new Set<string>();
  value.forEach((d: unknown, i) => {
    const f = `disks[${i}]`;
    if (!isObject(d)) return bad(f, 'must be an object like {"size": "32G", "bus": "ide"}');
    for (const k of Object.keys(d)) if (!DISK_FIELDS.has(k)) bad(`${f}.${k}`, 'unknown field');
    let sizeText = DEFAULT_DISK_SIZE;
    try {
      sizeText = formatSize(parseSize(d.size ?? DEFAULT_DISK_SIZE));
    } catch (e) {
      bad(`${f}.size`, (e as Error).message);
    }
    const bus = d.bus ?? DEFAULT_DISK_BUS;
    if (!(DISK_BUSES as readonly unknown[]).includes(bus)) bad(`${f}.bus`, `must be one of ${DISK_BUSES.join(', ')}`);
    else {
      perBus[bus as string] = (perBus[bus as string] ?? 0) + 1;
      const max = DISKS_PER_BUS[bus as keyof typeof DISKS_PER_BUS];
      if (perBus[bus as string] === max + 1) {
        bad(`${f}.bus`, bus === 'ide' ? `at most ${max} IDE disks (the fourth IDE slot holds the CD-ROM drive)` : `at most ${max} ${String(bus).toUpperCase()} disks`);
      }
    }
    const replicated = d.replicated === true;
    if (d.replicated !== undefined && typeof d.replicated !== 'boolean') bad(`${f}.replicated`, 'must be true or false');
    const format = d.format ?? (replicated ? 'raw' : DEFAULT_DISK_FORMAT);
    if (!(DISK_FORMATS as readonly unknown[]).includes(format)) bad(`${f}.format`, `must be one of ${DISK_FORMATS.join(', ')}`);
    else if (replicated && format !== 'raw') bad(`${f}.format`, 'a replicated disk is raw (DRBD replicates blocks, not an image format); leave format out or say "raw"');
    if (replicated) {
      const bytes = (() => { try { return parseSize(sizeText); } catch { return 0; } })();
      if (bytes < DRBD_BYTES_MIN || bytes > DRBD_BYTES_MAX || bytes % 4096 !== 0) {
        bad(`${f}.size`, `a replicated disk has a whole number of 4 KiB blocks from ${formatSize(DRBD_BYTES_MIN)} to ${formatSize(DRBD_BYTES_MAX)}`);
      }
    }
    const ext = replicated ? 'drbd' : String(format);
    const cache = d.cache ?? DEFAULT_CACHE;
    if (!(CACHE_MODES as readonly unknown[]).includes(cache)) bad(`${f}.cache`, `must be one of ${CACHE_MODES.join(', ')}`);
    else if ((cache === 'none' || cache === 'directsync') && facts.directIo === false) {
      bad(`${f}.cache`, `"${cache}" needs O_DIRECT, which the filesystem of the disk images does not support; use writeback`);
    }
    let id: string;
    let file: string;
    if (facts.mode === 'create') {
      if (d.id !== undefined) bad(`${f}.id`, 'is chosen by the node; leave it out');
      if (d.file !== undefined) bad(`${f}.file`, 'is chosen by the node; leave it out');
      id = `disk${i}`;
      file = diskFileName(vmid, i, ext);
    } else {
      const m = typeof d.id === 'string' ? /^disk([0-9]{1,3})$/.exec(d.id) : null;
      if (!m) {
        bad(`${f}.id`, 'must be "disk<n>"');
        return;
      }
      id = d.id as string;
      file = diskFileName(vmid, Number(m[1]), ext);
      if (d.file !== file) bad(`${f}.file`, `must be "${file}"`);
    }
    if (ids.has(id)) bad(`${f}.id`, `"${id}" is used twice`);
    ids.add(id);
    out.push({
      id, file, size: sizeText, bus: bus as DiskConfig['bus'], format: format as DiskConfig['format'], cache: cache as DiskConfig['cache'],
      ...(replicated ? { replicated: true as const } : {}),
    });
  });
  return out;
}

/** Tries for a MAC that no other guest uses (3 random bytes: collisions are rare). */
const MAC_TRIES = 100;

function checkNics(value: unknown, facts: ValidationFacts, bad: (f: string, m: string) => void): NicConfig[] {
  if (!Array.isArray(value)) {
    bad('nics', 'must be a list of network cards');
    return [];
  }
  if (value.length > NICS_MAX) bad('nics', `at most ${NICS_MAX} network cards per guest`);
  const out: NicConfig[] = [];
  const mine = new Set<string>();
  value.forEach((n: unknown, i) => {
    const f = `nics[${i}]`;
    if (!isObject(n)) return bad(f, 'must be an object like {"model": "rtl8139", "bridge": "vmbr0"}');
    for (const k of Object.keys(n)) if (!NIC_FIELDS.has(k)) bad(`${f}.${k}`, 'unknown field');
    if (n.id !== undefined && n.id !== `net${i}`) bad(`${f}.id`, `must be "net${i}" (network cards are numbered in order)`);
    const model = n.model ?? DEFAULT_NIC_MODEL;
    if (!(NIC_MODELS as readonly unknown[]).includes(model)) bad(`${f}.model`, `must be one of ${NIC_MODELS.join(', ')}`);
    const bridge = n.bridge ?? DEFAULT_BRIDGE;
    if (!isInterfaceName(bridge)) bad(`${f}.bridge`, 'must be a network interface name: 1–15 letters, digits, "_", "." or "-"');
    let mac: string | null;
    if (n.mac === undefined || n.mac === null || n.mac === '') {
      mac = null;
      for (let t = 0; t < MAC_TRIES && mac === null; t++) {
        const m = facts.newMac();
        if (!facts.macsTaken.has(m) && !mine.has(m)) mac = m;
      }
      if (mac === null) return bad(`${f}.mac`, 'could not generate a free MAC address');
    } else {
      mac = normaliseMac(n.mac);
      if (!mac) return bad(`${f}.mac`, 'must be a unicast MAC address like 02:52:4D:12:34:56');
      if (facts.macsTaken.has(mac)) return bad(`${f}.mac`, `${mac} is already used by another guest`);
      if (mine.has(mac)) return bad(`${f}.mac`, `${mac} is used twice`);
    }
    if (n.linkDown !== undefined && typeof n.linkDown !== 'boolean') return bad(`${f}.linkDown`, 'must be true or false');
    mine.add(mac);
    out.push({ id: `net${i}`, model: model as NicConfig['model'], bridge: bridge as string, mac, ...(n.linkDown === true ? { linkDown: true } : {}) });
  });
  return out;
}

/** checkVmConfig that throws 400 "invalid" naming the first field (the others follow in the message). */
export function validateVmConfig(input: unknown, facts: ValidationFacts): VmConfig {
  const { config, issues } = checkVmConfig(input, facts);
  if (!config) {
    const [first, ...rest] = issues;
    const more = rest.length > 0 ? `; also ${rest.map((i) => `${i.field}: ${i.message}`).join('; ')}` : '';
    throw new HttpError('invalid', `${first!.field}: ${first!.message}${more}`);
  }
  return config;
}
