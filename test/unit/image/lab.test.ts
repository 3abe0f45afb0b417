import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { LAB_DEFAULTS, parseLabArgs } from '../../../build/lab/lab';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labAccel, labCmdline, labMac, nodeQemuArgs, pxeScript, type NodeVmConfig } from '../../../build/lab/node-vm';

const A = suite('parseLabArgs');
A('should default to two nodes with data disks kept', () => {
  assert.equal(parseLabArgs([]), LAB_DEFAULTS);
  assert.is(LAB_DEFAULTS.nodes, 2);
});
A('should read every option', () => {
  assert.equal(parseLabArgs(['--nodes', '3', '--memory', '1024', '--cpus', '2', '--port', '20000', '--disk', '8', '--fresh', '--iso', '--no-build', '--no-shell']), {
    nodes: 3, memoryMiB: 1024, cpus: 2, port: 20000, diskGiB: 8, fresh: true, iso: true, pxe: false, build: false, shell: false, cluster: false,
  });
  assert.is(parseLabArgs(['--pxe']).pxe, true);
});
A('should start a prepared cluster on fresh disks, never from an ISO', () => {
  assert.equal([parseLabArgs(['--cluster']).cluster, parseLabArgs(['--cluster']).fresh], [true, true]);
  assert.throws(() => parseLabArgs(['--cluster', '--iso']), /--cluster boots kernel \+ initrd; leave out --iso and --pxe/);
  assert.throws(() => parseLabArgs(['--cluster', '--nodes', '1']), /--cluster needs at least 2 nodes/);
});
const BAD: [string[], RegExp, string][] = [
  [['--nodes', '0'], /--nodes needs/, 'no node at all'],
  [['--nodes', '4'], /--nodes needs/, 'more than the machine carries'],
  [['--nodes'], /not nothing/, 'missing value'],
  [['--nodes', '2x'], /--nodes needs/, 'not a number'],
  [['--port', '80'], /--port needs/, 'a privileged port'],
  [['--memory', '-1'], /--memory needs/, 'negative'],
  [['--bridge', 'br0'], /unknown option --bridge/, 'the lab makes its own network'],
  [['--iso', '--pxe'], /--iso and --pxe are two ways to boot: pick one/, 'two boots at once'],
];
for (const [args, why, reason] of BAD) {
  A(`should reject ${args.join(' ')}: ${reason}`, () => assert.throws(() => parseLabArgs(args), why));
}
A.run();

const base: NodeVmConfig = {
  name: 'node1', index: 1, boot: { kernel: '/o/vmlinuz', initrd: '/o/initrd.img' }, dataDisk: '/l/node1/data.img',
  memoryMiB: 2048, cpus: 1, accel: 'tcg', hubPort: 40000, webPort: 18001, adminPassword: 'pw', shell: true, runDir: '/l/node1',
};
const after = (args: string[], flag: string) => args.filter((_, i) => args[i - 1] === flag);

