/**
 * The guest's data model, shared by the CGIs, the `ramvm` CLI and (type-only)
 * the web app. One JSON file per guest at etc/ramvm/vms/<vmid>.json:
 *
 *   { "vmid": 101, "name": "web", "node": "pve1", "type": "kvm",
 *     "memory": 512, "sockets": 1, "cores": 1, "ostype": "l26", "onboot": false,
 *     "cdrom": "debian-12.iso",
 *     "disks": [{ "id": "disk0", "file": "vm-101-disk-0.qcow2", "size": "32G",
 *                 "bus": "ide", "format": "qcow2", "cache": "writeback" }],
 *     "nics":  [{ "id": "net0", "model": "rtl8139", "bridge": "vmbr0", "mac": "02:52:4D:3A:9C:01" }],
 *     "boot": ["disk0", "cdrom", "net0"], "description": "", "created": 1795601296000 }
 *
 * Disk files live in var/lib/vz/images/<vmid>/<file>; ISO images in
 * var/lib/vz/template/iso/<cdrom>.
 */
import type { Replication } from '../drbd/proc';
import type { NodeReplica } from '../drbd/guest';

export const OS_TYPE_IDS = ['l26', 'l24', 'win11', 'win10', 'win8', 'win7', 'wvista', 'w2k8', 'w2k3', 'wxp', 'w2k', 'solaris', 'other'] as const;
export type OsType = (typeof OS_TYPE_IDS)[number];

export const DISK_BUSES = ['ide', 'sata', 'scsi', 'virtio'] as const;
export type DiskBus = (typeof DISK_BUSES)[number];

