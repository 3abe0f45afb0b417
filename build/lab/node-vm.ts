/**
 * One node of the lab as a QEMU guest: its argv (pure, tested as data), and
 * the running VM — start, wait until its API serves, run a command on its
 * serial console, stop. Used by `npm run lab`, the image's integration
 * test and its benchmark.
 *
 * Each node has two NICs: eth0 on the lab hub (bridged into vmbr0 with
 * ramvm.ip=10.99.0.N/24; the nodes' LAN, which exists only inside the lab
 * process), and eth1 on QEMU's user-mode network with `restrict=on` (no
 * way out of the machine) whose only use is the forward of the web UI:
 *
 *   127.0.0.1:<webPort> → node's 10.0.2.15:8006 (HTTPS, the node's own certificate)
 *
 * The serial console is a unix socket and a log file. With ramvm.shell the
 * node also runs a root shell on a virtio console (shell.sock), where the
 * lab and the tests run commands, e.g. to read /proc/meminfo.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { request } from 'node:https';
import { BASE_CMDLINE } from '../image/layout';
import { NODE_PORT } from '../image/files';
import { withQmp } from '../../node-cgi/qemu/qmp';
import { ROOT } from '../build';
import { hostAccel, type ProbeOptions } from '../../node-cgi/vm/accel';

export type Accel = 'kvm' | 'tcg';

/** The screen of a lab node with `vga`: the smallest the kiosk is made for. */
export const LAB_SCREEN = { width: 1024, height: 768 } as const;

/** The lab LAN: node N has 10.99.0.N/24 on vmbr0. */
export const LAB_NET_PREFIX = '10.99.0.';

export interface NodeVmConfig {
  name: string;
  /** 1-based; picks MAC addresses and the LAN address. */
  index: number;
  /**
   * kernel: out/vmlinux (boots faster under TCG) or out/vmlinuz; iso: GRUB
   * of the ISO; disk: the data disk alone (the system on it, sysdisk.ts);
   * pxe: iPXE of the web NIC loads boot.ipxe from QEMU's TFTP server in tftpDir;
   * usb: the USB disk alone (usbDisk: a backup disk that boots).
   */
  boot: { kernel: string; initrd: string; extraParams?: string[] } | { iso: string } | { disk: true } | { pxe: { tftpDir: string } } | { usb: true };
  /**
   * A USB 3 controller (xHCI): with usbDisk, a sparse raw file as a USB disk
   * (the boot device with boot usb); without, for plugUsbDisk() later.
   */
  usb?: { disk?: string };
  /** Sparse raw file used as /dev/vda, the node's data disk; none: ramonly. */
  dataDisk?: string;
  memoryMiB: number;
  cpus: number;
  accel: Accel;
  /** Port of the lab hub on 127.0.0.1; none: no LAN NIC. */
  hubPort?: number;
  /** Port on 127.0.0.1 forwarded to the node's web UI. */
  webPort: number;
  /** Handed to the node through fw_cfg (never on the command line) for its first `ramvm init`. */
  adminPassword?: string;
  /** A root shell on the serial console. */
  shell: boolean;
  /** Where the serial socket and log, the QMP socket and the pid file go. */
  runDir: string;
  /**
   * Port of an SMTP listener on 127.0.0.1 (a test's relay): the node reaches
   * it at LAB_SMTP_HOST:LAB_SMTP_PORT, QEMU's user network handing each
   * connection to `busybox nc`. Nothing else leaves the node.
   */
  smtpRelayPort?: number;
  /** A screen: QEMU's standard VGA (the bochs KMS driver in the node) at 1024×768; the kiosk image shows its UI there. */
  vga?: boolean;
  /**
   * A prepared node of a cluster (build/image/prepared.ts; its initrd carries
   * the cluster files): name and address come from there, not from the
   * command line, and its data disk is found (datadisk=auto).
   */
  prepared?: boolean;
}

/** Where a lab node finds the test's SMTP relay (NodeVmConfig.smtpRelayPort): an address of QEMU's user network. */
export const LAB_SMTP_HOST = '10.0.2.100';
export const LAB_SMTP_PORT = 25;

