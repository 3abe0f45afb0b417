/**
 * `npm run image`: a node image from Debian packages and the build output.
 *
 *   out/vmlinuz      Debian's kernel (linux-image-amd64, fetched with apt-get download)
 *   out/initrd.img   early.cpio.zst ++ cpio of the squashfs parts (see layout.ts)
 *   out/ramvm.iso    hybrid ISO (BIOS and UEFI, CD or USB stick) made by grub-mkrescue
 *
 * Downloads, the unpacked kernel and every built part are cached under
 * .cache/image/ (gitignored): a part is rebuilt only when its staged files
 * changed, so after the first build only ramvm's own part is compressed
 * again. The squashfs parts, named by the hash of their staged files and
 * options, are kept for the machine (SFS_CACHE), so a fresh checkout on
 * the same machine compresses only what differs from a part built there
 * before (the kiosk's engine and Mesa take about a minute). Prints each
 * part's size and fails when the ISO is over the limit.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync,
  renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, appendFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { build } from 'esbuild';
import { buildCommand, DIST, ROOT } from '../build';
import { lighttpdConfig } from '../server';
import { writeCpio, type CpioSource } from './cpio';
import { HOST_FILES, NODE_CLUSTER_PORT, NODE_HTTP_PORT, NODE_LIGHTTPD_ERRORLOG, NODE_ROOT_HELPER, NODE_PORT, QEMU_FIRMWARE, USR_MERGE_LINKS, parseLdd, usrMerged, type HostFile } from './files';
import { CGI_USER, sudoersFile, sudoersText } from '../../node-cgi/root/setup';
import {
  GRUB_ENTRIES, NODE_NAME_PLACEHOLDER, PARTS, STANDARD_BUDGET, grubConfig, grubMkrescueArgs, partSquashfsOpts, imageSizeReport, kernelPackage, nodeLighttpdConfig, partOf, preparedGrubEntries,
  type GrubEntry, type ImageSizeRow, type IsoBudget, type PartName,
} from './layout';
import { EARLY_MODULES, imageModules, loadOrder, parseModulesDep } from './modules';
import { parseImageArgs, preparedIsoName, preparedNode, type ClusterImageArgs } from './prepared';
import { certFiles, ensureNodeCertificate, fingerprintOf } from '../../node-cgi/cluster/identity';
import { GRUB_CORE_MODULES, GRUB_CORE_PREFIX, NODE_BOOT_IMG, NODE_CORE_IMG, NODE_RELEASE, RELEASE_FILE, releaseName } from './sysdisk';

export const CACHE = join(ROOT, '.cache/image');
/**
 * Squashfs parts by content: `<part>-<hash of staged files and options>.sfs`,
 * shared by every checkout on the machine; RAMVM_SFS_CACHE moves it.
 */
export const SFS_CACHE = process.env.RAMVM_SFS_CACHE ?? join(homedir(), '.cache/ramvm/sfs');
/** Builds of a part kept, the most recently used: other checkouts (branches) may want theirs. */
export const SFS_KEPT_PER_PART = 3;
export const OUT = join(ROOT, 'out');

export interface ImageFiles {
  kernel: string;
  /** The same kernel uncompressed (ELF with a PVH entry): QEMU boots it seconds faster under TCG; lab and tests only. */
  vmlinux: string;
  initrd: string;
  iso?: string;
}


export function sh(argv: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new Error(`${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited with ${r.status}: ${String(r.stderr ?? '').trim().slice(-800)}`);
  return String(r.stdout ?? '');
}

