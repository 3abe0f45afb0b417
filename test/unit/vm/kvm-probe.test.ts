import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FIRMWARE_BYTES, PROBE_EXIT_OK, PROBE_KILL_AFTER_S, PROBE_ROUNDS, parseProbeOutput, probeArgs, probeFirmware, probeVerdict, runFailure, type ProbeRun,
} from '../../../node-cgi/vm/kvm-probe';
import { KVM_CPU, QEMU_BINARY, TCG_CPU } from '../../../node-cgi/vm/qemu-args';
import { PROBE_TIMEOUT_MS } from '../../../node-cgi/vm/accel';

/** Real runs of the firmware on a host whose /dev/kvm opens but whose KVM does not run kernels (see _about). */
const RUNS = JSON.parse(readFileSync(join(__dirname, 'fixtures/kvm-probe-runs.qemu-7.2.json'), 'utf8')) as Record<'kvm' | 'tcg' | 'kvm-cpu-max', ProbeRun>;
const TIMEOUT_MS = 20_000;
const after = (args: string[], flag: string) => args.filter((_, i) => args[i - 1] === flag);

const F = suite('probeFirmware');
F('should be a 64 KiB image whose reset vector jumps to F000:0000', () => {
  const b = probeFirmware();
  assert.is(b.length, FIRMWARE_BYTES);
  assert.equal([...b.subarray(0xfff0, 0xfff5)], [0xea, 0x00, 0x00, 0x00, 0xf0], 'jmp F000:0000');
});
F('should point its lgdt at a GDTR that holds the GDT it carries', () => {
  const b = probeFirmware();
  const gdtr = b.readUInt16LE(0x0a); // operand of lgdt at 006 (66 0f 01 16 <disp16>)
  assert.is(gdtr, 0x1a8);
  assert.is(b.readUInt16LE(gdtr), 4 * 8 - 1, 'limit: four descriptors');
  const base = b.readUInt32LE(gdtr + 2);
  assert.is(base, 0xf0000 + 0x188);
  assert.equal([1, 2, 3].map((i) => b.readBigUInt64LE(base - 0xf0000 + i * 8)), [0x00cf9b000000ffffn, 0x00cf93000000ffffn, 0x00af9b000000ffffn]);
});
F('should jump to 32-bit and 64-bit code where that code starts', () => {
  const b = probeFirmware();
  assert.is(b.readUInt32LE(0x16), 0xf001c, 'jmp 0x08:0xf001c');
  assert.is(b.readUInt16LE(0x1a), 0x08);
  assert.equal([...b.subarray(0x1c, 0x21)], [0xb8, 0x10, 0x00, 0x00, 0x00], '32-bit code begins with mov eax, 0x10');
  assert.is(b.readUInt32LE(0xc3), 0xf00c9, 'jmp 0x18:0xf00c9');
  assert.equal([...b.subarray(0xc9, 0xce)], [0xba, 0xf8, 0x03, 0x00, 0x00], '64-bit code begins with mov edx, 0x3f8');
});
F('should run PROBE_ROUNDS rounds and end through isa-debug-exit after the cmpxchg16b', () => {
  const b = probeFirmware();
  assert.equal([...b.subarray(0xd1, 0xd7)], [0x41, 0xb8, PROBE_ROUNDS, 0, 0, 0]);
  assert.equal([...b.subarray(0x16d, 0x171)], [0xf0, 0x48, 0x0f, 0xc7], 'lock cmpxchg16b');
  assert.equal([...b.subarray(0x17f, 0x183)], [0xb0, 0x10, 0xe6, 0xf4], 'out 0xf4, 0x10');
  assert.is((0x10 << 1) | 1, PROBE_EXIT_OK);
});
F.run();

const A = suite('probeArgs');
A("should run KVM with the guests' KVM CPU model and TCG with max", () => {
  const kvm = probeArgs('kvm', '/run/fw.bin');
  assert.equal([after(kvm, '-accel'), after(kvm, '-cpu')], [['kvm'], [KVM_CPU]]);
  const tcg = probeArgs('tcg', '/run/fw.bin');
  assert.equal([after(tcg, '-accel'), after(tcg, '-cpu')], [['tcg'], [TCG_CPU]]);
});
A("should take another CPU model under KVM (the lab's)", () => {
  assert.equal(after(probeArgs('kvm', '/f', 'max'), '-cpu'), ['max']);
});
A('should boot the firmware alone: no devices but COM1 on stdout and the exit port, no reboot', () => {
  const a = probeArgs('tcg', '/run/fw.bin');
  assert.equal(after(a, '-bios'), ['/run/fw.bin']);
  assert.equal(after(a, '-serial'), ['stdio']);
  assert.equal(after(a, '-device'), ['isa-debug-exit,iobase=0xf4,iosize=0x04']);
  for (const f of ['-nodefaults', '-no-user-config', '-no-reboot']) assert.ok(a.includes(f), f);
});
A('should bound QEMU by itself: killed after PROBE_KILL_AFTER_S, and with its parent (util-linux setpriv by its path)', () => {
  const a = probeArgs('kvm', '/run/fw.bin');
  assert.equal(a.slice(0, a.indexOf(QEMU_BINARY)), ['timeout', '-s', 'KILL', String(PROBE_KILL_AFTER_S), '/usr/bin/setpriv', '--pdeathsig', 'KILL', '--']);
});
A("should kill QEMU only after the caller's own limit has passed (the caller reports a slow run itself)", () => {
  assert.ok(PROBE_KILL_AFTER_S * 1000 > PROBE_TIMEOUT_MS, `${PROBE_KILL_AFTER_S} s > ${PROBE_TIMEOUT_MS} ms`);
});
A.run();

