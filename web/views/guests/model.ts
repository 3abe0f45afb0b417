/**
 * The pure side of the Guests view: the create form's fields and defaults
 * (the original form's), its inline checks, the request it becomes, which
 * power actions a status allows.
 *
 *   formRequest({ ...FORM_DEFAULTS, name: 'web', diskSize: '8' })
 *   → { name: 'web', memory: 512, sockets: 1, cores: 1, ostype: 'l26', onboot: false, agent: false,
 *       cdrom: null, disks: [{ size: '8G', bus: 'ide', format: 'qcow2', cache: 'writeback' }],
 *       nics: [{ model: 'rtl8139', bridge: 'vmbr0' }], description: '' }
 *   formRequest({ ...FORM_DEFAULTS, name: 'web', diskSize: '64', diskUnit: 'M', noNic: true })
 *   → { …, disks: [{ size: '64M', … }], nics: [] }
 *   formIssues({ ...FORM_DEFAULTS, memory: '8' }) → { memory: ['guests.err.range', { min: 16, max: 4194304 }] }
 *
 * The node checks everything again; its issues ("disks[0].size: …") map back
 * to the form's fields with fieldOfIssue().
 */
import type { CacheMode, DiskBus, DiskFormat, NicModel, OsType, VmCreateRequest, VmFault, VmListState } from '../../../node-cgi/api-types';
import type { DiskRequest } from '../../client';
import { lang, type Lang, type MessageKey } from '../../i18n';
import type { PowerAction } from '../../client';

export interface CreateForm {
  /** Empty: the node picks the next free VMID. */
  vmid: string;
  name: string;
  node: string;
  ostype: OsType;
  /** ISO name, or '' for none. */
  cdrom: string;
  memory: string;
  sockets: string;
  cores: string;
  /** In diskUnit. */
  diskSize: string;
  diskUnit: SizeUnit;
  /** A guest without a disk (it boots from CD or network). */
  noDisk: boolean;
  bus: DiskBus;
  format: DiskFormat;
  cache: CacheMode;
  /** A DRBD disk on both nodes of a 2-node cluster (always raw). */
  replicated: boolean;
  bridge: string;
  nic: NicModel;
  /** A guest without a network card. */
  noNic: boolean;
  onboot: boolean;
  /** A channel for the QEMU guest agent (backups freeze the guest's filesystems through it). */
  agent: boolean;
  description: string;
}

export type FormField = keyof CreateForm;

/** The original create form's defaults: 32 GB IDE qcow2 writeback, 512 MB, 1×1 CPU, rtl8139 on vmbr0. */
export const FORM_DEFAULTS: CreateForm = {
  vmid: '',
  name: '',
  node: '',
  ostype: 'l26',
  cdrom: '',
  memory: '512',
  sockets: '1',
  cores: '1',
  diskSize: '32',
  diskUnit: 'G',
  noDisk: false,
  bus: 'ide',
  format: 'qcow2',
  cache: 'writeback',
  replicated: false,
  bridge: 'vmbr0',
  nic: 'rtl8139',
  noNic: false,
  onboot: false,
  agent: false,
  description: '',
};

export const OS_TYPES: readonly OsType[] = ['l26', 'l24', 'win11', 'win10', 'win8', 'win7', 'wvista', 'w2k8', 'w2k3', 'wxp', 'w2k', 'solaris', 'other'];
export const BUSES: readonly DiskBus[] = ['ide', 'sata', 'scsi', 'virtio'];
export const FORMATS: readonly DiskFormat[] = ['qcow2', 'raw'];
export const CACHES: readonly CacheMode[] = ['writeback', 'none', 'writethrough', 'directsync', 'unsafe'];
export const NICS: readonly NicModel[] = ['rtl8139', 'e1000', 'virtio'];

/** The units a size is typed in: the API's "64M" and "32G". */
export type SizeUnit = 'M' | 'G';
export const SIZE_UNITS: readonly SizeUnit[] = ['M', 'G'];

/**
 * What the form proposes when an OS type is picked (the node's
 * node-cgi/vm/defaults.ts OS_TYPES[…].recommended; a unit test keeps the two equal).
 */