export function step(what: string): () => void {
  const t0 = Date.now();
  process.stdout.write(`image: ${what} …\n`);
  return () => process.stdout.write(`image: ${what} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

/** The image's packages (build/packages.json) and the files it copies from this machine, all present? */
async function checkTools(): Promise<void> {
  const { missingPackages, readPackages } = await import('../packages.mjs');
  const missing = [
    ...missingPackages(readPackages(ROOT), 'image'),
    ...[...HOST_FILES, ...QEMU_FIRMWARE].filter((f) => !existsSync(f.path)).map((f) => `${f.pkg} (${f.path})`),
  ];
  if (missing.length > 0) throw new Error(`missing on this machine: ${[...new Set(missing)].join(', ')}; npm run image installs them as root`);
}

/** The kernel package unpacked, with modules.dep made by depmod; cached by package name. */
export function kernel(): { dir: string; version: string } {
  const debs = join(CACHE, 'debs');
  mkdirSync(debs, { recursive: true });
  let pkg: string;
  try {
    pkg = kernelPackage(sh(['apt-cache', 'depends', 'linux-image-amd64']));
  } catch (e) {
    const cached = readdirSync(debs).filter((f) => /^linux-image-.*-amd64_.*\.deb$/.test(f)).sort().pop();
    if (!cached) throw new Error(`cannot find the kernel package (run apt-get update): ${(e as Error).message}`);
    pkg = cached.split('_')[0]!;
  }
  const dir = join(CACHE, 'kernel', pkg);
  if (!existsSync(join(dir, '.done'))) {
    let deb = readdirSync(debs).find((f) => f.startsWith(pkg + '_') && f.endsWith('.deb'));
    if (!deb) {
      const done = step(`apt-get download ${pkg}`);
      sh(['apt-get', 'download', '-q', pkg], { cwd: debs });
      deb = readdirSync(debs).find((f) => f.startsWith(pkg + '_') && f.endsWith('.deb'));
      if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${debs}`);
      done();
    }
    const done = step(`unpacking ${deb}`);
    // A newer kernel replaces the cached one.
    rmSync(join(CACHE, 'kernel'), { recursive: true, force: true });
    for (const old of readdirSync(debs).filter((f) => f !== deb)) rmSync(join(debs, old));
    mkdirSync(dir, { recursive: true });
    sh(['dpkg-deb', '-x', join(debs, deb), dir]);
    const version = readdirSync(join(dir, 'lib/modules'))[0]!;
    sh(['depmod', '-b', dir, version]);
    writeFileSync(join(dir, '.done'), deb + '\n');
    done();
  }
  const version = readdirSync(join(dir, 'lib/modules'))[0]!;
  return { dir, version };
}

/**
 * vmlinux out of Debian's bzImage, which carries it as one xz stream after
 * the decompressor (CONFIG_KERNEL_XZ): the stream starts at the xz magic
 * FD 37 7A 58 5A 00, and xz stops at its end. Under TCG the decompressor
 * alone takes seconds of every boot; QEMU boots the ELF through its PVH entry.
 */
export function xzStreamOffset(bzImage: Buffer): number {
  const at = bzImage.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (at < 0) throw new Error('no xz stream in the kernel image (is it still CONFIG_KERNEL_XZ?)');
  return at;
}

function uncompressedKernel(k: { dir: string; version: string }): string {
  const out = join(k.dir, 'vmlinux');
  if (existsSync(out)) return out;
  const bz = readFileSync(join(k.dir, 'boot', `vmlinuz-${k.version}`));
  const r = spawnSync('xz', ['-dc', '--single-stream'], { input: bz.subarray(xzStreamOffset(bz)), maxBuffer: 512 * 1024 * 1024 });
  if (r.status !== 0 || r.stdout.subarray(0, 4).toString('latin1') !== '\x7fELF') throw new Error(`cannot unpack vmlinux: ${r.stderr}`);
  writeFileSync(out + '.tmp', r.stdout);
  renameSync(out + '.tmp', out);
  return out;
}

/** Staging: one directory per part; `put` sends each root path to its part. */
export class Stage {
  readonly dirs: Record<PartName, string>;
  constructor(readonly base: string) {
    rmSync(base, { recursive: true, force: true });
    this.dirs = Object.fromEntries(PARTS.map((p) => [p, join(base, p)])) as Record<PartName, string>;
    for (const d of Object.values(this.dirs)) mkdirSync(d, { recursive: true });
  }
  path(rootPath: string): string {
    return join(this.dirs[partOf(rootPath)], rootPath);
  }
  exists(rootPath: string): boolean {
    return PARTS.some((p) => {
      try {
        lstatSync(join(this.dirs[p], rootPath));
        return true;
      } catch {
        return false;
      }
    });
  }
  copy(src: string, rootPath: string, mode?: number): void {
    const dest = this.path(rootPath);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(src, dest);
    chmodSync(dest, mode ?? (statSync(src).mode & 0o7777));
  }
  write(rootPath: string, data: string | Buffer, mode = 0o644): void {
    const dest = this.path(rootPath);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, data);
    chmodSync(dest, mode);
  }
  link(rootPath: string, target: string): void {
    const dest = this.path(rootPath);
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync(target, dest);
  }
  dir(rootPath: string, mode = 0o755): void {
    const dest = this.path(rootPath);
    mkdirSync(dest, { recursive: true });
    chmodSync(dest, mode);
  }
}

