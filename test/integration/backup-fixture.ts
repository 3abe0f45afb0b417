/**
 * Test guests for the backup suites: a config file and a disk image laid
 * out as the guests module lays them out, and a real QEMU (TCG, no
 * bootable disk: the BIOS idles and never writes) with the runtime files
 * at run/ramvm/qemu/<vmid>.{pid,qmp,status.qmp}. Writes during a backup go
 * through QEMU's block layer with HMP `qemu-io`, as a guest's would.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { withQmp } from '../../node-cgi/qemu/qmp';
import type { Client } from '../helpers/node';

export interface TestGuest {
  vmid: number;
  disk: string;
  qmp: string;
  start(): void;
  /** SIGKILL by pid; waits until gone. */
  kill(): Promise<void>;
  pid(): number | null;
  /** A write through QEMU's block layer: `size` bytes of `pattern` at `offset`. */
  write(offset: number, size: number, pattern: number): Promise<void>;
  status(): Promise<string>;
  /** Flush QEMU's caches (qcow2 metadata) so the image file can be read from outside. */
  flush(): Promise<void>;
}

export function sh(argv: string[], opts: { allowFail?: boolean } = {}): { code: number; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A raw file of `sizeMiB` whose first `filledMiB` are random. */
export function randomRaw(file: string, sizeMiB: number, filledMiB: number): void {
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < filledMiB; i++) writeSync(fd, randomBytes(1 << 20), 0, 1 << 20, i << 20);
  } finally {
    closeSync(fd);
  }
  sh(['truncate', '-s', `${sizeMiB}M`, file]);
}

export function makeGuest(root: string, vmid: number, o: { sizeMiB: number; filledMiB: number; format: 'qcow2' | 'raw'; reference?: string }): TestGuest {
  const images = join(root, 'var/lib/vz/images', String(vmid));
  const run = join(root, 'run/ramvm/qemu');
  mkdirSync(images, { recursive: true });
  mkdirSync(run, { recursive: true });
  mkdirSync(join(root, 'etc/ramvm/vms'), { recursive: true });
  const file = `vm-${vmid}-disk-0.${o.format}`;
  const disk = join(images, file);
  const raw = o.reference ?? join(images, 'seed.raw');
  randomRaw(raw, o.sizeMiB, o.filledMiB);
  if (o.format === 'raw') sh(['cp', '--sparse=always', raw, disk]);
  else sh(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, disk]);
  if (!o.reference) sh(['rm', '-f', raw]);
  writeFileSync(join(root, 'etc/ramvm/vms', `${vmid}.json`), JSON.stringify({
    vmid, name: `bk${vmid}`, node: 'testnode', type: 'kvm', memory: 64, sockets: 1, cores: 1, ostype: 'other', onboot: false, cdrom: null,
    disks: [{ id: 'disk0', file, size: `${o.sizeMiB}M`, bus: 'ide', format: o.format, cache: 'writeback' }], nics: [], boot: ['disk0'], description: '', created: Date.now(),
  }, null, 2));
  const qmp = join(run, `${vmid}.qmp`);
  const pidFile = join(run, `${vmid}.pid`);
  const pid = () => {
    try {
      const p = Number(readFileSync(pidFile, 'utf8').trim());
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(qmp) ? p : null;
    } catch {
      return null;
    }
  };
  return {
    vmid, disk, qmp, pid,
    start() {
      sh(['qemu-system-x86_64', '-accel', 'tcg', '-name', `bk${vmid}`, '-nodefaults', '-display', 'none', '-m', '64', '-daemonize', '-pidfile', pidFile,
        '-qmp', `unix:${qmp},server=on,wait=off`, '-qmp', `unix:${join(run, `${vmid}.status.qmp`)},server=on,wait=off`,
        '-drive', `file=${disk},if=ide,id=drive0,format=${o.format},cache=writeback`]);
    },
    async kill() {
      const p = pid();
      if (p === null) return;
      process.kill(p, 'SIGKILL');
      for (let i = 0; i < 100 && pid() !== null; i++) await new Promise((r) => setTimeout(r, 50));
    },
    write: (offset, size, pattern) =>
      withQmp(qmp, async (q) => {
        // qemu-io prints to QEMU's stdout, not into the answer; an error comes back as text.
        const out = await q.execute<string>('human-monitor-command', { 'command-line': `qemu-io drive0 "write -P ${pattern} ${offset} ${size}"` });
        if (out.trim()) throw new Error(`qemu-io: ${out}`);
      }),
    flush: () =>
      withQmp(qmp, async (q) => {
        const out = await q.execute<string>('human-monitor-command', { 'command-line': 'qemu-io drive0 "flush"' });
        if (out.trim()) throw new Error(`qemu-io: ${out}`);
      }),
    status: () => withQmp(join(run, `${vmid}.status.qmp`), async (q) => (await q.execute<{ status: string }>('query-status')).status),
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
