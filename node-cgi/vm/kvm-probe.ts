/**
 * Does this host's KVM really run a kernel? The pure half of the probe: a
 * 64 KiB firmware image (QEMU `-bios`) that does in 0.4 KiB of code what a
 * kernel does first, the QEMU argv that runs it, the parser of what it prints
 * on COM1, and the verdict. vm/accel.ts runs it once per boot.
 *
 * `/dev/kvm` opening is not enough: on some hosts (a KVM without hardware
 * virtualization underneath, e.g. a guest of a cloud VM) boot sectors and the
 * BIOS run, but a Linux kernel crawls and then stops with "KVM internal
 * error ... emulation failure" on `lock cmpxchg16b` into memory the host
 * tracks as page tables. Measured there:
 *
 *   Debian 6.1 vmlinux, -accel kvm:  40 s to "Faking a node", then internal error
 *   this firmware,      -accel kvm:  page-table round 25× slower than TCG, then
 *                                    internal error at the cmpxchg16b
 *   this firmware,      -accel tcg:  done in ~60 ms of QEMU's life
 *
 * What the firmware does (QEMU maps it at 0xF0000 and 0xFFFF0000; the CPU
 * starts at F000:FFF0):
 *   1. real mode → protected mode (lgdt, CR0.PE), prints "P" on COM1;
 *   2. identity-maps 1 GiB with 2 MiB pages and 16 MiB at virtual 1 GiB with
 *      4 KiB pages (PML4 0x10000, PDPT 0x11000, PD 0x12000, PD 0x13000,
 *      8 page tables from 0x14000), enables PAE, EFER.LME|NXE, paging → long
 *      mode, prints "L";
 *   3. ROUNDS times: rewrites the 4096 live PTEs (to 16 or 32 MiB, by round),
 *      reloads CR3, writes to each of the 4096 pages, and prints the round's
 *      TSC cycles as 16 hex digits and a blank. The TSC counts host cycles
 *      under KVM and TCG alike, so the rounds compare across the two;
 *   4. `lock cmpxchg16b` on the first live page table (same values back),
 *      prints "X", and ends QEMU through isa-debug-exit (out 0x10 → exit 33).
 *
 * A fault has no handler (no IDT): it triple-faults, and with -no-reboot QEMU
 * ends with 0 before "X". Serial output of a good run:
 *
 *   PL00000000006bd496 000000000022a1c4 … 0000000000237ad4 X
 *
 * Verdict: KVM when it finished and its fastest round beat TCG's fastest
 * round; TCG otherwise, with the reason.
 */
import { KVM_CPU, QEMU_BINARY, TCG_CPU } from './qemu-args';
import type { Accelerator } from './types';

/** Where QEMU maps a 64 KiB -bios image in real mode (it also sits below 4 GiB). */
const FIRMWARE_BASE = 0xf0000;
export const FIRMWARE_BYTES = 64 * 1024;
/** Page-table rounds the firmware times; the first pays for the host's first touch of the memory. */
export const PROBE_ROUNDS = 8;
/** Guest memory: page tables at 64 KiB, the touched pages at 16–48 MiB. */
export const PROBE_MEMORY_MIB = 64;
/** isa-debug-exit turns `out 0xf4, 0x10` into exit status (0x10 << 1) | 1. */
export const PROBE_EXIT_OK = 33;
/** What QEMU prints when KVM gives up on the guest (it then keeps the process, paused). */
export const KVM_ERROR_RE = /KVM internal error|emulation failure|kvm run failed|failed to set MSR|Could not access KVM|failed to initialize kvm/i;

