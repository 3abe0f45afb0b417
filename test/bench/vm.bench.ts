/**
 * Guest benchmarks, each a ratio against a baseline of the same run:
 *
 * 1. Start: POST /api/vm/<vmid>/start until it answers "running" (the
 *    answer comes after QEMU daemonized and QMP said running), median of
 *    10, against launching the same QEMU command line directly and waiting
 *    for QMP query-status "running".
 * 2. List: GET /api/vm with 50 guests (all stopped; then 3 of them running)
 *    against GET /api/access/me, a trivial CGI; requests interleaved.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { goal, type BenchResult } from '../../build/bench';
import { startTestNode, type Client } from '../helpers/node';
import { installBootSector, killGuests, waitFor } from '../helpers/guest';
import { Qmp } from '../../node-cgi/qemu/qmp';

const STARTS = 10;
const GUESTS = 50;
const RUNNING = 3;
const LIST_ROUNDS = 60;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.95) - 1]!;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function ok(p: Promise<{ status: number; text: string }>, want = 200) {
  const r = await p;
  if (r.status !== want) throw new Error(`expected ${want}, got ${r.status}: ${r.text}`);
  return r;
}

/** Launch argv directly, then wait for QMP to say running; ms. */
async function directStart(argv: string[], qmpPath: string): Promise<number> {
  return timed(async () => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`direct QEMU start failed: ${r.stderr}`);
    const q = await Qmp.connect(qmpPath);
    try {
      const s = await q.execute<{ status: string }>('query-status');
      if (s.status !== 'running') throw new Error(`direct QEMU is ${s.status}`);
    } finally {
      q.close();
    }
  });
}

async function startBench(api: Client, root: string): Promise<BenchResult> {
  const r = await ok(api.post('/api/vm', { name: 'bench-start', memory: 32, disks: [{ size: '1M', format: 'raw' }], nics: [] }), 201);
  const vmid = (JSON.parse(r.text) as { data: { vmid: number } }).data.vmid;
  installBootSector(join(root, `var/lib/vz/images/${vmid}/vm-${vmid}-disk-0.raw`), 'raw');
  const run = (f: string) => join(root, 'run/ramvm/qemu', `${vmid}.${f}`);
  const api_: number[] = [];
  const direct: number[] = [];
  let argv: string[] = [];
  for (let i = 0; i < STARTS; i++) {
    api_.push(
      await timed(async () => {
        const s = await ok(api.post(`/api/vm/${vmid}/start`));
        if (!s.text.includes('"status":"running"')) throw new Error(`start answered ${s.text}`);
      }),
    );
    const pid = Number(readFileSync(run('pid'), 'utf8'));
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, j, all) => j < all.length - 1 || a !== '');
    await ok(api.post(`/api/vm/${vmid}/stop`));
    // The same command line, without ramvm around it.
    direct.push(await directStart(argv, run('qmp')));
    const dpid = Number(readFileSync(run('pid'), 'utf8'));
    process.kill(dpid, 'SIGTERM');
    await waitFor('direct QEMU gone', () => {
      try {
        readFileSync(`/proc/${dpid}/cmdline`);
        return false;
      } catch {
        return true;
      }
    });
    for (const f of ['pid', 'qmp', 'status.qmp', 'vnc']) rmSync(run(f), { force: true });
  }
  await ok(api.del(`/api/vm/${vmid}`));
  const value = median(api_);
  const base = median(direct);
  return {
    name: `start request-to-running (median of ${STARTS})`,
    value,
    unit: 'ms',
    baseline: { name: 'same QEMU argv launched directly until QMP running', value: base },
    ratio: value / base,
    note: `p95 ${p95(api_).toFixed(1)} ms; direct p95 ${p95(direct).toFixed(1)} ms`,
  };
}

async function listRatio(api: Client, label: string): Promise<BenchResult> {
  const list: number[] = [];
  const me: number[] = [];
  // Warm up both (page cache, lighttpd's CGI path).
  await ok(api.get('/api/vm'));
  await ok(api.get('/api/access/me'));
  for (let i = 0; i < LIST_ROUNDS; i++) {
    list.push(await timed(() => ok(api.get('/api/vm'))));
    me.push(await timed(() => ok(api.get('/api/access/me'))));
  }
  const value = median(list);
  const base = median(me);
  return {
    name: `GET /api/vm, ${label} (median of ${LIST_ROUNDS})`,
    value,
    unit: 'ms',
    baseline: { name: 'GET /api/access/me', value: base },
    ratio: value / base,
    goal: goal('≤ 1.5', value / base <= 1.5),
    note: `p95 ${p95(list).toFixed(1)} ms vs ${p95(me).toFixed(1)} ms`,
  };
}

export async function bench(): Promise<BenchResult[]> {
  const node = await startTestNode();
  try {
    const api = await node.login('admin', node.adminPassword);
    const results: BenchResult[] = [await startBench(api, node.root)];
    const vmids: number[] = [];
    for (let i = 0; i < GUESTS; i++) {
      const r = await ok(api.post('/api/vm', { name: `bench${i}`, memory: 32, disks: [{ size: '1M', format: 'raw' }] }), 201);
      vmids.push((JSON.parse(r.text) as { data: { vmid: number } }).data.vmid);
    }
    results.push(await listRatio(api, `${GUESTS} guests, all stopped`));
    for (const vmid of vmids.slice(0, RUNNING)) {
      installBootSector(join(node.root, `var/lib/vz/images/${vmid}/vm-${vmid}-disk-0.raw`), 'raw');
      await ok(api.post(`/api/vm/${vmid}/start`));
    }
    results.push(await listRatio(api, `${GUESTS} guests, ${RUNNING} running`));
    return results;
  } finally {
    await killGuests(node.root);
    await node.stop();
  }
}
