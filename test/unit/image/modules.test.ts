import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BOOT_MODULES, EARLY_MODULES, imageModules, kvmModuleFor, loadOrder, moduleName, modulesForDevices, parseModulesAlias,
  parseModulesDep, parseProcModules,
} from '../../../build/image/modules';

const DEP = readFileSync(join(__dirname, 'fixtures/modules.dep-6.1.0-56-amd64'), 'utf8');
const ALIAS = readFileSync(join(__dirname, 'fixtures/modules.alias-6.1.0-56-amd64'), 'utf8');

const N = suite('moduleName');
N('should treat "-" and "_" alike', () => {
  assert.is(moduleName('kernel/arch/x86/kvm/kvm-amd.ko'), 'kvm_amd');
});
N('should drop compression suffixes', () => {
  assert.is(moduleName('kernel/lib/lru_cache.ko.xz'), 'lru_cache');
  assert.is(moduleName('kernel/lib/lru_cache.ko.zst'), 'lru_cache');
});
N.run();

const P = suite('parseModulesDep');
P('should index the modules of a real modules.dep by name', () => {
  const idx = parseModulesDep(DEP);
  assert.equal(idx.get('drbd'), { path: 'kernel/drivers/block/drbd/drbd.ko', deps: ['kernel/lib/lru_cache.ko', 'kernel/lib/libcrc32c.ko'] });
  assert.equal(idx.get('loop'), { path: 'kernel/drivers/block/loop.ko', deps: [] });
  assert.ok(idx.has('kvm_amd'));
});
P('should reject a line without a colon', () => {
  assert.throws(() => parseModulesDep('kernel/lib/crc16.ko\n'), /line 1/);
});
P.run();

const L = suite('loadOrder');
L('should load what drbd needs before drbd (the load order of the lab)', () => {
  const { paths, missing } = loadOrder(parseModulesDep(DEP), ['drbd']);
  assert.equal(missing, []);
  assert.equal(paths, ['kernel/lib/libcrc32c.ko', 'kernel/lib/lru_cache.ko', 'kernel/drivers/block/drbd/drbd.ko']);
});
L('should put every dependency before its dependant and list each once', () => {
  const { paths } = loadOrder(parseModulesDep(DEP), ['virtio_net', 'bridge', 'ext4', 'kvm_amd', 'kvm']);
  assert.is(new Set(paths).size, paths.length);
  const idx = parseModulesDep(DEP);
  for (const e of idx.values()) {
    if (!paths.includes(e.path)) continue;
    for (const d of e.deps) assert.ok(paths.indexOf(d) < paths.indexOf(e.path), `${d} before ${e.path}`);
  }
});
L('should accept names with hyphens', () => {
  assert.equal(loadOrder(parseModulesDep(DEP), ['kvm-amd']).missing, []);
});
L('should report every missing module', () => {
  assert.equal(loadOrder(parseModulesDep(DEP), ['loop', 'nosuch', 'nosuch2']).missing, ['nosuch', 'nosuch2']);
});
L.run();

const I = suite('imageModules');
I('should report what the fixture lacks of the full lists (the build fails on it)', () => {
  const { missing } = imageModules(parseModulesDep(DEP));
  assert.ok(missing.includes('e1000e'));
  for (const m of EARLY_MODULES) assert.not.ok(missing.includes(m));
});
I('should name each boot module once', () => {
  assert.is(new Set(BOOT_MODULES).size, BOOT_MODULES.length);
});
I.run();

const K = suite('kvmModuleFor');
K('should pick kvm_amd for svm, kvm_intel for vmx, none without either', () => {
  assert.is(kvmModuleFor('processor\t: 0\nflags\t\t: fpu vme svm lm\n'), 'kvm_amd');
  assert.is(kvmModuleFor('flags\t\t: fpu vmx lm\n'), 'kvm_intel');
  assert.is(kvmModuleFor('flags\t\t: fpu lm\n'), null);
  assert.is(kvmModuleFor(''), null);
});
K('should not take a flag that only contains the letters', () => {
  assert.is(kvmModuleFor('flags\t\t: fpu svm_lock lm\n'), null);
});
K.run();

const A = suite('modulesForDevices');
A('should resolve real modaliases through modules.alias globs', () => {
  const rules = parseModulesAlias(ALIAS);
  const devs = ['pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00', 'virtio:d00000001v00001AF4', 'pci:v00008086d00007010sv00000000sd00000000bc01sc01i80'];
  assert.equal(modulesForDevices(devs, rules, new Set()), ['virtio_pci', 'virtio_net']);
});
A('should leave out loaded modules', () => {
  const rules = parseModulesAlias(ALIAS);
  assert.equal(modulesForDevices(['virtio:d00000001v00001AF4'], rules, new Set(['virtio_net'])), []);
});
A('should match an e1000 by its exact device id only', () => {
  const rules = parseModulesAlias(ALIAS);
  assert.equal(modulesForDevices(['pci:v00008086d0000107Csv0sd0bc02sc00i00'], rules, new Set()), ['e1000']);
  assert.equal(modulesForDevices(['pci:v00008086d0000107Dsv0sd0bc02sc00i00'], rules, new Set()), []);
});
A('should take the CPU feature glob of kvm_amd', () => {
  const rules = parseModulesAlias(ALIAS);
  assert.equal(modulesForDevices(['cpu:type:x86,ven0002fam0017mod0031:feature:,0000,00C2,0100'], rules, new Set()), ['kvm_amd']);
});
A.run();

const M = suite('parseProcModules');
M('should take the first word of each line', () => {
  assert.equal([...parseProcModules('virtio_net 61440 0 - Live 0x0\nkvm 1142784 1 kvm_amd, Live 0x0\n')], ['virtio_net', 'kvm']);
});
M.run();
