/**
 * A tiny test guest: a 512-byte boot sector, hand-assembled here, that any
 * test can boot in QEMU (IDE, SATA, SCSI or VirtIO disk; qcow2 or raw). Under
 * TCG it prints its marker within a second of the start.
 *
 * What it does (16-bit real mode, loaded by the BIOS at 0000:7C00):
 *   1. reads the ACPI PM I/O base from the PIIX4 power-management function
 *      (PCI 00:01.3, register 0x40; SeaBIOS programs it) and enables the
 *      power-button event (PM1_EN bit 8);
 *   2. prints the marker ("RAMVM-GUEST-OK\r\n" by default) on COM1 (port
 *      0x3F8): once a test sees it, the guest reacts to the power button;
 *   3. sleeps with HLT (the BIOS timer wakes it 18.2 times a second), prints
 *      "." on COM1 every 18 wake-ups (about once a second: proof that it runs),
 *      and polls PWRBTN_STS (PM1_STS bit 8);
 *   4. when QMP system_powerdown presses the button, it writes SLP_EN with
 *      SLP_TYP 0 to PM1_CNT, which QEMU's i440fx/PIIX4 takes as soft-off (S5):
 *      QEMU ends. So it is an ACPI-aware guest, without any ACPI tables.
 *
 * Byte layout (offset: bytes  instruction):
 *   00: FA              cli
 *   01: 31 C0           xor ax, ax
 *   03: 8E D8           mov ds, ax
 *   05: 8E D0           mov ss, ax
 *   07: BC 00 7C        mov sp, 0x7C00
 *   0A: 66 B8 40 0B 00 80  mov eax, 0x80000B40   ; PCI config address: bus 0, dev 1, fn 3, reg 0x40
 *   10: BA F8 0C        mov dx, 0x0CF8
 *   13: 66 EF           out dx, eax
 *   15: BA FC 0C        mov dx, 0x0CFC
 *   18: 66 ED           in eax, dx               ; PMBASE | 1
 *   1A: 83 E0 C0        and ax, 0xFFC0
 *   1D: 89 C3           mov bx, ax               ; bx = PM1_STS; +2 PM1_EN; +4 PM1_CNT
 *   1F: 8D 57 02        lea dx, [bx+2]           ; PM1_EN
 *   22: B8 00 01        mov ax, 0x0100           ; PWRBTN_EN
 *   25: EF              out dx, ax
 *   26: BA F8 03        mov dx, 0x03F8           ; COM1
 *   29: BE 59 7C        mov si, 0x7C59           ; the marker, at offset 0x59
 *   2C: AC              lodsb                    ; print: al = [si++]
 *   2D: 84 C0           test al, al
 *   2F: 74 03           jz +3 (→ 34)
 *   31: EE              out dx, al
 *   32: EB F8           jmp -8 (→ 2C)
 *   34: 31 C9           xor cx, cx               ; wake-up counter
 *   36: FB              sti
 *   37: F4              hlt                      ; wait: sleep until an interrupt
 *   38: 41              inc cx
 *   39: 83 F9 12        cmp cx, 18
 *   3C: 72 08           jb +8 (→ 46)
 *   3E: 31 C9           xor cx, cx
 *   40: BA F8 03        mov dx, 0x03F8
 *   43: B0 2E           mov al, '.'
 *   45: EE              out dx, al
 *   46: 89 DA           mov dx, bx               ; PM1_STS
 *   48: ED              in ax, dx
 *   49: F6 C4 01        test ah, 1               ; PWRBTN_STS
 *   4C: 74 E9           jz -23 (→ 37)
 *   4E: 8D 57 04        lea dx, [bx+4]           ; PM1_CNT
 *   51: B8 00 20        mov ax, 0x2000           ; SLP_EN | SLP_TYP 0
 *   54: EF              out dx, ax
 *   55: FA              cli
 *   56: F4              hlt
 *   57: EB FD           jmp -3 (→ 56)
 *   59: marker bytes, NUL-terminated
 *   1FE: 55 AA          boot signature
 *
 *   await writeBootDisk('/tmp/t/disk.qcow2', { format: 'qcow2' });      // a fresh 1 MiB image
 *   await installBootSector(diskPathOfAGuest, 'qcow2');                  // into an image the API created
 *   await waitForSerial(serialLogPath, GUEST_MARKER);
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestPids, type Client } from './node';
import type { NodeRecord } from '../../node-cgi/lib/separation';
import { asQemuArgs } from '../../node-cgi/root/guest';
import { launchQemu, writePidRecord } from '../../node-cgi/vm/launch';

export { guestPids };

export const GUEST_MARKER = 'RAMVM-GUEST-OK';

const CODE = [
  0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, 0x66, 0xb8, 0x40, 0x0b, 0x00, 0x80,
  0xba, 0xf8, 0x0c, 0x66, 0xef, 0xba, 0xfc, 0x0c, 0x66, 0xed, 0x83, 0xe0, 0xc0, 0x89, 0xc3, 0x8d,
  0x57, 0x02, 0xb8, 0x00, 0x01, 0xef, 0xba, 0xf8, 0x03, 0xbe, 0x59, 0x7c, 0xac, 0x84, 0xc0, 0x74,
  0x03, 0xee, 0xeb, 0xf8, 0x31, 0xc9, 0xfb, 0xf4, 0x41, 0x83, 0xf9, 0x12, 0x72, 0x08, 0x31, 0xc9,
  0xba, 0xf8, 0x03, 0xb0, 0x2e, 0xee, 0x89, 0xda, 0xed, 0xf6, 0xc4, 0x01, 0x74, 0xe9, 0x8d, 0x57,
  0x04, 0xb8, 0x00, 0x20, 0xef, 0xfa, 0xf4, 0xeb, 0xfd,
];
/** Where the marker starts (the operand of "mov si, 0x7C59"). */
const MARKER_OFFSET = 0x59;
const SECTOR_BYTES = 512;
const SIGNATURE_OFFSET = 510;

