/**
 * Migration between two nodes (network namespaces, real lighttpd, QEMU,
 * qemu-nbd), through the real API, against floors measured in the same run:
 *
 *   offline   a stopped guest with a 1 GiB raw disk holding 256 MiB of
 *             random data, moved n1 → n2 and back; the task's own figure
 *             ("migrated in … ms"), median of the runs. Baseline: a local
 *             sparse `qemu-img convert` of the same disk on n1.
 *   live      the same guest (256 MiB of memory, a boot sector under the
 *             node's accelerator) running, moved n1 → n2 and back; total
 *             and downtime from the task's last line (downtime: the source's
 *             STOP event to the target's cont). Floor: two QEMUs on one
 *             namespace driven directly over QMP with the same steps (NBD
 *             export, blockdev-mirror, migrate, block-job-cancel, cont),
 *             TLS with a PSK on both streams as ramvm does, no API; its
 *             downtime counted the same way.
 *   sparse    allocated bytes of the disk after each move / before.
 *
 * Goals (issue 17): live downtime ≤ 50 ms, live total ≤ 1.2× the floor,
 * allocated after / before ≤ 1.01.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { goal, type BenchResult } from '../../build/bench';
import { formCluster, startTestCluster, waitTask, type ClusterTestNode } from '../helpers/cluster';
import type { Client } from '../helpers/node';
import { createSectorGuest } from '../helpers/guest';
import { Qmp } from '../../node-cgi/qemu/qmp';

const RUNS = 3;
/** Async, so the event loop keeps the API's keep-alive connections. */
const exec = promisify(execFile);
const MIB = 1024 * 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Moved {
  totalMs: number;
  downtimeMs: number;
  /** What query-migrate calls downtime (the source's last RAM pass), when known. */
  qemuDowntimeMs?: number;
  /** From the RAM move seen complete to the target's answer that it runs (mirror's end, "go", cont), when known. */
  handoverMs?: number;
}