const Q = suite('nodeQemuArgs');
Q('should use TCG with -cpu max, never -cpu host', () => {
  const a = nodeQemuArgs(base);
  assert.equal(after(a, '-accel'), ['tcg']);
  assert.equal(after(a, '-cpu'), ['max']);
});
Q('should forward the web UI from 127.0.0.1 only, on a restricted user network', () => {
  const a = nodeQemuArgs(base);
  const user = after(a, '-netdev').find((n) => n.startsWith('user,'))!;
  assert.is(user, 'user,id=web,restrict=on,hostfwd=tcp:127.0.0.1:18001-:8006');
});
Q('should forward the SMTP relay\'s address to the relay on 127.0.0.1 only when asked, through busybox nc', () => {
  const user = after(nodeQemuArgs({ ...base, smtpRelayPort: 2525 }), '-netdev').find((n) => n.startsWith('user,'))!;
  assert.is(user, 'user,id=web,restrict=on,hostfwd=tcp:127.0.0.1:18001-:8006,guestfwd=tcp:10.0.2.100:25-cmd:busybox nc 127.0.0.1 2525');
  assert.throws(() => nodeQemuArgs({ ...base, smtpRelayPort: 2525.5 }), /bad SMTP relay port 2525\.5/);
  assert.throws(() => nodeQemuArgs({ ...base, smtpRelayPort: 70000 }), /bad SMTP relay port 70000/);
});
Q('should put the LAN NIC first, on the hub at 127.0.0.1', () => {
  const a = nodeQemuArgs(base);
  assert.equal(after(a, '-netdev')[0], 'socket,id=lan,connect=127.0.0.1:40000');
  assert.match(after(a, '-device').find((d) => d.includes('netdev=lan'))!, /mac=52:54:00:72:76:01/);
});
Q('should leave out the LAN without a hub', () => {
  const a = nodeQemuArgs({ ...base, hubPort: undefined });
  assert.equal(after(a, '-netdev').map((n) => n.split(',')[0]), ['user']);
});
Q('should hand the password over fw_cfg from a file, not on the command line', () => {
  const a = nodeQemuArgs(base);
  assert.equal(after(a, '-fw_cfg'), ['name=opt/ramvm/admin-password,file=/l/node1/admin-password']);
  assert.not.ok(a.join(' ').includes('pw,'));
  assert.not.ok(after(a, '-append')[0]!.includes('pw'));
});
Q('should attach the data disk as raw virtio', () => {
  assert.match(after(nodeQemuArgs(base), '-drive')[0]!, /^file=\/l\/node1\/data.img,format=raw,if=virtio/);
});
Q('should boot a USB disk alone on an xHCI controller, with nothing else to boot', () => {
  const a = nodeQemuArgs({ ...base, boot: { usb: true }, dataDisk: undefined, usb: { disk: '/l/usb.img' } });
  assert.equal(after(a, '-drive'), ['if=none,id=usbdisk,file=/l/usb.img,format=raw,cache=writeback']);
  assert.ok(after(a, '-device').includes('qemu-xhci,id=xhci'));
  assert.ok(after(a, '-device').includes('usb-storage,bus=xhci.0,drive=usbdisk,id=usbdisk,bootindex=0'));
  assert.equal([after(a, '-boot'), after(a, '-kernel'), after(a, '-append')], [[], [], []]);
});
Q('should give a controller alone for a USB disk plugged in later, and refuse a USB boot without a disk', () => {
  const a = nodeQemuArgs({ ...base, usb: {} });
  assert.ok(after(a, '-device').includes('qemu-xhci,id=xhci'));
  assert.not.ok(a.join(' ').includes('usb-storage'));
  assert.throws(() => nodeQemuArgs({ ...base, boot: { usb: true } }), /node node1: boot usb needs a USB disk/);
});
Q('should add the virtio console of the lab shell only with ramvm.shell', () => {
  assert.ok(after(nodeQemuArgs(base), '-device').includes('virtconsole,chardev=shell,name=ramvm.shell'));
  assert.not.ok(nodeQemuArgs({ ...base, shell: false }).join(' ').includes('virtconsole'));
});
Q('should give a node with a screen the standard VGA at 1024x768, and no AVX under TCG', () => {
  const a = nodeQemuArgs({ ...base, vga: true });
  assert.ok(after(a, '-device').includes('VGA,edid=on,xres=1024,yres=768'));
  assert.is(a[a.indexOf('-cpu') + 1], 'max,avx=off,avx2=off,svm=off,vmx=off', 'no nested virtualization under TCG either: its guests run under TCG');
  assert.is(nodeQemuArgs({ ...base, vga: true, accel: 'kvm' })[a.indexOf('-cpu') + 1], 'max', 'KVM runs the CPU as it is');
  assert.is(a[a.indexOf('-vnc') + 1], `unix:${base.runDir}/vnc.sock`, 'the screen is read over VNC on a unix socket, no TCP port');
  assert.not.ok(nodeQemuArgs(base).join(' ').includes('VGA'), 'no screen by default');
  assert.not.ok(nodeQemuArgs(base).includes('-vnc'), 'no VNC without a screen');
});
Q('should boot the ISO from a CD with no kernel arguments', () => {
  const a = nodeQemuArgs({ ...base, boot: { iso: '/o/ramvm.iso' } });
  assert.not.ok(a.includes('-kernel'));
  assert.match(after(a, '-drive')[0]!, /^file=\/o\/ramvm.iso,media=cdrom/);
});
Q.run();

