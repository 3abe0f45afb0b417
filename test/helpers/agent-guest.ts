/**
 * A Linux guest with a real QEMU guest agent, made at test time from this
 * machine's files: Debian's kernel (the image build's, build/image/image.ts
 * kernel()), an initramfs of busybox (static), qemu-ga with the shared
 * libraries ldd names, and the kernel modules it needs (virtio_pci,
 * virtio_blk, virtio_console, ext4: all modules in Debian's kernel), on a
 * GRUB ISO (grub-mkrescue) that a ramvm guest boots from its CD-ROM.
 *
 * Its /init mounts the guest's first virtio disk (/dev/vda, ext2, made by
 * the test on the host) at /mnt, writes /mnt/hello, finds the agent's
 * virtio-serial port by its name in /sys/class/virtio-ports, and runs
 *
 *   qemu-ga -m virtio-serial -p /dev/vportNpM -t /run -f /run/qemu-ga.pid
 *
 * so a freeze has one filesystem to freeze (qemu-ga skips the initramfs and
 * every filesystem without a block device). On COM1: "ramvm-agent-guest
 * port /dev/vport…", and "ramvm-agent-guest no port" without the channel.
 *
 *   parseLdd("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f…)\n\t/lib64/ld-linux-x86-64.so.2 (0x7f…)")
 *   → ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeCpio, type CpioSource } from '../../build/image/cpio';
import { kernel } from '../../build/image/image';
import { grubMkrescueArgs } from '../../build/image/layout';
import { loadOrder, parseModulesDep } from '../../build/image/modules';

/** The modules the guest loads, with what they need (modules.dep). */
export const AGENT_GUEST_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_console', 'crc32c_generic', 'ext4'] as const;
/** Where Debian's qemu-guest-agent puts the agent; busybox-static's busybox. */
export const QEMU_GA = '/usr/sbin/qemu-ga';
export const BUSYBOX = '/bin/busybox';
/** What the guest's /init prints on COM1 once the agent runs, before the port. */
export const AGENT_GUEST_MARK = 'ramvm-agent-guest';
/** The file /init writes on the guest's disk (its content: the mark). */
export const AGENT_GUEST_FILE = 'hello';

/** The libraries an `ldd` output names (the vdso has no file). */
export function parseLdd(out: string): string[] {
  const files: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) files.push(m[1]!);
  }
  return files;
}

/** The guest's /init (busybox sh). */
export function agentGuestInit(modules: readonly string[]): string {
  return [
    '#!/bin/busybox sh',
    '/bin/busybox mkdir -p /proc /sys /dev /run /tmp /mnt',
    '/bin/busybox --install -s /bin',
    'export PATH=/bin',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t devtmpfs devtmpfs /dev',
    ...modules.map((m) => `insmod /${m} || echo "${AGENT_GUEST_MARK} insmod ${m} failed"`),
    'i=0; while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done',
    `mount -t ext2 /dev/vda /mnt && echo ${AGENT_GUEST_MARK} > /mnt/${AGENT_GUEST_FILE} || echo "${AGENT_GUEST_MARK} no disk"`,
    'port=',
    'for p in /sys/class/virtio-ports/*; do [ "$(cat $p/name 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}; done',
    `if [ -z "$port" ]; then echo "${AGENT_GUEST_MARK} no port"; else echo "${AGENT_GUEST_MARK} port $port"; qemu-ga -m virtio-serial -p $port -t /run -f /run/qemu-ga.pid & fi`,
    'while true; do sleep 3600; done',
    '',
  ].join('\n');
}

/** The initramfs's members: /init, busybox, qemu-ga with its libraries, the modules in load order. */
function initramfsMembers(): CpioSource[] {
  const k = kernel();
  const modDir = join(k.dir, 'lib/modules', k.version);
  const { paths, missing } = loadOrder(parseModulesDep(readFileSync(join(modDir, 'modules.dep'), 'utf8')), AGENT_GUEST_MODULES);
  if (missing.length > 0) throw new Error(`kernel ${k.version} has no modules ${missing.join(', ')}`);
  const libs = parseLdd(execFileSync('ldd', [QEMU_GA], { encoding: 'utf8' }));
  const dirs = new Set<string>(['bin', 'lib/modules']);
  const files: CpioSource[] = [
    { name: 'init', kind: 'data', data: Buffer.from(agentGuestInit(paths.map((p) => `lib/modules/${p.replace(/\//g, '_')}`))), mode: 0o755 },
    { name: 'bin/busybox', kind: 'file', path: BUSYBOX, mode: 0o755 },
    { name: 'bin/qemu-ga', kind: 'file', path: QEMU_GA, mode: 0o755 },
  ];
  for (const p of paths) files.push({ name: `lib/modules/${p.replace(/\//g, '_')}`, kind: 'file', path: join(modDir, p) });
  for (const l of libs) {
    const name = l.slice(1);
    for (let d = dirname(name); d !== '.'; d = dirname(d)) dirs.add(d);
    files.push({ name, kind: 'file', path: realpathSync(l), mode: 0o755 });
  }
  return [...[...dirs].sort().map((name) => ({ name, kind: 'dir' as const })), ...files];
}

/** The agent guest's boot ISO, written to `iso` (a GRUB that boots at once, kernel output on COM1). */
export function buildAgentGuestIso(work: string, iso: string): void {
  const k = kernel();
  const dir = join(work, 'agent-iso');
  mkdirSync(join(dir, 'boot/grub'), { recursive: true });
  writeCpio(join(dir, 'boot/initrd.img'), initramfsMembers());
  execFileSync('cp', [join(k.dir, 'boot', `vmlinuz-${k.version}`), join(dir, 'boot/vmlinuz')]);
  writeFileSync(join(dir, 'boot/grub/grub.cfg'), [
    'set timeout=0',
    'set default=0',
    "menuentry 'agent guest' {",
    '  linux /boot/vmlinuz console=ttyS0,115200 panic=10 quiet',
    '  initrd /boot/initrd.img',
    '}',
    '',
  ].join('\n'));
  const argv = grubMkrescueArgs(dir, iso);
  execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}