/** "52:54:00:72:76:01": QEMU's prefix, then "rv", then NIC and node index. */
export function labMac(nic: 0 | 1, index: number): string {
  return `52:54:00:72:7${6 + nic}:${index.toString(16).padStart(2, '0')}`;
}

/** Kernel parameters of a lab node booted from kernel + initrd. */
export function labCmdline(c: Pick<NodeVmConfig, 'name' | 'index' | 'hubPort' | 'dataDisk' | 'shell' | 'prepared'>): string[] {
  if (c.prepared) return [...BASE_CMDLINE, 'console=ttyS0,115200', 'ramvm.nic=eth0', ...(c.dataDisk ? [] : ['ramonly']), ...(c.shell ? ['ramvm.shell'] : [])];
  return [
    ...BASE_CMDLINE,
    'console=ttyS0,115200',
    `ramvm.node=${c.name}`,
    ...(c.hubPort ? [`ramvm.ip=${LAB_NET_PREFIX}${c.index}/24`, 'ramvm.nic=eth0'] : []),
    ...(c.dataDisk ? ['datadisk=/dev/vda'] : ['ramonly']),
    ...(c.shell ? ['ramvm.shell'] : []),
  ];
}

export function nodeQemuArgs(c: NodeVmConfig): string[] {
  const run = c.runDir;
  const args = [
    'qemu-system-x86_64',
    '-name', `ramvm-lab-${c.name}`,
    '-nodefaults', '-no-user-config', '-display', 'none',
    // -vga std's device, with the mode its EDID prefers set to 1024×768 (QEMU's own default is 1280×800).
    ...(c.vga ? ['-device', `VGA,edid=on,xres=${LAB_SCREEN.width},yres=${LAB_SCREEN.height}`] : []),
    // The screen, read over VNC on a unix socket (no TCP port): the monitor's screendump hung for good under the kiosk.
    ...(c.vga ? ['-vnc', `unix:${run}/vnc.sock`] : []),
    // A screen means the kiosk's software renderer, whose JIT uses AVX2 where the CPU offers it: QEMU 7.2's TCG
    // crashes on its gathers, so a TCG node with a screen gets no AVX (KVM runs the host's CPU as it is).
    // Nor SVM/VMX: its guests then run under TCG inside it. With them, the kiosk test's node froze whole in two
    // of three runs while its guest ran under KVM on TCG's nested SVM (QMP, VNC and its serial console gone for good).
    '-accel', c.accel, '-cpu', c.vga && c.accel === 'tcg' ? `${LAB_CPU},avx=off,avx2=off,svm=off,vmx=off` : LAB_CPU,
    '-m', String(c.memoryMiB), '-smp', String(c.cpus),
    '-chardev', `socket,id=serial,path=${run}/serial.sock,server=on,wait=off,logfile=${run}/serial.log`,
    '-serial', 'chardev:serial',
    '-qmp', `unix:${run}/qmp.sock,server=on,wait=off`,
    '-pidfile', `${run}/qemu.pid`,
    '-device', 'virtio-rng-pci',
  ];
  if (c.shell) {
    args.push('-device', 'virtio-serial-pci', '-chardev', `socket,id=shell,path=${run}/shell.sock,server=on,wait=off`, '-device', 'virtconsole,chardev=shell,name=ramvm.shell');
  }
  if ('iso' in c.boot) {
    args.push('-drive', `file=${c.boot.iso},media=cdrom,if=ide,readonly=on`, '-boot', 'd');
  } else if ('disk' in c.boot) {
    args.push('-boot', 'c');
  } else if ('pxe' in c.boot) {
    args.push('-boot', 'n');
  } else if ('usb' in c.boot) {
    if (!c.usb?.disk) throw new Error(`node ${c.name}: boot usb needs a USB disk`);
  } else {
    args.push('-kernel', c.boot.kernel, '-initrd', c.boot.initrd, '-append', [...labCmdline(c), ...(c.boot.extraParams ?? [])].join(' '));
  }
  if (c.dataDisk) args.push('-drive', `file=${c.dataDisk},format=raw,if=virtio,cache=writeback,discard=unmap`);
  if (c.usb) {
    args.push('-device', `qemu-xhci,id=${XHCI_ID}`);
    if (c.usb.disk) {
      args.push(
        '-drive', `if=none,id=${USB_DISK_ID},file=${c.usb.disk},format=raw,cache=writeback`,
        '-device', `usb-storage,bus=${XHCI_ID}.0,drive=${USB_DISK_ID},id=${USB_DISK_ID}${'usb' in c.boot ? ',bootindex=0' : ''}`,
      );
    }
  }
  // romfile= leaves out iPXE: nothing boots from the network, and the BIOS is a second faster.
  if (c.hubPort) {
    args.push('-netdev', `socket,id=lan,connect=127.0.0.1:${c.hubPort}`, '-device', `virtio-net-pci,netdev=lan,mac=${labMac(0, c.index)},romfile=`);
  }
  // A network boot: QEMU's own TFTP server hands iPXE (the NIC's ROM, kept for this one) the boot script.
  const pxe = 'pxe' in c.boot ? c.boot.pxe : undefined;
  if (c.smtpRelayPort !== undefined && (!Number.isInteger(c.smtpRelayPort) || c.smtpRelayPort < 1 || c.smtpRelayPort > 65535)) throw new Error(`bad SMTP relay port ${c.smtpRelayPort}`);
  // restrict=on keeps the node in; explicit forwards (the UI in, the relay out) still pass.
  const smtp = c.smtpRelayPort !== undefined ? `,guestfwd=tcp:${LAB_SMTP_HOST}:${LAB_SMTP_PORT}-cmd:busybox nc 127.0.0.1 ${c.smtpRelayPort}` : '';
  args.push(
    '-netdev', `user,id=web,restrict=on,hostfwd=tcp:127.0.0.1:${c.webPort}-:${NODE_PORT}${smtp}${pxe ? `,tftp=${pxe.tftpDir},bootfile=${PXE_SCRIPT}` : ''}`,
    '-device', `virtio-net-pci,netdev=web,mac=${labMac(1, c.index)}${pxe ? '' : ',romfile='}`,
  );
  if (c.adminPassword !== undefined) args.push('-fw_cfg', `name=opt/ramvm/admin-password,file=${run}/admin-password`);
  return args;
}

