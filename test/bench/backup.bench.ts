/**
 * Backups against `cp` of the same image, in the same run:
 *
 *   1. a live (snapshot-mode) backup of a 2 GiB disk of random data, by
 *      QEMU's blockdev-backup — plain, with copy offload (x-perf
 *      use-copy-range) and with zstd-compressed clusters — against `cp` of
 *      the image; every copy ends with its data on the disk (fsync). Goal:
 *      uncompressed ≤ 1.1× cp. Also the read-back verification of the result.
 *   2. the same onto another filesystem, as users back up to an external
 *      disk: an ext4 filesystem on a loop device (a file of this machine's
 *      disk), against `cp` onto that filesystem. Goal as above.
 *   3. zstd on a realistic disk: a 1.5 GiB ext4 image filled from /usr
 *      (share + bin), backed up live with compressed clusters: throughput and
 *      the ratio of the guest's used data to the stored backup.
 *
 * Median of 3 runs each; QEMU under TCG (the copy is the host's I/O either way).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goal, type BenchResult } from '../../build/bench';
import { liveBackup } from '../../node-cgi/backup/engine';
import { fsyncPath } from '../../node-cgi/lib/store';
import { sumFile, verifyBackup } from '../../node-cgi/backup/verify';
import { randomRaw, sh } from '../integration/backup-fixture';
import type { BackupManifest, Compression } from '../../node-cgi/backup/types';

const GiB = 1 << 30;
const MiB = 1 << 20;
const RUNS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function startQemu(dir: string, disk: string, format: string): { qmp: string; stop: () => void } {
  const qmp = join(dir, 'bench.qmp');
  const pidFile = join(dir, 'bench.pid');
  sh(['qemu-system-x86_64', '-accel', 'tcg', '-nodefaults', '-display', 'none', '-m', '64', '-daemonize', '-pidfile', pidFile,
    '-qmp', `unix:${qmp},server=on,wait=off`, '-drive', `if=none,id=drive0,file=${disk},format=${format},cache=writeback`]);
  const pid = Number(sh(['cat', pidFile]).out.trim());
  return { qmp, stop: () => process.kill(pid, 'SIGKILL') };
}

async function timeMs(fn: () => Promise<void> | void): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function backupOnce(qmp: string, disk: string, target: string, size: number, compress: Compression, copyRange: boolean): Promise<number> {
  rmSync(target, { force: true });
  const ms = await timeMs(async () => {
    await liveBackup(qmp, [{ source: disk, target, virtualSize: size }], { vmid: 900, compress, copyRange, speed: 0, log: () => undefined, progress: () => undefined });
    fsyncPath(target);
  });
  return ms;
}

function cpOnce(src: string, dst: string): Promise<number> {
  rmSync(dst, { force: true });
  return timeMs(() => {
    sh(['cp', src, dst]);
    fsyncPath(dst);
  });
}

async function randomDiskBench(dir: string): Promise<BenchResult[]> {
  const disk = join(dir, 'disk.raw');
  randomRaw(disk, 2048, 2048);
  const q = startQemu(dir, disk, 'raw');
  try {
    const cp: number[] = [];
    const plain: number[] = [];
    const range: number[] = [];
    const zstd: number[] = [];
    const target = join(dir, 'backup.qcow2');
    for (let i = 0; i < RUNS; i++) {
      cp.push(await cpOnce(disk, join(dir, 'copy.raw')));
      rmSync(join(dir, 'copy.raw'), { force: true });
      plain.push(await backupOnce(q.qmp, disk, target, 2 * GiB, 'none', false));
      range.push(await backupOnce(q.qmp, disk, target, 2 * GiB, 'none', true));
      zstd.push(await backupOnce(q.qmp, disk, target, 2 * GiB, 'zstd', false));
    }
    // Read-back verification of the last (compressed) backup, as a backup task does it.
    await backupOnce(q.qmp, disk, target, 2 * GiB, 'none', true);
    const sum = await sumFile(dir, 'backup.qcow2');
    const m = { files: [sum], disks: [{ file: 'backup.qcow2' }] } as unknown as BackupManifest;
    const verifyMs = await timeMs(async () => {
      const v = await verifyBackup(dir, m, () => undefined);
      if (!v.ok) throw new Error(v.problems.join('; '));
    });
    rmSync(target, { force: true });
    const base = median(cp);
    const baseline = { name: 'cp of the 2 GiB image', value: base };
    const row = (name: string, xs: number[], maxRatio?: number): BenchResult => ({
      name, value: median(xs), unit: 'ms', baseline, ratio: median(xs) / base,
      ...(maxRatio ? { goal: goal(`≤ ${maxRatio}× cp`, median(xs) / base <= maxRatio) } : {}),
      note: `runs ${xs.map((x) => Math.round(x)).join('/')} ms`,
    });
    return [
      { name: 'cp of the 2 GiB image', value: base, unit: 'ms', note: `${((2 * GiB) / MiB / (base / 1000)).toFixed(0)} MiB/s` },
      row('live backup 2 GiB, uncompressed', plain, 1.1),
      row('live backup 2 GiB, uncompressed, copy offload (x-perf use-copy-range)', range, 1.1),
      row('live backup 2 GiB, zstd clusters (random data: incompressible)', zstd),
      row('read-back verification of a 2 GiB backup (drop cache, SHA-256, qemu-img check)', [verifyMs]),
    ];
  } finally {
    q.stop();
    rmSync(disk, { force: true });
  }
}

/** An ext4 filesystem on a loop device mounted at dir/external: the external backup disk. */
function mountExternal(dir: string, sizeMiB: number): { path: string; unmount(): void } {
  const img = join(dir, 'external.img');
  const mnt = join(dir, 'external');
  sh(['truncate', '-s', `${sizeMiB}M`, img]);
  sh(['mkfs.ext4', '-q', '-F', '-L', 'RAMVMBENCH', img]);
  sh(['mkdir', '-p', mnt]);
  sh(['mount', '-o', 'loop,noatime', img, mnt]);
  return { path: mnt, unmount: () => sh(['umount', mnt]) };
}