/** The 512-byte boot sector that prints `marker` + CR LF on COM1. */
export function bootSector(marker = GUEST_MARKER): Buffer {
  if (CODE.length !== MARKER_OFFSET) throw new Error('boot sector code does not end where the marker starts');
  const text = Buffer.from(`${marker}\r\n\0`, 'latin1');
  if (!/^[\x20-\x7e]+$/.test(marker) || MARKER_OFFSET + text.length > SIGNATURE_OFFSET) {
    throw new Error(`marker must be printable ASCII of at most ${SIGNATURE_OFFSET - MARKER_OFFSET - 3} characters`);
  }
  const b = Buffer.alloc(SECTOR_BYTES);
  Buffer.from(CODE).copy(b, 0);
  text.copy(b, MARKER_OFFSET);
  b[SIGNATURE_OFFSET] = 0x55;
  b[SIGNATURE_OFFSET + 1] = 0xaa;
  return b;
}

/**
 * A boot sector that crashes on purpose, after printing `marker` + CR LF on
 * COM1 (so a test knows it ran):
 *   "panic": tells the pvpanic device (ISA port 0x505) it panicked, then
 *            halts: QEMU (with -action panic=pause) stops in "guest-panicked";
 *   "mmio":  jumps into the VGA window (A000:0000), which is device memory:
 *            KVM cannot fetch instructions there and stops the guest in
 *            "internal-error" (TCG runs on through it).
 *
 *   00: FA              cli
 *   01: 31 C0           xor ax, ax
 *   03: 8E D8           mov ds, ax
 *   05: BA F8 03        mov dx, 0x03F8           ; COM1
 *   08: BE 40 7C        mov si, 0x7C40           ; the marker
 *   0B: AC              lodsb
 *   0C: 84 C0           test al, al
 *   0E: 74 03           jz +3 (→ 13)
 *   10: EE              out dx, al
 *   11: EB F8           jmp -8 (→ 0B)
 *   13: panic: BA 05 05 mov dx, 0x505 / B0 01 mov al, 1 / EE out dx, al / F4 hlt / EB FD jmp -3 (→ 19)
 *       mmio:  EA 00 00 00 A0  jmp A000:0000
 *   40: marker bytes, NUL-terminated
 *   1FE: 55 AA
 */
export function crashSector(kind: 'panic' | 'mmio', marker = GUEST_MARKER): Buffer {
  const print = [0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xba, 0xf8, 0x03, 0xbe, 0x40, 0x7c, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8];
  const action = kind === 'panic' ? [0xba, 0x05, 0x05, 0xb0, 0x01, 0xee, 0xf4, 0xeb, 0xfd] : [0xea, 0x00, 0x00, 0x00, 0xa0];
  const b = Buffer.alloc(SECTOR_BYTES);
  Buffer.from([...print, ...action]).copy(b, 0);
  Buffer.from(`${marker}\r\n\0`, 'latin1').copy(b, 0x40);
  b[SIGNATURE_OFFSET] = 0x55;
  b[SIGNATURE_OFFSET + 1] = 0xaa;
  return b;
}

/**
 * A boot sector for a screen a person types into: each key paints the whole
 * text screen in a background colour, the key's ASCII code modulo 8 (VGA
 * colours: "t" red, "r" green, "q" blue), so a test sees on a screen (and
 * through any console in between) that the guest got the key. It prints
 * nothing on COM1.
 *
 *   00: 31 C0           xor ax, ax
 *   02: 8E D8           mov ds, ax
 *   04: B4 00           mov ah, 0                ; wait for a key: al = its ASCII code
 *   06: CD 16           int 0x16
 *   08: 24 07           and al, 7                ; colour 0-7
 *   0A: B1 04           mov cl, 4
 *   0C: D2 E0           shl al, cl               ; as the background of a text attribute
 *   0E: 88 C7           mov bh, al
 *   10: B8 00 06        mov ax, 0x0600           ; scroll up, al 0: clear the window
 *   13: 31 C9           xor cx, cx               ; from row 0, column 0
 *   15: BA 4F 18        mov dx, 0x184F           ; to row 24, column 79
 *   18: CD 10           int 0x10
 *   1A: EB E8           jmp -24 (→ 04)
 *   1FE: 55 AA
 */