async function move(api: Client, vmid: number, target: string, online: boolean): Promise<Moved> {
  const r = await api.post(`/api/vm/${vmid}/migrate`, { target, online });
  if (r.status !== 202) throw new Error(`migrate: ${r.text}`);
  const t = await waitTask(api, r.json.data.task, 10 * 60_000);
  const lines: string[] = (await api.get(`/api/task/${encodeURIComponent(r.json.data.task)}/log`)).json.data.lines;
  if (t.status !== 'ok') throw new Error(`migrate task: ${t.message}\n${lines.join('\n')}`);
  const m = /migrated in (\d+) ms, downtime (\d+) ms/.exec(lines[lines.length - 1]!);
  if (!m) throw new Error(`no figures in ${lines[lines.length - 1]}`);
  const q = lines.map((l) => /QEMU's downtime (\d+) ms/.exec(l)).find((x) => x);
  const h = lines.map((l) => /"go" answered (\d+) ms/.exec(l)).find((x) => x);
  return { totalMs: Number(m[1]), downtimeMs: Number(m[2]), ...(q ? { qemuDowntimeMs: Number(q[1]) } : {}), ...(h ? { handoverMs: Number(h[1]) } : {}) };
}

const diskOf = (n: ClusterTestNode, vmid: number) => join(n.root, 'var/lib/vz/images', String(vmid), `vm-${vmid}-disk-0.raw`);
const allocated = (file: string) => statSync(file).blocks * 512;

/** The floor of a live migration: QEMU's own mirror + migrate over QMP, two QEMUs on 127.0.0.1 of n1's namespace. */
async function liveFloor(n: ClusterTestNode, disk: string, accel: string): Promise<Moved> {
  const dir = join(n.root, 'floor');
  await exec('mkdir', ['-p', dir]);
  const dst = join(dir, 'dst.raw');
  await exec('qemu-img', ['create', '-f', 'raw', dst, '1G']);
  const qemu = (name: string, file: string, extra: string[]) =>
    exec(n.inNs[0]!, [...n.inNs.slice(1), 'qemu-system-x86_64', '-name', `floor-${name}`, '-nodefaults', '-machine', 'pc', '-accel', accel, '-cpu', 'qemu64',
      '-m', '256', '-daemonize', '-pidfile', join(dir, `${name}.pid`), '-display', 'none',
      '-chardev', `socket,id=qmp,path=${join(dir, `${name}.qmp`)},server=on,wait=off`, '-mon', 'chardev=qmp,mode=control',
      '-drive', `if=none,id=drive-disk0,file=${file},format=raw,cache=writeback,discard=unmap`, '-device', 'ide-hd,drive=drive-disk0,bus=ide.0', ...extra]);
  await qemu('src', disk, []);
  await qemu('dst', dst, ['-S', '-incoming', 'defer']);
  const keys = join(dir, 'psk');
  await exec('mkdir', ['-p', keys]);
  writeFileSync(join(keys, 'keys.psk'), `floor:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const s = await Qmp.connect(join(dir, 'src.qmp'));
  const d = await Qmp.connect(join(dir, 'dst.qmp'));
  let stoppedAt = 0;
  s.onEvent((e) => {
    if (e.event === 'STOP' && e.timestamp) stoppedAt = e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000;
  });
  try {
    await sleep(1000);
    const t0 = Date.now();
    await d.execute('object-add', { 'qom-type': 'tls-creds-psk', id: 'tls', endpoint: 'server', dir: keys });
    await s.execute('object-add', { 'qom-type': 'tls-creds-psk', id: 'tls', endpoint: 'client', dir: keys, username: 'floor' });
    const blocks = await d.execute<{ device: string; inserted?: { 'node-name': string } }[]>('query-block');
    const node = blocks.find((b) => b.device === 'drive-disk0')!.inserted!['node-name'];
    await d.execute('nbd-server-start', { addr: { type: 'inet', data: { host: '127.0.0.1', port: '18390' } }, 'tls-creds': 'tls' });
    await d.execute('block-export-add', { type: 'nbd', id: 'e0', 'node-name': node, writable: true, name: 'disk0' });
    await d.execute('migrate-set-parameters', { 'tls-creds': 'tls' });
    await d.execute('migrate-incoming', { uri: 'tcp:127.0.0.1:18391' });
    await s.execute('blockdev-add', { driver: 'nbd', 'node-name': 'm0', server: { type: 'inet', host: '127.0.0.1', port: '18390' }, export: 'disk0', 'tls-creds': 'tls' });
    await s.execute('blockdev-mirror', { 'job-id': 'm0', device: 'drive-disk0', target: 'm0', sync: 'full' });
    while (!(await s.execute<{ ready: boolean }[]>('query-block-jobs'))[0]?.ready) await sleep(50);
    await s.execute('migrate-set-parameters', { 'downtime-limit': 50, 'tls-creds': 'tls' });
    await s.execute('migrate', { uri: 'tcp:127.0.0.1:18391' });
    let m: { status: string; downtime?: number };
    while ((m = await s.execute('query-migrate')).status !== 'completed') {
      if (m.status === 'failed') throw new Error('floor migration failed');
      await sleep(5);
    }
    await s.execute('block-job-cancel', { device: 'm0' });
    while ((await s.execute<unknown[]>('query-block-jobs')).length) await sleep(5);
    await d.execute('nbd-server-stop');
    await d.execute('cont');
    const end = Date.now();
    if (!stoppedAt) throw new Error('no STOP event from the floor\'s source');
    return { totalMs: end - t0, downtimeMs: Math.round(end - stoppedAt), qemuDowntimeMs: m.downtime ?? 0 };
  } finally {
    s.close();
    d.close();
    for (const name of ['src', 'dst']) {
      try {
        process.kill(Number(readFileSync(join(dir, `${name}.pid`), 'utf8').trim()), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function bench(): Promise<BenchResult[]> {
  const c = await startTestCluster(2);
  const out: BenchResult[] = [];
  try {
    const [n1, n2] = c.nodes as [ClusterTestNode, ClusterTestNode];
    const api = await formCluster(c, 'bench');
    const vmid = await createSectorGuest(api, n1.root, { name: 'bench', memory: 256, disks: [{ size: '1G', format: 'raw' }] });
    const disk = diskOf(n1, vmid);
    await exec('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=1M', 'count=256', 'seek=1', 'conv=notrunc', 'status=none']);
    const before = allocated(disk);

    const local: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const copy = join(n1.root, 'bench-copy.raw');
      const t0 = Date.now();
      await exec('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', disk, copy]);
      local.push(Date.now() - t0);
      rmSync(copy);
    }
    const offline: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      offline.push((await move(api, vmid, 'n2', false)).totalMs);
      ratios.push(allocated(diskOf(n2, vmid)) / before);
      offline.push((await move(api, vmid, 'n1', false)).totalMs);
      ratios.push(allocated(diskOf(n1, vmid)) / before);
    }
    out.push({
      name: 'offline migration, 1 GiB raw disk with 256 MiB of data',
      value: median(offline), unit: 'ms',
      baseline: { name: 'local sparse qemu-img convert of the same disk', value: median(local) },
      ratio: median(offline) / median(local),
      note: `runs ${offline.join('/')} ms; convert ${local.join('/')} ms`,
    });

    const accel: string = (await api.get(`/api/vm/${vmid}`)).json.data.runtime.accel;
    const floor: Moved[] = [];
    for (let i = 0; i < RUNS; i++) floor.push(await liveFloor(n1, disk, accel));
    const st = await api.post(`/api/vm/${vmid}/start`, {});
    if (st.status !== 200) throw new Error(`start: ${st.text}`);
    const live: Moved[] = [];
    for (let i = 0; i < RUNS; i++) {
      live.push(await move(api, vmid, 'n2', true));
      ratios.push(allocated(diskOf(n2, vmid)) / before);
      live.push(await move(api, vmid, 'n1', true));
      ratios.push(allocated(diskOf(n1, vmid)) / before);
    }
    await api.post(`/api/vm/${vmid}/stop`, {});
    const lt = median(live.map((m) => m.totalMs));
    const ld = median(live.map((m) => m.downtimeMs));
    const ft = median(floor.map((m) => m.totalMs));
    const fd = median(floor.map((m) => m.downtimeMs));
    out.push({
      name: 'live migration, 256 MiB guest, 1 GiB disk with 256 MiB of data: total',
      value: lt, unit: 'ms',
      baseline: { name: 'QEMU mirror + migrate over QMP directly', value: ft },
      ratio: lt / ft,
      goal: goal('≤ 1.2× the floor', lt / ft <= 1.2),
      note: `runs ${live.map((m) => m.totalMs).join('/')} ms; floor ${floor.map((m) => m.totalMs).join('/')} ms`,
    });
    out.push({
      name: 'live migration: downtime',
      value: ld, unit: 'ms',
      baseline: { name: 'floor downtime', value: fd },
      ratio: ld / Math.max(fd, 1),
      goal: goal('≤ 50 ms', ld <= 50),
      note: `runs ${live.map((m) => m.downtimeMs).join('/')} ms (QEMU's own ${live.map((m) => m.qemuDowntimeMs ?? '?').join('/')}; ` +
        `handover ${live.map((m) => m.handoverMs ?? '?').join('/')}); ` +
        `floor ${floor.map((m) => m.downtimeMs).join('/')} ms (QEMU's own ${floor.map((m) => m.qemuDowntimeMs ?? '?').join('/')})`,
    });
    const worst = Math.max(...ratios);
    out.push({
      name: 'allocated after / before, every move (offline and live, there and back)',
      value: worst, unit: '×',
      goal: goal('≤ 1.01', worst <= 1.01),
      note: `${Math.round(before / MIB)} MiB before; ratios ${ratios.map((r) => r.toFixed(4)).join(' ')}`,
    });
  } finally {
    await c.stop();
  }
  return out;
}
