/**
 * `npm run image -- --kiosk`: the kiosk variant beside the standard image
 * (build/image/kiosk.ts says what goes in and why). Takes the standard
 * build's staged root (to leave out every library it already has), stages
 * the three kiosk parts, squashes them with xz (BCJ filter for x86 code:
 * about 11 MB smaller than zstd here, and only this variant pays the slower
 * unpacking), and writes
 *
 *   out/initrd-kiosk.img   out/initrd.img ++ cpio(etc/parts, parts/{kiosk,webkit,mesa}.sfs)
 *   out/ramvm-kiosk.iso    the same kernel, GRUB menu with a "without the kiosk" entry
 *
 * Each part is cached by the hash of its staged files like the standard
 * ones, and the size report compares every part with the last kiosk build.
 */
import { appendFileSync, chmodSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { ROOT } from '../build';
import { writeCpio, type CpioSource } from './cpio';
import { NODE_RAMVM_DIR, parseLdd, usrMerged, type HostFile } from './files';
import { CACHE, OUT, makeIso, reportSizes, sh, squash, step, type ImageBuild, type Stage } from './image';
import {
  KIOSK_DATA, KIOSK_ELF, KIOSK_FILTER, KIOSK_FONTS_CONF, KIOSK_LINKS, KIOSK_MODULES, KIOSK_PARTS, KIOSK_UDEV_RULES,
  KIOSK_WESTON_INI, WESTON_INI, Z3_SONAME, ICU_DATA_LIB_RE, icuDataAssembly, icuDataDrop, icuDataLocation, assignLibraries, contentFilter, kioskAccounts, kioskMdevConf, kioskInittab, runnerScript, undefinedZ3Symbols, z3StubAssembly, type KioskPartName,
} from './kiosk';
import { GRUB_ENTRIES, KIOSK_BUDGET, PARTS, type GrubEntry, type ImageSizeRow } from './layout';
import { imageModules, loadOrder, parseModulesDep, EARLY_MODULES, BOOT_MODULES, KVM_MODULES, HARDWARE_MODULES } from './modules';

/** xz with the x86 BCJ filter, 1 MiB blocks: the kiosk's code compresses ~11 MB better than with zstd. */
export const KIOSK_MKSQUASHFS_OPTS = ['-comp', 'xz', '-Xbcj', 'x86', '-b', '1M', '-noappend', '-all-root', '-no-progress', '-quiet'];

/** The ISO's boot menu: the standard entries, and one without the kiosk. */
export const KIOSK_GRUB_ENTRIES: readonly GrubEntry[] = [
  ...GRUB_ENTRIES,
  { title: 'ramvm without the kiosk (ramvm.kiosk=0)', params: ['ramvm.kiosk=0'] },
];

/** The files the kiosk copies from this machine, all there? (Their packages are the image's, build/packages.json.) */
function checkKioskFiles(): void {
  const missing = [...Object.values(KIOSK_ELF).flat(), ...KIOSK_DATA].filter((f) => !existsSync(f.path)).map((f) => `${f.pkg} (${f.path})`);
  if (missing.length > 0) throw new Error(`the kiosk's files are missing on this machine: ${missing.join(', ')}; npm run image installs their packages as root`);
}

class KioskStage {
  readonly dirs: Record<KioskPartName, string>;
  constructor(readonly base: string) {
    rmSync(base, { recursive: true, force: true });
    this.dirs = Object.fromEntries(KIOSK_PARTS.map((p) => [p, join(base, p)])) as Record<KioskPartName, string>;
    for (const d of Object.values(this.dirs)) mkdirSync(d, { recursive: true });
  }
  path(part: KioskPartName, rootPath: string): string {
    const p = join(this.dirs[part], rootPath);
    mkdirSync(dirname(p), { recursive: true });
    return p;
  }
  copy(part: KioskPartName, src: string, rootPath: string): void {
    cpSync(src, this.path(part, rootPath), { recursive: true, dereference: true });
  }
  write(part: KioskPartName, rootPath: string, data: string | Buffer, mode = 0o644): void {
    const p = this.path(part, rootPath);
    writeFileSync(p, data);
    chmodSync(p, mode);
  }
  link(part: KioskPartName, rootPath: string, target: string): void {
    symlinkSync(target, this.path(part, rootPath));
  }
}

/** The z3 stub (see kiosk.ts) for the libLLVM this machine has, made with binutils' as and ld. */
function z3Stub(llvm: string, out: string): void {
  const syms = undefinedZ3Symbols(sh(['readelf', '-W', '--dyn-syms', llvm]));
  const dir = join(CACHE, 'z3-stub');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'z3.s'), z3StubAssembly(syms));
  sh(['as', '-o', join(dir, 'z3.o'), join(dir, 'z3.s')]);
  sh(['ld', '-shared', '-soname', Z3_SONAME, '-o', out, join(dir, 'z3.o')]);
  sh(['strip', '--strip-unneeded', out]);
}

/**
 * ICU's data library with the data the UI needs only (kiosk.ts icuDataDrop):
 * its package cut out of this machine's library, items removed with icupkg
 * (icu-devtools), then linked again as a library of that one symbol.
 * Returns the bytes before and after.
 */
