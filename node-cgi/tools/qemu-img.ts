/**
 * qemu-img: every argv ramvm gives it and every output it reads, in one
 * module (guests' disks, backups, restores and checks all go through here).
 *
 *   createArgs('/i/vm-101-disk-0.qcow2', 'qcow2', 34359738368)
 *   → qemu-img create -q -f qcow2 -o preallocation=off /i/vm-101-disk-0.qcow2 34359738368
 *   createArgs('/i/vm-106-disk-0.qcow2', 'qcow2', null, { backing: '/b/vm-101-disk-0.qcow2' })
 *   → qemu-img create -q -f qcow2 -F qcow2 -b /b/vm-101-disk-0.qcow2 /i/vm-106-disk-0.qcow2   (an overlay, the backing's size)
 *   convertArgs({ file: '/i/d.raw', format: 'raw' }, { file: '/s/d.qcow2', format: 'qcow2' }, 'zstd')
 *   → qemu-img convert -p -f raw -O qcow2 -c -o compression_type=zstd /i/d.raw /s/d.qcow2
 *
 * Zero and unallocated areas stay unallocated in every conversion, so
 * sparse disks stay small. `check` exits 2 for corruptions and 3 for leaks
 * only, and prints JSON either way:
 *   {"image-end-offset": 262144, "total-clusters": 256, "check-errors": 0, "filename": "…", "format": "qcow2"}
 * `convert -p` prints "    (42.17/100%)\r" as it goes.
 * Reference: qemu-img(1).
 */
import { chmodSync } from 'node:fs';
import { run, runAllowFail } from '../lib/exec';
import { internal } from '../lib/errors';

export const QEMU_IMG = 'qemu-img';
/** Time for a create or a resize (sparse: instant; qcow2 metadata: ms). */
export const QEMU_IMG_TIMEOUT_MS = 120_000;
/** Time one conversion (a whole disk) may take. */
export const CONVERT_TIMEOUT_MS = 24 * 60 * 60_000; // 24 h
/** Time a check may take (it reads all of a large image's metadata). */
export const CHECK_TIMEOUT_MS = 60 * 60_000; // 1 h

export type ImageFormat = 'qcow2' | 'raw';

export interface Image {
  file: string;
  format: string;
}

/**
 * Create an image of `bytes` (null: the backing file's size). qcow2 gets no
 * preallocation, or zstd-compressed clusters with `zstd`; with `backing` it
 * is an overlay over that read-only qcow2.
 */
export function createArgs(file: string, format: ImageFormat, bytes: number | null, o: { zstd?: boolean; backing?: string } = {}): string[] {
  const options = format !== 'qcow2' || o.backing ? [] : ['-o', o.zstd ? 'compression_type=zstd' : 'preallocation=off'];
  const backing = o.backing ? ['-F', 'qcow2', '-b', o.backing] : [];
  return [QEMU_IMG, 'create', '-q', '-f', format, ...options, ...backing, file, ...(bytes === null ? [] : [String(bytes)])];
}

/** Grow an image to `bytes` (of a stopped guest: a running one grows through QMP block_resize). */
export function resizeArgs(file: string, format: string, bytes: number): string[] {
  return [QEMU_IMG, 'resize', '-q', '-f', format, file, String(bytes)];
}

/** Copy `from` into a new image `to`, with progress; zstd-compressed qcow2 clusters with `compress`. */
export function convertArgs(from: Image, to: { file: string; format: ImageFormat }, compress: 'zstd' | 'none' = 'none'): string[] {
  const options = compress === 'zstd' ? ['-c', '-o', 'compression_type=zstd'] : to.format === 'qcow2' ? ['-o', 'preallocation=off'] : [];
  return [QEMU_IMG, 'convert', '-p', '-f', from.format, '-O', to.format, ...options, from.file, to.file];
}

/** `info` as JSON; `shared` (-U) reads an image a running QEMU holds locked. */
export function infoArgs(image: Image, shared: boolean): string[] {
  return [QEMU_IMG, 'info', ...(shared ? ['-U'] : []), '--output=json', '-f', image.format, image.file];
}

export function checkArgs(file: string): string[] {
  return [QEMU_IMG, 'check', '--output=json', '-f', 'qcow2', file];
}

export interface QemuImgCheck {
  'check-errors': number;
  corruptions?: number;
  leaks?: number;
  'image-end-offset'?: number;
  filename: string;
  format: string;
}

/** Parse `qemu-img check --output=json`; throws with the input on garbage. */
export function parseCheck(text: string): QemuImgCheck {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`qemu-img check printed no JSON: ${text.slice(0, 200)}`);
  }
  const o = v as QemuImgCheck;
  if (typeof o !== 'object' || o === null || typeof o['check-errors'] !== 'number') {
    throw new Error(`unexpected qemu-img check output: ${text.slice(0, 200)}`);
  }
  return o;
}

