/**
 * `npm run bench -- drbd`: replicated disks (DRBD 8.4, protocol C) in the
 * lab, one booted prepared pair (build/lab/cluster.ts; node1 master, node2
 * member) for every figure, each against the same operation without
 * replication in the same run:
 *
 *   write throughput   root's `dd oflag=direct` of zeros onto /dev/drbdN
 *                      (a replicated disk made through the API, made
 *                      primary by hand while its guest is stopped) against
 *                      the same dd onto a plain loop device over a sparse
 *                      file in the same folder of node1, in alternating runs;
 *                      and TCP node1 → node2 (the lab network, what a
 *                      protocol C write waits on) for the same amount
 *   live migration     a replicated guest and an unreplicated one (same
 *                      memory, a boot sector printing a dot a second, TCG)
 *                      moved node1 → node2 → node1 through the API, in turns;
 *                      QEMU's downtime (query-migrate) and ramvm's (the
 *                      source's STOP to the target's cont) from each task's log
 *   cluster backup     `"mode": "cluster"` backups of the running replicated
 *                      guest; the hold from the task's log ("held for … ms":
 *                      QMP stop, the armed helper's drbdsetup-84 disconnect,
 *                      cont) and its parts, against a bare QMP stop + cont
 *                      of the same guest from a process on the same node
 *                      (the floor of any pause); and, timed alone on that
 *                      node, a call of the root helper (sudo, its start: no
 *                      longer in the hold), drbdadm's disconnect against
 *                      drbdsetup-84's (with and without --force), and
 *                      drbdsetup-84 cstate (its start, one netlink call)
 *   failover           node1 powered off with a replicated guest of its
 *                      own running; POST /api/vm/<vmid>/failover on node2,
 *                      from the request to the task done and the guest
 *                      "running" on node2 (one run: the guest stays there),
 *                      against the start of an unreplicated guest of node2;
 *                      and, on node2 with the peer gone, the start of a
 *                      stopped replicated guest of node2 (promote, QEMU on
 *                      /dev/drbdN: the DRBD side of a failover) against
 *                      the same baseline; request to "running".
 *
 * Goals (docs/DRBD.md): migration downtime ≤ 50 ms, backup hold ≤ 100 ms.
 *
 * RAMVM_DRBD_BENCH=hold measures the cluster backup's hold and its parts
 * alone (one replicated guest, no throughput, migration or failover): a
 * narrow lab run for work on the hold.
 *
 *   RAMVM_LAB_ACCEL=tcg RAMVM_DRBD_BENCH=hold npm run bench -- drbd
 *
 * The bench looks at a backup's task through the API every 50 ms, each look
 * a CGI (a Node start) on node1, whose one vCPU the hold then shares with
 * it. RAMVM_DRBD_BENCH_QUIET=1 makes no look until 20 s after the backup's
 * start, when its hold is over: the hold on an otherwise idle node.
 *
 * The lab node's root console is driven as test/lab/drbd.test.ts
 * drives it (vm.exec); only the few calls needed here are repeated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBench, goal, type BenchResult } from '../../build/bench';
import { buildImage } from '../../build/image/image';
import { startHub } from '../../build/lab/hub';
import { acquireLabLock } from '../../build/lab/lock';
import { LAB_NET_PREFIX, labAccel, type NodeVm } from '../../build/lab/node-vm';
import { deviceOf, parseProcDrbd } from '../../node-cgi/drbd/proc';
import { drbdDevice } from '../../node-cgi/drbd/resource';
import { parseNodeRecord } from '../../node-cgi/lib/separation';
import { waitTask } from '../helpers/cluster';
import { bootSector } from '../helpers/guest';
import type { Client } from '../helpers/node';
import { bootPreparedPair, until } from '../helpers/prepared-cluster';

const PASSWORD = 'drbd-bench-pw';
/** Generous: TCG nodes on a machine shared with other work. */
const SERVE_TIMEOUT_MS = 600_000;
const TASK_TIMEOUT_MS = 600_000;
const CONSOLE_TIMEOUT_MS = 300_000;
const NODE_MEMORY_MIB = 1536;
const GUEST_MEMORY_MIB = 32;
const DISK_SIZE = '128M';
/** Written per dd run, MiB (1 MiB blocks). */
const DD_MIB = 32;
const DD_RUNS = 3;
const MIGRATION_ROUNDS = 2;
const BACKUP_RUNS = 3;
const PAUSE_RUNS = 5;
const START_RUNS = 3;
const DOWNTIME_GOAL_MS = 50;
const HOLD_GOAL_MS = 100;
/** RAMVM_DRBD_BENCH=hold: the hold and its parts only. */
const HOLD_ONLY = process.env.RAMVM_DRBD_BENCH === 'hold';
/** RAMVM_DRBD_BENCH_QUIET=1: no look at a cluster backup's task until HOLD_QUIET_MS after its start (the hold is over by then). */
const QUIET = process.env.RAMVM_DRBD_BENCH_QUIET === '1';
const HOLD_QUIET_MS = 20_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const list = (xs: number[], digits = 0) => xs.map((x) => x.toFixed(digits)).join('/');
/** ' quoted for the node's sh. */
const shq = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/** A command in node `vm`'s root shell; its output, or an error with its tail. */
async function sh(vm: NodeVm, cmd: string): Promise<string> {
  const r = await vm.exec(cmd, CONSOLE_TIMEOUT_MS);
  if (r.code !== 0) throw new Error(`${vm.config.name}: ${cmd.slice(0, 200)} → exit ${r.code}: ${r.out.slice(-800)}`);
  return r.out;
}