function trimIcuData(lib: string, out: string): { from: number; to: number } {
  const loc = icuDataLocation(sh(['readelf', '-W', '--dyn-syms', lib]), sh(['readelf', '-W', '-S', lib]));
  const dir = join(CACHE, 'icu-data');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'out'), { recursive: true });
  // icupkg names the package after the file (icudt72l.dat → items icudt72l/…).
  const name = `${loc.symbol.replace(/_dat$/, '')}l.dat`;
  const full = join(dir, name);
  writeFileSync(full, readFileSync(lib).subarray(loc.offset, loc.offset + loc.size));
  const items = sh(['icupkg', '-l', full]).split('\n').map((l) => l.trim()).filter(Boolean);
  const drop = icuDataDrop(items);
  writeFileSync(join(dir, 'drop.txt'), drop.join('\n') + '\n');
  const trimmed = join(dir, 'out', name);
  sh(['icupkg', '-r', join(dir, 'drop.txt'), full, trimmed]);
  writeFileSync(join(dir, 'data.s'), icuDataAssembly(loc.symbol, trimmed));
  sh(['as', '-o', join(dir, 'data.o'), join(dir, 'data.s')]);
  sh(['ld', '-shared', '-soname', basename(lib), '-o', out, join(dir, 'data.o')]);
  sh(['strip', '--strip-unneeded', out]);
  const r = { from: statSync(lib).size, to: statSync(out).size };
  rmSync(dir, { recursive: true, force: true });
  return r;
}

function stageElf(ks: KioskStage, std: Stage): void {
  const needs: Record<KioskPartName, string[]> = { mesa: [], webkit: [], kiosk: [] };
  const copyElf = (part: KioskPartName, f: HostFile) => {
    ks.copy(part, f.path, usrMerged(f.path));
    needs[part].push(...parseLdd(sh(['ldd', f.path])));
  };
  for (const part of KIOSK_PARTS) KIOSK_ELF[part].forEach((f) => copyElf(part, f));
  const libs = assignLibraries(needs, (lib) => std.exists(usrMerged(lib)));
  let llvm: string | undefined;
  for (const [lib, part] of libs) {
    if (lib.endsWith('/' + Z3_SONAME)) continue;
    if (/\/libLLVM-[0-9]+\.so/.test(lib)) llvm = lib;
    if (ICU_DATA_LIB_RE.test(lib)) {
      const r = trimIcuData(lib, ks.path(part, usrMerged(lib)));
      process.stdout.write(`image: ${basename(lib)} trimmed to the UI's languages: ${(r.from / 1e6).toFixed(1)} → ${(r.to / 1e6).toFixed(1)} MB\n`);
      continue;
    }
    ks.copy(part, lib, usrMerged(lib));
  }
  if (!llvm) throw new Error('Mesa\'s driver no longer links libLLVM: check the z3 stub');
  z3Stub(llvm, ks.path('mesa', usrMerged(`${dirname(llvm)}/${Z3_SONAME}`)));
}

/** The KMS and input drivers, and module indexes (modules.dep, .alias) that cover the standard modules and these. */
function stageKioskModules(ks: KioskStage, std: Stage, k: { dir: string; version: string }): void {
  const base = join(k.dir, 'lib/modules', k.version);
  const index = parseModulesDep(readFileSync(join(base, 'modules.dep'), 'utf8'));
  const standard = new Set(imageModules(index).paths);
  const all = loadOrder(index, [...EARLY_MODULES, ...BOOT_MODULES, ...Object.values(KVM_MODULES), ...HARDWARE_MODULES, ...KIOSK_MODULES]);
  if (all.missing.length > 0) throw new Error(`kernel ${k.version} has no modules ${all.missing.join(', ')}`);
  const extra = all.paths.filter((p) => !standard.has(p));
  // depmod over the standard modules plus ours, in a scratch tree; the kiosk part gets our modules and the new indexes.
  const scratch = join(CACHE, 'kiosk-depmod');
  rmSync(scratch, { recursive: true, force: true });
  const modDir = join(scratch, 'lib/modules', k.version);
  cpSync(join(std.dirs.modules, 'usr/lib/modules', k.version), modDir, { recursive: true });
  for (const p of extra) cpSync(join(base, p), join(modDir, p));
  sh(['depmod', '-b', scratch, k.version]);
  const dest = `/usr/lib/modules/${k.version}`;
  for (const p of extra) ks.copy('kiosk', join(base, p), `${dest}/${p}`);
  for (const f of ['modules.dep', 'modules.dep.bin', 'modules.alias', 'modules.alias.bin', 'modules.symbols', 'modules.symbols.bin', 'modules.softdep', 'modules.devname', 'modules.builtin.bin', 'modules.builtin.alias.bin']) {
    if (existsSync(join(modDir, f))) ks.copy('kiosk', join(modDir, f), `${dest}/${f}`);
  }
  rmSync(scratch, { recursive: true, force: true });
}

