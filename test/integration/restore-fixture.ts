/**
 * Guests and backups for the restore suites, made through the real API,
 * and a boot sector that shows the guest's view of its network cable.
 *
 * The link probe (16-bit real mode, loaded at 0000:7C00; assembled with
 * GNU as, listed here so it can be checked by eye):
 *   1. prints "LINK-PROBE\r\n" on COM1;
 *   2. finds the RTL8139 on PCI bus 0 (config dword 0 = 0x813910EC) through
 *      ports 0xCF8/0xCFC, turns on its I/O space and reads BAR0;
 *   3. about 18 times a second (BIOS timer, HLT) reads the chip's
 *      MediaStatus register (BAR0 + 0x58): bit 2 is the inverse link status
 *      (QEMU's rtl8139.c: 0xd0 | (~BasicModeStatus & 0x04)), and prints
 *      "LINK-DOWN\r\n" or "LINK-UP\r\n" at the start and on every change.
 *
 *   7c00: fa fc 31 c0 8e d8 8e d0 bc 00 7c      cli; cld; ds = ss = 0; sp = 7c00
 *   7c0b: be 9c 7c e8 7b 00                     print "LINK-PROBE"
 *   7c11: 66 bb 00 00 00 80                     ebx = 0x80000000 (bus 0, dev 0, fn 0)
 *   7c17: 66 89 d8 ba f8 0c 66 ef ba fc 0c 66 ed  eax = config dword 0 of ebx
 *   7c24: 66 3d ec 10 39 81 74 1a               found the RTL8139? → 7c46
 *   7c2c: 66 81 c3 00 08 00 00 66 81 fb 00 00 01 80 72 db   next device (ebx += 0x800) up to 32
 *   7c3c: be bf 7c e8 4a 00 fa f4 eb fc          print "NO-NIC", halt
 *   7c46: 66 89 d8 0c 04 … ed 0c 01 ef           command register |= I/O space
 *   7c57: 66 89 d8 0c 10 … 66 ed 83 e0 fc 83 c0 58 89 c7   di = BAR0 & ~3 + 0x58 (MediaStatus)
 *   7c6e: b1 ff                                  cl = last state (none yet)
 *   7c70: 89 fa ec 24 04 38 c8 74 0f             al = MediaStatus & 4; unchanged → 7c88
 *   7c79: 88 c1 be a9 7c 84 c0 74 03 be b3 7c e8 04 00   print "LINK-UP" or "LINK-DOWN"
 *   7c88: fb f4 eb e4                            sti; hlt; → 7c70
 *   7c8c: 50 52 ba f8 03 ac 84 c0 74 03 ee eb f8 5a 58 c3   print: [si] to COM1 until NUL
 *   7c9c: "LINK-PROBE\r\n\0" "LINK-UP\r\n\0" "LINK-DOWN\r\n\0" "NO-NIC\r\n\0"
 *   7dfe: 55 aa
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { withQmp } from '../../node-cgi/qemu/qmp';
import type { NodeFixture } from '../helpers/fixture';
import type { Client } from '../helpers/node';
import { sh, taskLog, waitTask } from './backup-fixture';

export { sh, taskLog, waitTask };

export const PROBE_MARKER = 'LINK-PROBE';

const PROBE_CODE =
  'fafc31c08ed88ed0bc007cbe9c7ce87b0066bb0000008066' +
  '89d8baf80c66efbafc0c66ed663dec103981741a6681c300' +
  '0800006681fb0000018072dbbebf7ce84a00faf4ebfc6689' +
  'd80c04baf80c66efbafc0ced0c01ef6689d80c10baf80c66' +
  'efbafc0c66ed83e0fc83c05889c7b1ff89faec240438c874' +
  '0f88c1bea97c84c07403beb37ce80400fbf4ebe45052baf8' +
  '03ac84c07403eeebf85a58c3';
const PROBE_TEXT = 'LINK-PROBE\r\n\0LINK-UP\r\n\0LINK-DOWN\r\n\0NO-NIC\r\n\0';

/** The 512-byte link probe boot sector. */
export function linkProbeSector(): Buffer {
  const b = Buffer.alloc(512);
  const code = Buffer.from(PROBE_CODE, 'hex');
  if (code.length !== 0x9c) throw new Error(`probe code is ${code.length} bytes, not 0x9c`);
  code.copy(b, 0);
  Buffer.from(PROBE_TEXT, 'latin1').copy(b, 0x9c);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

const MiB = 1 << 20;

/** A raw file of `sizeMiB` whose first `filledMiB` are random, with the link probe in sector 0. */
export function probeDisk(file: string, sizeMiB: number, filledMiB: number): void {
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < filledMiB; i++) writeSync(fd, randomBytes(MiB), 0, MiB, i * MiB);
    const boot = linkProbeSector();
    writeSync(fd, boot, 0, boot.length, 0);
  } finally {
    closeSync(fd);
  }
  sh(['truncate', '-s', `${sizeMiB}M`, file]);
}

export interface ProbeGuest {
  vmid: number;
  disk: string;
  serial: string;
  qmp: string;
}

/**
 * Guest `vmid` through the API: one disk holding the link probe and random
 * data (also written to `reference`, raw), one RTL8139 on user-mode NAT.
 */