// Hand-assembled (GNU as, objdump -M intel): offset, instruction.
const CODE = [
  // 16-bit, at F000:0000
  0xfa,                                              // 000 cli
  0xb8, 0x00, 0xf0,                                  // 001 mov ax, 0xf000
  0x8e, 0xd8,                                        // 004 mov ds, ax
  0x66, 0x0f, 0x01, 0x16, 0xa8, 0x01,                // 006 lgdt [0x1a8]          (GDTR below)
  0x0f, 0x20, 0xc0,                                  // 00c mov eax, cr0
  0x0c, 0x01,                                        // 00f or al, 1               (PE)
  0x0f, 0x22, 0xc0,                                  // 011 mov cr0, eax
  0x66, 0xea, 0x1c, 0x00, 0x0f, 0x00, 0x08, 0x00,    // 014 jmp 0x08:0xf001c
  // 32-bit
  0xb8, 0x10, 0x00, 0x00, 0x00,                      // 01c mov eax, 0x10          (data segment)
  0x8e, 0xd8,                                        // 021 mov ds, ax
  0x8e, 0xc0,                                        // 023 mov es, ax
  0x8e, 0xd0,                                        // 025 mov ss, ax
  0xbc, 0x00, 0x90, 0x00, 0x00,                      // 027 mov esp, 0x9000
  0xba, 0xf8, 0x03, 0x00, 0x00,                      // 02c mov edx, 0x3f8         (COM1)
  0xb0, 0x50,                                        // 031 mov al, 'P'
  0xee,                                              // 033 out dx, al
  0xbf, 0x00, 0x00, 0x01, 0x00,                      // 034 mov edi, 0x10000
  0x31, 0xc0,                                        // 039 xor eax, eax
  0xb9, 0x00, 0x30, 0x00, 0x00,                      // 03b mov ecx, 0x3000
  0xf3, 0xab,                                        // 040 rep stosd              (clear 48 KiB of tables)
  0xc7, 0x05, 0x00, 0x00, 0x01, 0x00, 0x03, 0x10, 0x01, 0x00, // 042 mov [0x10000], 0x11003   PML4[0] → PDPT
  0xc7, 0x05, 0x00, 0x10, 0x01, 0x00, 0x03, 0x20, 0x01, 0x00, // 04c mov [0x11000], 0x12003   PDPT[0] → PD
  0xc7, 0x05, 0x08, 0x10, 0x01, 0x00, 0x03, 0x30, 0x01, 0x00, // 056 mov [0x11008], 0x13003   PDPT[1] → PD 2
  0xbf, 0x00, 0x20, 0x01, 0x00,                      // 060 mov edi, 0x12000
  0xb8, 0x83, 0x00, 0x00, 0x00,                      // 065 mov eax, 0x83          (2 MiB page, RW, P)
  0xb9, 0x00, 0x02, 0x00, 0x00,                      // 06a mov ecx, 512
  0x89, 0x07,                                        // 06f mov [edi], eax
  0x05, 0x00, 0x00, 0x20, 0x00,                      // 071 add eax, 0x200000
  0x83, 0xc7, 0x08,                                  // 076 add edi, 8
  0xe2, 0xf4,                                        // 079 loop 06f
  0xbf, 0x00, 0x30, 0x01, 0x00,                      // 07b mov edi, 0x13000
  0xb8, 0x03, 0x40, 0x01, 0x00,                      // 080 mov eax, 0x14003
  0xb9, 0x08, 0x00, 0x00, 0x00,                      // 085 mov ecx, 8
  0x89, 0x07,                                        // 08a mov [edi], eax         PD 2[i] → page table i
  0x05, 0x00, 0x10, 0x00, 0x00,                      // 08c add eax, 0x1000
  0x83, 0xc7, 0x08,                                  // 091 add edi, 8
  0xe2, 0xf4,                                        // 094 loop 08a
  0x0f, 0x20, 0xe0,                                  // 096 mov eax, cr4
  0x0d, 0xa0, 0x06, 0x00, 0x00,                      // 099 or eax, 0x6a0          (PAE, PGE, OSFXSR, OSXMMEXCPT)
  0x0f, 0x22, 0xe0,                                  // 09e mov cr4, eax
  0xb8, 0x00, 0x00, 0x01, 0x00,                      // 0a1 mov eax, 0x10000
  0x0f, 0x22, 0xd8,                                  // 0a6 mov cr3, eax
  0xb9, 0x80, 0x00, 0x00, 0xc0,                      // 0a9 mov ecx, 0xc0000080    (EFER)
  0x0f, 0x32,                                        // 0ae rdmsr
  0x0d, 0x00, 0x09, 0x00, 0x00,                      // 0b0 or eax, 0x900          (LME, NXE)
  0x0f, 0x30,                                        // 0b5 wrmsr
  0x0f, 0x20, 0xc0,                                  // 0b7 mov eax, cr0
  0x0d, 0x00, 0x00, 0x00, 0x80,                      // 0ba or eax, 0x80000000     (PG)
  0x0f, 0x22, 0xc0,                                  // 0bf mov cr0, eax
  0xea, 0xc9, 0x00, 0x0f, 0x00, 0x18, 0x00,          // 0c2 jmp 0x18:0xf00c9
  // 64-bit
  0xba, 0xf8, 0x03, 0x00, 0x00,                      // 0c9 mov edx, 0x3f8
  0xb0, 0x4c,                                        // 0ce mov al, 'L'
  0xee,                                              // 0d0 out dx, al
  0x41, 0xb8, PROBE_ROUNDS, 0x00, 0x00, 0x00,        // 0d1 mov r8d, ROUNDS
  0x0f, 0x31,                                        // 0d7 rdtsc                  ← round
  0x48, 0xc1, 0xe2, 0x20,                            // 0d9 shl rdx, 32
  0x48, 0x09, 0xd0,                                  // 0dd or rax, rdx
  0x49, 0x89, 0xc1,                                  // 0e0 mov r9, rax            (start)
  0xbf, 0x00, 0x40, 0x01, 0x00,                      // 0e3 mov edi, 0x14000
  0x44, 0x89, 0xc0,                                  // 0e8 mov eax, r8d
  0x83, 0xe0, 0x01,                                  // 0eb and eax, 1
  0xc1, 0xe0, 0x18,                                  // 0ee shl eax, 24
  0x05, 0x03, 0x00, 0x00, 0x01,                      // 0f1 add eax, 0x1000003     (16 or 32 MiB, RW, P)
  0xb9, 0x00, 0x10, 0x00, 0x00,                      // 0f6 mov ecx, 4096
  0x48, 0x89, 0x07,                                  // 0fb mov [rdi], rax         (a live PTE)
  0x05, 0x00, 0x10, 0x00, 0x00,                      // 0fe add eax, 0x1000
  0x83, 0xc7, 0x08,                                  // 103 add edi, 8
  0xe2, 0xf3,                                        // 106 loop 0fb
  0x0f, 0x20, 0xd8,                                  // 108 mov rax, cr3
  0x0f, 0x22, 0xd8,                                  // 10b mov cr3, rax           (flush the TLB)
  0xbf, 0x00, 0x00, 0x00, 0x40,                      // 10e mov edi, 0x40000000
  0xb9, 0x00, 0x10, 0x00, 0x00,                      // 113 mov ecx, 4096
  0x4c, 0x89, 0x07,                                  // 118 mov [rdi], r8          (touch each page)
  0x81, 0xc7, 0x00, 0x10, 0x00, 0x00,                // 11b add edi, 0x1000
  0xe2, 0xf5,                                        // 121 loop 118
  0x0f, 0x31,                                        // 123 rdtsc
  0x48, 0xc1, 0xe2, 0x20,                            // 125 shl rdx, 32
  0x48, 0x09, 0xd0,                                  // 129 or rax, rdx
  0x4c, 0x29, 0xc8,                                  // 12c sub rax, r9            (cycles)
  0x48, 0x89, 0xc6,                                  // 12f mov rsi, rax
  0xb9, 0x10, 0x00, 0x00, 0x00,                      // 132 mov ecx, 16
  0xba, 0xf8, 0x03, 0x00, 0x00,                      // 137 mov edx, 0x3f8
  0x48, 0xc1, 0xc6, 0x04,                            // 13c rol rsi, 4             ← hex digit
  0x89, 0xf0,                                        // 140 mov eax, esi
  0x24, 0x0f,                                        // 142 and al, 0xf
  0x3c, 0x0a,                                        // 144 cmp al, 10
  0x72, 0x02,                                        // 146 jb 14a
  0x04, 0x27,                                        // 148 add al, 'a' - '0' - 10
  0x04, 0x30,                                        // 14a add al, '0'
  0xee,                                              // 14c out dx, al
  0xe2, 0xed,                                        // 14d loop 13c
  0xb0, 0x20,                                        // 14f mov al, ' '
  0xee,                                              // 151 out dx, al
  0x41, 0xff, 0xc8,                                  // 152 dec r8d
  0x75, 0x80,                                        // 155 jnz 0d7
  0x48, 0x8b, 0x04, 0x25, 0x00, 0x40, 0x01, 0x00,    // 157 mov rax, [0x14000]
  0x48, 0x8b, 0x14, 0x25, 0x08, 0x40, 0x01, 0x00,    // 15f mov rdx, [0x14008]
  0x48, 0x89, 0xc3,                                  // 167 mov rbx, rax
  0x48, 0x89, 0xd1,                                  // 16a mov rcx, rdx
  0xf0, 0x48, 0x0f, 0xc7, 0x0c, 0x25, 0x00, 0x40, 0x01, 0x00, // 16d lock cmpxchg16b [0x14000]
  0xba, 0xf8, 0x03, 0x00, 0x00,                      // 177 mov edx, 0x3f8
  0xb0, 0x58,                                        // 17c mov al, 'X'
  0xee,                                              // 17e out dx, al
  0xb0, 0x10,                                        // 17f mov al, 0x10
  0xe6, 0xf4,                                        // 181 out 0xf4, al           (isa-debug-exit)
  0xf4,                                              // 183 hlt
];
/** Flat segments: 0x08 code 32-bit, 0x10 data, 0x18 code 64-bit. */
const GDT = [0n, 0x00cf9b000000ffffn, 0x00cf93000000ffffn, 0x00af9b000000ffffn];
const GDT_OFFSET = 0x188;
/** Operand of the lgdt at 006. */
const GDTR_OFFSET = 0x1a8;
/** F000:FFF0, where the CPU starts: jmp F000:0000. */
const RESET_VECTOR_OFFSET = 0xfff0;
const RESET_JUMP = [0xea, 0x00, 0x00, 0x00, 0xf0];

