import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuShare, memoryRefusal, parseCpuTotals, parseMeminfo, parseProcStat, parseRssBytes } from '../../../node-cgi/vm/resources';

const FIX = join(__dirname, 'fixtures');
const fixture = (n: string) => readFileSync(join(FIX, n), 'utf8');

const P = suite('parseProcStat');
P("should read a real QEMU process's CPU ticks and start time", () => {
  assert.equal(parseProcStat(fixture('proc-pid-stat.qemu-7.2.linux-6.18.txt')), { comm: 'ramvm-101', state: 'S', cpuTicks: 18, startTicks: 136072 });
});
P('should count fields from the last parenthesis (names may hold blanks and parentheses)', () => {
  const line = '42 (a) b (c)) R 1 1 1 0 -1 0 0 0 0 0 7 5 0 0 20 0 1 0 999 0 0';
  assert.equal(parseProcStat(line), { comm: 'a) b (c)', state: 'R', cpuTicks: 12, startTicks: 999 });
});
P('should throw on something else', () => {
  assert.throws(() => parseProcStat('garbage'), /not a \/proc\/<pid>\/stat line/);
});
P.run();

const R = suite('parseRssBytes');
R('should read VmRSS of a real QEMU process', () => {
  assert.is(parseRssBytes(fixture('proc-pid-status.qemu-7.2.linux-6.18.txt')), 32432 * 1024);
});
R('should read 0 for a zombie without VmRSS', () => {
  assert.is(parseRssBytes('Name:\tqemu\nState:\tZ (zombie)\n'), 0);
});
R.run();

const M = suite('parseMeminfo');
M('should read total and available memory', () => {
  assert.equal(parseMeminfo(fixture('proc-meminfo.linux-6.18.txt')), { total: 24683620 * 1024, available: 23510500 * 1024 });
});
M('should name a missing field', () => {
  assert.throws(() => parseMeminfo('MemTotal: 1 kB\n'), /MemAvailable/);
});
M.run();

const C = suite('parseCpuTotals');
C('should count idle and iowait as idle', () => {
  // cpu  56870 72 52574 138129 19545 0 6762 0 0 0
  assert.equal(parseCpuTotals(fixture('proc-stat.linux-6.18.txt')), { busy: 56870 + 72 + 52574 + 6762, total: 56870 + 72 + 52574 + 138129 + 19545 + 6762 });
});
C.run();

const S = suite('cpuShare');
const fb = () => -1;
S('should divide CPU seconds by wall seconds and vCPUs', () => {
  // 150 ticks = 1.5 s of CPU in 1 s on 2 vCPUs → 0.75
  assert.is(cpuShare({ at: 0, ticks: 100, of: 7 }, { at: 1000, ticks: 250, of: 7 }, 2, fb), 0.75);
});
S('should fall back without a usable earlier reading', () => {
  assert.is(cpuShare(undefined, { at: 1000, ticks: 1, of: 7 }, 1, fb), -1, 'none');
  assert.is(cpuShare({ at: 0, ticks: 1, of: 6 }, { at: 1000, ticks: 2, of: 7 }, 1, fb), -1, 'another process');
  assert.is(cpuShare({ at: 900, ticks: 1, of: 7 }, { at: 1000, ticks: 2, of: 7 }, 1, fb), -1, 'too young');
  assert.is(cpuShare({ at: 0, ticks: 1, of: 7 }, { at: 120_000, ticks: 2, of: 7 }, 1, fb), -1, 'too old');
});
S.run();

const G = 1024 ** 3;
const O = suite('memoryRefusal');
O('should let a guest start while claims stay within ratio × memory', () => {
  assert.is(memoryRefusal({ total: 8 * G, claimed: 6 * G, want: 2 * G, ratio: 1 }), null);
  assert.is(memoryRefusal({ total: 8 * G, claimed: 10 * G, want: 2 * G, ratio: 1.5 }), null);
});
O('should refuse beyond the ratio and say by how much', () => {
  const msg = memoryRefusal({ total: 8 * G, claimed: 7 * G, want: 2 * G, ratio: 1 });
  assert.ok(msg);
  assert.match(msg!, 'needs 2.0 GiB');
  assert.match(msg!, 'claim 7.0 GiB');
  assert.match(msg!, 'allows 8.0 GiB (1 × 8.0 GiB');
});
O.run();