/** The lab node's xHCI controller and its USB disk (QEMU ids). */
export const XHCI_ID = 'xhci';
export const USB_DISK_ID = 'usbdisk';

/** The iPXE script a network-booted node fetches first, beside the kernel and initrd in the TFTP folder. */
export const PXE_SCRIPT = 'boot.ipxe';

/** The iPXE script: kernel and initrd over TFTP with the same parameters as a -kernel boot. */
export function pxeScript(kernel: string, initrd: string, params: readonly string[]): string {
  for (const n of [kernel, initrd]) if (!/^[A-Za-z0-9._-]+$/.test(n)) throw new Error(`bad TFTP file name ${JSON.stringify(n)}`);
  return `#!ipxe\nkernel ${kernel} ${params.join(' ')}\ninitrd ${initrd}\nboot\n`;
}

/** CPU model of the lab's nodes (under KVM too): `max` passes SVM/VMX on, for the nodes' own guests. */
export const LAB_CPU = 'max';
/** This boot's verdict on the lab's KVM, beside the lab's data disks. */
export const LAB_ACCEL_FILE = join(ROOT, 'var/lab/accel.json');

/**
 * The lab's accelerator: RAMVM_LAB_ACCEL "kvm" or "tcg" if set, else
 * ("auto") what a node's "auto" picks: KVM only where the probe shows it runs
 * a kernel (with the lab's CPU model), kept for this boot in LAB_ACCEL_FILE.
 */
export async function labAccel(env: NodeJS.ProcessEnv = process.env, probe: ProbeOptions = {}): Promise<{ accel: Accel; reason: string }> {
  const want = env.RAMVM_LAB_ACCEL ?? 'auto';
  if (want === 'kvm' || want === 'tcg') return { accel: want, reason: 'RAMVM_LAB_ACCEL' };
  if (want !== 'auto') throw new Error(`RAMVM_LAB_ACCEL must be kvm, tcg or auto, not ${JSON.stringify(want)}`);
  const v = await hostAccel({ file: LAB_ACCEL_FILE, kvmCpu: LAB_CPU, ...probe });
  return { accel: v.accel, reason: `auto: ${v.reason}` };
}