/** Files of build/image/rootfs whose mode is not their checkout's: secrets and sudo's configs (sudo refuses others). */
const ROOTFS_MODES: Readonly<Record<string, number>> = { '/etc/shadow': 0o600, '/etc/sudoers': 0o440 };

function stageSkeleton(s: Stage): void {
  for (const d of ['/usr/bin', '/usr/sbin', '/usr/lib', '/usr/lib64', '/etc', '/proc', '/sys', '/dev', '/run', '/mnt', '/media', '/root',
    '/var/lib', '/var/log', '/var/spool/cron/crontabs', '/var/lib/drbd', '/var/lib/vz', '/etc/ramvm', '/var/log/ramvm']) s.dir(d);
  s.dir('/root', 0o700);
  s.dir('/tmp', 0o1777);
  for (const [top, target] of Object.entries(USR_MERGE_LINKS)) s.link(top, target);
  s.link('/var/run', '/run');
  s.link('/var/lock', '/run/lock');
  s.link('/var/tmp', '/tmp');
  s.link('/etc/mtab', '/proc/self/mounts');
  // The node's own files (init scripts, /etc) from build/image/rootfs.
  const src = join(__dirname, 'rootfs');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      const rootPath = '/' + relative(src, full);
      if (e.isDirectory()) walk(full);
      else s.copy(full, rootPath, ROOTFS_MODES[rootPath]);
    }
  };
  walk(src);
}

function stageHostFiles(s: Stage): void {
  const libs = new Set<string>();
  const copyOne = (f: HostFile) => {
    const dest = usrMerged(f.path);
    if (f.strip) {
      const out = s.path(dest);
      mkdirSync(dirname(out), { recursive: true });
      sh(['strip', '--strip-all', '-o', out, f.path]);
      chmodSync(out, 0o755);
    } else {
      s.copy(f.path, dest);
    }
    if (f.elf) for (const l of parseLdd(sh(['ldd', f.path]))) libs.add(l);
  };
  HOST_FILES.forEach(copyOne);
  QEMU_FIRMWARE.forEach(copyOne);
  for (const l of libs) {
    const dest = usrMerged(l);
    if (!s.exists(dest)) s.copy(l, dest);
  }
  // Busybox fills in every program not copied above; a copied one (iproute2's
  // ip in /usr/bin) must not be shadowed by an applet earlier in PATH (/usr/sbin/ip).
  s.copy('/usr/bin/busybox', '/usr/bin/busybox', 0o755);
  const programs = new Set([...HOST_FILES].map((f) => basename(f.path)));
  for (const applet of sh(['/usr/bin/busybox', '--list-full']).split('\n').filter(Boolean)) {
    const dest = usrMerged('/' + applet);
    if (!programs.has(basename(dest)) && !s.exists(dest)) s.link(dest, '/usr/bin/busybox');
  }
}

function stageModules(s: Stage, k: { dir: string; version: string }): void {
  const base = join(k.dir, 'lib/modules', k.version);
  const index = parseModulesDep(readFileSync(join(base, 'modules.dep'), 'utf8'));
  const { paths, missing } = imageModules(index);
  if (missing.length > 0) throw new Error(`kernel ${k.version} has no modules ${missing.join(', ')}`);
  const dest = `/usr/lib/modules/${k.version}`;
  for (const p of paths) s.copy(join(base, p), `${dest}/${p}`, 0o644);
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) {
    if (existsSync(join(base, f))) s.copy(join(base, f), `${dest}/${f}`, 0o644);
  }
  // depmod -b looks in BASE/lib/modules; /lib is usr/lib, a link that lives in part base.
  const lib = join(s.dirs.modules, 'lib');
  symlinkSync('usr/lib', lib);
  try {
    sh(['depmod', '-b', s.dirs.modules, k.version]);
  } finally {
    rmSync(lib);
  }
}

/**
 * The node's lighttpd config template: the UI over HTTPS with the node's
 * certificate (made by `ramvm init` on the first boot of a data disk and
 * kept there), the cluster socket of its own, and plain HTTP on port 80
 * only redirecting to the UI. lighttpd binds its ports as root, then becomes
 * the node's user (server.username) and logs where that user may write.
 */
