/**
 * What of the build machine's Debian system goes into a node's root: the
 * programs (each with the shared libraries `ldd` names), the data files, and
 * how the root's own layout looks. Everything here comes from Debian
 * packages of build/packages.json (and node from the build's own runtime), so
 * a node runs exactly the versions the tests ran.
 *
 * `ldd` prints one library a line; only the "=>" lines with a path and the
 * interpreter line matter:
 *
 *   	linux-vdso.so.1 (0x00007ffd…)
 *   	libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f…)
 *   	/lib64/ld-linux-x86-64.so.2 (0x00007f…)
 *   → ["/lib/x86_64-linux-gnu/libz.so.1", "/lib64/ld-linux-x86-64.so.2"]
 */

/** A program or file of the build machine copied to the same path in the root. */
export interface HostFile {
  path: string;
  /** Debian package that provides it (for the error when it is missing). */
  pkg: string;
  /** Copy the shared libraries it needs too. */
  elf?: boolean;
  /** Strip symbols (node ships with debug info: 99 MB → 86 MB). */
  strip?: boolean;
}

const elf = (path: string, pkg: string, extra: Partial<HostFile> = {}): HostFile => ({ path, pkg, elf: true, ...extra });

/** Programs of a node, beyond busybox (which brings sh, mount, ip, udhcpc, crond, mdev, modprobe, …). */
export const HOST_FILES: readonly HostFile[] = [
  elf('/usr/bin/node', 'nodejs', { strip: true }),
  elf('/usr/bin/qemu-system-x86_64', 'qemu-system-x86'),
  elf('/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so', 'qemu-system-x86'),
  elf('/usr/lib/x86_64-linux-gnu/qemu/hw-display-virtio-vga.so', 'qemu-system-x86'),
  elf('/usr/lib/x86_64-linux-gnu/qemu/hw-display-virtio-gpu.so', 'qemu-system-x86'),
  elf('/usr/lib/x86_64-linux-gnu/qemu/hw-display-virtio-gpu-pci.so', 'qemu-system-x86'),
  elf('/usr/lib/x86_64-linux-gnu/qemu/hw-usb-host.so', 'qemu-system-x86'),
  elf('/usr/bin/qemu-img', 'qemu-utils'),
  // Serves a disk arriving by offline migration (live migration uses QEMU's own NBD server).
  elf('/usr/bin/qemu-nbd', 'qemu-utils'),
  elf('/usr/sbin/lighttpd', 'lighttpd'),
  // mod_access, mod_alias, mod_rewrite and mod_setenv are built into lighttpd 1.4.69.
  ...['cgi', 'deflate', 'openssl', 'accesslog', 'proxy', 'wstunnel'].map((m) =>
    elf(`/usr/lib/lighttpd/mod_${m}.so`, m === 'openssl' ? 'lighttpd-mod-openssl' : m === 'deflate' ? 'lighttpd-mod-deflate' : 'lighttpd'),
  ),
  elf('/usr/sbin/drbdadm', 'drbd-utils'),
  elf('/usr/sbin/drbdsetup', 'drbd-utils'),
  elf('/usr/sbin/drbdmeta', 'drbd-utils'),
  elf('/usr/lib/drbd/drbdadm-84', 'drbd-utils'),
  elf('/usr/lib/drbd/drbdsetup-84', 'drbd-utils'),
  // util-linux losetup: a replicated disk's loop device by number (`losetup /dev/loop1000 FILE`
  // makes the node itself); busybox's losetup only takes devices that exist.
  elf('/usr/sbin/losetup', 'mount'),
  // GNU dd: backup verification reads with iflag=nocache, which busybox's dd lacks.
  elf('/usr/bin/dd', 'coreutils'),
  elf('/usr/bin/zstd', 'zstd'),
  elf('/usr/bin/openssl', 'openssl'),
  elf('/usr/sbin/mke2fs', 'e2fsprogs'),
  elf('/usr/sbin/e2fsck', 'e2fsprogs'),
  elf('/usr/sbin/blkid', 'util-linux'),
  // QEMU started as its user with no capabilities (node-cgi/root/guest.ts).
  elf('/usr/bin/setpriv', 'util-linux'),
  // GNU chown -R and chmod -R never follow a link (busybox's follow them): the data tree handed to the node's user.
  elf('/usr/bin/chown', 'coreutils'),
  elf('/usr/bin/chmod', 'coreutils'),
  // Start-up work nothing waits for (mdev's scan, rootfs/etc/inittab) at the lowest priority; busybox has no nice.
  elf('/usr/bin/nice', 'coreutils'),
  // The node's user reaches the root helper through sudo; its PAM asks nothing (rootfs/etc/pam.d/sudo).
  elf('/usr/bin/sudo', 'sudo'),
  elf('/usr/libexec/sudo/sudoers.so', 'sudo'),
  elf('/usr/lib/x86_64-linux-gnu/security/pam_permit.so', 'libpam-modules'),
  elf('/usr/lib/x86_64-linux-gnu/security/pam_deny.so', 'libpam-modules'),
  { path: '/etc/mke2fs.conf', pkg: 'e2fsprogs' },
  // iproute2: bridges and taps (busybox's ip has no "type bridge").
  elf('/usr/bin/ip', 'iproute2'),
  elf('/usr/sbin/bridge', 'iproute2'),
  // glibc loads these itself (never named by ldd): name lookups of "files" and DNS.
  elf('/usr/lib/x86_64-linux-gnu/libnss_dns.so.2', 'libc6'),
  elf('/usr/lib/x86_64-linux-gnu/libresolv.so.2', 'libc6'),
];