/** The firmware image: 64 KiB for QEMU's -bios. */
export function probeFirmware(): Buffer {
  if (CODE.length > GDT_OFFSET) throw new Error('probe code runs into its GDT');
  const b = Buffer.alloc(FIRMWARE_BYTES);
  Buffer.from(CODE).copy(b, 0);
  GDT.forEach((d, i) => b.writeBigUInt64LE(d, GDT_OFFSET + i * 8));
  b.writeUInt16LE(GDT.length * 8 - 1, GDTR_OFFSET);
  b.writeUInt32LE(FIRMWARE_BASE + GDT_OFFSET, GDTR_OFFSET + 2);
  Buffer.from(RESET_JUMP).copy(b, RESET_VECTOR_OFFSET);
  return b;
}

/**
 * Seconds after which a probe's QEMU is killed whatever became of its caller
 * (longer than the caller's own limit, vm/accel.ts PROBE_TIMEOUT_MS, which
 * reports a run too slow). Under a KVM like the build host's the firmware
 * stops at "KVM internal error" and QEMU waits there at 0 % CPU: the caller
 * kills it on that line, but a caller killed first (a CGI or task ended
 * halfway) left it to init for good.
 */
export const PROBE_KILL_AFTER_S = 30;

/**
 * util-linux's setpriv by its path: busybox's `timeout` runs its own applet
 * for a bare "setpriv", and that one has no --pdeathsig.
 */
