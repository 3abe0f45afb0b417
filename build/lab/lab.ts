/**
 * `npm run lab`: N ramvm nodes (default 2) as QEMU guests of this machine,
 * on a LAN of their own (the hub in this process), each with a sparse data
 * disk under var/lab/, each node's web UI forwarded to a port of 127.0.0.1.
 * Prints the URLs and the admin password; Ctrl-C stops every node and the hub.
 * One lab per machine: a second one refuses, naming the first (lock.ts).
 * The accelerator is what a node's "auto" picks (KVM only where the probe
 * shows it runs a kernel); RAMVM_LAB_ACCEL=kvm|tcg overrides.
 *
 *   npm run lab                       2 nodes, kernel + initrd, data disks kept between runs
 *   npm run lab -- --nodes 3 --fresh  3 nodes on new, empty data disks
 *   npm run lab -- --iso              boot the ISO through GRUB (menu defaults, DHCP on vmbr0)
 *   npm run lab -- --pxe              boot over the network: iPXE, QEMU's TFTP server, kernel + initrd + the lab's parameters
 *   npm run lab -- --cluster          2 prepared nodes (cluster.ts) on new disks: they form cluster "lab" themselves
 *
 * Options: --nodes N (1-3), --memory MiB (per node, default 2048), --cpus N
 * (default 1), --port P (first web port, default 18001), --disk GiB (default
 * 32), --fresh, --iso, --pxe, --cluster, --no-build, --no-shell.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommand, ROOT } from '../build';
import { buildImage, OUT, type ImageBuild } from '../image/image';
import { LAB_CLUSTER, preparedLabInitrds } from './cluster';
import { startHub } from './hub';
import { acquireLabLock } from './lock';
import { LAB_NET_PREFIX, NodeVm, PXE_SCRIPT, ensureSparseDisk, labAccel, labCmdline, pxeScript, type NodeVmConfig } from './node-vm';

export const LAB_DIR = join(ROOT, 'var/lab');

export interface LabOptions {
  nodes: number;
  memoryMiB: number;
  cpus: number;
  port: number;
  diskGiB: number;
  fresh: boolean;
  iso: boolean;
  pxe: boolean;
  build: boolean;
  shell: boolean;
  /** Prepared nodes that form cluster "lab" by themselves (always on fresh disks). */
  cluster: boolean;
}

export const LAB_DEFAULTS: LabOptions = { nodes: 2, memoryMiB: 2048, cpus: 1, port: 18001, diskGiB: 32, fresh: false, iso: false, pxe: false, build: true, shell: true, cluster: false };

/** Most nodes the lab starts: each TCG node keeps about one host core busy while it boots. */
export const MAX_LAB_NODES = 3;

