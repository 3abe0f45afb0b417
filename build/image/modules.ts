/**
 * Which kernel modules a node carries and in which order it loads them.
 * Debian's kernel package ships 4000 modules (390 MB) and no modules.dep;
 * the image build runs `depmod -b` over the unpacked package and this module
 * reads the resulting modules.dep to take only the closure of the lists
 * below. One line of modules.dep, a module and the modules it needs:
 *
 *   kernel/drivers/block/drbd/drbd.ko: kernel/lib/lru_cache.ko kernel/lib/libcrc32c.ko
 *
 * Module names treat "-" and "_" alike (kvm-amd.ko is module kvm_amd), as
 * the kernel and modprobe do.
 */

/** Loaded by the initramfs before anything else: they mount the root. */
export const EARLY_MODULES = ['loop', 'squashfs', 'overlay'] as const;

/**
 * Loaded by the node's set-up at every boot, in this order (each after its
 * own dependencies). crc32c_generic comes before libcrc32c, which asks the
 * crypto API for "crc32c" and fails to load without an implementation.
 */
export const BOOT_MODULES = [
  'virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_scsi', 'virtio_rng', 'virtio_balloon', 'virtio_console',
  'qemu_fw_cfg',
  'bridge', 'tun', 'vhost_net',
  'crc32c_generic', 'ext4',
  'libcrc32c', 'lru_cache', 'drbd',
  'kvm',
] as const;

/** KVM for nested guests: one of these by the CPU's flags (svm or vmx). */
export const KVM_MODULES = { svm: 'kvm_amd', vmx: 'kvm_intel' } as const;

/**
 * Shipped for real machines and loaded on demand (by the coldplug scan of
 * /sys at boot and by mdev for hot-plugged devices): common NICs, disk
 * controllers, USB storage for backup disks, and filesystems of backup disks.
 */
export const HARDWARE_MODULES = [
  // NICs
  'e1000', 'e1000e', 'igb', 'igc', 'ixgbe', 'i40e', 'r8169', 'tg3', 'bnx2', 'bnxt_en', 'atlantic', 'vmxnet3', '8139cp', '8139too',
  // disks
  'ahci', 'ata_piix', 'nvme', 'sd_mod', 'sr_mod', 'megaraid_sas', 'mpt3sas', 'hpsa', 'vmw_pvscsi',
  // USB (keyboards on the node's own console, backup disks)
  'xhci_pci', 'ehci_pci', 'ohci_pci', 'uhci_hcd', 'usb_storage', 'uas', 'usbhid', 'hid_generic',
  // filesystems of data and backup disks
  'vfat', 'nls_cp437', 'nls_iso8859_1', 'nls_utf8', 'exfat', 'isofs', 'xfs',
  // networks
  '8021q', 'bonding', 'macvtap', 'nbd',
  // CPU-specific crc32c
  'crc32c_intel',
] as const;

export interface ModuleEntry {
  /** Path relative to /lib/modules/<version>/, e.g. "kernel/lib/lru_cache.ko". */
  path: string;
  /** Paths of the modules it needs, as modules.dep lists them. */
  deps: string[];
}

/** "kernel/arch/x86/kvm/kvm-amd.ko" → "kvm_amd". */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\.(xz|zst|gz))?$/, '');
  return base.replace(/-/g, '_');
}

/** modules.dep → module name → entry. Throws on a line that is not "path: deps". */
export function parseModulesDep(text: string): Map<string, ModuleEntry> {
  const index = new Map<string, ModuleEntry>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`modules.dep line ${i + 1} is not "path: deps": ${JSON.stringify(line)}`);
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    index.set(moduleName(path), { path, deps });
  });
  return index;
}

/**
 * The modules to load for `wanted`, each after what it needs (depth first,
 * dependencies before dependants, no repeats), as paths. Names missing from
 * the index are returned apart so the build can fail with all of them.
 */
export function loadOrder(index: ReadonlyMap<string, ModuleEntry>, wanted: readonly string[]): { paths: string[]; missing: string[] } {
  const byPath = new Map<string, ModuleEntry>();
  for (const e of index.values()) byPath.set(e.path, e);
  const seen = new Set<string>();
  const paths: string[] = [];
  const missing: string[] = [];
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const e = byPath.get(path);
    // modules.dep lists a module's whole closure, nearest first; load farthest first.
    for (const d of [...(e?.deps ?? [])].reverse()) visit(d);
    paths.push(path);
  };
  for (const name of wanted) {
    const e = index.get(name.replace(/-/g, '_'));
    if (!e) missing.push(name);
    else visit(e.path);
  }
  return { paths, missing };
}

/** Every module the image ships: the closure of all lists above. */
export function imageModules(index: ReadonlyMap<string, ModuleEntry>): { paths: string[]; missing: string[] } {
  return loadOrder(index, [...EARLY_MODULES, ...BOOT_MODULES, ...Object.values(KVM_MODULES), ...HARDWARE_MODULES]);
}

/** The KVM vendor module for a /proc/cpuinfo "flags" line, or null without hardware virtualisation. */
export function kvmModuleFor(cpuinfo: string): string | null {
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? [];
  if (flags.includes('svm')) return KVM_MODULES.svm;
  if (flags.includes('vmx')) return KVM_MODULES.vmx;
  return null;
}

export interface AliasRule {
  /** The glob's text up to its first wildcard: a cheap test before the RegExp. */
  prefix: string;
  pattern: RegExp;
  module: string;
}

/**
 * modules.alias → rules. A line maps a glob over device modaliases to a module:
 *   alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_pci
 * ("*" any run of characters, "?" one, "[…]" a class, as fnmatch).
 */
export function parseModulesAlias(text: string): AliasRule[] {
  const rules: AliasRule[] = [];
  for (const line of text.split('\n')) {
    const m = /^alias\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (!m) continue;
    const re = m[1]!.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    rules.push({ prefix: /^[^*?[]*/.exec(m[1]!)![0], pattern: new RegExp(`^${re}$`), module: m[2]!.replace(/-/g, '_') });
  }
  return rules;
}

/**
 * The modules the devices present ask for (their /sys/…/modalias strings),
 * minus those already loaded (names from /proc/modules); each module once,
 * in the order of first need.
 */
export function modulesForDevices(modaliases: readonly string[], rules: readonly AliasRule[], loaded: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const seen = new Set<string>(loaded);
  for (const a of modaliases) {
    for (const r of rules) {
      if (!seen.has(r.module) && a.startsWith(r.prefix) && r.pattern.test(a)) {
        seen.add(r.module);
        out.push(r.module);
      }
    }
  }
  return out;
}

/** Names of loaded modules from /proc/modules ("virtio_net 61440 0 - Live 0x0000000000000000"). */
export function parseProcModules(text: string): Set<string> {
  return new Set(text.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean));
}