export const RECOMMENDED: Record<OsType, { bus: DiskBus; nic: NicModel; memory: number }> = {
  l26: { bus: 'virtio', nic: 'virtio', memory: 512 },
  l24: { bus: 'ide', nic: 'rtl8139', memory: 256 },
  win11: { bus: 'sata', nic: 'e1000', memory: 4096 },
  win10: { bus: 'sata', nic: 'e1000', memory: 2048 },
  win8: { bus: 'sata', nic: 'e1000', memory: 2048 },
  win7: { bus: 'sata', nic: 'e1000', memory: 1024 },
  wvista: { bus: 'ide', nic: 'e1000', memory: 1024 },
  w2k8: { bus: 'ide', nic: 'e1000', memory: 1024 },
  w2k3: { bus: 'ide', nic: 'rtl8139', memory: 512 },
  wxp: { bus: 'ide', nic: 'rtl8139', memory: 512 },
  w2k: { bus: 'ide', nic: 'rtl8139', memory: 512 },
  solaris: { bus: 'ide', nic: 'e1000', memory: 1024 },
  other: { bus: 'ide', nic: 'rtl8139', memory: 512 },
};

/**
 * A new OS type: its recommended bus, NIC and memory, except for fields the
 * user has changed already (`touched`).
 */
export function withOsType(form: CreateForm, ostype: OsType, touched: ReadonlySet<FormField>): CreateForm {
  const r = RECOMMENDED[ostype];
  return {
    ...form,
    ostype,
    ...(touched.has('bus') ? {} : { bus: r.bus }),
    ...(touched.has('nic') ? {} : { nic: r.nic }),
    ...(touched.has('memory') ? {} : { memory: String(r.memory) }),
  };
}

/** Limits the node enforces too (node-cgi/vm/validate.ts). */
export const LIMITS = {
  vmid: { min: 100, max: 999_999_999 },
  memory: { min: 16, max: 4_194_304 },
  sockets: { min: 1, max: 16 },
  cores: { min: 1, max: 128 },
  vcpus: 255,
  /** Per unit: 1 MiB to 64 TiB, as the node allows. */
  diskSize: { M: { min: 1, max: 67_108_864 }, G: { min: 1, max: 65_536 } } as Record<SizeUnit, { min: number; max: number }>,
  description: 8192,
};

export type Issue = [MessageKey, Record<string, string | number>?];
export type FormIssues = Partial<Record<FormField, Issue>>;

const INT_RE = /^[0-9]+$/;
const NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const BRIDGE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

function intIssue(v: string, min: number, max: number, required = true): Issue | undefined {
  const s = v.trim();
  if (s === '') return required ? ['field.required'] : undefined;
  if (!INT_RE.test(s) || Number(s) < min || Number(s) > max) return ['guests.err.range', { min, max }];
  return undefined;
}

/** A size typed as a whole number of `unit`: the node's range 1 MiB to 64 TiB. */
export function sizeIssue(v: string, unit: SizeUnit): Issue | undefined {
  const r = LIMITS.diskSize[unit];
  return intIssue(v, r.min, r.max);
}

/** The API's size of a number typed in `unit`: ("64", "M") → "64M". */
export const sizeText = (v: string, unit: SizeUnit): string => `${Number(v.trim())}${unit}`;

/** The form's own checks, per field (the node's answer may add more). */
export function formIssues(f: CreateForm): FormIssues {
  const out: FormIssues = {};
  const set = (k: FormField, i: Issue | undefined) => {
    if (i) out[k] = i;
  };
  set('vmid', intIssue(f.vmid, LIMITS.vmid.min, LIMITS.vmid.max, false));
  if (f.name.trim() === '') set('name', ['field.required']);
  else if (f.name.length > 63 || !NAME_RE.test(f.name)) set('name', ['guests.err.name']);
  set('memory', intIssue(f.memory, LIMITS.memory.min, LIMITS.memory.max));
  set('sockets', intIssue(f.sockets, LIMITS.sockets.min, LIMITS.sockets.max));
  set('cores', intIssue(f.cores, LIMITS.cores.min, LIMITS.cores.max));
  if (!out.sockets && !out.cores && Number(f.sockets) * Number(f.cores) > LIMITS.vcpus) set('cores', ['guests.err.vcpus', { max: LIMITS.vcpus }]);
  if (!f.noDisk) set('diskSize', sizeIssue(f.diskSize, f.diskUnit));
  if (!f.noNic && (!BRIDGE_RE.test(f.bridge) || f.bridge.includes('..'))) set('bridge', ['guests.err.bridge']);
  if (f.description.length > LIMITS.description) set('description', ['guests.err.long', { max: LIMITS.description }]);
  return out;
}