/** `--nodes 3 --fresh` → options; throws with the offending argument. */
export function parseLabArgs(args: readonly string[]): LabOptions {
  const o: LabOptions = { ...LAB_DEFAULTS };
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !/^[0-9]+$/.test(v) || n < min || n > max) throw new Error(`${flag} needs a whole number ${min}-${max}, not ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    switch (a) {
      case '--nodes': o.nodes = num(a, args[++i], 1, MAX_LAB_NODES); break;
      case '--memory': o.memoryMiB = num(a, args[++i], 512, 16384); break;
      case '--cpus': o.cpus = num(a, args[++i], 1, 4); break;
      case '--port': o.port = num(a, args[++i], 1024, 65535 - MAX_LAB_NODES); break;
      case '--disk': o.diskGiB = num(a, args[++i], 1, 4096); break;
      case '--fresh': o.fresh = true; break;
      case '--iso': o.iso = true; break;
      case '--pxe': o.pxe = true; break;
      case '--no-build': o.build = false; break;
      case '--no-shell': o.shell = false; break;
      case '--cluster': o.cluster = true; break;
      default: throw new Error(`unknown option ${a} (see build/lab/lab.ts)`);
    }
  }
  if (o.iso && o.pxe) throw new Error('--iso and --pxe are two ways to boot: pick one');
  if (o.cluster && (o.iso || o.pxe)) throw new Error('--cluster boots kernel + initrd; leave out --iso and --pxe (npm run image -- --cluster … writes the ISOs)');
  if (o.cluster && o.nodes < 2) throw new Error('--cluster needs at least 2 nodes');
  // A prepared image brings new certificates: a disk of an earlier cluster would keep the old one.
  if (o.cluster) o.fresh = true;
  return o;
}

/**
 * A node's TFTP folder for a network boot: the kernel, the initrd and the
 * iPXE script with the parameters a -kernel boot of this node gets.
 */
export function writeTftpDir(dir: string, kernel: string, initrd: string, c: Parameters<typeof labCmdline>[0]): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(kernel, join(dir, 'vmlinuz'));
  copyFileSync(initrd, join(dir, 'initrd.img'));
  writeFileSync(join(dir, PXE_SCRIPT), pxeScript('vmlinuz', 'initrd.img', labCmdline(c)));
  return dir;
}

/** The lab's admin password: kept beside the data disks, since the nodes keep theirs on them. */
function labPassword(fresh: boolean): string {
  const file = join(LAB_DIR, 'admin-password');
  if (!fresh && existsSync(file)) return readFileSync(file, 'utf8').trim();
  const pw = randomBytes(9).toString('base64url');
  writeFileSync(file, pw + '\n', { mode: 0o600 });
  return pw;
}

export async function labCommand(args: string[]): Promise<void> {
  const o = parseLabArgs(args);
  // Held until this process ends, however it ends.
  await acquireLabLock({ what: 'npm run lab', wait: false });
  let image: ImageBuild | undefined;
  if (o.build || o.cluster) {
    if (o.build) await buildCommand();
    image = await buildImage({ iso: o.iso });
  }
  const kernel = join(OUT, 'vmlinux');
  const initrd = join(OUT, 'initrd.img');
  const iso = join(OUT, 'ramvm.iso');
  const vmlinuz = join(OUT, 'vmlinuz');
  for (const f of o.iso ? [iso] : o.pxe ? [vmlinuz, initrd] : [kernel, initrd]) if (!existsSync(f)) throw new Error(`${f} is missing: run npm run image`);

  mkdirSync(LAB_DIR, { recursive: true });
  if (o.fresh) for (let i = 1; i <= MAX_LAB_NODES; i++) rmSync(join(LAB_DIR, `node${i}`), { recursive: true, force: true });
  const password = labPassword(o.fresh);
  const initrds = o.cluster ? preparedLabInitrds(image!, LAB_DIR, o.nodes) : [];
  const { accel, reason } = await labAccel();
  process.stdout.write(`lab: accelerator ${accel} (${reason})\n`);
  const hub = await startHub();
  const vms: NodeVm[] = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nlab: stopping the nodes\n');
    await Promise.all(vms.map((v) => v.stop()));
    await hub.close();
    process.stdout.write('lab: stopped\n');
  };
  process.once('SIGINT', () => void stopAll());
  process.once('SIGTERM', () => void stopAll());

  try {
    for (let i = 1; i <= o.nodes; i++) {
      const dir = join(LAB_DIR, `node${i}`);
      mkdirSync(dir, { recursive: true });
      const disk = join(dir, 'data.img');
      ensureSparseDisk(disk, o.diskGiB);
      const config: NodeVmConfig = {
        name: `node${i}`, index: i,
        boot: o.iso ? { iso } : { kernel, initrd: initrds[i - 1] ?? initrd }, prepared: o.cluster,
        dataDisk: disk, memoryMiB: o.memoryMiB, cpus: o.cpus, accel,
        hubPort: hub.port, webPort: o.port + i - 1, adminPassword: password, shell: o.shell, runDir: dir,
      };
      if (o.pxe) config.boot = { pxe: { tftpDir: writeTftpDir(join(dir, 'tftp'), vmlinuz, initrd, config) } };
      const vm = new NodeVm(config);
      vm.start();
      vms.push(vm);
      process.stdout.write(`lab: node${i} starting (${accel}, ${o.memoryMiB} MiB, serial log ${join(dir, 'serial.log')})\n`);
    }
    if (o.iso) process.stdout.write('lab: booting the ISO: nodes take their names from their MACs and ask DHCP on vmbr0, which the lab LAN does not answer\n');
    const times = await Promise.all(vms.map((v) => v.waitServing(password, 300_000)));
    process.stdout.write('\n');
    vms.forEach((v, i) => {
      process.stdout.write(`  ${v.config.name}: ${v.url}/  (LAN ${o.iso ? 'DHCP' : LAB_NET_PREFIX + (i + 1)}, serving ${(times[i]! / 1000).toFixed(1)} s after power-on)\n`);
    });
    if (o.cluster) process.stdout.write(`\n  cluster ${LAB_CLUSTER}: forming (master node1); /ram.log of each node shows it, 100 % once formed\n`);
    process.stdout.write(`\n  user admin, password ${password}\n  Ctrl-C stops the lab; data disks stay in ${LAB_DIR} (--fresh starts over)\n`);
  } catch (e) {
    await stopAll();
    throw e;
  }
  await new Promise<void>((res) => {
    const t = setInterval(() => {
      if (stopping || vms.every((v) => !v.running())) {
        clearInterval(t);
        res();
      }
    }, 500);
  });
  await stopAll();
}
