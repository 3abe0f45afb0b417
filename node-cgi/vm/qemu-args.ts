/**
 * The QEMU command line of a guest: a pure function of its config and a few
 * facts about the node (accelerator, which bridges exist, where files are).
 *
 *   qemuArgs({ vmid: 101, name: "web", memory: 512, sockets: 1, cores: 2,
 *              disks: [{ id: "disk0", bus: "virtio", format: "qcow2", cache: "writeback", … }],
 *              nics: [{ id: "net0", model: "virtio", bridge: "vmbr0", mac: "02:52:4D:00:00:01" }],
 *              boot: ["disk0", "cdrom"], … }, { accel: "tcg", bridges: {}, … })
 *   → qemu-system-x86_64 -name web,process=ramvm-101 -no-user-config -nodefaults
 *       -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
 *       -machine pc -accel tcg -cpu max -m 512 -smp 2,sockets=1,cores=2,threads=1
 *       -chardev stdio,id=ready,signal=off -mon chardev=ready,mode=control
 *       -chardev socket,id=qmp,path=…/101.qmp,server=on,wait=off -mon chardev=qmp,mode=control
 *       -chardev socket,id=qmp-status,path=…/101.status.qmp,server=on,wait=off -mon chardev=qmp-status,mode=control
 *       -vnc unix:…/101.vnc -device VGA,id=vga
 *       -chardev file,id=serial0,path=…/101.serial.log -device isa-serial,chardev=serial0
 *       -rtc base=utc -device pvpanic -action panic=pause
 *       -device piix3-usb-uhci,id=uhci -device usb-tablet,id=tablet,bus=uhci.0
 *       -drive if=none,id=drive-cdrom,media=cdrom,readonly=on -device ide-cd,bus=ide.1,unit=0,drive=drive-cdrom,id=cdrom,bootindex=2
 *       -drive if=none,id=drive-disk0,file=…/vm-101-disk-0.qcow2,format=qcow2,cache=writeback,discard=unmap
 *       -device virtio-blk-pci,drive=drive-disk0,id=disk0,bootindex=1
 *       -netdev user,id=netdev0 -device virtio-net-pci,netdev=netdev0,mac=02:52:4D:00:00:01,id=net0,romfile=
 *
 * A guest with `agent: true` gets the QEMU guest agent's channel, a
 * virtio-serial port by the name the agent looks for, backed by a socket
 * beside its QMP sockets (qemu/qga.ts speaks it):
 *
 *   -chardev socket,id=qga0,path=…/101.qga,server=on,wait=off
 *   -device virtio-serial-pci,id=qga-serial -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0
 *
 * A NIC marked `linkDown` adds `-S`: the vCPUs wait until power.ts has
 * set that link down over QMP (set_link) and sent `cont`, so the guest
 * never sees the cable plugged in (QEMU's NIC devices have no link option).
 *
 * The sandbox (seccomp) is always on: a monitor command or a guest that
 * takes over QEMU cannot start a program, change its user, or touch
 * scheduling and resource limits. It rules out -daemonize (fork and setsid
 * are denied; QEMU 7.2 installs the filter before it daemonizes) and -runas
 * (setuid is denied; 7.2 drops privileges after the filter, and dies with
 * SIGSYS). So QEMU stays in the foreground of its launcher (vm/launch.ts),
 * started as its user beforehand, and says it is ready on a monitor on its
 * stdin and stdout (its main loop answers there once every device is set up).
 *
 * Values inside QEMU's "a=b,c=d" options double their commas ("a,,b"), so
 * any path is safe. `-name …,process=ramvm-101` names the process (its
 * /proc/<pid>/comm) and stays in /proc/<pid>/cmdline, which is how a pid is
 * recognised as this guest's QEMU. No `-no-shutdown`: a guest that powers
 * off ends its QEMU process. The pvpanic device (ISA port 0x505; Linux and
 * Windows drivers report a crash there) with `-action panic=pause` keeps a
 * guest that panicked in QMP state "guest-panicked", its last screen on the
 * console, instead of ending QEMU (QEMU's default for a panic).
 */
import { OS_TYPES } from './defaults';
import type { Accelerator, DiskConfig, NicRuntime, VmConfig } from './types';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** The virtio-serial port name the QEMU guest agent opens in the guest (/dev/virtio-ports/<name>). */
export const AGENT_PORT_NAME = 'org.qemu.guest_agent.0';