/** The POST /api/vm body of a form that passed formIssues(). */
export function formRequest(f: CreateForm): VmCreateRequest {
  return {
    ...(f.vmid.trim() ? { vmid: Number(f.vmid) } : {}),
    name: f.name.trim(),
    ...(f.node ? { node: f.node } : {}),
    memory: Number(f.memory),
    sockets: Number(f.sockets),
    cores: Number(f.cores),
    ostype: f.ostype,
    onboot: f.onboot,
    agent: f.agent,
    cdrom: f.cdrom || null,
    disks: f.noDisk ? [] : [diskRequest({ size: sizeText(f.diskSize, f.diskUnit), bus: f.bus, format: f.format, cache: f.cache, replicated: f.replicated })],
    nics: f.noNic ? [] : [{ model: f.nic, bridge: f.bridge.trim() }],
    description: f.description,
  };
}

/** A new disk of the create form or the Hardware card. */
export interface NewDisk {
  size: string;
  bus: DiskBus;
  format: DiskFormat;
  cache: CacheMode;
  replicated: boolean;
}

/**
 * The disk of POST /api/vm's "disks" and of POST /api/vm/<vmid>/disks: a
 * replicated disk is raw whatever the format select held (DRBD replicates
 * blocks, not an image format; the node refuses another):
 *
 *   diskRequest({ size: '8G', bus: 'virtio', format: 'qcow2', cache: 'none', replicated: true })
 *   → { size: '8G', bus: 'virtio', format: 'raw', cache: 'none', replicated: true }
 */
export function diskRequest(d: NewDisk): DiskRequest {
  const { replicated, ...rest } = d;
  return replicated ? { ...rest, format: 'raw', replicated: true } : rest;
}

/** The format a disk form shows: raw while "replicated" is checked. */
export const shownFormat = (format: DiskFormat, replicated: boolean): DiskFormat => (replicated ? 'raw' : format);

/**
 * Whether replicated disks are offered: only a cluster of exactly two nodes
 * has them (GET /api/cluster; the node refuses with 409 otherwise). Not
 * while the cluster is still loading.
 */
export const replicaOffered = (c: { name: string | null; nodes: readonly unknown[] } | null | undefined): boolean => !!c && c.name !== null && c.nodes.length === 2;

/** A node as GET /api/cluster lists it, as far as replicas care: `drbd` false when its kernel has no DRBD module. */
type DrbdNode = { name: string; drbd?: boolean };

/**
 * Why replicated disks, though offered, cannot be made: a node of the pair
 * has no DRBD module (a host not booted from the node image). The text is
 * this chunk's, not the catalogues' (those load before the first page).
 * Null when nothing is known against it: a node that did not say is left to
 * answer for itself (its 409 names what it lacks).
 */
const NO_DRBD: Record<Lang, string> = {
  en: 'node {node} has no DRBD module: replicated disks need the node image',
  de: 'Knoten {node} hat kein DRBD-Modul: replizierte Festplatten brauchen das Knoten-Image',
};
export function replicaBlocked(c: { name: string | null; nodes: readonly DrbdNode[] } | null | undefined, l: Lang = lang()): string | null {
  const without = replicaOffered(c) ? c!.nodes.find((n) => n.drbd === false) : undefined;
  return without ? NO_DRBD[l].replace('{node}', without.name) : null;
}

/**
 * Whether a disk can be made replicated (POST …/disks/<id>/replicate): a raw
 * one, not replicated yet, of a stopped guest, where replicas are offered.
 */
export const canReplicate = (d: { format: DiskFormat; replicated?: boolean }, status: VmListState, offered: boolean): boolean =>
  offered && status === 'stopped' && d.format === 'raw' && !d.replicated;

/** The form field a node issue is about ("disks[0].size" → "diskSize"); null for none. */
export function fieldOfIssue(field: string): FormField | null {
  const map: Record<string, FormField> = {
    vmid: 'vmid', name: 'name', node: 'node', ostype: 'ostype', cdrom: 'cdrom', memory: 'memory', sockets: 'sockets',
    cores: 'cores', onboot: 'onboot', description: 'description',
    'disks[0].size': 'diskSize', 'disks[0].bus': 'bus', 'disks[0].format': 'format', 'disks[0].cache': 'cache',
    'nics[0].bridge': 'bridge', 'nics[0].model': 'nic',
  };
  return map[field] ?? null;
}

export type { PowerAction };

/**
 * Power actions that make sense in a status, in button order; a crashed
 * guest takes only its fault's (reset, stop); one whose node does not
 * answer ("unknown") shows start and stop, both disabled with the reason.
 */