const SETPRIV = '/usr/bin/setpriv';

/**
 * The argv that runs the firmware under `accel` with the CPU model guests
 * get there, bounded twice against a caller that dies first:
 *
 *   timeout -s KILL 30 /usr/bin/setpriv --pdeathsig KILL -- qemu-system-x86_64 …
 *
 * `timeout` kills QEMU after PROBE_KILL_AFTER_S in any case (GNU's, on a
 * Debian host, and busybox's, on a node, both take `-s SIG SECS`);
 * `--pdeathsig` kills it the moment its parent ends: on a node that is the
 * caller itself (busybox's `timeout` execs QEMU in its own process and
 * watches from a detached one), on a Debian host GNU's `timeout`, so QEMU
 * goes with it when the caller ends that early.
 */
export function probeArgs(accel: Accelerator, firmware: string, cpu = accel === 'kvm' ? KVM_CPU : TCG_CPU): string[] {
  return [
    'timeout', '-s', 'KILL', String(PROBE_KILL_AFTER_S),
    SETPRIV, '--pdeathsig', 'KILL', '--',
    QEMU_BINARY,
    '-accel', accel,
    '-cpu', cpu,
    '-machine', 'pc',
    '-m', String(PROBE_MEMORY_MIB),
    '-no-user-config', '-nodefaults', '-display', 'none',
    '-bios', firmware,
    '-serial', 'stdio',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-no-reboot',
  ];
}