export function nodeLighttpdTemplate(): string {
  const hostConf = lighttpdConfig({
    root: '/', listen: '0.0.0.0', port: NODE_PORT, https: true, clusterPort: NODE_CLUSTER_PORT, httpRedirectPort: NODE_HTTP_PORT,
    node: NODE_NAME_PLACEHOLDER, runAs: CGI_USER, errorlog: NODE_LIGHTTPD_ERRORLOG,
  });
  return nodeLighttpdConfig(hostConf, { dist: DIST, nodeExec: process.execPath, path: process.env.PATH ?? '' });
}

async function stageRamvm(s: Stage): Promise<void> {
  for (const d of ['www', 'cgi', 'bin']) {
    const src = join(DIST, d);
    if (!existsSync(src)) throw new Error(`${src} is missing: run npm run build first`);
    cpSync(src, s.path(`/opt/ramvm/dist/${d}`), { recursive: true });
  }
  const setup = s.path('/opt/ramvm/lib/node-setup.js');
  await build({
    entryPoints: [join(__dirname, 'node-setup.ts')], outfile: setup, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    minify: true, legalComments: 'none', logLevel: 'warning',
  });
  s.write('/opt/ramvm/lighttpd.conf.in', nodeLighttpdTemplate());
  // The node's user may run the root helper, nothing else (node-cgi/root/setup.ts).
  s.write(sudoersFile(NODE_ROOT_HELPER.helper), sudoersText({ ...NODE_ROOT_HELPER, cgi: { user: CGI_USER } }), 0o440);
}