export function keyColourSector(): Buffer {
  const code = [0x31, 0xc0, 0x8e, 0xd8, 0xb4, 0x00, 0xcd, 0x16, 0x24, 0x07, 0xb1, 0x04, 0xd2, 0xe0, 0x88, 0xc7,
    0xb8, 0x00, 0x06, 0x31, 0xc9, 0xba, 0x4f, 0x18, 0xcd, 0x10, 0xeb, 0xe8];
  const b = Buffer.alloc(SECTOR_BYTES);
  Buffer.from(code).copy(b, 0);
  b[SIGNATURE_OFFSET] = 0x55;
  b[SIGNATURE_OFFSET + 1] = 0xaa;
  return b;
}

function qemuImg(args: string[]): void {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qemu-img ${args.join(' ')}: ${r.stderr}`);
}

/** Write the boot sector (or another 512-byte `sector`) into sector 0 of an existing image (raw: in place; qcow2: qemu-img convert -n). */
export function installBootSector(image: string, format: 'raw' | 'qcow2', marker = GUEST_MARKER, sector = bootSector(marker)): void {
  if (format === 'raw') {
    const fd = openSync(image, 'r+');
    try {
      writeSync(fd, sector, 0, sector.length, 0);
    } finally {
      closeSync(fd);
    }
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'ramvm-bootsector-'));
  try {
    const src = join(tmp, 'sector.raw');
    writeFileSync(src, sector);
    // -n: write into the existing image (it keeps its size and format).
    qemuImg(['convert', '-n', '-f', 'raw', '-O', 'qcow2', src, image]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A new disk image at `path` holding the boot sector (default 1 MiB). */
export function writeBootDisk(path: string, opts: { format?: 'raw' | 'qcow2'; size?: string; marker?: string } = {}): void {
  const format = opts.format ?? 'raw';
  const size = opts.size ?? '1M';
  if (format === 'raw') {
    writeFileSync(path, bootSector(opts.marker));
    qemuImg(['resize', '-q', '-f', 'raw', path, size]);
  } else {
    qemuImg(['create', '-q', '-f', 'qcow2', path, size]);
    installBootSector(path, 'qcow2', opts.marker);
  }
}

/**
 * Create a guest through the API on the node at `root` with a 1 MiB raw disk
 * holding `sector` (default the ACPI-aware boot sector); returns its VMID.
 */
export async function createSectorGuest(api: Client, root: string, body: Record<string, unknown>, sector = bootSector()): Promise<number> {
  const r = await api.post('/api/vm', { memory: 32, nics: [], disks: [{ size: '1M', format: 'raw' }], ...body });
  if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`);
  const cfg = r.json.data;
  installBootSector(join(root, 'var/lib/vz/images', String(cfg.vmid), cfg.disks[0].file), 'raw', GUEST_MARKER, sector);
  return cfg.vmid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until the serial log contains `text`; returns the log. */
export async function waitForSerial(file: string, text: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let log = '';
    try {
      log = readFileSync(file, 'latin1');
    } catch {
      /* not there yet */
    }
    if (log.includes(text)) return log;
    if (Date.now() > deadline) throw new Error(`serial log ${file} did not show ${JSON.stringify(text)} within ${timeoutMs} ms; it holds ${JSON.stringify(log.slice(-200))}`);
    await sleep(50);
  }
}

/** Wait until `check` returns a truthy value (polling); throws `what` on timeout. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000, stepMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Kill every QEMU this test started under `root` (by pid, checked against its cmdline). */
export async function killGuests(root: string): Promise<void> {
  const pids = guestPids(root);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 5_000;
  while (pids.some((p) => alive(p)) && Date.now() < deadline) await sleep(20);
}

function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/**
 * Launch a QEMU command line as the node would (a test's own variant of a
 * guest's argv): as the node's QEMU user on a separated node, with its pid
 * recorded where the node reads it. Returns the pid.
 */
export async function launchAsNode(server: { root: string; record?: NodeRecord }, vmid: number, argv: readonly string[]): Promise<number> {
  const as = server.record ? asQemuArgs(server.record.qemu) : undefined;
  const pid = await launchQemu(argv, { timeoutMs: 30_000, env: { PATH: process.env.PATH }, umask: 0o007, ...(as ? { as } : {}) });
  writePidRecord(join(server.root, 'run/ramvm/qemu', `${vmid}.pid`), pid);
  return pid;
}