const P = suite('parseProbeOutput');
P('should say how far the firmware got', () => {
  // [serial, stage, rounds]
  const table: [string, string, number][] = [
    ['', 'start', 0],
    ['P', 'protected', 0],
    ['PL', 'long', 0],
    ['PL00000000002f3d0c 00000000002f1dde ', 'long', 2],
    ['PL00000000002f3d0c 000000000', 'long', 1],
  ];
  for (const [serial, stage, n] of table) {
    const o = parseProbeOutput(serial);
    assert.equal([o.stage, o.rounds.length], [stage, n], serial);
  }
});
P('should read the rounds of a real TCG run, done', () => {
  const o = parseProbeOutput(RUNS.tcg.serial);
  assert.is(o.stage, 'done');
  assert.is(o.rounds.length, PROBE_ROUNDS);
  assert.is(o.rounds[3], 0x2f3d0c);
});
P.run();

const R = suite('runFailure');
R('should pass a real TCG run', () => {
  assert.is(runFailure(RUNS.tcg, parseProbeOutput(RUNS.tcg.serial), TIMEOUT_MS), null);
});
R("should name KVM's internal error and where it struck (real run)", () => {
  assert.is(runFailure(RUNS.kvm, parseProbeOutput(RUNS.kvm.serial), TIMEOUT_MS), 'KVM internal error. Suberror: 1 (in long mode, at lock cmpxchg16b on a page table)');
});
R('should name the MSR QEMU could not set under -cpu max (real run)', () => {
  assert.is(runFailure(RUNS['kvm-cpu-max'], parseProbeOutput(''), TIMEOUT_MS), 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69 (before protected mode)');
});
R('should report a timeout, a triple fault and a QEMU that would not start', () => {
  const run = (over: Partial<ProbeRun>): ProbeRun => ({ serial: '', code: null, stderr: '', timedOut: false, ms: 1, ...over });
  assert.is(runFailure(run({ serial: 'PL', timedOut: true }), parseProbeOutput('PL'), TIMEOUT_MS), 'no end within 20 s (in long mode, in the page-table rounds)');
  assert.is(runFailure(run({ serial: 'P', code: 0 }), parseProbeOutput('P'), TIMEOUT_MS), 'the CPU reset (a fault in protected mode, before long mode)');
  assert.is(
    runFailure(run({ code: 1, stderr: 'qemu-system-x86_64: -accel kvm: Could not access KVM kernel module: Permission denied\n' }), parseProbeOutput(''), TIMEOUT_MS),
    'qemu-system-x86_64: -accel kvm: Could not access KVM kernel module: Permission denied (before protected mode)',
  );
  assert.is(runFailure(run({ code: 1, stderr: 'qemu-system-x86_64: -bios /x: could not load\n' }), parseProbeOutput(''), TIMEOUT_MS), 'QEMU exited with 1: qemu-system-x86_64: -bios /x: could not load (before protected mode)');
});
R.run();

const V = suite('probeVerdict');
const done = (cycles: number): ProbeRun => ({
  serial: `PL${Array.from({ length: PROBE_ROUNDS }, (_, i) => (cycles + i * 1000).toString(16).padStart(16, '0') + ' ').join('')}X`,
  code: PROBE_EXIT_OK, stderr: '', timedOut: false, ms: 100,
});
V('should pick TCG on the real host whose KVM stops at the cmpxchg16b', () => {
  const v = probeVerdict(RUNS.kvm, RUNS.tcg, TIMEOUT_MS);
  assert.is(v.accel, 'tcg');
  assert.is(v.reason, 'KVM failed the probe: KVM internal error. Suberror: 1 (in long mode, at lock cmpxchg16b on a page table)');
  assert.ok(v.kvmCycles! > v.tcgCycles!, 'and it crawled before');
});
V('should pick KVM when it finished and beat TCG at the page-table work', () => {
  const v = probeVerdict(done(200_000), done(3_000_000), TIMEOUT_MS);
  assert.equal([v.accel, v.reason, v.kvmCycles, v.tcgCycles], ['kvm', 'KVM ran the probe, page-table work 15.0× faster than TCG', 200_000, 3_000_000]);
});
V('should pick TCG when KVM finished but crawled (slower than emulation)', () => {
  const v = probeVerdict(done(60_000_000), done(2_400_000), TIMEOUT_MS);
  assert.equal([v.accel, v.reason], ['tcg', "KVM ran the probe's page-table work 25.0× slower than TCG"]);
});
V('should pick KVM when it finished but TCG has nothing to compare', () => {
  const broken: ProbeRun = { serial: '', code: 1, stderr: 'qemu-system-x86_64: no TCG here\n', timedOut: false, ms: 5 };
  assert.equal(probeVerdict(done(200_000), broken, TIMEOUT_MS).accel, 'kvm');
});
V.run();
