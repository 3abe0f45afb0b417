import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { netPlan, pendingChanges, qemuArgs, qemuOpt, startsPaused, tapName, type QemuEnv } from '../../../node-cgi/vm/qemu-args';
import type { VmConfig } from '../../../node-cgi/vm/types';

const RUN = '/r/run/ramvm/qemu';

function vm(over: Partial<VmConfig> = {}): VmConfig {
  return {
    vmid: 101,
    name: 'web',
    node: 'pve1',
    type: 'kvm',
    memory: 512,
    sockets: 1,
    cores: 2,
    ostype: 'other',
    onboot: false,
    cdrom: null,
    disks: [{ id: 'disk0', file: 'vm-101-disk-0.qcow2', size: '32G', bus: 'ide', format: 'qcow2', cache: 'writeback' }],
    nics: [{ id: 'net0', model: 'rtl8139', bridge: 'vmbr0', mac: '02:52:4D:00:00:01' }],
    boot: ['disk0', 'cdrom', 'net0'],
    description: '',
    created: 0,
    ...over,
  };
}

function env(over: Partial<QemuEnv> = {}): QemuEnv {
  return {
    accel: 'tcg',
    files: { qmp: `${RUN}/101.qmp`, statusQmp: `${RUN}/101.status.qmp`, agent: `${RUN}/101.qga`, vnc: `${RUN}/101.vnc`, serialLog: `${RUN}/101.serial.log` },
    diskPath: (d) => `/r/images/101/${d.file}`,
    isoPath: (n) => `/r/iso/${n}`,
    bridges: new Set(),
    ...over,
  };
}

/** The value after each occurrence of `flag`. */
function values(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));
}

