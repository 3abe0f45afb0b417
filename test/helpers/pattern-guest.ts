/**
 * A guest that proves its disk through itself, with no OS: a 512-byte boot
 * sector (16-bit real mode, BIOS services only, hand-assembled here) that
 * SeaBIOS boots from the disk it checks. It reads one sector further in
 * (INT 13h extended read, AH=42h, the drive the BIOS booted from in DL):
 *
 *   holds "ramvm-pattern <token>"  → prints "ramvm-pattern found <token>"
 *   anything else                  → writes it there (AH=43h), clears its
 *                                    buffer, reads it back, compares, and
 *                                    prints "ramvm-pattern written <token>"
 *   a call fails (CF set)          → "ramvm-pattern error <step> <AH in hex> <token>",
 *                                    step read, write, verify (the read back)
 *                                    or compare (AH 00: read back, but different)
 *
 * on COM1 (port 0x3F8) with CR LF, then halts (cli; hlt). The token sits in
 * the sector's data area: a disk that carries it from one machine to another
 * (a replica after a failover) boots into "found" there. Under TCG the line
 * comes about a second after the start.
 *
 *   const boot = patternBootSector('k3f9a0c2', 2400);   // sector 0 of the disk
 *   …boot it, wait for the line…
 *   parsePatternLine(serialLog)  → { result: 'written', token: 'k3f9a0c2' }
 *   patternBytes('k3f9a0c2')     → the 32 bytes it wrote at LBA 2400 (the rest of that sector is zero)
 *
 * Memory (the BIOS loads the sector at 0000:7C00): code at 7C00, data at
 * 7D00 (offset 100h of the sector), the sector buffer at 7E00.
 *
 *   100: disk address packet (16 bytes): size 10h, 0, count 1, buffer 0000:7E00, LBA (8 bytes)
 *   110: the boot drive (DL at entry)
 *   120: the pattern, 32 bytes: "ramvm-pattern <token>", NUL-padded
 *   140: "ramvm-pattern found "    158: "ramvm-pattern written "   170: "ramvm-pattern error "
 *   188: "read "   190: "write "   198: "verify "   1A0: "compare "   1B0: CR LF
 *   1FE: 55 AA
 */

/** Sector 0 of the disk; the data area starts here. */
const DATA_OFFSET = 0x100;
const SECTOR_BYTES = 512;
const SIGNATURE_OFFSET = 510;
/** The program's sector buffer (0000:7E00), right after the boot sector. */
const BUFFER_ADDRESS = 0x7e00;
/** Bytes of the pattern the program writes and compares. */
export const PATTERN_BYTES = 32;
/** What every line of the program starts with. */
export const PATTERN_PREFIX = 'ramvm-pattern';
/** A token: letters and digits, at most 16 (the pattern is "ramvm-pattern " + token + at least one NUL in 32 bytes). */
const TOKEN_RE = /^[0-9a-z]{1,16}$/;