/** QEMU's seccomp filter on every guest: no new programs, users, scheduling or resource changes, no obsolete calls. */
export const QEMU_SANDBOX = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';

/**
 * CPU model under KVM: never "host" (KVM aborts on MSR 0x10a on these
 * machines); kvm64 with the x86-64-v2 flags every x86-64 CPU since 2009
 * has. Under TCG "max" emulates everything QEMU can.
 */
export const KVM_CPU = 'kvm64,+lahf_lm,+sep,+cx16,+popcnt,+ssse3,+sse4.1,+sse4.2';
export const TCG_CPU = 'max';
/** Hyper-V enlightenments for Windows Vista and later under KVM. */
export const HYPERV_FLAGS = 'hv_relaxed,hv_vapic,hv_spinlocks=0x1fff,hv_time';

/** Escape a value for QEMU's comma-separated options. */
export function qemuOpt(value: string): string {
  return value.replace(/,/g, ',,');
}

/** Name of a NIC's tap: "tap101i0" (at most 15 characters for any VMID up to 999999999). */
export function tapName(vmid: number, index: number): string {
  return `tap${vmid}i${index}`;
}

/** How each NIC connects: a tap on its bridge when that bridge exists, else user-mode NAT. */
export function netPlan(vm: Pick<VmConfig, 'vmid' | 'nics'>, bridges: ReadonlySet<string>): NicRuntime[] {
  return vm.nics.map((n, i) =>
    bridges.has(n.bridge) ? { id: n.id, mode: 'tap', bridge: n.bridge, ifname: tapName(vm.vmid, i) } : { id: n.id, mode: 'user', bridge: n.bridge },
  );
}

export interface QemuEnv {
  accel: Accelerator;
  /** Runtime files of the guest. */
  files: { qmp: string; statusQmp: string; agent: string; vnc: string; serialLog: string };
  diskPath(disk: DiskConfig): string;
  isoPath(name: string): string;
  /** Bridges that exist on this node. */
  bridges: ReadonlySet<string>;
  /** A guest arriving by live migration: vCPUs stopped, waiting for the stream (-S -incoming defer; QMP's migrate-incoming says where). */
  incoming?: boolean;
}

const NIC_DEVICE = { rtl8139: 'rtl8139', e1000: 'e1000', virtio: 'virtio-net-pci' } as const;
/** IDE slots for disks in order; ide.1 unit 0 is the CD-ROM drive's. */
const IDE_SLOTS = [
  [0, 0],
  [0, 1],
  [1, 1],
] as const;

/** The device that attaches a disk, by bus; `n` counts the disks on that bus before it. */
function diskDevice(d: DiskConfig, n: number): string {
  const common = `drive=drive-${d.id},id=${d.id}`;
  switch (d.bus) {
    case 'ide': {
      const [bus, unit] = IDE_SLOTS[n]!;
      return `ide-hd,bus=ide.${bus},unit=${unit},${common}`;
    }
    case 'sata':
      return `ide-hd,bus=ahci0.${n},${common}`;
    case 'scsi':
      return `scsi-hd,bus=scsihw0.0,channel=0,scsi-id=${n},lun=0,${common}`;
    case 'virtio':
      return `virtio-blk-pci,${common}`;
  }
}

/** Whether the guest starts with its vCPUs stopped, to set NIC links down before it runs. */
export function startsPaused(vm: Pick<VmConfig, 'nics'>): boolean {
  return vm.nics.some((n) => n.linkDown === true);
}