async function externalDiskBench(dir: string): Promise<BenchResult[]> {
  const disk = join(dir, 'disk.raw');
  randomRaw(disk, 2048, 2048);
  const q = startQemu(dir, disk, 'raw');
  const ext = mountExternal(dir, 3072);
  try {
    const cp: number[] = [];
    const plain: number[] = [];
    const range: number[] = [];
    const target = join(ext.path, 'backup.qcow2');
    for (let i = 0; i < RUNS; i++) {
      cp.push(await cpOnce(disk, join(ext.path, 'copy.raw')));
      rmSync(join(ext.path, 'copy.raw'), { force: true });
      plain.push(await backupOnce(q.qmp, disk, target, 2 * GiB, 'none', false));
      range.push(await backupOnce(q.qmp, disk, target, 2 * GiB, 'none', true));
      rmSync(target, { force: true });
    }
    const base = median(cp);
    const baseline = { name: 'cp of the image onto that filesystem', value: base };
    const row = (name: string, xs: number[]): BenchResult => ({
      name, value: median(xs), unit: 'ms', baseline, ratio: median(xs) / base,
      goal: goal('≤ 1.1× cp', median(xs) / base <= 1.1), note: `runs ${xs.map((x) => Math.round(x)).join('/')} ms`,
    });
    return [
      { name: 'cp of the 2 GiB image onto another filesystem (ext4 on a loop device)', value: base, unit: 'ms', note: `${((2 * GiB) / MiB / (base / 1000)).toFixed(0)} MiB/s` },
      row('live backup 2 GiB onto another filesystem, uncompressed', plain),
      row('live backup 2 GiB onto another filesystem, uncompressed, copy offload', range),
    ];
  } finally {
    q.stop();
    ext.unmount();
    rmSync(disk, { force: true });
  }
}

async function usrDiskBench(dir: string): Promise<BenchResult[]> {
  const img = join(dir, 'usr.raw');
  const mnt = join(dir, 'mnt');
  sh(['truncate', '-s', '1536M', img]);
  sh(['mkfs.ext4', '-q', '-F', img]);
  sh(['mkdir', '-p', mnt]);
  sh(['mount', '-o', 'loop', img, mnt]);
  try {
    sh(['cp', '-a', '/usr/share', '/usr/bin', mnt]);
  } finally {
    sh(['umount', mnt]);
  }
  const used = statSync(img).blocks * 512;
  const q = startQemu(dir, img, 'raw');
  try {
    const cp: number[] = [];
    const zstd: number[] = [];
    const target = join(dir, 'usr.qcow2');
    let stored = 0;
    for (let i = 0; i < RUNS; i++) {
      cp.push(await cpOnce(img, join(dir, 'usr-copy.raw')));
      rmSync(join(dir, 'usr-copy.raw'), { force: true });
      zstd.push(await backupOnce(q.qmp, img, target, 1536 * MiB, 'zstd', false));
      stored = statSync(target).blocks * 512;
    }
    const base = median(cp);
    const z = median(zstd);
    return [
      { name: 'zstd live backup of an ext4 image of /usr', value: z, unit: 'ms', baseline: { name: 'cp of the same (sparse) image', value: base }, ratio: z / base,
        note: `${(used / MiB / (z / 1000)).toFixed(0)} MiB/s of used data; cp ${(used / MiB / (base / 1000)).toFixed(0)} MiB/s` },
      { name: 'zstd ratio on the ext4 image of /usr (used data / stored backup)', value: used / stored, unit: '×',
        note: `${(used / MiB).toFixed(0)} MiB used → ${(stored / MiB).toFixed(0)} MiB stored` },
    ];
  } finally {
    q.stop();
  }
}

export async function bench(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-backup-bench-'));
  try {
    return [...(await randomDiskBench(dir)), ...(await externalDiskBench(dir)), ...(await usrDiskBench(dir))];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
