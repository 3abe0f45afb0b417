/**
 * `npm run bench -- image`: the node image's size, boot and memory.
 *
 *   sizes          each part of the ISO (compressed, with its ratio to the
 *                  unpacked size); the ISO: goal ≤ 72 MB (the original without X)
 *   bare boot      baseline of this run: the same kernel and early initramfs
 *                  to PID 1 and power-off (how fast this machine runs a TCG
 *                  guest right now)
 *   boot-to-serving power-on (QEMU spawned) to the first 200 of the API
 *                  (admin's login), on a blank data disk (first boot: format,
 *                  create admin) and again on the same disk; ratio to the
 *                  bare boot; goal ≤ 15 s (the original's anchor: 20 s)
 *   idle RAM       MemTotal − MemAvailable inside the node after boot, no
 *                  guests; ratio to the bare kernel's; goal ≤ 300 MB (the
 *                  original needed ~700 MB)
 *
 * Each goal is printed as met or not met for this run's figure.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeCpio } from '../../build/image/cpio';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goal, type BenchResult } from '../../build/bench';
import { buildImage, CACHE } from '../../build/image/image';
import { ISO_GOAL_BYTES, ISO_LIMIT_BYTES } from '../../build/image/layout';
import { startHub } from '../../build/lab/hub';
import { acquireLabLock } from '../../build/lab/lock';
import { NodeVm, ensureSparseDisk, labAccel } from '../../build/lab/node-vm';
import { freePort } from '../helpers/node';

const PASSWORD = 'bench-pw';
/** Seconds the node sits idle before its memory is read (DHCP, crond, mdev settle). */
const IDLE_S = 10;
/** Power-on to serving, first and later boots. */
const BOOT_GOAL_S = 15;
/** A node without guests, MemTotal − MemAvailable. */
const IDLE_RAM_GOAL_MB = 300;

/**
 * The kernel and the early cpio only, with PID 1 a script that prints
 * /proc/meminfo and powers off (the early cpio plus a second cpio holding
 * /bench-init). Wall ms from spawn until QEMU exits, and the meminfo of a
 * bare kernel.
 */
export async function bareBoot(vmlinux: string, accel: string, dir: string): Promise<{ ms: number; meminfo: string }> {
  const script = '#!/bin/busybox sh\n/bin/busybox mkdir -p /proc\n/bin/busybox mount -t proc proc /proc\n/bin/busybox cat /proc/meminfo\n/bin/busybox poweroff -f\n';
  writeCpio(join(dir, 'bench.cpio'), [{ name: 'bench-init', kind: 'data', data: Buffer.from(script), mode: 0o755 }]);
  const early = readFileSync(join(CACHE, 'early.cpio.zst'));
  const initrd = join(dir, 'bare-initrd.img');
  writeFileSync(initrd, Buffer.concat([early, Buffer.alloc((4 - (early.length % 4)) % 4), readFileSync(join(dir, 'bench.cpio'))]));
  const log = join(dir, 'bare.log');
  const t0 = Date.now();
  const p = spawn('qemu-system-x86_64', [
    '-nodefaults', '-no-user-config', '-display', 'none', '-accel', accel, '-cpu', 'max', '-m', '2048', '-no-reboot',
    '-serial', `file:${log}`, '-kernel', vmlinux, '-initrd', initrd,
    '-append', 'quiet console=ttyS0 panic=-1 rdinit=/bench-init',
  ], { stdio: 'ignore' });
  const ms = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      rej(new Error('bare boot did not end in 120 s'));
    }, 120_000);
    p.once('exit', () => {
      clearTimeout(t);
      res(Date.now() - t0);
    });
  });
  const out = readFileSync(log, 'utf8').replace(/\r/g, '');
  if (!/MemAvailable:/.test(out)) throw new Error(`bare boot printed no meminfo: ${out.slice(-500)}`);
  return { ms, meminfo: out };
}

/**
 * Where a boot's time went, from its /ram.log (seconds since the kernel
 * started): the kernel and stage 1 up to the root stacked, then the set-up
 * up to "set-up done".
 *
 *   "[   6.41]   1% stage 1: …\n…[  24.55] 100% set-up done" → { stage1: 6.41, setupDone: 24.55 }
 */
function bootPhases(ramLog: string): { stage1: number; setupDone: number } | null {
  const at = (re: RegExp) => Number(re.exec(ramLog)?.[1] ?? NaN);
  const stage1 = at(/^\[\s*([0-9.]+)\]\s+\d+% stage 1:/m);
  const setupDone = at(/^\[\s*([0-9.]+)\]\s+\d+% set-up done/m);
  return Number.isFinite(stage1) && Number.isFinite(setupDone) ? { stage1, setupDone } : null;
}

export function meminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1]!] = Number(m[2]) / 1024;
  return out;
}