export function qemuArgs(vm: VmConfig, env: QemuEnv): string[] {
  const os = OS_TYPES[vm.ostype];
  const bootIndex = (id: string) => {
    const i = vm.boot.indexOf(id);
    return i < 0 ? '' : `,bootindex=${i + 1}`;
  };
  const f = env.files;
  let cpu = env.accel === 'kvm' ? KVM_CPU : TCG_CPU;
  if (env.accel === 'kvm' && os.hyperv) cpu += `,${HYPERV_FLAGS}`;

  const args = [
    QEMU_BINARY,
    '-name', `${qemuOpt(vm.name)},process=ramvm-${vm.vmid}`,
    '-no-user-config',
    '-nodefaults',
    '-sandbox', QEMU_SANDBOX,
    '-machine', 'pc',
    '-accel', env.accel,
    '-cpu', cpu,
    '-m', String(vm.memory),
    '-smp', `${vm.sockets * vm.cores},sockets=${vm.sockets},cores=${vm.cores},threads=1`,
    // The launcher's readiness signal (vm/launch.ts); nobody else holds these pipes.
    '-chardev', 'stdio,id=ready,signal=off',
    '-mon', 'chardev=ready,mode=control',
    '-chardev', `socket,id=qmp,path=${qemuOpt(f.qmp)},server=on,wait=off`,
    '-mon', 'chardev=qmp,mode=control',
    '-chardev', `socket,id=qmp-status,path=${qemuOpt(f.statusQmp)},server=on,wait=off`,
    '-mon', 'chardev=qmp-status,mode=control',
    '-vnc', `unix:${qemuOpt(f.vnc)}`,
    '-device', 'VGA,id=vga',
    '-chardev', `file,id=serial0,path=${qemuOpt(f.serialLog)}`,
    '-device', 'isa-serial,chardev=serial0',
    '-rtc', os.rtcBase === 'localtime' ? 'base=localtime,driftfix=slew' : 'base=utc',
    '-device', 'pvpanic',
    '-action', 'panic=pause',
  ];
  if (startsPaused(vm) || env.incoming) args.push('-S');
  if (env.incoming) args.push('-incoming', 'defer');
  if (vm.agent === true) {
    args.push('-chardev', `socket,id=qga0,path=${qemuOpt(f.agent)},server=on,wait=off`);
    args.push('-device', 'virtio-serial-pci,id=qga-serial', '-device', `virtserialport,chardev=qga0,name=${AGENT_PORT_NAME}`);
  }
  if (env.accel === 'kvm' && os.hyperv) args.push('-global', 'kvm-pit.lost_tick_policy=discard');
  if (os.tablet) args.push('-device', 'piix3-usb-uhci,id=uhci', '-device', 'usb-tablet,id=tablet,bus=uhci.0');

  const cd = vm.cdrom ? `,file=${qemuOpt(env.isoPath(vm.cdrom))},format=raw` : '';
  args.push('-drive', `if=none,id=drive-cdrom,media=cdrom,readonly=on${cd}`);
  args.push('-device', `ide-cd,bus=ide.1,unit=0,drive=drive-cdrom,id=cdrom${bootIndex('cdrom')}`);

  if (vm.disks.some((d) => d.bus === 'sata')) args.push('-device', 'ahci,id=ahci0');
  if (vm.disks.some((d) => d.bus === 'scsi')) args.push('-device', 'virtio-scsi-pci,id=scsihw0');
  const onBus: Record<string, number> = {};
  for (const d of vm.disks) {
    const n = onBus[d.bus] ?? 0;
    onBus[d.bus] = n + 1;
    args.push('-drive', `if=none,id=drive-${d.id},file=${qemuOpt(env.diskPath(d))},format=${d.format},cache=${d.cache},discard=unmap`);
    args.push('-device', diskDevice(d, n) + bootIndex(d.id));
  }

  const plan = netPlan(vm, env.bridges);
  vm.nics.forEach((n, i) => {
    const p = plan[i]!;
    const netdev = `netdev${i}`;
    args.push('-netdev', p.mode === 'tap' ? `tap,id=${netdev},ifname=${p.ifname},script=no,downscript=no` : `user,id=${netdev}`);
    // A NIC outside the boot order needs no PXE option ROM (and the BIOS skips probing it).
    const rom = vm.boot.includes(n.id) ? bootIndex(n.id) : ',romfile=';
    args.push('-device', `${NIC_DEVICE[n.model]},netdev=${netdev},mac=${n.mac},id=${n.id}${rom}`);
  });
  return args;
}

/** Config fields that reach the QEMU command line only at the next start (the CD changes live). */
export const RESTART_FIELDS = ['name', 'memory', 'sockets', 'cores', 'ostype', 'disks', 'nics', 'boot', 'accel', 'agent'] as const;

/** Fields changed since the guest was started with `started`: they apply at its next start (an absent `agent` is false). */
export function pendingChanges(started: VmConfig, current: VmConfig): string[] {
  const value = (c: VmConfig, k: (typeof RESTART_FIELDS)[number]) => JSON.stringify(k === 'agent' ? c.agent === true : c[k]);
  return RESTART_FIELDS.filter((k) => value(started, k) !== value(current, k));
}