export function actionsFor(status: VmListState, fault?: VmFault): PowerAction[] {
  if (fault) return [...fault.actions];
  if (status === 'running') return ['shutdown', 'stop', 'reset', 'pause'];
  if (status === 'paused') return ['resume', 'stop'];
  if (status === 'unknown') return ['start', 'stop'];
  return ['start'];
}

/** The few actions a row of the list offers (the guest's page has all). */
export function listActionsFor(status: VmListState, fault?: VmFault): PowerAction[] {
  return actionsFor(status, fault).filter((a) => a !== 'reset' && a !== 'pause');
}

/** A node as the create form's node choice sees it (GET /api/cluster's nodes). */
export interface NodeChoice {
  name: string;
  online: boolean;
  master: boolean;
}

/**
 * Where a new guest goes unless the user picks another node: the node
 * serving the page, or else the master, or else any node that answers.
 */
export function defaultNode(nodes: readonly NodeChoice[], self: string): string {
  const up = nodes.filter((n) => n.online);
  return (up.find((n) => n.name === self) ?? up.find((n) => n.master) ?? up[0])?.name ?? self;
}

/** The create form's issue with its node: one that does not answer takes no new guest. */
export function nodeIssue(node: string, nodes: readonly NodeChoice[]): Issue | undefined {
  return nodes.some((n) => n.name === node && !n.online) ? ['guests.err.nodeDown', { node }] : undefined;
}

/** Actions that lose a running guest's state: they ask first. */
export const CONFIRM_ACTIONS: ReadonlySet<PowerAction> = new Set(['stop', 'reset']);

/**
 * A size of the API as the number and unit a size field shows, in MiB or
 * GiB: "32G" → { value: '32', unit: 'G' }, "1T" → { value: '1024', unit: 'G' },
 * "1536M" → { value: '1536', unit: 'M' }, "2048K" → { value: '2', unit: 'M' } (K rounds up).
 */
export function sizeFields(size: string): { value: string; unit: SizeUnit } {
  const m = /^([0-9]+)([KMGT])$/.exec(size);
  if (!m) return { value: size, unit: 'G' };
  const n = Number(m[1]);
  switch (m[2]) {
    case 'T':
      return { value: String(n * 1024), unit: 'G' };
    case 'G':
      return { value: String(n), unit: 'G' };
    case 'M':
      return { value: String(n), unit: 'M' };
    default:
      return { value: String(Math.ceil(n / 1024)), unit: 'M' };
  }
}

/** One device of the boot order editor: in the order (enabled) or left out. */
export interface BootItem {
  id: string;
  enabled: boolean;
}

/** The boot order as the editor shows it: the order first, then the devices it leaves out. */
export function bootItems(boot: readonly string[], devices: readonly string[]): BootItem[] {
  const inOrder = boot.filter((d) => devices.includes(d));
  return [...inOrder.map((id) => ({ id, enabled: true })), ...devices.filter((d) => !inOrder.includes(d)).map((id) => ({ id, enabled: false }))];
}

/** `items` with the one at `i` moved by `by` (−1 up, +1 down); unchanged at the ends. */
export function moveItem<T>(items: readonly T[], i: number, by: -1 | 1): T[] {
  const j = i + by;
  if (i < 0 || i >= items.length || j < 0 || j >= items.length) return [...items];
  const out = [...items];
  [out[i], out[j]] = [out[j]!, out[i]!];
  return out;
}

/** The "boot" of PUT /api/vm of the editor's items. */
export const bootOrder = (items: readonly BootItem[]): string[] => items.filter((b) => b.enabled).map((b) => b.id);

/**
 * The message of a replicated disk's replica (GET /api/vm/<vmid>, per disk
 * "replication"); null for a disk that is not replicated.
 *
 *   { peer: 'node2', state: 'UpToDate', synced: 100, … }  → guests.disk.replicaOf { peer, state, synced: '100' }
 *   { peer: 'node2', state: 'UpToDate', synced: null, connection: 'StandAlone', … } → guests.disk.replicaUnsynced
 */
export function replicaMessage(d: { replication?: { peer: string; state: string; synced: number | null; connection: string } }): { key: MessageKey; params: Record<string, string> } | null {
  const r = d.replication;
  if (!r) return null;
  return r.synced === null
    ? { key: 'guests.disk.replicaUnsynced', params: { peer: r.peer, state: r.state, connection: r.connection } }
    : { key: 'guests.disk.replicaOf', params: { peer: r.peer, state: r.state, synced: String(r.synced) } };
}