/** The program, one instruction a line: its offset in the sector, then what it does. */
const CODE = [
  0xfa,                                // 00 cli
  0x31, 0xc0,                          // 01 xor ax, ax
  0x8e, 0xd8,                          // 03 mov ds, ax
  0x8e, 0xc0,                          // 05 mov es, ax                 ; stosw, movsb, cmpsb write/read es:di
  0x8e, 0xd0,                          // 07 mov ss, ax
  0xbc, 0x00, 0x7c,                    // 09 mov sp, 0x7C00
  0xfb,                                // 0C sti                        ; the BIOS disk code may wait for interrupts
  0xfc,                                // 0D cld
  0x88, 0x16, 0x10, 0x7d,              // 0E mov [0x7D10], dl           ; the boot drive
  0xb8, 0x00, 0x42,                    // 12 mov ax, 0x4200             ; extended read
  0xe8, 0x75, 0x00,                    // 15 call disk (→ 8D)
  0xbb, 0x88, 0x7d,                    // 18 mov bx, 0x7D88             ; step "read "
  0x72, 0x4f,                          // 1B jc fail (→ 6C)
  0xe8, 0x7d, 0x00,                    // 1D call compare (→ 9D)
  0xbe, 0x40, 0x7d,                    // 20 mov si, 0x7D40             ; "ramvm-pattern found "
  0x74, 0x34,                          // 23 je report (→ 59)
  0xe8, 0x81, 0x00,                    // 25 call clear (→ A9)
  0xbe, 0x20, 0x7d,                    // 28 mov si, 0x7D20             ; the pattern
  0xbf, 0x00, 0x7e,                    // 2B mov di, 0x7E00             ; into the buffer
  0xb9, 0x20, 0x00,                    // 2E mov cx, 32
  0xf3, 0xa4,                          // 31 rep movsb
  0xb8, 0x00, 0x43,                    // 33 mov ax, 0x4300             ; extended write, AL 0: no verify
  0xe8, 0x54, 0x00,                    // 36 call disk (→ 8D)
  0xbb, 0x90, 0x7d,                    // 39 mov bx, 0x7D90             ; step "write "
  0x72, 0x2e,                          // 3C jc fail (→ 6C)
  0xe8, 0x68, 0x00,                    // 3E call clear (→ A9)          ; so the read back proves itself
  0xb8, 0x00, 0x42,                    // 41 mov ax, 0x4200
  0xe8, 0x46, 0x00,                    // 44 call disk (→ 8D)
  0xbb, 0x98, 0x7d,                    // 47 mov bx, 0x7D98             ; step "verify "
  0x72, 0x20,                          // 4A jc fail (→ 6C)
  0xe8, 0x4e, 0x00,                    // 4C call compare (→ 9D)
  0xbb, 0xa0, 0x7d,                    // 4F mov bx, 0x7DA0             ; step "compare "
  0xb4, 0x00,                          // 52 mov ah, 0                  ; (mov keeps the flags)
  0x75, 0x16,                          // 54 jne fail (→ 6C)
  0xbe, 0x58, 0x7d,                    // 56 mov si, 0x7D58             ; "ramvm-pattern written "
  0xe8, 0x58, 0x00,                    // 59 report: call print (→ B4)
  0xbe, 0x2e, 0x7d,                    // 5C token: mov si, 0x7D2E      ; the pattern's token (after "ramvm-pattern ")
  0xe8, 0x52, 0x00,                    // 5F call print (→ B4)
  0xbe, 0xb0, 0x7d,                    // 62 mov si, 0x7DB0             ; CR LF
  0xe8, 0x4c, 0x00,                    // 65 call print (→ B4)
  0xfa,                                // 68 halt: cli
  0xf4,                                // 69 hlt
  0xeb, 0xfc,                          // 6A jmp halt (→ 68)
  0x88, 0xe1,                          // 6C fail: mov cl, ah           ; the BIOS status
  0xbe, 0x70, 0x7d,                    // 6E mov si, 0x7D70             ; "ramvm-pattern error "
  0xe8, 0x40, 0x00,                    // 71 call print (→ B4)
  0x89, 0xde,                          // 74 mov si, bx                 ; the step
  0xe8, 0x3b, 0x00,                    // 76 call print (→ B4)
  0x88, 0xc8,                          // 79 mov al, cl
  0xc0, 0xe8, 0x04,                    // 7B shr al, 4
  0xe8, 0x3e, 0x00,                    // 7E call hex (→ BF)
  0x88, 0xc8,                          // 81 mov al, cl
  0xe8, 0x39, 0x00,                    // 83 call hex (→ BF)
  0xb0, 0x20,                          // 86 mov al, ' '
  0xe8, 0x3e, 0x00,                    // 88 call putc (→ C9)
  0xeb, 0xcf,                          // 8B jmp token (→ 5C)
  0xc7, 0x06, 0x02, 0x7d, 0x01, 0x00,  // 8D disk: mov word [0x7D02], 1 ; count (the BIOS writes back what it moved)
  0xbe, 0x00, 0x7d,                    // 93 mov si, 0x7D00             ; the disk address packet
  0x8a, 0x16, 0x10, 0x7d,              // 96 mov dl, [0x7D10]
  0xcd, 0x13,                          // 9A int 0x13                   ; CF set on error, AH the status
  0xc3,                                // 9C ret
  0xbe, 0x20, 0x7d,                    // 9D compare: mov si, 0x7D20
  0xbf, 0x00, 0x7e,                    // A0 mov di, 0x7E00
  0xb9, 0x20, 0x00,                    // A3 mov cx, 32
  0xf3, 0xa6,                          // A6 repe cmpsb                 ; ZF set: all 32 equal
  0xc3,                                // A8 ret
  0xbf, 0x00, 0x7e,                    // A9 clear: mov di, 0x7E00
  0xb9, 0x00, 0x01,                    // AC mov cx, 256
  0x31, 0xc0,                          // AF xor ax, ax
  0xf3, 0xab,                          // B1 rep stosw
  0xc3,                                // B3 ret
  0xac,                                // B4 print: lodsb
  0x84, 0xc0,                          // B5 test al, al
  0x74, 0x05,                          // B7 jz (→ BE)
  0xe8, 0x0d, 0x00,                    // B9 call putc (→ C9)
  0xeb, 0xf6,                          // BC jmp print (→ B4)
  0xc3,                                // BE ret
  0x24, 0x0f,                          // BF hex: and al, 0x0F
  0x04, 0x30,                          // C1 add al, '0'
  0x3c, 0x39,                          // C3 cmp al, '9'
  0x76, 0x02,                          // C5 jbe putc (→ C9)
  0x04, 0x27,                          // C7 add al, 'a' - '9' - 1
  0xba, 0xf8, 0x03,                    // C9 putc: mov dx, 0x3F8        ; COM1
  0xee,                                // CC out dx, al
  0xc3,                                // CD ret
];