/** MiB/s from dd's closing line (busybox: "… copied, 1.234 seconds, …"; coreutils: "… copied, 1.23 s, …"). */
export function ddMiBps(out: string): number {
  const m = /(\d+) bytes .*copied, ([0-9.]+) s/.exec(out);
  if (!m) throw new Error(`no rate in dd's output: ${out.slice(-300)}`);
  return Number(m[1]) / 2 ** 20 / Number(m[2]);
}

/** A guest made through node1 (503 from a busy master tried again); its VMID. */
async function createGuest(api: Client, body: Record<string, unknown>, vms: readonly NodeVm[]): Promise<number> {
  return until(`guest ${String(body.name)} created`, 180_000, async () => {
    const r = await api.post('/api/vm', body);
    if (r.status === 503) throw new Error(r.text);
    if (r.status !== 201) throw Object.assign(new Error(`POST /api/vm: ${r.status} ${r.text}`), { fatal: true });
    return r.json.data.vmid as number;
  }, vms);
}

async function power(api: Client, vmid: number, action: 'start' | 'stop'): Promise<void> {
  const r = await api.post(`/api/vm/${vmid}/${action}`);
  if (r.status !== 200) throw new Error(`${action} ${vmid}: ${r.status} ${r.text}`);
}

/** The task's log once it ended ok; throws with the log otherwise. */
async function taskLog(api: Client, task: string): Promise<string[]> {
  const t = await waitTask(api, task, TASK_TIMEOUT_MS);
  const lines: string[] = (await api.get(`/api/task/${encodeURIComponent(task)}/log`)).json.data.lines;
  if (t.status !== 'ok') throw new Error(`task ${task}: ${t.message}\n${lines.join('\n')}`);
  return lines;
}

interface Moved {
  /** query-migrate's downtime: the source's last RAM pass, QEMU's own count. */
  qemuMs: number;
  /** The source's STOP event to the target's cont (ramvm's handover included). */
  ramvmMs: number;
  totalMs: number;
}