/** The node's own files of the kiosk: init, accounts, udev, fonts, the runner, weston's config, the filter and the TLS config. */
function stageKioskConfig(ks: KioskStage, std: Stage): void {
  const rootfs = join(__dirname, 'rootfs');
  ks.write('kiosk', '/etc/inittab', kioskInittab(readFileSync(join(rootfs, 'etc/inittab'), 'utf8')));
  const acc = kioskAccounts(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), readFileSync(join(rootfs, 'etc/group'), 'utf8'));
  ks.write('kiosk', '/etc/passwd', acc.passwd);
  ks.write('kiosk', '/etc/group', acc.group);
  ks.write('kiosk', '/usr/lib/udev/rules.d/60-ramvm-kiosk.rules', KIOSK_UDEV_RULES);
  ks.write('kiosk', '/etc/fonts/fonts.conf', KIOSK_FONTS_CONF);
  ks.write('kiosk', '/etc/mdev.conf', kioskMdevConf(readFileSync(join(rootfs, 'etc/mdev.conf'), 'utf8')));
  ks.write('kiosk', `${NODE_RAMVM_DIR}/lib/kiosk`, runnerScript(), 0o755);
  ks.write('kiosk', KIOSK_FILTER, contentFilter());
  ks.write('kiosk', KIOSK_WESTON_INI, WESTON_INI);
  for (const [path, target] of Object.entries(KIOSK_LINKS)) ks.link('kiosk', path, target);
  for (const f of KIOSK_DATA) ks.copy('kiosk', f.path, f.path);
  if (!std.exists('/etc/inittab')) throw new Error('the standard stage has no /etc/inittab');
}

export interface KioskBuild {
  initrd: string;
  iso?: string;
  rows: ImageSizeRow[];
  report: string;
}

export async function buildKiosk(o: { stage: Stage; kernel: { dir: string; version: string }; standard: ImageBuild; iso: boolean }): Promise<KioskBuild> {
  const t0 = Date.now();
  checkKioskFiles();
  let done = step('staging the kiosk');
  const ks = new KioskStage(join(CACHE, 'stage-kiosk'));
  stageElf(ks, o.stage);
  stageKioskModules(ks, o.stage, o.kernel);
  stageKioskConfig(ks, o.stage);
  done();

  const sfs = KIOSK_PARTS.map((p) => ({ name: p, ...squash(p, ks.dirs[p], KIOSK_MKSQUASHFS_OPTS) }));
  const rows: ImageSizeRow[] = [
    { name: 'kernel and initrd.img of the standard image', bytes: statSync(o.standard.kernel).size + statSync(o.standard.initrd).size },
    ...sfs.map((p) => ({ name: `initrd: ${p.name}.sfs (xz)`, bytes: statSync(p.file).size, rawBytes: p.raw, ...(p.cached ? { note: 'cached' } : {}) })),
  ];

  done = step('writing initrd-kiosk.img');
  const initrd = join(OUT, 'initrd-kiosk.img');
  const partsCpio = join(CACHE, 'kiosk-parts.cpio');
  // The kiosk's parts on top of the standard ones; this etc/parts replaces the early cpio's.
  const order = [...KIOSK_PARTS, ...PARTS];
  writeCpio(partsCpio, [
    { name: 'etc', kind: 'dir' },
    { name: 'etc/parts', kind: 'data', data: Buffer.from(order.join('\n') + '\n') },
    { name: 'parts', kind: 'dir' },
    ...sfs.map((p): CpioSource => ({ name: `parts/${p.name}.sfs`, kind: 'file', path: p.file })),
  ]);
  const std = readFileSync(o.standard.initrd);
  writeFileSync(initrd + '.tmp', Buffer.concat([std, Buffer.alloc((4 - (std.length % 4)) % 4)]));
  appendFileSync(initrd + '.tmp', readFileSync(partsCpio));
  renameSync(initrd + '.tmp', initrd);
  rmSync(partsCpio);
  done();

  const result: KioskBuild = { initrd, rows, report: '' };
  let isoBytes = statSync(o.standard.kernel).size + statSync(initrd).size;
  if (o.iso) {
    done = step('grub-mkrescue (kiosk)');
    const iso = makeIso(o.standard.kernel, initrd, join(OUT, 'ramvm-kiosk.iso'), KIOSK_GRUB_ENTRIES);
    isoBytes = statSync(iso).size;
    rows.push({ name: 'boot loader (GRUB, BIOS + UEFI) and ISO 9660', bytes: isoBytes - statSync(o.standard.kernel).size - statSync(initrd).size });
    result.iso = iso;
    done();
  }
  process.stdout.write('\nkiosk variant:\n');
  const report = reportSizes('kiosk', rows, isoBytes, o.iso, KIOSK_BUDGET);
  result.report = report.text;
  process.stdout.write(`image: kiosk built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${[initrd, result.iso].filter(Boolean).map((f) => relative(ROOT, f!)).join(', ')}\n`);
  if (report.over) throw new Error(`the kiosk ISO is ${(isoBytes / 1e6).toFixed(1)} MB, over the limit`);
  return result;
}