/** The data area: offset in the sector → its bytes (the pattern and the LBA are filled in per disk). */
const TEXTS: [number, string][] = [
  [0x140, `${PATTERN_PREFIX} found `],
  [0x158, `${PATTERN_PREFIX} written `],
  [0x170, `${PATTERN_PREFIX} error `],
  [0x188, 'read '],
  [0x190, 'write '],
  [0x198, 'verify '],
  [0x1a0, 'compare '],
  [0x1b0, '\r\n'],
];
const DAP_OFFSET = 0x100;
const DAP_LBA_OFFSET = DAP_OFFSET + 8;
const PATTERN_OFFSET = 0x120;

function checkToken(token: string): void {
  if (!TOKEN_RE.test(token)) throw new Error(`token must be 1 to 16 lowercase letters or digits, not ${JSON.stringify(token)}`);
}

/** The 32 bytes the program writes at its sector (the rest of that sector is zeros): "ramvm-pattern <token>", NUL-padded. */
export function patternBytes(token: string): Buffer {
  checkToken(token);
  const b = Buffer.alloc(PATTERN_BYTES);
  b.write(`${PATTERN_PREFIX} ${token}`, 'latin1');
  return b;
}

/** The boot sector: the program, its texts, `token` and the LBA (≥ 1) of the sector it checks. */
export function patternBootSector(token: string, lba: number): Buffer {
  if (!Number.isSafeInteger(lba) || lba < 1) throw new Error(`pattern LBA must be a whole number from 1 on (sector 0 is the program), not ${lba}`);
  if (CODE.length > DATA_OFFSET) throw new Error('pattern guest code runs into its data area');
  const b = Buffer.alloc(SECTOR_BYTES);
  Buffer.from(CODE).copy(b, 0);
  b.writeUInt8(0x10, DAP_OFFSET); // packet size
  b.writeUInt16LE(1, DAP_OFFSET + 2); // sectors
  b.writeUInt16LE(BUFFER_ADDRESS, DAP_OFFSET + 4); // buffer offset (segment 0)
  b.writeBigUInt64LE(BigInt(lba), DAP_LBA_OFFSET);
  patternBytes(token).copy(b, PATTERN_OFFSET);
  for (const [at, text] of TEXTS) b.write(`${text}\0`, at, 'latin1');
  b[SIGNATURE_OFFSET] = 0x55;
  b[SIGNATURE_OFFSET + 1] = 0xaa;
  return b;
}

export type PatternStep = 'read' | 'write' | 'verify' | 'compare';
export type PatternLine =
  | { result: 'found' | 'written'; token: string }
  /** `status`: the BIOS's AH (0 for compare). */
  | { result: 'error'; step: PatternStep; status: number; token: string };

const LINE_RE = /^ramvm-pattern (found|written|error) (?:(read|write|verify|compare) ([0-9a-f]{2}) )?([0-9a-z]+)\r$/m;

/** The program's line in a serial log, once it is whole (ends in CR LF); undefined before. */
export function parsePatternLine(serial: string): PatternLine | undefined {
  const m = LINE_RE.exec(serial);
  if (!m) return undefined;
  const [, result, step, status, token] = m;
  if (result === 'error') {
    if (!step) throw new Error(`pattern guest error line without a step: ${JSON.stringify(m[0])}`);
    return { result, step: step as PatternStep, status: parseInt(status!, 16), token: token! };
  }
  return { result: result as 'found' | 'written', token: token! };
}