/** Lab nodes this process powered on and that still run: killed when it exits (a failed test, a stop signal), so none outlives its run. */
const poweredOn = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of poweredOn) p.kill('SIGKILL');
});

export class NodeVm {
  proc?: ChildProcess;
  /** Date.now() when QEMU was spawned: "power-on". */
  startedAt = 0;
  private console?: Socket;
  private consoleBuf = '';
  constructor(readonly config: NodeVmConfig) {}

  get url(): string {
    return `https://127.0.0.1:${this.config.webPort}`;
  }

  start(): void {
    const c = this.config;
    mkdirSync(c.runDir, { recursive: true });
    for (const f of ['serial.sock', 'shell.sock', 'qmp.sock', 'vnc.sock', 'qemu.pid', 'serial.log']) rmSync(join(c.runDir, f), { force: true });
    if (c.adminPassword !== undefined) writeFileSync(join(c.runDir, 'admin-password'), c.adminPassword, { mode: 0o600 });
    const [cmd, ...args] = nodeQemuArgs(c);
    this.startedAt = Date.now();
    const proc = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    poweredOn.add(proc);
    let err = '';
    this.proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    this.proc.once('exit', (code) => {
      poweredOn.delete(proc);
      if (code) process.stderr.write(`lab: node ${c.name}: qemu exited with ${code}: ${err}\n`);
    });
  }

