/**
 * Defaults of a new guest (the original create form's) and what each guest
 * OS type changes on the QEMU command line. Pure data, imported by the
 * validation, the argv builder and (type-only users aside) the CLI.
 *
 *   ostype "win10" → RTC in local time (Windows keeps the hardware clock in
 *   local time), a USB tablet (absolute pointer: the console's mouse matches
 *   the guest's), Hyper-V enlightenments under KVM; the create form proposes
 *   SATA + e1000 because Windows has no VirtIO drivers out of the box.
 */
import type { CacheMode, DiskBus, DiskFormat, NicModel, OsType } from './types';

/** First VMID handed out when none is given (VMID_MIN = 100 may be chosen explicitly). */
export const VMID_FIRST = 101;

export const DEFAULT_MEMORY_MIB = 512;
export const DEFAULT_SOCKETS = 1;
export const DEFAULT_CORES = 1;
export const DEFAULT_OSTYPE: OsType = 'l26';
export const DEFAULT_DISK_SIZE = '32G';
export const DEFAULT_DISK_BUS: DiskBus = 'ide';
export const DEFAULT_DISK_FORMAT: DiskFormat = 'qcow2';
export const DEFAULT_CACHE: CacheMode = 'writeback';
export const DEFAULT_NIC_MODEL: NicModel = 'rtl8139';
export const DEFAULT_BRIDGE = 'vmbr0';
/** Boot order proposed for a new guest; ids of devices it does not have are dropped. */
export const DEFAULT_BOOT = ['disk0', 'cdrom', 'net0'];

/** Running guests may claim this multiple of the node's memory unless the node says otherwise. */
export const DEFAULT_MEMORY_OVERCOMMIT = 1.0;

/** Locally administered, unicast MAC prefix of generated addresses ("RM" in its 2nd and 3rd byte). */
export const MAC_PREFIX = '02:52:4D';

export interface OsTypeInfo {
  label: string;
  /** -rtc base=… */
  rtcBase: 'utc' | 'localtime';
  /** A USB tablet as absolute pointer. */
  tablet: boolean;
  /** Hyper-V enlightenments (KVM only; Vista and later). */
  hyperv: boolean;
  /** What the create form proposes when this type is picked. */
  recommended: { bus: DiskBus; nic: NicModel; memory: number };
}

export const OS_TYPES: Record<OsType, OsTypeInfo> = {
  l26: { label: 'Linux 2.6 – 6.x kernel', rtcBase: 'utc', tablet: true, hyperv: false, recommended: { bus: 'virtio', nic: 'virtio', memory: 512 } },
  l24: { label: 'Linux 2.4 kernel', rtcBase: 'utc', tablet: false, hyperv: false, recommended: { bus: 'ide', nic: 'rtl8139', memory: 256 } },
  win11: { label: 'Windows 11 / Server 2022', rtcBase: 'localtime', tablet: true, hyperv: true, recommended: { bus: 'sata', nic: 'e1000', memory: 4096 } },
  win10: { label: 'Windows 10 / Server 2016–2019', rtcBase: 'localtime', tablet: true, hyperv: true, recommended: { bus: 'sata', nic: 'e1000', memory: 2048 } },
  win8: { label: 'Windows 8 / Server 2012', rtcBase: 'localtime', tablet: true, hyperv: true, recommended: { bus: 'sata', nic: 'e1000', memory: 2048 } },
  win7: { label: 'Windows 7 / Server 2008 R2', rtcBase: 'localtime', tablet: true, hyperv: true, recommended: { bus: 'sata', nic: 'e1000', memory: 1024 } },
  wvista: { label: 'Windows Vista', rtcBase: 'localtime', tablet: true, hyperv: true, recommended: { bus: 'ide', nic: 'e1000', memory: 1024 } },
  w2k8: { label: 'Windows Server 2008', rtcBase: 'localtime', tablet: true, hyperv: true, recommended: { bus: 'ide', nic: 'e1000', memory: 1024 } },
  w2k3: { label: 'Windows Server 2003', rtcBase: 'localtime', tablet: true, hyperv: false, recommended: { bus: 'ide', nic: 'rtl8139', memory: 512 } },
  wxp: { label: 'Windows XP', rtcBase: 'localtime', tablet: true, hyperv: false, recommended: { bus: 'ide', nic: 'rtl8139', memory: 512 } },
  w2k: { label: 'Windows 2000', rtcBase: 'localtime', tablet: false, hyperv: false, recommended: { bus: 'ide', nic: 'rtl8139', memory: 512 } },
  solaris: { label: 'Solaris / illumos', rtcBase: 'utc', tablet: false, hyperv: false, recommended: { bus: 'ide', nic: 'e1000', memory: 1024 } },
  other: { label: 'Other', rtcBase: 'utc', tablet: false, hyperv: false, recommended: { bus: 'ide', nic: 'rtl8139', memory: 512 } },
};