export async function makeProbeGuest(fx: NodeFixture, vmid: number, o: { sizeMiB: number; filledMiB: number; format: 'qcow2' | 'raw'; reference: string }): Promise<ProbeGuest> {
  const cfg = await fx.createGuest({
    vmid, name: `rs${vmid}`, memory: 32, cdrom: null, nics: [{ model: 'rtl8139' }], boot: ['disk0'],
    disks: [{ size: `${o.sizeMiB}M`, format: o.format, bus: 'ide' }],
  });
  const disk = fx.imageFile(vmid, cfg.disks[0]!.file);
  probeDisk(o.reference, o.sizeMiB, o.filledMiB);
  if (o.format === 'raw') sh(['cp', '--sparse=always', o.reference, disk]);
  else sh(['qemu-img', 'convert', '-n', '-f', 'raw', '-O', 'qcow2', o.reference, disk]);
  // The work above blocked the event loop for seconds: let the HTTP client see the keep-alive
  // connections lighttpd closed meanwhile, or its next request goes out on a closed socket.
  await new Promise((r) => setTimeout(r, 100));
  return { vmid, disk, serial: fx.runFile(vmid, 'serial.log'), qmp: fx.runFile(vmid, 'qmp') };
}

/** Start a probe guest and wait for its first line on COM1. */
export const startProbeGuest = (fx: NodeFixture, vmid: number) => fx.startGuest(vmid, { marker: PROBE_MARKER });

/** Back a guest up through the API; returns the backup's list entry. */
export async function makeBackup(api: Client, vmid: number, compress: 'zstd' | 'none' = 'none'): Promise<{ id: string; vmid: number }> {
  const before = new Set(((await api.get(`/api/backup?vmid=${vmid}`)).json.data as { id: string }[]).map((b) => b.id));
  const r = await api.post('/api/backup/run', { vmid, compress });
  if (r.status !== 202) throw new Error(`backup ${vmid}: ${r.text}`);
  const t = await waitTask(api, r.json.data.task);
  if (t.status !== 'ok') throw new Error(`backup ${vmid} failed: ${await taskLog(api, r.json.data.task)}`);
  const b = ((await api.get(`/api/backup?vmid=${vmid}`)).json.data as { id: string; vmid: number }[]).find((x) => !before.has(x.id));
  if (!b) throw new Error('the new backup is not listed');
  return b;
}

/** The folder of a backup on storage local. */
export function backupDir(root: string, id: string): string {
  const [, vmid, stamp] = id.split(':');
  return join(root, 'var/lib/vz/dump/ramvm', vmid!, stamp!);
}

/** SHA-256 of each file the backup's manifest lists, and of the manifest itself. */
export function backupSums(dir: string): Record<string, string> {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: { name: string }[] };
  const out: Record<string, string> = {};
  for (const n of [...m.files.map((f) => f.name), 'manifest.json']) out[n] = createHash('sha256').update(readFileSync(join(dir, n))).digest('hex');
  return out;
}

/** Bytes a file occupies on disk (holes do not count). */
export const allocated = (file: string) => statSync(file).blocks * 512;

/** HMP through QMP on a guest's work socket; qemu-io prints to QEMU's stdout, so an answer is an error. */
export async function hmp(qmp: string, line: string): Promise<string> {
  return withQmp(qmp, (q) => q.execute<string>('human-monitor-command', { 'command-line': line }));
}

/** A write through QEMU's block layer, as the guest's own writes go: `size` bytes of `pattern` at `offset`. */
export async function guestWrite(qmp: string, drive: string, offset: number, size: number, pattern: number): Promise<void> {
  const out = await hmp(qmp, `qemu-io ${drive} "write -P ${pattern} ${offset} ${size}"`);
  if (out.trim()) throw new Error(`write: ${out}`);
}

/** Files the QEMU process `pid` holds open. */
export function openFiles(pid: number): string[] {
  return sh(['ls', '-l', `/proc/${pid}/fd`]).out.split('\n').map((l) => l.split(' -> ')[1] ?? '').filter(Boolean);
}

/**
 * What the set-up of a node booted from a backup disk leaves (build/image/
 * node-setup.ts backupMode()), on a test node: the backups (here the
 * node's own dump folder, bind-mounted) read-only at a mount point of
 * their own, the directory storage "backupdisk" there, and
 * run/ramvm/backup-mode.json. Returns the mount point (unmounted by the
 * fixture's cleanups).
 */
export async function enterBackupMode(fx: NodeFixture): Promise<string> {
  const mnt = join(fx.root, 'mnt-backup');
  mkdirSync(mnt);
  sh(['mount', '--bind', join(fx.root, 'var/lib/vz/dump'), mnt]);
  fx.cleanups.push(() => sh(['umount', mnt], { allowFail: true }));
  sh(['mount', '-o', 'remount,bind,ro', mnt]);
  const st = await fx.admin.post('/api/storage', { name: 'backupdisk', type: 'dir', path: mnt, mountpoint: true });
  if (st.status !== 201) throw new Error(`storage backupdisk: ${st.text}`);
  writeFileSync(join(fx.root, 'run/ramvm/backup-mode.json'), JSON.stringify({ storage: 'backupdisk', device: '/dev/sda3', uuid: '0f3a4b2c-1d2e-4f50-8a9b-0c1d2e3f4a5b', mount: mnt, since: Date.now() }));
  return mnt;
}