  running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Polls a login until it answers 200; returns ms since power-on. */
  async waitServing(password: string, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running()) throw new Error(`node ${this.config.name}: qemu exited (${this.serialTail()})`);
      try {
        const status = await postStatus(this.url + '/api/access/ticket', JSON.stringify({ username: 'admin', password }));
        if (status === 200) return Date.now() - this.startedAt;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`node ${this.config.name}: API not serving after ${timeoutMs / 1000} s; serial: ${this.serialTail()}`);
  }

  /** Waits until the serial log (from offset `from` on) matches `re` (e.g. GRUB's menu); returns the match. */
  async waitSerial(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = re.exec(this.serialLog().slice(from));
      if (m) return m;
      if (!this.running()) throw new Error(`node ${this.config.name}: qemu exited (${this.serialTail()})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`node ${this.config.name}: no ${re} on the serial console after ${timeoutMs / 1000} s; serial: ${this.serialTail()}`);
  }

  /** Types on the serial console (GRUB's menu and editor), a key at a time as a person would. */
  async typeSerial(keys: readonly string[]): Promise<void> {
    const sock = await new Promise<Socket>((res, rej) => {
      const s = connect(join(this.config.runDir, 'serial.sock'));
      s.once('connect', () => res(s));
      s.once('error', rej);
    });
    try {
      for (const k of keys) {
        sock.write(k);
        await new Promise((r) => setTimeout(r, 60));
      }
    } finally {
      sock.end();
    }
  }

  serialLog(): string {
    try {
      return readFileSync(join(this.config.runDir, 'serial.log'), 'utf8');
    } catch {
      return '';
    }
  }

  serialTail(lines = 15): string {
    return this.serialLog().split('\n').slice(-lines).join('\n');
  }

  private async openConsole(): Promise<Socket> {
    if (this.console && !this.console.destroyed) return this.console;
    const path = join(this.config.runDir, 'shell.sock');
    const sock = await new Promise<Socket>((res, rej) => {
      const s = connect(path);
      s.once('connect', () => res(s));
      s.once('error', rej);
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (this.consoleBuf = (this.consoleBuf + d).slice(-1_000_000)));
    this.console = sock;
    // Plain line input from now on: no echo, so ash skips its line editor.
    await this.exec('stty -echo', 20_000, true);
    return sock;
  }

  /**
   * Runs `command` in the root shell on the virtio console (needs
   * ramvm.shell) and returns its output and exit code. Output is framed by
   * markers the shell prints, unique per call:
   *   echo r1B; cat /proc/meminfo; echo r1E$?   →  "r1B\r\n<output>r1E0"
   */
  async exec(command: string, timeoutMs = 60_000, raw = false): Promise<{ out: string; code: number }> {
    const sock = raw ? this.console! : await this.openConsole();
    const tok = `rv${Math.random().toString(36).slice(2, 8)}`;
    this.consoleBuf = '';
    const re = new RegExp(`${tok}B\\r?\\n([\\s\\S]*?)${tok}E(\\d+)`);
    const deadline = Date.now() + timeoutMs;
    // Re-send the command until the shell answers (the console may still be starting).
    let lastSend = 0;
    while (Date.now() < deadline) {
      if (Date.now() - lastSend > (raw ? 3000 : timeoutMs)) {
        sock.write(`\necho ${tok}B; ${command}; echo ${tok}E$?\n`);
        lastSend = Date.now();
      }
      const m = re.exec(this.consoleBuf);
      if (m) return { out: m[1]!.replace(/\r\n/g, '\n'), code: Number(m[2]) };
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`node ${this.config.name}: no answer to ${JSON.stringify(command)} on the console`);
  }

  /** Plugs a sparse raw file in as a USB disk (QMP; needs `usb` in the config), as a person plugs in a stick. */
  async plugUsbDisk(file: string): Promise<void> {
    await withQmp(join(this.config.runDir, 'qmp.sock'), async (q) => {
      await q.execute('blockdev-add', { driver: 'raw', 'node-name': USB_DISK_ID, file: { driver: 'file', filename: file } });
      await q.execute('device_add', { driver: 'usb-storage', bus: `${XHCI_ID}.0`, drive: USB_DISK_ID, id: USB_DISK_ID });
    });
  }

  /** Presses chords on the node's keyboard (QMP send-key), one after the other: [['shift', 'a'], ['tab']]. */
  async sendKeys(chords: readonly (readonly string[])[], gapMs = 60): Promise<void> {
    await withQmp(join(this.config.runDir, 'qmp.sock'), async (q) => {
      for (const chord of chords) {
        await q.execute('send-key', { keys: chord.map((k) => ({ type: 'qcode', data: k })), 'hold-time': 40 });
        await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  }

  /** Power off: SIGTERM to QEMU (the node keeps nothing but its data disk, whose ext4 journal covers this). */
  async stop(): Promise<void> {
    this.console?.destroy();
    const p = this.proc;
    if (p && this.running()) {
      await new Promise<void>((res) => {
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        p.once('exit', () => {
          clearTimeout(t);
          res();
        });
        p.kill('SIGTERM');
      });
    }
    for (const f of ['serial.sock', 'shell.sock', 'qmp.sock', 'vnc.sock', 'admin-password']) rmSync(join(this.config.runDir, f), { force: true });
  }
}

/**
 * How long a try to reach a booting node may wait for the TLS handshake, in
 * ms. QEMU's user network accepts the forwarded connection at once and
 * then knocks at the node with TCP's backoff (1, 2, 4, 8 s …): a try made
 * before the node's NIC was up would wait for the next knock, seconds after
 * lighttpd listens. A node that listens shakes hands in milliseconds.
 */
const HANDSHAKE_TIMEOUT_MS = 3_000;

/** POST to a node that serves HTTPS with its own self-signed certificate (only whether it answers matters here); its status. */
function postStatus(url: string, body: string): Promise<number> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', rejectUnauthorized: false, timeout: 30_000, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode ?? 0));
    });
    req.on('socket', (sock) => {
      const t = setTimeout(() => req.destroy(new Error('no TLS handshake')), HANDSHAKE_TIMEOUT_MS);
      sock.once('secureConnect', () => clearTimeout(t));
      sock.once('close', () => clearTimeout(t));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end(body);
  });
}

/** A sparse raw file of `sizeGiB` (only what the node writes takes space). */
export function ensureSparseDisk(path: string, sizeGiB: number): void {
  if (existsSync(path)) return;
  writeFileSync(path, '');
  // truncate extends without writing: the file stays sparse.
  truncateSync(path, sizeGiB * 1024 * 1024 * 1024);
}