export const DISK_FORMATS = ['qcow2', 'raw'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

export const CACHE_MODES = ['writeback', 'none', 'writethrough', 'directsync', 'unsafe'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];

export const NIC_MODELS = ['rtl8139', 'e1000', 'virtio'] as const;
export type NicModel = (typeof NIC_MODELS)[number];

export interface DiskConfig {
  /** "disk<n>": the n of its file name; also the QEMU device id (drive id "drive-disk<n>"). */
  id: string;
  /** "vm-<vmid>-disk-<n>.<format>" in var/lib/vz/images/<vmid>/. */
  file: string;
  /** Virtual size: a whole number with K, M, G or T (binary units): "32G", "64M". */
  size: string;
  bus: DiskBus;
  format: DiskFormat;
  cache: CacheMode;
  /** A DRBD resource on this node and the cluster's other node (drbd/guest.ts); raw, its file "vm-<vmid>-disk-<n>.drbd". */
  replicated?: true;
}

export interface NicConfig {
  /** "net<n>": also the QEMU device id (netdev id "netdev<n>"). */
  id: string;
  model: NicModel;
  /** Linux bridge for a tap; user-mode NAT when it does not exist on the node. */
  bridge: string;
  /** Unicast, generated at create with the locally administered prefix 02:52:4D. */
  mac: string;
  /** True: the NIC starts with its link down (cable unplugged) until it is connected (QMP set_link). */
  linkDown?: boolean;
}

/**
 * The mark of a guest that runs from a backup (restore-on-the-fly): its
 * disks are qcow2 overlays whose backing files are the backup's disks.
 *
 *   { "backup": "local:101:20261125T220000Z", "source": 101, "purpose": "run",
 *     "since": 1795643300000, "formats": { "disk0": "raw" }, "task": "2026…-run-from-backup-…" }
 */
export interface TemporaryMark {
  /** Id of the backup whose disks back the overlays. */
  backup: string;
  /** VMID of the guest the backup was taken of. */
  source: number;
  /** "run": discarded when it stops unless kept (live restore); "bootcheck": the sandbox of a boot check. */
  purpose: 'run' | 'bootcheck';
  /** Unix ms. */
  since: number;
  /** Format of each original disk by disk id: what a live restore turns the overlay back into. */
  formats: Record<string, DiskFormat>;
  /** The task that watches the guest and discards it when it stops. */
  task?: string;
}

export interface VmConfig {
  vmid: number;
  name: string;
  /** The node the guest lives on (its disks are there). */
  node: string;
  type: 'kvm';
  /** MiB. */
  memory: number;
  sockets: number;
  cores: number;
  ostype: OsType;
  onboot: boolean;
  /** ISO image name in the ISO library, or null for an empty drive. */
  cdrom: string | null;
  disks: DiskConfig[];
  nics: NicConfig[];
  /** Device ids in boot order: "disk0", "cdrom", "net0". */
  boot: string[];
  description: string;
  /** Unix ms of creation. */
  created: number;
  /** Present only on a guest that runs from a backup; set by the node, never by a client. */
  temporary?: TemporaryMark;
  /** Its own accelerator setting; absent: the node's. */
  accel?: AccelSetting;
  /** A QEMU guest agent channel (virtio-serial port org.qemu.guest_agent.0); absent: false. Backups freeze the guest's filesystems through it. */
  agent?: boolean;
}

/** What a client sends to create a guest: every field optional but what it wants to set. */
export interface VmCreateRequest {
  vmid?: number;
  name?: string;
  node?: string;
  type?: 'kvm';
  memory?: number;
  sockets?: number;
  cores?: number;
  ostype?: OsType;
  onboot?: boolean;
  cdrom?: string | null;
  disks?: Partial<Pick<DiskConfig, 'size' | 'bus' | 'format' | 'cache' | 'replicated'>>[];
  nics?: Partial<Pick<NicConfig, 'model' | 'bridge' | 'mac'>>[];
  boot?: string[];
  description?: string;
  /** null or absent: the node's setting. */
  accel?: AccelSetting | null;
  agent?: boolean;
}

export type VmState = 'running' | 'paused' | 'stopped';
/** In a cluster's list, a guest of a node that does not answer is "unknown". */
export type VmListState = VmState | 'unknown';

export type Accelerator = 'kvm' | 'tcg';

/** A guest's or node's accelerator setting: "auto" is KVM where the node's probe shows it runs a kernel. */
export const ACCEL_SETTINGS = ['auto', 'kvm', 'tcg'] as const;
export type AccelSetting = (typeof ACCEL_SETTINGS)[number];

/** The node's KVM probe, once per boot (run/ramvm/accel.json; see vm/accel.ts). */
export interface HostAccel {
  /** /proc/sys/kernel/random/boot_id of the boot it holds for. */
  bootId: string;
  /** The KVM device checked, and whether it opened. */
  device: string;
  kvmDevice: boolean;
  /** CPU model the probe ran under KVM. */
  cpu: string;
  /** What "auto" picks. */
  accel: Accelerator;
  reason: string;
  /** Fastest page-table round of the probe, TSC cycles; null where none ran. */
  kvmCycles: number | null;
  tcgCycles: number | null;
  /** How long the probe took, ms; when (Unix ms). */
  ms: number;
  at: number;
}

/** QEMU run states a guest cannot resume from: it crashed (or powered off with its process kept). */
export const FAULT_STATES = ['internal-error', 'guest-panicked', 'shutdown'] as const;
export type FaultState = (typeof FAULT_STATES)[number];

/** A guest that crashed: its vCPUs are stopped for good; reset or stop it. */
export interface VmFault {
  /** QEMU's run state. */
  state: FaultState;
  /** What happened and what to do. */
  message: string;
  /** The power actions that work now. */
  actions: ('reset' | 'stop')[];
  /** The failure points at the node's KVM: the guest may run under TCG (accel "tcg"). */
  kvmSuspect: boolean;
}

export interface NicRuntime {
  id: string;
  /** "tap": a tap on `bridge`; "user": QEMU's user-mode NAT (the bridge does not exist). */
  mode: 'tap' | 'user';
  bridge: string;
  /** The tap's interface name ("tap101i0") in tap mode. */
  ifname?: string;
}

/** The status of a guest as read from its pidfile, /proc and QMP. */
export interface VmStatusInfo {
  vmid: number;
  status: VmState;
  /** QEMU's own run state (query-status), e.g. "running", "paused", "io-error", "shutdown". */
  qmpStatus: string | null;
  pid: number | null;
  /** Seconds since the QEMU process started; 0 when stopped. */
  uptime: number;
  /** Set when something is off: a crash left a stale pidfile, the monitor does not answer. */
  note?: string;
  /** Set when the guest crashed: status stays "paused" (its vCPUs stopped), but only reset and stop help. */
  fault?: VmFault;
}

/** What the guest was started with (written at start to run/ramvm/qemu/<vmid>.run.json). */
export interface VmRunInfo {
  pid: number;
  accel: Accelerator;
  net: NicRuntime[];
  /** Unix ms. */
  started: number;
  cdrom: string | null;
}

export interface DiskUsage {
  id: string;
  /** Virtual size in bytes. */
  size: number;
  /** Bytes the image file occupies on the node's disk (sparse files count what is written). */
  allocated: number;
}

/** Per-guest figures for lists and the summary. */
export interface VmResources {
  /** Host CPU used by the guest, as a share of its vCPUs (1 = all vCPUs busy). */
  cpu: number;
  cpus: number;
  /** Resident memory of the QEMU process, bytes (0 when stopped). */
  mem: number;
  /** Configured memory, bytes. */
  maxmem: number;
  /** Allocated bytes of all disks. */
  disk: number;
  /** Virtual size of all disks, bytes. */
  maxdisk: number;
  uptime: number;
}

/** One row of GET /api/vm. */
export interface VmListEntry extends VmResources {
  vmid: number;
  name: string;
  node: string;
  status: VmListState;
  qmpStatus: string | null;
  ostype: OsType;
  onboot: boolean;
  note?: string;
  fault?: VmFault;
  /** Present on a guest that runs from a backup. */
  temporary?: TemporaryMark;
  /** Present (true) when a network card is unplugged (linkDown). */
  linkDown?: true;
}

/** GET /api/vm/<vmid>: the config plus status and runtime figures. */
/** A disk as GET /api/vm/<vmid> shows it: a replicated one with its replication on this node (drbd/proc.ts). */
export type DiskDetail = DiskConfig & { replication?: Replication };

export interface VmDetail extends Omit<VmConfig, 'disks' | 'agent'> {
  disks: DiskDetail[];
  /** Always told here (false when the config has none). */
  agent: boolean;
  status: VmState;
  qmpStatus: string | null;
  note?: string;
  fault?: VmFault;
  runtime: {
    pid: number | null;
    uptime: number;
    /** Accelerator of the running process, else the one a start would use. */
    accel: Accelerator;
    /** The setting in force (the guest's own, else the node's), where it comes from, and why it gives `accel`. */
    accelSetting: AccelSetting;
    accelSource: 'guest' | 'node';
    accelReason: string;
    /** How each NIC is (or would be) connected. */
    net: NicRuntime[];
    resources: VmResources;
    disks: DiskUsage[];
    /** Config fields changed while running: they apply at the next start. */
    pending: string[];
  };
}

/** GET /api/vm/<vmid>/status: the status with the guest's figures. */
export type VmStatusView = VmStatusInfo & { resources: VmResources };

/** GET /api/node/resources. */
export interface NodeResources {
  node: string;
  /** The KVM device opens. */
  kvm: boolean;
  /** What guests that follow the node's setting run under, and the setting. */
  accel: Accelerator;
  accelSetting: AccelSetting;
  accelReason: string;
  /** This boot's KVM probe (what "auto" picks, and why). */
  kvmProbe: HostAccel;
  cpu: { count: number; /** 0..1 over all cores */ usage: number; loadavg: [number, number, number] };
  /** Bytes. */
  memory: { total: number; available: number; used: number };
  /** The filesystem holding the guests' disks, bytes. */
  disk: { path: string; total: number; free: number };
  guests: {
    total: number;
    running: number;
    /** Memory configured for running guests, bytes. */
    memoryClaimed: number;
    /** A start is refused when claimed + the guest's memory > ratio × memory.total. */
    memoryOvercommit: number;
  };
  /** Replicated disks with a side on this node, present when there is one (drbd/guest.ts nodeReplicas); `warning` is what is wrong. */
  replicas?: NodeReplica[];
}

/** Where a guest's files are (files.ts). */
export interface VmFiles {
  config: string;
  imagesDir: string;
  pid: string;
  qmp: string;
  statusQmp: string;
  /** The guest agent's socket (a chardev of QEMU, present when the config has `agent`). */
  agent: string;
  vnc: string;
  serialLog: string;
  runInfo: string;
  cpuSample: string;
}

/**
 * A guest resolved once (guest.ts openGuest): its config, its files and
 * the node it lives on, and its QEMU's pid as first looked at. Power
 * actions and checks that decide something look at the process again.
 */
export interface Guest {
  readonly vmid: number;
  readonly config: VmConfig;
  readonly files: VmFiles;
  /** The node the guest lives on (its disks are there). */
  readonly node: string;
  /** True when it lives on this node. */
  readonly here: boolean;
  /** Its QEMU's pid at the first look (read then, once), null when it does not run here. */
  readonly pid: number | null;
  /** At that look: a pidfile whose process is not this guest's QEMU (killed or crashed). */
  readonly stale: boolean;
}

/** Node settings (etc/ramvm/nodes/<node>.json). */
export interface NodeSettings {
  /** Running guests may claim at most this multiple of the node's physical memory. */
  memoryOvercommit: number;
  /** Accelerator of guests without their own setting. */
  accel: AccelSetting;
}