const Q = suite('qemuArgs');
Q('should build the whole command line of a default guest under TCG', () => {
  assert.equal(qemuArgs(vm(), env()), [
    'qemu-system-x86_64',
    '-name', 'web,process=ramvm-101',
    '-no-user-config',
    '-nodefaults',
    '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-machine', 'pc',
    '-accel', 'tcg',
    '-cpu', 'max',
    '-m', '512',
    '-smp', '2,sockets=1,cores=2,threads=1',
    '-chardev', 'stdio,id=ready,signal=off',
    '-mon', 'chardev=ready,mode=control',
    '-chardev', `socket,id=qmp,path=${RUN}/101.qmp,server=on,wait=off`,
    '-mon', 'chardev=qmp,mode=control',
    '-chardev', `socket,id=qmp-status,path=${RUN}/101.status.qmp,server=on,wait=off`,
    '-mon', 'chardev=qmp-status,mode=control',
    '-vnc', `unix:${RUN}/101.vnc`,
    '-device', 'VGA,id=vga',
    '-chardev', `file,id=serial0,path=${RUN}/101.serial.log`,
    '-device', 'isa-serial,chardev=serial0',
    '-rtc', 'base=utc',
    '-device', 'pvpanic',
    '-action', 'panic=pause',
    '-drive', 'if=none,id=drive-cdrom,media=cdrom,readonly=on',
    '-device', 'ide-cd,bus=ide.1,unit=0,drive=drive-cdrom,id=cdrom,bootindex=2',
    '-drive', 'if=none,id=drive-disk0,file=/r/images/101/vm-101-disk-0.qcow2,format=qcow2,cache=writeback,discard=unmap',
    '-device', 'ide-hd,bus=ide.0,unit=0,drive=drive-disk0,id=disk0,bootindex=1',
    '-netdev', 'user,id=netdev0',
    '-device', 'rtl8139,netdev=netdev0,mac=02:52:4D:00:00:01,id=net0,bootindex=3',
  ]);
});
Q('should use a named CPU model under KVM, never host', () => {
  const argv = qemuArgs(vm(), env({ accel: 'kvm' }));
  assert.equal(values(argv, '-accel'), ['kvm']);
  const cpu = values(argv, '-cpu')[0]!;
  assert.ok(cpu.startsWith('kvm64,'), cpu);
  assert.not.ok(argv.includes('host'));
  assert.not.match(cpu, 'hv_');
});
Q('should give Windows local-time RTC, a tablet and Hyper-V flags under KVM only', () => {
  const kvm = qemuArgs(vm({ ostype: 'win10' }), env({ accel: 'kvm' }));
  assert.equal(values(kvm, '-rtc'), ['base=localtime,driftfix=slew']);
  assert.match(values(kvm, '-cpu')[0]!, /^kvm64,.*,hv_relaxed,hv_vapic,hv_spinlocks=0x1fff,hv_time$/);
  assert.ok(values(kvm, '-global').includes('kvm-pit.lost_tick_policy=discard'));
  assert.ok(values(kvm, '-device').includes('usb-tablet,id=tablet,bus=uhci.0'));
  const tcg = qemuArgs(vm({ ostype: 'win10' }), env());
  assert.equal(values(tcg, '-cpu'), ['max']);
  assert.equal(values(tcg, '-global'), []);
});
Q('should give Linux a tablet and UTC, and "other" neither tablet nor USB', () => {
  assert.ok(values(qemuArgs(vm({ ostype: 'l26' }), env()), '-device').includes('piix3-usb-uhci,id=uhci'));
  assert.not.ok(values(qemuArgs(vm(), env()), '-device').some((d) => d.includes('usb')));
});
Q('should attach disks by bus with their controllers', () => {
  const disks: VmConfig['disks'] = [
    { id: 'disk0', file: 'vm-101-disk-0.qcow2', size: '1G', bus: 'ide', format: 'qcow2', cache: 'writeback' },
    { id: 'disk1', file: 'vm-101-disk-1.raw', size: '1G', bus: 'ide', format: 'raw', cache: 'none' },
    { id: 'disk2', file: 'vm-101-disk-2.raw', size: '1G', bus: 'ide', format: 'raw', cache: 'unsafe' },
    { id: 'disk3', file: 'vm-101-disk-3.qcow2', size: '1G', bus: 'sata', format: 'qcow2', cache: 'writethrough' },
    { id: 'disk4', file: 'vm-101-disk-4.qcow2', size: '1G', bus: 'sata', format: 'qcow2', cache: 'directsync' },
    { id: 'disk5', file: 'vm-101-disk-5.qcow2', size: '1G', bus: 'scsi', format: 'qcow2', cache: 'writeback' },
    { id: 'disk6', file: 'vm-101-disk-6.qcow2', size: '1G', bus: 'scsi', format: 'qcow2', cache: 'writeback' },
    { id: 'disk9', file: 'vm-101-disk-9.qcow2', size: '1G', bus: 'virtio', format: 'qcow2', cache: 'writeback' },
  ];
  const argv = qemuArgs(vm({ disks, boot: ['disk9'] }), env());
  const devices = values(argv, '-device');
  assert.equal(devices.filter((d) => /^(ide-hd|scsi-hd|virtio-blk|ahci|virtio-scsi)/.test(d)), [
    'ahci,id=ahci0',
    'virtio-scsi-pci,id=scsihw0',
    'ide-hd,bus=ide.0,unit=0,drive=drive-disk0,id=disk0',
    'ide-hd,bus=ide.0,unit=1,drive=drive-disk1,id=disk1',
    'ide-hd,bus=ide.1,unit=1,drive=drive-disk2,id=disk2',
    'ide-hd,bus=ahci0.0,drive=drive-disk3,id=disk3',
    'ide-hd,bus=ahci0.1,drive=drive-disk4,id=disk4',
    'scsi-hd,bus=scsihw0.0,channel=0,scsi-id=0,lun=0,drive=drive-disk5,id=disk5',
    'scsi-hd,bus=scsihw0.0,channel=0,scsi-id=1,lun=0,drive=drive-disk6,id=disk6',
    'virtio-blk-pci,drive=drive-disk9,id=disk9,bootindex=1',
  ]);
  const drives = values(argv, '-drive');
  assert.ok(drives.includes('if=none,id=drive-disk1,file=/r/images/101/vm-101-disk-1.raw,format=raw,cache=none,discard=unmap'));
  assert.ok(drives.includes('if=none,id=drive-disk4,file=/r/images/101/vm-101-disk-4.qcow2,format=qcow2,cache=directsync,discard=unmap'));
});
Q('should put an ISO into the CD-ROM drive', () => {
  const drives = values(qemuArgs(vm({ cdrom: 'debian-12.iso' }), env()), '-drive');
  assert.is(drives[0], 'if=none,id=drive-cdrom,media=cdrom,readonly=on,file=/r/iso/debian-12.iso,format=raw');
});
Q('should sandbox every guest and never daemonize or change its user itself', () => {
  for (const accel of ['tcg', 'kvm'] as const) {
    const argv = qemuArgs(vm(), env({ accel }));
    assert.equal(values(argv, '-sandbox'), ['on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny']);
    for (const flag of ['-daemonize', '-runas', '-pidfile']) assert.not.ok(argv.includes(flag), `no ${flag}`);
  }
});
Q('should double commas in paths inside QEMU options', () => {
  const argv = qemuArgs(vm(), env({ files: { qmp: '/a,b/101.qmp', statusQmp: '/a,b/s.qmp', agent: '/a,b/101.qga', vnc: '/a,b/101.vnc', serialLog: '/a,b/s.log' }, diskPath: () => '/a,b/d.qcow2' }));
  assert.equal(values(argv, '-vnc'), ['unix:/a,,b/101.vnc']);
  assert.ok(values(argv, '-chardev').includes('socket,id=qmp,path=/a,,b/101.qmp,server=on,wait=off'));
  assert.ok(values(argv, '-drive').some((d) => d.includes('file=/a,,b/d.qcow2,format=')));
});
Q('should use a tap when the bridge exists and user-mode NAT otherwise', () => {
  const nics: VmConfig['nics'] = [
    { id: 'net0', model: 'virtio', bridge: 'vmbr0', mac: '02:52:4D:00:00:01' },
    { id: 'net1', model: 'e1000', bridge: 'vmbr9', mac: '02:52:4D:00:00:02' },
  ];
  const argv = qemuArgs(vm({ nics, boot: ['disk0'] }), env({ bridges: new Set(['vmbr0']) }));
  assert.equal(values(argv, '-netdev'), ['tap,id=netdev0,ifname=tap101i0,script=no,downscript=no', 'user,id=netdev1']);
  assert.equal(values(argv, '-device').slice(-2), [
    'virtio-net-pci,netdev=netdev0,mac=02:52:4D:00:00:01,id=net0,romfile=',
    'e1000,netdev=netdev1,mac=02:52:4D:00:00:02,id=net1,romfile=',
  ]);
});
Q('should never pass -no-shutdown or -cpu host', () => {
  for (const accel of ['kvm', 'tcg'] as const) {
    const argv = qemuArgs(vm({ ostype: 'win11' }), env({ accel }));
    assert.not.ok(argv.includes('-no-shutdown'));
    assert.not.ok(values(argv, '-cpu').some((c) => c.split(',')[0] === 'host'));
  }
});
Q('should start paused (-S) only when a NIC starts with its link down', () => {
  assert.not.ok(qemuArgs(vm(), env()).includes('-S'));
  const unplugged = vm({ nics: [{ ...vm().nics[0]!, linkDown: true }] });
  const argv = qemuArgs(unplugged, env());
  assert.is(argv.filter((a) => a === '-S').length, 1);
  assert.ok(startsPaused(unplugged));
  assert.not.ok(startsPaused(vm()));
  // The NIC itself is attached as usual; only its link is set down before the vCPUs run.
  assert.equal(values(argv, '-device').filter((d) => d.startsWith('rtl8139')), ['rtl8139,netdev=netdev0,mac=02:52:4D:00:00:01,id=net0,bootindex=3']);
});
Q('should wait for a migration stream (-S once, -incoming defer) for a guest arriving live, and not otherwise', () => {
  const unplugged = vm({ nics: [{ ...vm().nics[0]!, linkDown: true }] });
  for (const cfg of [vm(), unplugged]) {
    const argv = qemuArgs(cfg, env({ incoming: true }));
    assert.is(argv.filter((a) => a === '-S').length, 1);
    assert.equal(values(argv, '-incoming'), ['defer']);
  }
  assert.not.ok(qemuArgs(vm(), env()).includes('-incoming'));
});
Q.run();

