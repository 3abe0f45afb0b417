/**
 * build/packages.json and build/packages.mjs: the one list of Debian
 * packages. Every program the code spawns (read from the sources by
 * spawned-programs.ts) must be provided by a package of the purposes that
 * run that code, and every file the list names must belong to its package
 * on this machine (`dpkg -S`), where npm test has installed all of them.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Package, PackageList } from '../../../build/packages.mjs';
import { ROOT } from '../../../build/build';
import { HOST_FILES, QEMU_FIRMWARE } from '../../../build/image/files';
import { KIOSK_DATA, KIOSK_ELF } from '../../../build/image/kiosk';
import { suite } from '../../helpers/suite';
import { scanSpawns, sourceFiles, spawnedPrograms, stripComments, type Spawned } from './spawned-programs';

type PackagesModule = typeof import('../../../build/packages.mjs');
let mod: PackagesModule;
let list: PackageList;
let spawns: Spawned[];

/** /bin, /sbin and /lib are /usr/… on Debian 12: compare paths without the /usr. */
const merged = (p: string) => p.replace(/^\/usr\/(bin|sbin|lib|lib64)\//, '/$1/');

/** The command whose packages must provide what a file of the code base spawns. */
export function commandOf(file: string): string {
  if (file.startsWith('build/image/')) return 'image';
  if (file.startsWith('build/lab/')) return 'lab';
  if (file.startsWith('test/bench/')) return 'bench';
  if (file.startsWith('test/')) return 'test';
  return 'start'; // node-cgi/ and the rest of build/: what runs a node
}

/** The packages of the list that provide a program (a name on PATH or an absolute path). */
function providers(program: string): Package[] {
  return list.packages.filter((p) =>
    program.includes('/')
      ? p.files.some((f) => merged(f) === merged(program))
      : p.files.some((f) => basename(f) === program) || (p.applets ?? []).includes(program),
  );
}

const Setup = suite('build/packages.json');
Setup.before(async () => {
  mod = await import('../../../build/packages.mjs');
  list = mod.readPackages(ROOT);
  spawns = scanSpawns(sourceFiles(ROOT, ['node-cgi', 'build', 'test']));
});

Setup('should name each package once, for known purposes, with files and a reason', () => {
  const names = list.packages.map((p) => p.name);
  assert.equal(names.length, new Set(names).size, 'no package twice');
  for (const p of list.packages) {
    assert.ok(p.files.length > 0 && p.files.every((f) => f.startsWith('/')), `${p.name}: absolute files`);
    assert.ok(p.for.every((f) => f in list.purposes), `${p.name}: purposes ${p.for}`);
    assert.ok(p.why.length > 10, `${p.name}: why`);
  }
  for (const [cmd, purposes] of Object.entries(list.commands)) assert.ok(purposes.every((f) => f in list.purposes), cmd);
  assert.equal(Object.keys(list.commands).sort(), ['bench', 'image', 'lab', 'start', 'test']);
  assert.equal(list.commands.test!.slice().sort(), Object.keys(list.purposes).sort(), 'npm test installs every purpose');
});

Setup('should have every file on this machine, installed by the package that names it (dpkg -S)', () => {
  const files = list.packages.flatMap((p) => p.files.map((f) => ({ pkg: p.name, file: f })));
  for (const { pkg, file } of files) assert.ok(existsSync(file), `${file} (${pkg}) exists`);
  const r = spawnSync('dpkg', ['-S', ...files.map((f) => f.file)], { encoding: 'utf8' });
  const owner = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    // "libc6:amd64: /lib/…/libnss_dns.so.2", "coreutils: /bin/dd", "diversion by dash from: /bin/sh"
    const m = /^(.+?): (\/.*)$/.exec(line);
    if (m) owner.set(m[2]!, [...(owner.get(m[2]!) ?? []), ...m[1]!.split(', ').map((n) => n.replace(/:amd64$/, ''))]);
  }
  for (const { pkg, file } of files) assert.ok(owner.get(file)?.includes(pkg), `${file} belongs to ${pkg}, dpkg -S says ${owner.get(file) ?? 'nothing'}`);
});

Setup('should list every busybox applet it names', () => {
  const applets = spawnSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).stdout.split('\n');
  for (const p of list.packages) for (const a of p.applets ?? []) assert.ok(applets.includes(a), `busybox has ${a}`);
});

Setup('should provide every program the code spawns, in a package of the command that runs that code', () => {
  const problems: string[] = [];
  for (const s of spawns) {
    if (s.program in list.notPackaged) continue;
    const purposes = list.commands[commandOf(s.file)]!;
    const pkgs = providers(s.program);
    if (pkgs.length === 0) problems.push(`${s.file}:${s.line} spawns ${s.program}: no package on the list provides it`);
    else if (!pkgs.some((p) => p.for.length === 0 || p.for.some((f) => purposes.includes(f)))) {
      problems.push(`${s.file}:${s.line} spawns ${s.program} (${pkgs.map((p) => p.name)}), not a package of npm ${commandOf(s.file)} (${purposes})`);
    }
  }
  assert.equal(problems, []);
});