/**
 * QEMU's firmware, by QEMU's search path (`qemu-system-x86_64 -L help`):
 * BIOS, option ROMs of the VGA and NIC models the API offers, and the small
 * loaders of -kernel. Symlinks are copied as the files they point to.
 */
export const QEMU_FIRMWARE: readonly HostFile[] = [
  ...['bios-256k.bin', 'bios.bin', 'vgabios-stdvga.bin', 'vgabios-virtio.bin', 'vgabios-cirrus.bin', 'vgabios-qxl.bin', 'vgabios-ramfb.bin', 'vgabios-bochs-display.bin'].map((f) => ({ path: `/usr/share/seabios/${f}`, pkg: 'seabios' })),
  ...['rtl8139', 'e1000', 'e1000e', 'virtio', 'vmxnet3'].map((m) => ({ path: `/usr/lib/ipxe/qemu/efi-${m}.rom`, pkg: 'ipxe-qemu' })),
  ...['kvmvapic.bin', 'linuxboot.bin', 'linuxboot_dma.bin', 'multiboot.bin', 'multiboot_dma.bin', 'pvh.bin'].map((f) => ({ path: `/usr/share/qemu/${f}`, pkg: 'qemu-system-data' })),
  ...['en-us', 'de', 'fr', 'en-gb'].map((k) => ({ path: `/usr/share/qemu/keymaps/${k}`, pkg: 'qemu-system-data' })),
];

// Where ramvm and its servers live on a node: node-paths.ts, which code run on a node imports without this file's lists.
export {
  NODE_CLUSTER_PORT, NODE_DIST, NODE_HTTP_PORT, NODE_LIGHTTPD_CONF, NODE_LIGHTTPD_ERRORLOG, NODE_PATH, NODE_PORT, NODE_RAMVM_DIR, NODE_ROOT_HELPER,
} from './node-paths';

/** Merged /usr, as Debian 12: these top-level names are symlinks into /usr. */
export const USR_MERGE_LINKS: Readonly<Record<string, string>> = {
  '/bin': 'usr/bin',
  '/sbin': 'usr/sbin',
  '/lib': 'usr/lib',
  '/lib64': 'usr/lib64',
};

/** Library paths from `ldd` output (see the top of this file); throws on "not found". */
export function parseLdd(out: string): string[] {
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('linux-vdso') || t === 'statically linked' || t === 'not a dynamic executable') continue;
    const arrow = /^(\S+) => (\S+)(?: \(0x[0-9a-f]+\))?$/.exec(t);
    if (arrow) {
      if (arrow[2] === 'not') throw new Error(`ldd: ${arrow[1]} not found`);
      libs.push(arrow[2]!);
      continue;
    }
    if (/ => not found$/.test(t)) throw new Error(`ldd: ${t}`);
    const interp = /^(\/\S+) \(0x[0-9a-f]+\)$/.exec(t);
    if (interp) libs.push(interp[1]!);
  }
  return libs;
}

/**
 * A path of the build machine as it lands in the merged-/usr root:
 * "/lib/x86_64-linux-gnu/libc.so.6" → "/usr/lib/x86_64-linux-gnu/libc.so.6".
 */
export function usrMerged(path: string): string {
  for (const [top, target] of Object.entries(USR_MERGE_LINKS)) {
    if (path === top || path.startsWith(top + '/')) return '/' + target + path.slice(top.length);
  }
  return path;
}