/** "    (42.17/100%)\r" → 42.17; the last value in a chunk of `qemu-img convert -p` output. */
export function parseConvertProgress(chunk: string): number | null {
  const all = [...chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
  return all.length > 0 ? Number(all[all.length - 1]![1]) : null;
}

/**
 * What of an image lies outside its own file, from `info --output=json`: a
 * backing file, a qcow2 data file. An image from a backup must have
 * neither, or reading it reads any file of the host it names.
 *
 *   {"backing-filename": "/etc/shadow", …} → { backing: "/etc/shadow", dataFile: null }
 */
export function parseImageLinks(text: string): { backing: string | null; dataFile: string | null } {
  const v = JSON.parse(text) as { 'backing-filename'?: unknown; 'format-specific'?: { data?: { 'data-file'?: unknown } } };
  const backing = v['backing-filename'];
  const dataFile = v['format-specific']?.data?.['data-file'];
  return { backing: typeof backing === 'string' ? backing : null, dataFile: typeof dataFile === 'string' ? dataFile : null };
}

/** The virtual size from `info --output=json`; throws with the input on garbage. */
export function parseVirtualSize(text: string): number {
  const size = (JSON.parse(text) as { 'virtual-size'?: unknown })['virtual-size'];
  if (typeof size !== 'number') throw new Error(`unexpected qemu-img info output: ${text.slice(0, 200)}`);
  return size;
}

// ---- the edge: running it ----

/**
 * Mode of every image qemu-img makes (it creates them 0644): QEMU runs as
 * another user than the node's (lib/separation.ts) and writes them through
 * the group the two share.
 */
export const IMAGE_MODE = 0o660;

export async function createImage(...a: Parameters<typeof createArgs>): Promise<void> {
  await run(createArgs(...a), { timeoutMs: QEMU_IMG_TIMEOUT_MS });
  chmodSync(a[0], IMAGE_MODE);
}

export async function resizeImage(...a: Parameters<typeof resizeArgs>): Promise<void> {
  await run(resizeArgs(...a), { timeoutMs: QEMU_IMG_TIMEOUT_MS });
}

/** Convert, reporting percent done. */
export async function convertImage(from: Image, to: { file: string; format: ImageFormat }, compress: 'zstd' | 'none', progress: (pct: number) => void): Promise<void> {
  await run(convertArgs(from, to, compress), {
    timeoutMs: CONVERT_TIMEOUT_MS,
    onStdout: (chunk) => {
      const p = parseConvertProgress(chunk);
      if (p !== null) progress(p);
    },
  });
  chmodSync(to.file, IMAGE_MODE);
}

/** Virtual size in bytes of an image, also of one a running guest uses. */
export async function virtualSize(image: Image): Promise<number> {
  return parseVirtualSize((await run(infoArgs(image, true))).stdout);
}

/**
 * Throws unless the qcow2 `file` stands alone (no backing file, no data
 * file). qemu-img info opens the image without its backing file, so this
 * reads nothing it names.
 */
export async function checkStandalone(file: string): Promise<void> {
  const { backing, dataFile } = parseImageLinks((await run(infoArgs({ file, format: 'qcow2' }, true))).stdout);
  const name = file.split('/').pop();
  if (backing !== null) throw internal(`${name} names a backing file (${backing.slice(0, 200)}); a backup's image must stand alone`);
  if (dataFile !== null) throw internal(`${name} names a data file (${dataFile.slice(0, 200)}); a backup's image must stand alone`);
}

/** Whether qemu-img can open the image at all (for raw images, which have nothing to check). */
export async function readable(image: Image): Promise<void> {
  await run(infoArgs(image, false));
}

/** `check` of a qcow2: the report, or null with qemu-img's last words when it could not read the image. */
export async function checkImage(file: string): Promise<{ report: QemuImgCheck } | { report: null; code: number; error: string }> {
  const res = await runAllowFail(checkArgs(file), { timeoutMs: CHECK_TIMEOUT_MS });
  try {
    return { report: parseCheck(res.stdout) };
  } catch {
    return { report: null, code: res.code, error: res.stderr.trim().split('\n').pop() ?? '' };
  }
}

let version: string | undefined;
/** "qemu-img version 7.2.22 (Debian …)", or "unknown"; asked once per process. */
export async function qemuImgVersion(): Promise<string> {
  version ??= await run([QEMU_IMG, '--version']).then((r) => r.stdout.split('\n')[0]!.trim()).catch(() => 'unknown');
  return version;
}