Setup('should have the image\'s copied files come from packages of the image', () => {
  const image = new Set(mod.packagesOf(list, 'image').map((p) => p.name));
  for (const f of [...HOST_FILES, ...QEMU_FIRMWARE, ...Object.values(KIOSK_ELF).flat(), ...KIOSK_DATA]) {
    if (f.pkg === 'nodejs') continue; // the build's own Node, a prerequisite
    assert.ok(image.has(f.pkg), `${f.path}: ${f.pkg} is a package of the image`);
  }
});

Setup('should give a reason for every program no package provides, and spawn each', () => {
  for (const [program, why] of Object.entries(list.notPackaged)) {
    assert.ok(why.length > 20, program);
    assert.ok(spawns.some((s) => s.program === program), `${program} is spawned somewhere`);
    assert.is(providers(program).length, 0, `${program} is not provided after all`);
  }
});

Setup.run();

const Missing = suite('missingPackages');

Missing('should name the packages of the command\'s purposes that have a file missing', () => {
  const present = new Set(['/usr/sbin/lighttpd', '/usr/lib/lighttpd/mod_cgi.so']);
  const missing = mod.missingPackages(list, 'start', (f) => present.has(f));
  assert.ok(!missing.includes('lighttpd'), 'lighttpd is there');
  assert.ok(missing.includes('lighttpd-mod-deflate'));
  assert.ok(!missing.includes('chromium'), 'npm start does not need Chromium');
  assert.ok(!missing.includes('nodejs'), 'Node is a prerequisite, never installed');
});

Missing('should count a package as missing when any of its files is', () => {
  assert.ok(mod.missingPackages(list, 'start', (f) => f !== '/usr/lib/lighttpd/mod_cgi.so').includes('lighttpd'));
});

Missing('should ask for nothing on a command without purposes', () => {
  assert.equal(mod.missingPackages(list, 'build', () => false), []);
});

Missing('should ask npm test for Chromium, busybox, the image\'s tools and the lab\'s QEMU', () => {
  const all = mod.missingPackages(list, 'test', () => false);
  for (const p of ['chromium', 'busybox-static', 'lighttpd-mod-deflate', 'squashfs-tools', 'qemu-system-x86', 'curl']) assert.ok(all.includes(p), p);
});

Missing.run();

const Install = suite('installArgv');

Install('should install without recommends, non-interactively', () => {
  assert.equal(mod.installArgv(['zstd', 'curl']), ['apt-get', 'install', '-y', '-q', '--no-install-recommends', 'zstd', 'curl']);
});

Install.run();

const Scan = suite('spawnedPrograms');
const scan = (src: string, constants: Record<string, string> = {}) =>
  spawnedPrograms(src, 'x.ts', new Map(Object.entries(constants)), ['sh']).map((s) => s.program);

Scan('should find programs given to spawn functions and argv literals given to run and helpers', () => {
  assert.equal(scan("spawnSync('openssl', ['req']);\nawait run(['qemu-img', 'info']);\nsh([\n  'mount', '-t', 'tmpfs']);"), ['openssl', 'qemu-img', 'mount']);
});

Scan('should find argv properties, builders\' results and *ARGV constants', () => {
  assert.equal(
    scan("steps.push({ argv: ['ip', 'link'] });\nexport function mountArgs(c: C): string[] {\n  return c.x ? ['mount', '-o', 'ro'] : ['umount', d];\n}\nexport const DEFAULT_SENDMAIL = ['sendmail', '-t'];"),
    ['ip', 'sendmail', 'mount', 'umount'],
  );
});

Scan('should resolve a constant as argv[0] and skip options and parameters', () => {
  assert.equal(scan('function qemuArgs() { return [QEMU_BINARY, \'-name\']; }\nrun([cmd, ...args]);\nrun([\'-x\']);', { QEMU_BINARY: 'qemu-system-x86_64' }), ['qemu-system-x86_64']);
});

Scan('should ignore comments, strings and regular expressions that look like calls', () => {
  assert.equal(scan("// run(['curl'])\n/* spawn('wget') */\nconst s = \"run(['nc'])\";\nconst re = /run\\(['\"]x/;"), []);
});

Scan('should find the known spawns of the code base, local helpers included', () => {
  const has = (file: string, program: string) => spawns.some((s) => s.file === file && s.program === program);
  assert.ok(has('node-cgi/tools/qemu-img.ts', 'qemu-img'), 'an argv builder with a constant as argv[0]');
  assert.ok(has('node-cgi/vm/qemu-args.ts', 'qemu-system-x86_64'), 'a constant as argv[0]');
  assert.ok(has('node-cgi/vm/host.ts', 'ip'), 'run([...])');
  assert.ok(has('build/server.ts', 'lighttpd'), 'spawn(program, ...)');
  assert.ok(has('build/image/image.ts', 'mksquashfs'), 'a local sh() helper');
  assert.ok(has('test/integration/backup-failure.test.ts', 'losetup'), 'an imported sh() helper');
  assert.ok(has('test/helpers/browser.ts', '/usr/bin/chromium'), 'a browser playwright starts');
  assert.ok(has('build/run.mjs', 'apt-get'), 'the installer itself');
});

Scan.run();

const Strip = suite('stripComments');

Strip('should blank comments and keep offsets, strings and URLs', () => {
  const src = "a('http://x') // c\n/* d\n */ b";
  const { code, blank } = stripComments(src);
  assert.is(code.length, src.length);
  assert.is(code, "a('http://x')     \n    \n    b");
  assert.is(blank, "a('        ')     \n    \n    b");
});

Strip.run();