export interface ProbeOutput {
  /** How far the firmware got: nothing, protected mode, long mode, or all of it. */
  stage: 'start' | 'protected' | 'long' | 'done';
  /** TSC cycles of each page-table round that finished. */
  rounds: number[];
}

/** The firmware's serial output → stage and rounds. */
export function parseProbeOutput(serial: string): ProbeOutput {
  const m = /^P(L((?:[0-9a-f]{16} )*)(X)?)?/.exec(serial);
  if (!m) return { stage: 'start', rounds: [] };
  const rounds = (m[2] ?? '').trim().split(' ').filter(Boolean).map((h) => Number.parseInt(h, 16));
  return { stage: m[3] ? 'done' : m[1] ? 'long' : 'protected', rounds };
}

/** One run of the firmware as the edge saw it. */
export interface ProbeRun {
  serial: string;
  /** Exit status; null when it was killed. */
  code: number | null;
  /** Last lines of QEMU's stderr. */
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface ProbeVerdict {
  accel: Accelerator;
  /** Why, in a sentence for the admin. */
  reason: string;
  /** Fastest page-table round (TSC cycles) under each; null where none finished. */
  kvmCycles: number | null;
  tcgCycles: number | null;
}

/** Where the firmware was when it stopped, for the reason. */
export function stageText(out: ProbeOutput): string {
  if (out.stage === 'long') return out.rounds.length < PROBE_ROUNDS ? 'in long mode, in the page-table rounds' : 'in long mode, at lock cmpxchg16b on a page table';
  return { start: 'before protected mode', protected: 'in protected mode, before long mode', done: 'at the end' }[out.stage];
}

/** Why a run failed, or null when it ran to the end. */
export function runFailure(run: ProbeRun, out: ProbeOutput, timeoutMs: number): string | null {
  const errLine = run.stderr.split('\n').map((l) => l.trim()).find((l) => KVM_ERROR_RE.test(l) && !/warning:/.test(l));
  if (errLine) return `${errLine.replace(/\.$/, '')} (${stageText(out)})`;
  if (run.timedOut) return `no end within ${timeoutMs / 1000} s (${stageText(out)})`;
  if (run.code !== PROBE_EXIT_OK || out.stage !== 'done') {
    const last = run.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/warning:/.test(l)).pop();
    if (out.stage !== 'start' && run.code === 0) return `the CPU reset (a fault ${stageText(out)})`;
    return `QEMU exited with ${run.code ?? 'a signal'}${last ? `: ${last}` : ''} (${stageText(out)})`;
  }
  return null;
}

const fastest = (rounds: number[]) => (rounds.length > 0 ? Math.min(...rounds) : null);

/** KVM when its run finished and its fastest round beat TCG's; else TCG, saying why. */
export function probeVerdict(kvm: ProbeRun, tcg: ProbeRun, timeoutMs: number): ProbeVerdict {
  const k = parseProbeOutput(kvm.serial);
  const t = parseProbeOutput(tcg.serial);
  const kvmCycles = fastest(k.rounds);
  const tcgCycles = fastest(t.rounds);
  const base = { kvmCycles, tcgCycles };
  const kvmFailed = runFailure(kvm, k, timeoutMs);
  if (kvmFailed) return { ...base, accel: 'tcg', reason: `KVM failed the probe: ${kvmFailed}` };
  if (runFailure(tcg, t, timeoutMs) || kvmCycles === null || tcgCycles === null) {
    return { ...base, accel: 'kvm', reason: 'KVM ran the probe (no TCG run to compare with)' };
  }
  const ratio = kvmCycles / tcgCycles;
  if (ratio > 1) return { ...base, accel: 'tcg', reason: `KVM ran the probe's page-table work ${ratio.toFixed(1)}× slower than TCG` };
  return { ...base, accel: 'kvm', reason: `KVM ran the probe, page-table work ${(1 / ratio).toFixed(1)}× faster than TCG` };
}