export async function bench(): Promise<BenchResult[]> {
  const rows: BenchResult[] = [];
  const image = await buildImage({ iso: true });
  for (const r of image.rows) {
    rows.push({
      name: `size: ${r.name}`, value: r.bytes / 1e6, unit: 'MB',
      ...(r.rawBytes ? { baseline: { name: 'unpacked', value: r.rawBytes / 1e6 }, ratio: r.bytes / r.rawBytes } : {}),
    });
  }
  const iso = statSync(image.iso!).size;
  rows.push({ name: 'size: ISO', value: iso / 1e6, unit: 'MB', goal: goal(`≤ ${ISO_GOAL_BYTES / 1e6} MB (the build fails above ${ISO_LIMIT_BYTES / 1e6} MB)`, iso <= ISO_GOAL_BYTES) });

  const lock = await acquireLabLock({ what: 'the image benchmark', wait: true, onWait: (h) => process.stderr.write(`image bench: waiting for the lab lock (${h})\n`) });
  const { accel } = await labAccel();
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-image-bench-'));
  const hub = await startHub();
  try {
    const b = await bareBoot(image.vmlinux, accel, dir);
    const bare = b.ms;
    const bm = meminfo(b.meminfo);
    const bareUsed = bm.MemTotal! - bm.MemAvailable!;
    rows.push({ name: `bare boot (kernel to PID 1 and off, ${accel})`, value: bare / 1000, unit: 's' });
    rows.push({ name: 'bare kernel RAM: MemTotal − MemAvailable', value: bareUsed, unit: 'MiB' });
    ensureSparseDisk(join(dir, 'data.img'), 8);
    for (const [i, label] of [[1, 'first boot, blank data disk'], [2, 'second boot, same disk']] as const) {
      const vm = new NodeVm({
        name: 'bench', index: 1, boot: { kernel: image.vmlinux, initrd: image.initrd }, dataDisk: join(dir, 'data.img'),
        memoryMiB: 2048, cpus: 1, accel, hubPort: hub.port, webPort: await freePort(), adminPassword: PASSWORD, shell: true,
        runDir: join(dir, `boot${i}`),
      });
      vm.start();
      try {
        const ms = await vm.waitServing(PASSWORD, 600_000);
        rows.push({
          name: `boot-to-serving (${label})`, value: ms / 1000, unit: 's', baseline: { name: 'bare boot', value: bare / 1000 }, ratio: ms / bare,
          goal: goal(`≤ ${BOOT_GOAL_S} s (the original: ~20 s)`, ms <= BOOT_GOAL_S * 1000),
        });
        const phases = bootPhases((await vm.exec('cat /ram.log')).out);
        if (phases) {
          rows.push({
            name: `boot phases (${label})`, value: ms / 1000, unit: 's',
            note: `kernel and stage 1 to the root stacked ${phases.stage1.toFixed(1)} s, set-up ${(phases.setupDone - phases.stage1).toFixed(1)} s, web server and first login ${(ms / 1000 - phases.setupDone).toFixed(1)} s (uptime; QEMU's own start counts in the last)`,
          });
        }
        if (i === 2) {
          await new Promise((r) => setTimeout(r, IDLE_S * 1000));
          const m = meminfo((await vm.exec('cat /proc/meminfo')).out);
          // The kernel's reserve, which MemAvailable leaves out (khugepaged raises it for transparent huge pages).
          const minFree = (await vm.exec('cat /proc/sys/vm/min_free_kbytes')).out.trim();
          const used = m.MemTotal! - m.MemAvailable!;
          const f = (k: string) => `${k} ${(m[k] ?? 0).toFixed(0)}`;
          rows.push({
            name: 'idle RAM: MemTotal − MemAvailable', value: used, unit: 'MiB', baseline: { name: 'bare kernel', value: bareUsed }, ratio: used / bareUsed,
            goal: goal(`≤ ${IDLE_RAM_GOAL_MB} MB (the original: ~700 MB)`, used * 2 ** 20 <= IDLE_RAM_GOAL_MB * 1e6),
            note: `MiB: ${['MemTotal', 'MemFree', 'Shmem', 'AnonPages', 'SUnreclaim', 'KernelStack', 'PageTables', 'VmallocUsed', 'Cached'].map(f).join(', ')}; min_free_kbytes ${minFree}`,
          });
          const rss = await vm.exec("for p in $(pidof lighttpd crond mdev udhcpc); do grep VmRSS /proc/$p/status; done | awk '{s+=$2} END {print s}'");
          rows.push({ name: 'idle RAM: RSS of lighttpd, crond, mdev, udhcpc', value: Number(rss.out.trim()) / 1024, unit: 'MiB' });
        }
      } finally {
        await vm.stop();
      }
    }
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
    lock.release();
  }
  return rows;
}