const C = suite('labCmdline');
C('should give node N the LAN address 10.99.0.N and the data disk', () => {
  assert.equal(labCmdline({ name: 'node2', index: 2, hubPort: 1, dataDisk: '/d', shell: false }), [
    'quiet', 'panic=10', 'console=ttyS0,115200', 'ramvm.node=node2', 'ramvm.ip=10.99.0.2/24', 'ramvm.nic=eth0', 'datadisk=/dev/vda',
  ]);
});
C('should run RAM-only without a data disk and add the shell on request', () => {
  const c = labCmdline({ name: 'n', index: 1, hubPort: undefined, dataDisk: undefined, shell: true });
  assert.ok(c.includes('ramonly'));
  assert.ok(c.includes('ramvm.shell'));
  assert.not.ok(c.some((w) => w.startsWith('ramvm.ip')));
});
C('should leave name and address of a prepared node to its cluster files', () => {
  assert.equal(labCmdline({ name: 'node2', index: 2, hubPort: 1, dataDisk: '/d', shell: false, prepared: true }), ['quiet', 'panic=10', 'console=ttyS0,115200', 'ramvm.nic=eth0']);
});
C.run();

const M = suite('labMac');
M('should give each NIC of each node its own MAC', () => {
  assert.is(labMac(0, 1), '52:54:00:72:76:01');
  assert.is(labMac(1, 1), '52:54:00:72:77:01');
  assert.is(labMac(0, 10), '52:54:00:72:76:0a');
});
M.run();

const P = suite('labAccel');
P('should follow RAMVM_LAB_ACCEL kvm or tcg without probing', async () => {
  assert.equal(await labAccel({ RAMVM_LAB_ACCEL: 'tcg' }, { device: '/nonexistent' }), { accel: 'tcg', reason: 'RAMVM_LAB_ACCEL' });
  assert.equal(await labAccel({ RAMVM_LAB_ACCEL: 'kvm' }, { device: '/nonexistent' }), { accel: 'kvm', reason: 'RAMVM_LAB_ACCEL' });
});
P('should refuse an RAMVM_LAB_ACCEL it does not know', async () => {
  try {
    await labAccel({ RAMVM_LAB_ACCEL: 'hvf' });
    assert.unreachable('accepted hvf');
  } catch (e) {
    assert.match((e as Error).message, /RAMVM_LAB_ACCEL must be kvm, tcg or auto, not "hvf"/);
  }
});
P('should pick TCG on a host whose KVM device does not open, and keep the verdict for this boot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-lab-accel-'));
  try {
    const file = join(dir, 'accel.json');
    const r = await labAccel({}, { device: join(dir, 'no-kvm'), file });
    assert.is(r.accel, 'tcg');
    assert.match(r.reason, /^auto: no usable KVM device \(.*no-kvm: ENOENT\)$/);
    const kept = JSON.parse(readFileSync(file, 'utf8'));
    assert.is(kept.bootId, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    assert.is(kept.cpu, 'max', "the lab's CPU model");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
P.run();

const X = suite('nodeQemuArgs boots');
X('should boot the data disk alone: no kernel, no CD', () => {
  const a = nodeQemuArgs({ ...base, boot: { disk: true } });
  assert.equal(after(a, '-boot'), ['c']);
  assert.not.ok(a.includes('-kernel') || a.some((x) => x.includes('media=cdrom')));
});
X('should boot over the network from the web NIC\'s iPXE and QEMU\'s TFTP server, the LAN NIC without a ROM', () => {
  const a = nodeQemuArgs({ ...base, boot: { pxe: { tftpDir: '/l/node1/tftp' } } });
  assert.equal(after(a, '-boot'), ['n']);
  assert.ok(after(a, '-netdev').includes('user,id=web,restrict=on,hostfwd=tcp:127.0.0.1:18001-:8006,tftp=/l/node1/tftp,bootfile=boot.ipxe'));
  const nics = after(a, '-device').filter((d) => d.startsWith('virtio-net-pci'));
  assert.equal(nics.map((d) => d.includes('romfile=')), [true, false]);
  assert.not.ok(a.includes('-kernel'));
});
X.run();

const I = suite('pxeScript');
I('should load kernel and initrd with the parameters', () => {
  assert.is(pxeScript('vmlinuz', 'initrd.img', ['quiet', 'ramvm.node=node1']), '#!ipxe\nkernel vmlinuz quiet ramvm.node=node1\ninitrd initrd.img\nboot\n');
});
I('should refuse a file name iPXE would read as more', () => {
  assert.throws(() => pxeScript('vmlinuz x', 'initrd.img', []), /bad TFTP file name "vmlinuz x"/);
});
I.run();