/** A content hash of a staged tree: paths, modes, link targets and bytes. */
export function treeHash(dir: string, opts: readonly string[]): string {
  const h = createHash('sha256');
  h.update(opts.join(' '));
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const st = lstatSync(full);
      h.update(`${relative(dir, full)}\0${st.mode}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(full));
      else if (st.isDirectory()) walk(full);
      else h.update(readFileSync(full));
    }
  };
  walk(dir);
  return h.digest('hex').slice(0, 16);
}

/** A part's squashfs, built or taken from the cache; and its unpacked size. */
export function squash(name: string, dir: string, opts: readonly string[], hash = treeHash(dir, opts)): { file: string; raw: number; cached: boolean } {
  mkdirSync(SFS_CACHE, { recursive: true });
  const file = join(SFS_CACHE, `${name}-${hash}.sfs`);
  const raw = Number(sh(['du', '-sb', dir]).split('\t')[0]);
  if (existsSync(file)) {
    // Used now: the newest to keep.
    const now = new Date();
    utimesSync(file, now, now);
    return { file, raw, cached: true };
  }
  const done = step(`mksquashfs ${name}`);
  // Another checkout may build the same part at the same time: each writes its own temporary file.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    sh(['mksquashfs', dir, tmp, ...opts]);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  const builds = readdirSync(SFS_CACHE).filter((f) => sfsPart(f) === name).map((f) => ({ f, at: statSync(join(SFS_CACHE, f)).mtimeMs }));
  for (const old of sfsToPrune(builds, SFS_KEPT_PER_PART)) rmSync(join(SFS_CACHE, old), { force: true });
  done();
  return { file, raw, cached: false };
}

/** The part a cached squashfs is of ("mesa" of "mesa-0123456789abcdef.sfs"); null for any other file. */
export function sfsPart(file: string): string | null {
  return /^(.+)-[0-9a-f]{16}\.sfs$/.exec(file)?.[1] ?? null;
}

/** Of one part's builds, those beyond the `keep` most recently used, oldest first. */
export function sfsToPrune(builds: readonly { f: string; at: number }[], keep: number): string[] {
  return [...builds].sort((a, b) => b.at - a.at).slice(keep).reverse().map((b) => b.f);
}

/** The early cpio (zstd): busybox, /init, the modules that mount the root. */
function earlyArchive(k: { dir: string; version: string }, out: string): number {
  const base = join(k.dir, 'lib/modules', k.version);
  const { paths, missing } = loadOrder(parseModulesDep(readFileSync(join(base, 'modules.dep'), 'utf8')), EARLY_MODULES);
  if (missing.length > 0) throw new Error(`kernel ${k.version} has no modules ${missing.join(', ')}`);
  const members: CpioSource[] = [
    // The kernel opens /dev/console for PID 1 before /init can mount devtmpfs.
    { name: 'dev', kind: 'dir' },
    { name: 'dev/console', kind: 'chardev', major: 5, minor: 1 },
    { name: 'bin', kind: 'dir' },
    { name: 'bin/busybox', kind: 'file', path: '/usr/bin/busybox', mode: 0o755 },
    { name: 'init', kind: 'file', path: join(__dirname, 'initramfs/init'), mode: 0o755 },
    { name: 'etc', kind: 'dir' },
    { name: 'etc/early-modules', kind: 'data', data: Buffer.from(paths.map((p) => basename(p)).join('\n') + '\n') },
    { name: 'etc/parts', kind: 'data', data: Buffer.from(PARTS.join('\n') + '\n') },
    { name: 'lib', kind: 'dir' },
    { name: 'lib/modules', kind: 'dir' },
    ...paths.map((p): CpioSource => ({ name: `lib/modules/${basename(p)}`, kind: 'file', path: join(base, p) })),
  ];
  const raw = writeCpio(out + '.cpio', members);
  sh(['zstd', '-q', '-f', '-19', '--rm', out + '.cpio', '-o', out]);
  return raw;
}

export interface ImageBuild extends ImageFiles {
  rows: ImageSizeRow[];
  report: string;
  /** The kiosk variant (`--kiosk`): the same kernel, its own initrd and ISO. */
  kiosk?: { initrd: string; iso?: string; rows: ImageSizeRow[]; report: string };
  /** The release name (package version and content hash), in /opt/ramvm/release and the ISO's /boot/ramvm-release. */
  release: string;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * GRUB's BIOS boot code for the system on a node's disks (sysdisk.ts):
 * boot.img as Debian ships it and a core.img that carries the modules the
 * disk's grub.cfg needs and looks for it on the first partition of the disk
 * it was booted from. Returns the bytes added.
 */
function stageSysdisk(s: Stage): number {
  const core = join(CACHE, 'core.img');
  sh(['grub-mkimage', '-O', 'i386-pc', '-o', core, '-p', GRUB_CORE_PREFIX, ...GRUB_CORE_MODULES]);
  s.copy(core, NODE_CORE_IMG, 0o644);
  s.copy('/usr/lib/grub/i386-pc/boot.img', NODE_BOOT_IMG, 0o644);
  return statSync(core).size + 512;
}

export async function buildImage(opts: { iso?: boolean; kiosk?: boolean } = {}): Promise<ImageBuild> {
  const t0 = Date.now();
  await checkTools();
  const k = kernel();
  let done = step('staging the root');
  const s = new Stage(join(CACHE, 'stage'));
  stageSkeleton(s);
  stageHostFiles(s);
  stageModules(s, k);
  await stageRamvm(s);
  const sysdiskBytes = stageSysdisk(s);
  // The release names what is in the image: the parts (ramvm's before this file), the kernel.
  const hashes = Object.fromEntries(PARTS.map((p) => [p, treeHash(s.dirs[p], partSquashfsOpts(p))])) as Record<PartName, string>;
  const release = releaseName(packageVersion(), [k.version, ...PARTS.map((p) => hashes[p])]);
  s.write(NODE_RELEASE, release + '\n');
  hashes.ramvm = treeHash(s.dirs.ramvm, partSquashfsOpts('ramvm'));
  done();

  const rows: ImageSizeRow[] = [];
  mkdirSync(OUT, { recursive: true });
  const kernelOut = join(OUT, 'vmlinuz');
  copyFileSync(join(k.dir, 'boot', `vmlinuz-${k.version}`), kernelOut);
  rows.push({ name: `kernel ${k.version}`, bytes: statSync(kernelOut).size });
  const vmlinux = join(OUT, 'vmlinux');
  copyFileSync(uncompressedKernel(k), vmlinux);

  const early = join(CACHE, 'early.cpio.zst');
  const earlyRaw = earlyArchive(k, early);
  rows.push({ name: 'initrd: early (busybox, /init, 3 modules)', bytes: statSync(early).size, rawBytes: earlyRaw });

  const sfs = PARTS.map((p) => ({ name: p, ...squash(p, s.dirs[p], partSquashfsOpts(p), hashes[p]) }));
  for (const p of sfs) rows.push({ name: `initrd: ${p.name}.sfs`, bytes: statSync(p.file).size, rawBytes: p.raw, ...(p.cached ? { note: 'cached' } : {}) });

  done = step('writing initrd.img');
  const partsCpio = join(CACHE, 'parts.cpio');
  writeCpio(partsCpio, [{ name: 'parts', kind: 'dir' }, ...sfs.map((p): CpioSource => ({ name: `parts/${p.name}.sfs`, kind: 'file', path: p.file }))]);
  const initrd = join(OUT, 'initrd.img');
  const earlyBytes = readFileSync(early);
  writeFileSync(initrd + '.tmp', Buffer.concat([earlyBytes, Buffer.alloc((4 - (earlyBytes.length % 4)) % 4)]));
  appendFileSync(initrd + '.tmp', readFileSync(partsCpio));
  renameSync(initrd + '.tmp', initrd);
  rmSync(partsCpio);
  rows.push({ name: 'initrd.img (all of the above but the kernel)', bytes: statSync(initrd).size });
  done();

  rows.push({ name: 'system on disks (GRUB boot.img + core.img, in ramvm.sfs)', bytes: sysdiskBytes });
  const result: ImageBuild = { kernel: kernelOut, vmlinux, initrd, rows, report: '', release };
  let isoBytes = statSync(kernelOut).size + statSync(initrd).size;
  if (opts.iso !== false) {
    done = step('grub-mkrescue');
    const iso = makeIso(kernelOut, initrd, join(OUT, 'ramvm.iso'), GRUB_ENTRIES, release);
    isoBytes = statSync(iso).size;
    rows.push({ name: 'boot loader (GRUB, BIOS + UEFI) and ISO 9660', bytes: isoBytes - statSync(kernelOut).size - statSync(initrd).size });
    result.iso = iso;
    done();
  }
  const report = reportSizes('standard', rows, isoBytes, !!result.iso, STANDARD_BUDGET);
  result.report = report.text;
  process.stdout.write(`image: built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${[result.kernel, result.initrd, result.iso].filter(Boolean).map((f) => relative(ROOT, f!)).join(', ')}\n`);
  if (report.over) throw new Error(`the ISO is ${(isoBytes / 1e6).toFixed(1)} MB, over the limit`);
  if (opts.kiosk) {
    // Loaded here: kiosk-build.ts uses this module's helpers.
    const { buildKiosk } = require('./kiosk-build') as typeof import('./kiosk-build');
    result.kiosk = await buildKiosk({ stage: s, kernel: k, standard: result, iso: opts.iso !== false });
  }
  return result;
}

/** A hybrid ISO (BIOS and UEFI, CD or USB stick) of a kernel and an initrd, with this GRUB menu. */
export function makeIso(kernelFile: string, initrd: string, iso: string, entries: readonly GrubEntry[], release?: string): string {
  const isoDir = join(CACHE, 'iso');
  rmSync(isoDir, { recursive: true, force: true });
  mkdirSync(join(isoDir, 'boot/grub'), { recursive: true });
  copyFileSync(kernelFile, join(isoDir, 'boot/vmlinuz'));
  copyFileSync(initrd, join(isoDir, 'boot/initrd.img'));
  writeFileSync(join(isoDir, 'boot/grub/grub.cfg'), grubConfig('/boot/vmlinuz', '/boot/initrd.img', entries));
  // A node that puts the system on its disks copies kernel and initrd from a medium of its own release.
  if (release !== undefined) writeFileSync(join(isoDir, 'boot', RELEASE_FILE), release + '\n');
  sh(grubMkrescueArgs(isoDir, iso + '.tmp'));
  renameSync(iso + '.tmp', iso);
  rmSync(isoDir, { recursive: true, force: true });
  return iso;
}

/** Prints the size report against the last build of the same variant, and keeps this build's sizes for the next. */
export function reportSizes(variant: string, rows: ImageSizeRow[], isoBytes: number, isoBuilt: boolean, budget: IsoBudget): ReturnType<typeof imageSizeReport> {
  const file = join(CACHE, `last-sizes-${variant}.json`);
  let last: Record<string, number> = {};
  try {
    last = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
  } catch {
    /* first build */
  }
  const report = imageSizeReport(rows, isoBytes, isoBuilt, budget, last);
  process.stdout.write(report.text + '\n');
  const now: Record<string, number> = Object.fromEntries(rows.map((r) => [r.name, r.bytes]));
  now[isoBuilt ? 'ISO' : 'kernel + initrd (no ISO built)'] = isoBytes;
  writeFileSync(file, JSON.stringify(now, null, 1) + '\n');
  return report;
}

/** A prepared node's files: its ISO (absent with `iso: false`) and its cpio, the second initrd. */
export interface PreparedFiles {
  name: string;
  address: string;
  cpio: string;
  iso?: string;
}

/** A fresh random cluster secret, in bytes. */
export const CLUSTER_SECRET_BYTES = 32;

/**
 * The prepared images of cluster `c` from a built image (see prepared.ts):
 * each node's certificate made here, a shared secret, one cpio per node and,
 * from `base.iso`'s boot files, one ISO per node whose GRUB loads both
 * initrds. Everything is written 0600 into `outDir`: the files are the
 * cluster's credentials.
 */
export function buildPreparedImages(c: ClusterImageArgs, base: ImageBuild, outDir: string, opts: { iso: boolean }): PreparedFiles[] {
  // A folder of this call's own: keys pass through it.
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, 'prepared-'));
  mkdirSync(outDir, { recursive: true });
  try {
    const pems = new Map<number, string>();
    const fingerprints = new Map<number, string>();
    for (const n of c.nodes) {
      const priv = join(work, `node${n.index}`);
      ensureNodeCertificate(n.name, priv);
      const f = certFiles(priv);
      pems.set(n.index, readFileSync(f.pem, 'utf8'));
      fingerprints.set(n.index, fingerprintOf(readFileSync(f.crt, 'utf8')));
    }
    const secret = randomBytes(CLUSTER_SECRET_BYTES);
    const out: PreparedFiles[] = [];
    for (const n of c.nodes) {
      const node = preparedNode(c, n.index, fingerprints);
      const cpio = join(outDir, `${c.cluster}-${n.name}.cpio`);
      writeCpio(cpio, [
        { name: 'prepared', kind: 'dir', mode: 0o700 },
        { name: 'prepared/node.json', kind: 'data', data: Buffer.from(JSON.stringify(node, null, 2) + '\n'), mode: 0o600 },
        { name: 'prepared/secret', kind: 'data', data: Buffer.from(secret.toString('hex') + '\n'), mode: 0o600 },
        { name: 'prepared/node.pem', kind: 'data', data: Buffer.from(pems.get(n.index)!), mode: 0o600 },
      ]);
      chmodSync(cpio, 0o600);
      const files: PreparedFiles = { name: n.name, address: `${n.address}/${n.prefix}`, cpio };
      if (opts.iso) {
        const isoDir = join(work, 'iso');
        rmSync(isoDir, { recursive: true, force: true });
        mkdirSync(join(isoDir, 'boot/grub'), { recursive: true });
        copyFileSync(base.kernel, join(isoDir, 'boot/vmlinuz'));
        copyFileSync(base.initrd, join(isoDir, 'boot/initrd.img'));
        copyFileSync(cpio, join(isoDir, 'boot/prepared.cpio'));
        writeFileSync(join(isoDir, 'boot/grub/grub.cfg'), grubConfig('/boot/vmlinuz', '/boot/initrd.img /boot/prepared.cpio', preparedGrubEntries(node)));
        const iso = join(outDir, preparedIsoName(c.cluster, n.name));
        sh(grubMkrescueArgs(isoDir, iso + '.tmp'));
        chmodSync(iso + '.tmp', 0o600);
        renameSync(iso + '.tmp', iso);
        files.iso = iso;
      }
      out.push(files);
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function imageCommand(args: string[]): Promise<void> {
  const a = parseImageArgs(args);
  await buildCommand();
  const base = await buildImage({ iso: a.iso, kiosk: a.kiosk });
  if (!a.cluster) return;
  const done = step(`prepared images of cluster ${a.cluster.cluster}`);
  const files = buildPreparedImages(a.cluster, base, OUT, { iso: a.iso });
  done();
  for (const f of files) {
    process.stdout.write(`  ${f.name} (${f.address}): ${relative(ROOT, f.iso ?? f.cpio)}\n`);
  }
  process.stdout.write(`  each file holds the cluster's secret and its node's key: keep them like passwords (mode 0600)\n`);
}
