/**
 * ISO distribution throughput in a three-node cluster (network namespaces,
 * a real lighttpd each, test/helpers/cluster.ts): a 128 MiB file of random
 * bytes uploaded to the master n1 and copied by its task "iso-distribute"
 * to n2 and n3 at once, timed from the task's start to its end (its record's
 * `start` and `end`), median of 3, in turns with the curl baseline.
 *
 * Baselines of the same run:
 *   * curl, run in n1's namespace, pushing the same file to n2 and n3 at
 *     once, over the same HTTPS cluster sockets into the same receiving
 *     CGI (PUT /api/iso/cluster/<name>, signed as the master with headers
 *     made here): what the task adds to a plain copy between the namespaces;
 *   * the user's upload of the same file to the master (curl -T through
 *     lighttpd into iso.cgi): how a copy to two nodes compares with the
 *     upload itself;
 *   * cp of the same file on the master's disk.
 * Each figure is MiB/s per node (the file's size over the time until both
 * nodes have it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { formCluster, startTestCluster, waitTask, type ClusterTestNode } from '../helpers/cluster';
import { pathsFor } from '../../node-cgi/lib/paths';
import { signedHeaders, UNSIGNED_PAYLOAD } from '../../node-cgi/cluster/sign';
import { copyTarget } from '../../node-cgi/iso/sync';
import { goal, type BenchResult } from '../../build/bench';

const MiB = 1024 * 1024;
/** Size of the distributed file. */
const FILE_BYTES = 128 * MiB;
const RUNS = 3;
/** A distribution (or a removal) on a loaded machine. */
const TASK_TIMEOUT_MS = 600_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/** Run argv to its end; its stdout. */
function run(argv: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', rej);
    p.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${argv.join(' ')}: exit ${code}: ${err}`))));
  });
}

/** curl in n1's namespace pushing `file` to `to`'s copy endpoint, signed as the master n1. */
function curlPush(n1: ClusterTestNode, to: ClusterTestNode, file: string, step: Parameters<typeof copyTarget>[0]): Promise<string> {
  const cluster = JSON.parse(readFileSync(pathsFor(n1.root).clusterConfig, 'utf8'));
  const key = Buffer.from(readFileSync(join(n1.root, 'etc/ramvm/priv/authkey'), 'utf8').trim(), 'hex');
  const target = copyTarget(step);
  const h = signedHeaders(key, 'PUT', target, {
    node: 'n1',
    time: Math.floor(Date.now() / 1000),
    nonce: randomBytes(16).toString('hex'),
    bodyHash: UNSIGNED_PAYLOAD,
    identity: null,
    epoch: cluster.epoch,
    generation: cluster.generation,
  });
  const headers = Object.entries(h).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  return run([...n1.inNs, 'curl', '-sS', '-k', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Content-Type: application/octet-stream', ...headers, '-T', file, `${to.clusterUrl}${target}`]);
}

export async function bench(): Promise<BenchResult[]> {
  const c = await startTestCluster(3);
  try {
    const [n1, n2, n3] = c.nodes as [ClusterTestNode, ClusterTestNode, ClusterTestNode];
    const api = await formCluster(c, 'bench');
    const src = join(n1.root, 'source.iso');
    const hash = createHash('sha256');
    const fd = openSync(src, 'w');
    for (let i = 0; i < FILE_BYTES / MiB; i++) {
      const b = randomBytes(MiB);
      hash.update(b);
      writeSync(fd, b);
    }
    closeSync(fd);
    const sha256 = hash.digest('hex');
    await run(['cat', src]); // into the page cache
    const mib = FILE_BYTES / MiB;

    const cp: number[] = [];
    const upload: number[] = [];
    const curl: number[] = [];
    const task: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const dst = join(pathsFor(n1.root).iso, `cp-${i}.iso`);
      const t0 = process.hrtime.bigint();
      await run(['cp', src, dst]);
      cp.push(seconds(t0));
      rmSync(dst);

      // One after the other, in turns, so neither always runs first on a machine whose load drifts.
      const byHand = async () => {
        // By hand: the same bytes pushed to both nodes' receiving CGI by curl from n1's namespace.
        const step = { op: 'copy' as const, name: `curl-${i}.iso`, size: FILE_BYTES, sha256, user: 'admin', uploaded: new Date().toISOString() };
        const t1 = process.hrtime.bigint();
        const codes = await Promise.all([curlPush(n1, n2, src, step), curlPush(n1, n3, src, step)]);
        curl.push(seconds(t1));
        if (codes.some((s) => s !== '201')) throw new Error(`curl pushes answered ${codes.join(', ')}`);
        for (const n of ['n2', 'n3']) {
          const del = await api.del(`/api/iso/curl-${i}.iso?node=${n}`);
          if (del.status !== 204) throw new Error(`DELETE on ${n} answered ${del.status} ${del.text}`);
        }
      };
      const byTask = async () => {
        // The cluster: the upload to the master, then its task copies to n2 and n3.
        const t2 = process.hrtime.bigint();
        const up = await run(['curl', '-sS', '-b', api.cookie!, '-H', `X-Ramvm-CSRF: ${api.csrf}`, '-T', src, `${n1.url}/api/iso/dist-${i}.iso?sha256=${sha256}`]);
        upload.push(seconds(t2));
        const id = JSON.parse(up).data?.task;
        if (!id) throw new Error(`the upload started no task: ${up}`);
        const t = await waitTask(api, id, TASK_TIMEOUT_MS);
        if (t.status !== 'ok') throw new Error(`task ${id}: ${t.message}`);
        task.push(((t.end as number) - (t.start as number)) / 1000);
        const del = await api.del(`/api/iso/dist-${i}.iso`);
        if (del.status !== 204) throw new Error(`DELETE answered ${del.status} ${del.text}`);
        const gone = await waitTask(api, del.headers.get('x-ramvm-task')!, TASK_TIMEOUT_MS);
        if (gone.status !== 'ok') throw new Error(`removal: ${gone.message}`);
      };
      if (i % 2 === 0) {
        await byHand();
        await byTask();
      } else {
        await byTask();
        await byHand();
      }
      spawnSync('sync');
    }
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const taskRate = mib / median(task);
    const runs = (xs: number[]) => `runs ${xs.map((s) => s.toFixed(2)).join('/')} s`;
    /** The distribution's rate against a baseline's times (seconds per run). */
    const against = (name: string, baseline: string, times: number[], more: Partial<BenchResult> = {}): BenchResult => ({
      name,
      value: taskRate,
      unit: 'MiB/s',
      baseline: { name: baseline, value: mib / median(times) },
      ratio: taskRate / (mib / median(times)),
      note: runs(times),
      ...more,
    });
    const byCurl = taskRate / (mib / median(curl));
    return [
      against(`iso distribution ${mib} MiB to 2 nodes (task iso-distribute, per node)`, 'curl pushing it to both nodes from the master\'s namespace', curl, {
        goal: goal('≥ 0.8', byCurl >= 0.8),
        note: `${runs(task)}; curl ${runs(curl)}; load ${load}`,
      }),
      against('iso distribution against the upload of the same file to the master', 'curl -T to the master', upload),
      against('iso distribution against cp on the master', 'cp', cp),
    ];
  } finally {
    await c.stop();
  }
}
