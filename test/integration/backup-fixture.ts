/**
 * Test guests for the backup suites, made through the real API (POST
 * /api/vm, /start, /stop): a disk filled with random data and the test boot
 * sector (test/helpers/guest.ts), which idles and never writes to its disk.
 * Writes during a backup go through QEMU's block layer with HMP `qemu-io`
 * on the guest's drive, as a guest's writes would.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { withQmp } from '../../node-cgi/qemu/qmp';
import type { NodeFixture } from '../helpers/fixture';
import { bootSector, GUEST_MARKER } from '../helpers/guest';
import type { Client } from '../helpers/node';

export interface TestGuest {
  vmid: number;
  disk: string;
  qmp: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  pid(): Promise<number | null>;
  /** A write through QEMU's block layer: `size` bytes of `pattern` at `offset`. */
  write(offset: number, size: number, pattern: number): Promise<void>;
  /** QEMU's run state ("running", "paused", …) or "stopped". */
  status(): Promise<string>;
  /** Flush QEMU's caches (qcow2 metadata) so the image file can be read from outside. */
  flush(): Promise<void>;
}

export function sh(argv: string[], opts: { allowFail?: boolean } = {}): { code: number; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A raw file of `sizeMiB` whose first `filledMiB` are random, with the test boot sector in sector 0. */
export function randomRaw(file: string, sizeMiB: number, filledMiB: number): void {
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < filledMiB; i++) writeSync(fd, randomBytes(1 << 20), 0, 1 << 20, i << 20);
    const boot = bootSector();
    writeSync(fd, boot, 0, boot.length, 0);
  } finally {
    closeSync(fd);
  }
  sh(['truncate', '-s', `${sizeMiB}M`, file]);
}

/** Create guest `vmid` through the API with one disk whose content is also written to `reference`. */
export async function makeGuest(f: NodeFixture, vmid: number, o: { sizeMiB: number; filledMiB: number; format: 'qcow2' | 'raw'; reference: string }): Promise<TestGuest> {
  const cfg = await f.createGuest({ vmid, name: `bk${vmid}`, memory: 32, nics: [], cdrom: null, disks: [{ size: `${o.sizeMiB}M`, format: o.format, bus: 'ide' }] });
  const disk = f.imageFile(vmid, cfg.disks[0]!.file);
  randomRaw(o.reference, o.sizeMiB, o.filledMiB);
  if (o.format === 'raw') sh(['cp', '--sparse=always', o.reference, disk]);
  else sh(['qemu-img', 'convert', '-n', '-f', 'raw', '-O', 'qcow2', o.reference, disk]);
  const drive = `drive-${cfg.disks[0]!.id}`;
  const hmp = async (line: string) => {
    // qemu-io prints to QEMU's stdout, not into the answer; an error comes back as text.
    const out = await withQmp(f.runFile(vmid, 'qmp'), (q) => q.execute<string>('human-monitor-command', { 'command-line': line }));
    if (out.trim()) throw new Error(`${line}: ${out}`);
  };
  const info = async () => (await f.admin.get(`/api/vm/${vmid}/status`)).json.data as { status: string; qmpStatus: string | null; pid: number | null };
  return {
    vmid, disk, qmp: f.runFile(vmid, 'qmp'),
    start: () => f.startGuest(vmid, { marker: GUEST_MARKER }),
    stop: () => f.stopGuest(vmid),
    pid: async () => (await info()).pid,
    write: (offset, size, pattern) => hmp(`qemu-io ${drive} "write -P ${pattern} ${offset} ${size}"`),
    flush: () => hmp(`qemu-io ${drive} "flush"`),
    status: async () => {
      const i = await info();
      return i.status === 'stopped' ? 'stopped' : i.qmpStatus ?? i.status;
    },
  };
}

/** Poll a task until it leaves "running". */
export async function waitTask(api: Client, id: string, timeoutMs = 240_000): Promise<{ status: string; message: string; progress: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api.get(`/api/task/${id}`);
    if (r.json?.data?.status !== 'running') return r.json.data;
    if (Date.now() > deadline) throw new Error(`task ${id} still running after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

export async function taskLog(api: Client, id: string): Promise<string> {
  return ((await api.get(`/api/task/${id}/log`)).json.data.lines as string[]).join('\n');
}
