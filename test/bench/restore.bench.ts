/**
 * Time to a running guest from a backup against a full restore of the same
 * backup, in the same run, through the real API of a test node:
 *
 *   for virtual disk sizes of 1, 4 and 16 GiB (raw, sparse; 1/16 of each
 *   filled with random data, so a full restore has real work that grows
 *   with the disk while run-from-backup should not):
 *     run from backup   POST /api/backup/<id>/boot until the answer (QEMU
 *                       started, links down, vCPUs running), checked with
 *                       GET /api/vm/<vmid>/status = running; median of 5
 *     full restore      POST /api/backup/<id>/restore until its task is ok
 *                       (SHA-256 of the backup, qemu-img convert); median of 3
 *
 * Ratio: run-from-backup / full restore (lower is better). Goal: the time
 * to running stays flat across sizes and under 1 s. QEMU under TCG.
 */
import { join } from 'node:path';
import { goal, type BenchResult } from '../../build/bench';
import { openNode } from '../helpers/fixture';
import type { Client } from '../helpers/node';
import { makeBackup, makeProbeGuest, waitTask } from '../integration/restore-fixture';

const SIZES_GIB = [1, 4, 16];
const BOOT_RUNS = 5;
const RESTORE_RUNS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeMs(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function bootOnce(api: Client, id: string): Promise<number> {
  let answer: { vmid: number; task: string } | undefined;
  const ms = await timeMs(async () => {
    const r = await api.post(`/api/backup/${encodeURIComponent(id)}/boot`, {});
    if (r.status !== 200) throw new Error(`boot: ${r.text}`);
    answer = r.json.data;
  });
  const st = (await api.get(`/api/vm/${answer!.vmid}/status`)).json.data.status;
  if (st !== 'running') throw new Error(`guest ${answer!.vmid} is ${st} after the boot answered`);
  await api.post(`/api/vm/${answer!.vmid}/stop`);
  const t = await waitTask(api, answer!.task, 60_000);
  if (t.status !== 'ok') throw new Error(`watcher of ${answer!.vmid}: ${t.message}`);
  return ms;
}

async function restoreOnce(api: Client, id: string, vmid: number): Promise<number> {
  const ms = await timeMs(async () => {
    const r = await api.post(`/api/backup/${encodeURIComponent(id)}/restore`, { vmid });
    if (r.status !== 202) throw new Error(`restore: ${r.text}`);
    const t = await waitTask(api, r.json.data.task, 30 * 60_000);
    if (t.status !== 'ok') throw new Error(`restore task: ${t.message}`);
  });
  const d = await api.del(`/api/vm/${vmid}`);
  if (d.status !== 200) throw new Error(`delete ${vmid}: ${d.text}`);
  return ms;
}

export async function bench(): Promise<BenchResult[]> {
  const fx = await openNode();
  const out: BenchResult[] = [];
  try {
    const api = fx.admin;
    const boots: number[] = [];
    for (const [i, gib] of SIZES_GIB.entries()) {
      const vmid = 101 + i;
      const mib = gib * 1024;
      await makeProbeGuest(fx, vmid, { sizeMiB: mib, filledMiB: mib / 16, format: 'raw', reference: join(fx.root, `ref-${vmid}.raw`) });
      const { id } = await makeBackup(api, vmid);
      process.stdout.write(`  ${gib} GiB: backup ${id} made\n`);
      const boot: number[] = [];
      for (let r = 0; r < BOOT_RUNS; r++) boot.push(await bootOnce(api, id));
      const restore: number[] = [];
      for (let r = 0; r < RESTORE_RUNS; r++) restore.push(await restoreOnce(api, id, 500 + i));
      const b = median(boot);
      const f = median(restore);
      boots.push(b);
      out.push({
        name: `run from backup, ${gib} GiB disk (${mib / 16} MiB of data): request to running`,
        value: b, unit: 'ms',
        baseline: { name: 'full restore of the same backup', value: f },
        ratio: b / f,
        goal: goal('< 1 s', b < 1000),
        note: `boot runs ${boot.map((x) => Math.round(x)).join('/')} ms; restore runs ${restore.map((x) => Math.round(x)).join('/')} ms`,
      });
    }
    out.push({
      name: 'run from backup: 16 GiB against 1 GiB',
      value: boots[boots.length - 1]!, unit: 'ms',
      baseline: { name: 'run from backup, 1 GiB', value: boots[0]! },
      ratio: boots[boots.length - 1]! / boots[0]!,
      goal: goal('≤ 1.5 (flat: the disk size does not matter)', boots[boots.length - 1]! / boots[0]! <= 1.5),
    });
  } finally {
    await fx.close();
  }
  return out;
}