const N = suite('netPlan');
N('should say per NIC whether it is a tap on its bridge or NAT', () => {
  const plan = netPlan({ vmid: 999999999, nics: [vm().nics[0]!, { ...vm().nics[0]!, id: 'net1', bridge: 'br1' }] }, new Set(['br1']));
  assert.equal(plan, [
    { id: 'net0', mode: 'user', bridge: 'vmbr0' },
    { id: 'net1', mode: 'tap', bridge: 'br1', ifname: 'tap999999999i1' },
  ]);
});
N('should keep tap names within 15 characters', () => {
  assert.ok(tapName(999999999, 7).length <= 15);
});
N.run();

const G = suite('qemuArgs guest agent');
G('should add no agent channel to a guest without agent, or with agent false', () => {
  for (const over of [{}, { agent: false }]) {
    const argv = qemuArgs(vm(over), env());
    assert.not.ok(argv.some((a) => a.includes('qga') || a.includes('virtio-serial') || a.includes('guest_agent')), JSON.stringify(over));
  }
});
G("should add the agent's virtio-serial port, backed by a socket beside the QMP sockets", () => {
  const argv = qemuArgs(vm({ agent: true }), env());
  assert.ok(values(argv, '-chardev').includes(`socket,id=qga0,path=${RUN}/101.qga,server=on,wait=off`));
  const devices = values(argv, '-device');
  const serial = devices.indexOf('virtio-serial-pci,id=qga-serial');
  assert.ok(serial >= 0);
  assert.is(devices[serial + 1], 'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0');
});
G("should double commas in the agent socket's path", () => {
  const argv = qemuArgs(vm({ agent: true }), env({ files: { qmp: '/a,b/101.qmp', statusQmp: '/a,b/s.qmp', agent: '/a,b/101.qga', vnc: '/a,b/101.vnc', serialLog: '/a,b/s.log' } }));
  assert.ok(values(argv, '-chardev').includes('socket,id=qga0,path=/a,,b/101.qga,server=on,wait=off'));
});
G.run();

const O = suite('qemuOpt');
O('should double every comma', () => {
  assert.is(qemuOpt('a,b,,c'), 'a,,b,,,,c');
});
O.run();

const P = suite('pendingChanges');
P('should list hardware fields changed since the start, not the description', () => {
  const started = vm();
  assert.equal(pendingChanges(started, { ...started, memory: 1024, description: 'x', onboot: true }), ['memory']);
  assert.equal(pendingChanges(started, started), []);
});
P('should list a changed agent setting, and take an absent one as false', () => {
  const started = vm();
  assert.equal(pendingChanges(started, { ...started, agent: true }), ['agent']);
  assert.equal(pendingChanges(started, { ...started, agent: false }), []);
  assert.equal(pendingChanges({ ...started, agent: true }, { ...started, agent: false }), ['agent']);
});
P("should list a changed accelerator: it applies at the next start", () => {
  const started = vm();
  assert.equal(pendingChanges(started, { ...started, accel: 'tcg' }), ['accel']);
});
P.run();