/** A live migration through the API of the guest's node (`api`); the figures of its log. */
export function movedFigures(lines: readonly string[]): Moved {
  const m = lines.map((l) => /(\d+) ms after it paused here \(QEMU's downtime (\d+) ms/.exec(l)).find((x) => x);
  const total = /migrated in (\d+) ms/.exec(lines[lines.length - 1] ?? '');
  if (!m || !total) throw new Error(`no downtime in the migration's log: ${lines.slice(-4).join(' | ')}`);
  return { ramvmMs: Number(m[1]), qemuMs: Number(m[2]), totalMs: Number(total[1]) };
}

async function migrate(api: Client, vmid: number, target: string): Promise<Moved> {
  const r = await api.post(`/api/vm/${vmid}/migrate`, { target, online: true });
  if (r.status !== 202) throw new Error(`migrate ${vmid} to ${target}: ${r.status} ${r.text}`);
  const m = movedFigures(await taskLog(api, r.json.data.task));
  process.stdout.write(`  guest ${vmid} → ${target}: QEMU's downtime ${m.qemuMs} ms, STOP → cont ${m.ramvmMs} ms, total ${m.totalMs} ms\n`);
  return m;
}

/** The hold a cluster-mode backup's log names ("guest 101 held for 38.4 ms …"). */
export function holdOf(lines: readonly string[]): number {
  const m = lines.map((l) => /held for ([0-9.]+) ms/.exec(l)).find((x) => x);
  if (!m) throw new Error(`no hold in the backup's log: ${lines.slice(0, 6).join(' | ')}`);
  return Number(m[1]);
}

/** A hold's parts as its log line names them ("… stop 20.5 ms, go → answer 50.5 ms (to the helper 4.0 ms, its disconnect 35.3 ms, back 11.3 ms), cont 19.0 ms"). */
export function holdPartsOf(lines: readonly string[]): { stopMs: number; goMs: number; toHelperMs: number; helperMs: number; backMs: number; contMs: number } {
  const m = lines.map((l) => /stop ([0-9.]+) ms, go → answer ([0-9.]+) ms \(to the helper (-?[0-9.]+) ms, its disconnect ([0-9.]+) ms, back (-?[0-9.]+) ms\), cont ([0-9.]+) ms/.exec(l)).find((x) => x);
  if (!m) throw new Error(`no parts of the hold in the backup's log: ${lines.slice(0, 6).join(' | ')}`);
  const [stopMs, goMs, toHelperMs, helperMs, backMs, contMs] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return { stopMs, goMs, toHelperMs, helperMs, backMs, contMs };
}

/** The milliseconds a failover's log ends with ("failed over in 14210 ms"). */
export function failedOverMs(lines: readonly string[]): number {
  const m = lines.map((l) => /failed over in (\d+) ms/.exec(l)).find((x) => x);
  if (!m) throw new Error(`no time in the failover's log: ${lines.slice(-4).join(' | ')}`);
  return Number(m[1]);
}

/** Until guest `vmid`'s replicated disk is Connected and UpToDate on both sides, as GET /api/vm shows it. */
async function inSync(api: Client, vmid: number, vms: readonly NodeVm[]): Promise<void> {
  await until(`guest ${vmid}'s replica in sync`, 180_000, async () => {
    const rep = (await api.get(`/api/vm/${vmid}`)).json?.data?.disks?.[0]?.replication;
    return rep?.connection === 'Connected' && rep.state === 'UpToDate' && rep.peerState === 'UpToDate' ? true : undefined;
  }, vms);
}

/**
 * `n` bare QMP stop + cont of a guest, timed in one node process as the
 * cluster backup times its hold (stop sent → cont answered); ms each.
 */
const PAUSE_SCRIPT = `const s=require('net').connect(process.argv[1]);let b='';const w=[];` +
  `s.on('data',d=>{b+=d;let i;while((i=b.indexOf('\\n'))>=0){const m=JSON.parse(b.slice(0,i));b=b.slice(i+1);if(!('QMP' in m)&&!('event' in m))w.shift()(m)}});` +
  `const c=x=>new Promise(r=>{w.push(r);s.write(JSON.stringify({execute:x})+'\\n')});` +
  `(async()=>{await c('qmp_capabilities');const o=[];for(let k=0;k<Number(process.argv[2]);k++){const t=performance.now();` +
  `const a=await c('stop');const z=await c('cont');if(a.error||z.error)throw new Error(JSON.stringify([a,z]));o.push(performance.now()-t);` +
  `await new Promise(r=>setTimeout(r,300))}console.log(JSON.stringify(o));s.end()})()`;

/** Milliseconds one program (argv after the script) takes, found on PATH and timed by a node process on the node. */
const TIMED_SCRIPT = `const {spawnSync}=require('child_process');const t=performance.now();const r=spawnSync(process.argv[1],process.argv.slice(2),{stdio:'ignore'});` +
  `if(r.status!==0)throw new Error(process.argv.slice(1).join(' ')+': exit '+r.status);console.log(performance.now()-t)`;

/** Takes one TCP connection on port argv[1] of every address, reads it to its end, then exits. */
const SINK_SCRIPT = `const v=require('net').createServer(s=>{s.resume();s.on('end',()=>{s.end();v.close()})}).listen(Number(process.argv[1]))`;
/** Sends argv[3] MiB to argv[1]:argv[2]; MiB/s until the receiver has all of it (its close). */
const SEND_SCRIPT = `const n=Number(process.argv[3]);const s=require('net').connect(Number(process.argv[2]),process.argv[1],()=>{const t=performance.now();` +
  `const b=Buffer.alloc(1<<20);let k=0;const w=()=>{while(k<n){k++;if(!s.write(b)){s.once('drain',w);return}}s.end()};w();` +
  `s.on('close',()=>console.log(n/((performance.now()-t)/1000)))});s.resume()`;

/** One measurement's rows, or the reason it could not be taken (the bench goes on with the next). */
type Section = () => Promise<BenchResult[]>;

export async function bench(): Promise<BenchResult[]> {
  const lock = await acquireLabLock({ what: 'the drbd benchmark', wait: true, onWait: (h) => process.stderr.write(`drbd bench: waiting for the lab lock (${h})\n`) });
  const image = await buildImage({ iso: false });
  const { accel } = await labAccel();
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-drbd-bench-'));
  const hub = await startHub();
  const vms: NodeVm[] = [];
  const say = (s: string) => process.stdout.write(`  ${s}\n`);
  const rows: BenchResult[] = [];
  const failed: string[] = [];
  const HOLD_SECTIONS = ['cluster backup hold', 'parts of the hold'];
  const section = async (what: string, fn: Section): Promise<boolean> => {
    if (HOLD_ONLY && !HOLD_SECTIONS.includes(what)) return false;
    try {
      rows.push(...(await fn()));
      return true;
    } catch (e) {
      failed.push(`${what}: ${(e as Error).message}`);
      say(`${what}: FAILED: ${(e as Error).stack ?? (e as Error).message}`);
      return false;
    }
  };
  try {
    const pair = await bootPreparedPair({
      image, dir, hubPort: hub.port, accel, password: PASSWORD, memoryMiB: NODE_MEMORY_MIB, onStart: (vm) => vms.push(vm),
      serveTimeoutMs: SERVE_TIMEOUT_MS, formTimeoutMs: SERVE_TIMEOUT_MS,
    });
    const [n1, n2] = pair.vms;
    const { api1, api2 } = pair;
    say(`pair formed ${(pair.readyMs / 1000).toFixed(0)} s after power-on (${accel})`);
    const guest = (name: string, replicated: boolean, node: string) => createGuest(api1, {
      name, node, memory: GUEST_MEMORY_MIB, nics: [], accel: 'tcg',
      disks: [{ size: DISK_SIZE, bus: 'virtio', ...(replicated ? { replicated: true } : { format: 'raw' }) }],
    }, vms);
    const rep = await guest('replicated', true, 'node1');
    const plain = HOLD_ONLY ? 0 : await guest('plain', false, 'node1');
    say(`guests ${rep} (replicated) and ${plain || 'no'} (unreplicated) on node1`);

    // Write throughput, on node1: rep's disk made primary by root (its guest is stopped), a loop device beside it.
    const recFile = `/var/lib/vz/images/${rep}/vm-${rep}-disk-0.drbd.json`;
    const minor = (JSON.parse(await sh(n1, `cat ${recFile}`)) as { minor: number }).minor;
    const drbdDev = drbdDevice(minor);
    const res = (await sh(n1, `ls /run/ramvm-root/*/drbd/vm-${rep}-disk-0.res`)).trim();
    const drbdadm = (step: string) => sh(n1, `$(which drbdadm) -c ${shq(res)} ${step} vm-${rep}-disk-0 2>&1`);
    await drbdadm('primary');
    await section('write throughput', async () => {
      const plainFile = `/var/lib/vz/images/drbd-bench-plain.img`;
      const loop = (await sh(n1, `truncate -s ${DISK_SIZE} ${plainFile} && $(which losetup) -f --show ${plainFile}`)).trim();
      const dd = async (dev: string) => ddMiBps(await sh(n1, `$(which dd) if=/dev/zero of=${dev} bs=1M count=${DD_MIB} oflag=direct 2>&1`));
      const ddRep: number[] = [];
      const ddPlain: number[] = [];
      try {
        for (let k = 0; k < DD_RUNS; k++) {
          // In turns, so a load spike falls on both.
          if (k % 2) ddRep.push(await dd(drbdDev)), ddPlain.push(await dd(loop));
          else ddPlain.push(await dd(loop)), ddRep.push(await dd(drbdDev));
        }
      } finally {
        await sh(n1, `$(which losetup) -d ${loop}; rm -f ${plainFile}`);
      }
      say(`dd onto ${drbdDev}: ${list(ddRep, 1)} MiB/s; onto ${loop}: ${list(ddPlain, 1)} MiB/s`);
      return [{
        name: `replicated write throughput (dd oflag=direct, ${DD_MIB} MiB, median of ${DD_RUNS})`, value: median(ddRep), unit: 'MiB/s',
        baseline: { name: 'plain loop device', value: median(ddPlain) }, ratio: median(ddRep) / median(ddPlain),
        note: `runs ${list(ddRep, 1)} / ${list(ddPlain, 1)} MiB/s`,
      }];
    });

    // The lab network's own ceiling for the same amount: TCP from node1 to node2 (the path DRBD's protocol C waits on).
    await section('network ceiling', async () => {
      const port = 9999;
      await sh(n2, `($(which node) -e ${shq(SINK_SCRIPT)} ${port} >/dev/null 2>&1 &); sleep 2`);
      const mibps = Number((await sh(n1, `$(which node) -e ${shq(SEND_SCRIPT)} ${LAB_NET_PREFIX}2 ${port} ${DD_MIB} 2>&1`)).trim().split('\n').pop());
      say(`TCP node1 → node2: ${mibps.toFixed(1)} MiB/s`);
      return [{ name: `TCP node1 → node2 over the lab network (${DD_MIB} MiB, one run)`, value: mibps, unit: 'MiB/s', note: 'the ceiling of a protocol C write here' }];
    });

    // A boot sector on both guests' disks (a dot a second on the serial port), so each migrates a running program.
    const sector = bootSector().toString('base64');
    const put = (dev: string) => sh(n1, `echo ${sector} | base64 -d | $(which dd) of=${dev} bs=512 count=1 conv=notrunc,fsync 2>&1`);
    await put(drbdDev);
    await drbdadm('secondary');
    if (plain) await put(`/var/lib/vz/images/${plain}/vm-${plain}-disk-0.raw`);
    await inSync(api1, rep, vms);
    await power(api1, rep, 'start');
    if (plain) await power(api1, plain, 'start');

    // Live migrations, in turns: there and back for each guest, per round.
    await section('live migration', async () => {
      const movedRep: Moved[] = [];
      const movedPlain: Moved[] = [];
      for (let k = 0; k < MIGRATION_ROUNDS; k++) {
        movedRep.push(await migrate(api1, rep, 'node2'));
        movedPlain.push(await migrate(api1, plain, 'node2'));
        movedPlain.push(await migrate(api2, plain, 'node1'));
        movedRep.push(await migrate(api2, rep, 'node1'));
      }
      const fig = (ms: Moved[], f: keyof Moved) => median(ms.map((m) => m[f]));
      const runs = (f: keyof Moved) => `runs ${list(movedRep.map((m) => m[f]))} / ${list(movedPlain.map((m) => m[f]))} ms`;
      return [
        {
          name: `live migration of a replicated guest, QEMU's downtime (median of ${movedRep.length})`, value: fig(movedRep, 'qemuMs'), unit: 'ms',
          baseline: { name: 'unreplicated guest', value: fig(movedPlain, 'qemuMs') }, ratio: fig(movedRep, 'qemuMs') / Math.max(fig(movedPlain, 'qemuMs'), 1),
          goal: goal(`≤ ${DOWNTIME_GOAL_MS} ms`, fig(movedRep, 'qemuMs') <= DOWNTIME_GOAL_MS), note: runs('qemuMs'),
        },
        {
          name: `live migration of a replicated guest, STOP to the target's cont (median of ${movedRep.length})`, value: fig(movedRep, 'ramvmMs'), unit: 'ms',
          baseline: { name: 'unreplicated guest', value: fig(movedPlain, 'ramvmMs') }, ratio: fig(movedRep, 'ramvmMs') / Math.max(fig(movedPlain, 'ramvmMs'), 1),
          note: runs('ramvmMs'),
        },
        {
          name: `live migration of a replicated guest, total (median of ${movedRep.length})`, value: fig(movedRep, 'totalMs'), unit: 'ms',
          baseline: { name: 'unreplicated guest (disk mirrored)', value: fig(movedPlain, 'totalMs') }, ratio: fig(movedRep, 'totalMs') / fig(movedPlain, 'totalMs'),
          note: runs('totalMs'),
        },
      ];
    });

    // The bare pause of the running replicated guest, then cluster-mode backups of it. A backup that fails after
    // its hold still gives the hold (its log says it), and the run fails naming the backup.
    await section('cluster backup hold', async () => {
      const out = await sh(n1, `$(which node) -e ${shq(PAUSE_SCRIPT)} /run/ramvm/qemu/${rep}.qmp ${PAUSE_RUNS} 2>&1`);
      const pauses = JSON.parse(out.trim().split('\n').pop()!) as number[];
      say(`bare stop + cont ${list(pauses, 1)} ms`);
      const holds: number[] = [];
      const parts: ReturnType<typeof holdPartsOf>[] = [];
      for (let k = 0; k < BACKUP_RUNS; k++) {
        await inSync(api1, rep, vms);
        const r = await api1.post('/api/backup/run', { vmid: rep, mode: 'cluster', storage: 'local', compress: 'zstd' });
        if (r.status !== 202) throw new Error(`cluster backup of ${rep}: ${r.status} ${r.text}`);
        // Each look at the task is a CGI on node1: a Node start that takes its one vCPU for a while under TCG.
        // Looks every 50 ms during the hold share the vCPU with it; HOLD_QUIET_MS leaves node1 alone until the hold is over.
        if (QUIET) await new Promise((res) => setTimeout(res, HOLD_QUIET_MS));
        const t = await waitTask(api1, r.json.data.task, TASK_TIMEOUT_MS);
        const lines: string[] = (await api1.get(`/api/task/${encodeURIComponent(r.json.data.task)}/log`)).json.data.lines;
        holds.push(holdOf(lines));
        parts.push(holdPartsOf(lines));
        say(`cluster backup ${k + 1}: held ${holds[k]!.toFixed(1)} ms (${lines.find((l) => l.includes('held for'))?.split('): ')[1]}), task ${t.status}`);
        if (t.status !== 'ok') failed.push(`cluster backup ${k + 1} (after its hold): ${t.message}\n${lines.join('\n')}`);
      }
      const part = (what: string, f: keyof (typeof parts)[number]): BenchResult => {
        const xs = parts.map((p) => p[f]);
        return { name: `  of the hold: ${what} (median of ${BACKUP_RUNS})`, value: median(xs), unit: 'ms', note: `runs ${list(xs, 1)} ms` };
      };
      return [
        {
          name: `cluster-mode backup, guest held (median of ${BACKUP_RUNS}${QUIET ? ', node1 not polled meanwhile' : ''})`, value: median(holds), unit: 'ms',
          baseline: { name: 'bare QMP stop + cont', value: median(pauses) }, ratio: median(holds) / median(pauses),
          goal: goal(`≤ ${HOLD_GOAL_MS} ms`, median(holds) <= HOLD_GOAL_MS), note: `runs ${list(holds, 1)} / ${list(pauses, 1)} ms`,
        },
        part('QMP stop', 'stopMs'),
        part('go to the armed helper\'s answer, as the task sees it', 'goMs'),
        part('the go on its way to the helper (wall clocks of both)', 'toHelperMs'),
        part('the go read to the last disconnect done, as the helper sees it', 'helperMs'),
        part('the answer on its way back (wall clocks of both)', 'backMs'),
        part('QMP cont', 'contMs'),
      ];
    });
    // Where the hold goes: the root helper's call itself (sudo, its Node start) and drbdadm's disconnect, each timed alone on node1.
    await section('parts of the hold', async () => {
      const key = res.split('/')[3]!;
      const rec = parseNodeRecord(await sh(n1, `cat /run/ramvm-root/${key}/node.json`));
      const asCgi = ['setpriv', `--reuid=${rec.cgi.uid}`, `--regid=${rec.cgi.gid}`, '--init-groups', 'sudo', '-n', rec.node, rec.helper, key, 'ping'];
      const timed = async (argv: string[]) => Number((await sh(n1, `$(which node) -e ${shq(TIMED_SCRIPT)} ${argv.map(shq).join(' ')} 2>&1`)).trim().split('\n').pop());
      // The one drbdsetup-84 call drbdadm makes of a disconnect, as its dry run prints it.
      const setup = (await sh(n1, `/usr/lib/drbd/drbdadm-84 -d -c ${shq(res)} disconnect vm-${rep}-disk-0 2>&1`)).trim().split('\n').find((l) => /drbdsetup-84 disconnect /.test(l));
      if (!setup) throw new Error(`no drbdsetup-84 call in drbdadm's dry run of the disconnect`);
      const helperMs: number[] = [];
      const disconnectMs: number[] = [];
      const setupMs: number[] = [];
      const forceMs: number[] = [];
      for (let k = 0; k < PAUSE_RUNS; k++) helperMs.push(await timed(asCgi));
      const ways: [number[], string[]][] = [
        [disconnectMs, ['drbdadm', '-c', res, 'disconnect', `vm-${rep}-disk-0`]],
        [setupMs, setup.split(' ')],
        // Not what ramvm runs: a forced disconnect drops the connection without the state change the peer agrees to; timed to see that handshake's share.
        [forceMs, [...setup.split(' '), '--force']],
      ];
      for (let k = 0; k < BACKUP_RUNS; k++) {
        // In turns, so a load spike falls on each in time.
        for (let j = 0; j < ways.length; j++) {
          const [xs, argv] = ways[(j + k) % ways.length]!;
          await inSync(api1, rep, vms);
          xs.push(await timed(argv));
          await drbdadm('connect');
        }
      }
      await inSync(api1, rep, vms);
      // drbdsetup-84's start and one netlink round trip, no state change: the floor of any drbdsetup call.
      const cstateMs: number[] = [];
      for (let k = 0; k < BACKUP_RUNS; k++) cstateMs.push(await timed([setup.split(' ')[0]!, 'cstate', String(minor)]));
      say(`root helper ping as the node's user ${list(helperMs)} ms; drbdadm disconnect as root ${list(disconnectMs)} ms; ${setup} ${list(setupMs)} ms; with --force ${list(forceMs)} ms; drbdsetup-84 cstate ${list(cstateMs)} ms`);
      return [
        { name: `root helper call (sudo, the helper's start; ping), median of ${PAUSE_RUNS}`, value: median(helperMs), unit: 'ms', note: `runs ${list(helperMs)} ms; before the hold since the armed helper` },
        {
          name: `drbdsetup-84 disconnect as root alone, median of ${BACKUP_RUNS}`, value: median(setupMs), unit: 'ms',
          baseline: { name: 'drbdadm disconnect as root', value: median(disconnectMs) }, ratio: median(setupMs) / median(disconnectMs),
          note: `runs ${list(setupMs)} / ${list(disconnectMs)} ms`,
        },
        {
          name: `drbdsetup-84 disconnect --force as root alone, median of ${BACKUP_RUNS}`, value: median(forceMs), unit: 'ms',
          baseline: { name: 'drbdsetup-84 disconnect', value: median(setupMs) }, ratio: median(forceMs) / median(setupMs),
          note: `runs ${list(forceMs)} ms; not used: the peer's agreement to the disconnect is skipped`,
        },
        { name: `drbdsetup-84 cstate as root alone (its start, one netlink call), median of ${BACKUP_RUNS}`, value: median(cstateMs), unit: 'ms', note: `runs ${list(cstateMs)} ms` },
      ];
    });
    await power(api1, rep, 'stop').catch((e) => say(`stop ${rep}: ${(e as Error).message}`));
    if (plain) await power(api1, plain, 'stop').catch((e) => say(`stop ${plain}: ${(e as Error).message}`));

    // node1 powered off with a replicated guest of its own running: POST …/failover of it on node2, and on node2 the
    // starts of a stopped replicated guest of node2 (promote + start, the DRBD side of a failover) and of an unreplicated one.
    await section('failover to the survivor', async () => {
      const moved = await guest('failover', true, 'node1');
      const rep2 = await guest('replicated2', true, 'node2');
      const plain2 = await guest('plain2', false, 'node2');
      const movedMinor = (JSON.parse(await sh(n1, `cat /var/lib/vz/images/${moved}/vm-${moved}-disk-0.drbd.json`)) as { minor: number }).minor;
      await power(api1, moved, 'start');
      await inSync(api1, moved, vms);
      await inSync(api2, rep2, vms);
      const offAt = Date.now();
      await n1.stop();
      await until('node2 without its peer', 180_000, async () => {
        const c = (await api2.get(`/api/vm/${rep2}`)).json?.data?.disks?.[0]?.replication?.connection;
        return c && c !== 'Connected' ? c : undefined;
      }, [n2]);
      say(`node2 saw node1 gone ${Date.now() - offAt} ms after its power-off`);
      // The failover refuses a replica whose peer still counts as Primary: its own device must have seen node1 go too.
      await until(`guest ${moved}'s replica on node2 without its peer`, 180_000, async () => {
        const c = deviceOf(parseProcDrbd(await sh(n2, 'cat /proc/drbd')), movedMinor)?.connection;
        return c && c !== 'Connected' ? c : undefined;
      }, [n2]);
      const timedStart = async (vmid: number) => {
        const t = performance.now();
        await power(api2, vmid, 'start');
        const ms = performance.now() - t;
        await power(api2, vmid, 'stop');
        return ms;
      };
      const startRep: number[] = [];
      const startPlain: number[] = [];
      for (let k = 0; k < START_RUNS; k++) {
        if (k % 2) startRep.push(await timedStart(rep2)), startPlain.push(await timedStart(plain2));
        else startPlain.push(await timedStart(plain2)), startRep.push(await timedStart(rep2));
      }
      say(`starts on node2, peer gone: replicated ${list(startRep)} ms, unreplicated ${list(startPlain)} ms`);
      // One failover a run: the guest lives on node2 after it, and node1 stays off.
      const t = performance.now();
      const r = await api2.post(`/api/vm/${moved}/failover`);
      if (r.status !== 202) throw new Error(`failover of ${moved}: ${r.status} ${r.text}`);
      const lines = await taskLog(api2, r.json.data.task);
      const g = (await api2.get(`/api/vm/${moved}`)).json?.data;
      const failoverMs = performance.now() - t;
      if (g?.node !== 'node2' || g.status !== 'running') throw new Error(`guest ${moved} after its failover: ${JSON.stringify(g)}`);
      const taskMs = failedOverMs(lines);
      say(`failover of guest ${moved} to node2: request to running ${failoverMs.toFixed(0)} ms (the task's own ${taskMs} ms)`);
      const plainStart = median(startPlain);
      return [
        {
          name: 'failover through the API, node1 powered off (POST …/failover to the guest running on node2, one run)', value: failoverMs, unit: 'ms',
          baseline: { name: 'start of an unreplicated guest (median)', value: plainStart }, ratio: failoverMs / plainStart,
          note: `the task's own figure ${taskMs} ms; starts ${list(startPlain)} ms`,
        },
        {
          name: `promote + start on the survivor, peer powered off (request to running, median of ${START_RUNS})`, value: median(startRep), unit: 'ms',
          baseline: { name: 'start of an unreplicated guest', value: plainStart }, ratio: median(startRep) / plainStart,
          note: `runs ${list(startRep)} / ${list(startPlain)} ms; the start of a guest of node2: the DRBD side of a failover`,
        },
      ];
    });
    if (failed.length) {
      // What was measured stays on the screen; the run fails with what was not.
      for (const r of rows) say(formatBench(r));
      throw new Error(`drbd bench: not measured: ${failed.join('; ')}`);
    }
    return rows;
  } finally {
    await Promise.all(vms.map((v) => v.stop()));
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
    lock.release();
  }
}
