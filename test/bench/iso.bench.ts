/**
 * ISO upload throughput and memory: `curl -T` of a 1 GiB file of random
 * bytes through lighttpd into the library (hashed, fsynced, renamed)
 * against `cp` of the same file into the same folder, median of 3, and
 * the upload CGI's peak RSS (VmHWM, sampled from /proc while it runs)
 * against `node -e 0`.
 *
 * The source file is read once beforehand, so both read it from the page
 * cache. `cp` does not fsync; `cp` followed by `sync` of the copy is shown
 * too, as the like-for-like durability baseline. A second lighttpd with the
 * same config, whose iso.cgi only reads the body into a reused buffer and
 * throws it away, shows what lighttpd's request-body path costs by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort, startTestNode, type TestNode } from '../helpers/node';
import { DIST } from '../../build/build';
import { pathsFor } from '../../node-cgi/lib/paths';
import { goal, type BenchResult } from '../../build/bench';

const MiB = 1024 * 1024;
/** Size of the uploaded file. */
const FILE_BYTES = 1024 * MiB; // 1 GiB
const RUNS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function isoCgiPid(node: TestNode): number {
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === node.server.proc.pid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('iso.cgi')) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

function hwmKb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A CGI that reads the body into one reused buffer, discards it and answers 201. */
const SINK_CGI = `const fs = require('fs');
const fd = fs.openSync('/proc/self/fd/0', 'r');
const buf = Buffer.allocUnsafe(1 << 20);
while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
process.stdout.write('Status: 201 Created\\r\\nContent-Type: text/plain\\r\\n\\r\\nok');
`;

/** lighttpd with the node's own config, but serving SINK_CGI as iso.cgi on another port. */
async function startSink(node: TestNode): Promise<{ url: string; proc: ChildProcess }> {
  const dir = join(node.root, 'sink');
  mkdirSync(join(dir, 'cgi'), { recursive: true });
  writeFileSync(join(dir, 'cgi/iso.cgi'), SINK_CGI);
  chmodSync(join(dir, 'cgi/iso.cgi'), 0o755);
  const port = await freePort();
  const conf = readFileSync(node.server.confFile, 'utf8')
    .replace(`"${DIST}/cgi/"`, `"${dir}/cgi/"`)
    .replace(/^server\.port = \d+$/m, `server.port = ${port}`);
  writeFileSync(join(dir, 'lighttpd.conf'), conf);
  const proc = spawn('lighttpd', ['-D', '-f', join(dir, 'lighttpd.conf')], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((res) => {
      const c = connect(port, '127.0.0.1', () => (c.destroy(), res(true))).on('error', () => res(false));
    });
    if (up) break;
    if (i > 200) throw new Error('the sink lighttpd did not start');
    await new Promise((r) => setTimeout(r, 25));
  }
  return { url: `http://127.0.0.1:${port}`, proc };
}

/** One upload with curl; its wall time and the CGI's peak RSS. */
async function upload(node: TestNode, cookie: string, csrf: string, src: string, name: string, base = node.url): Promise<{ s: number; hwmKb: number }> {
  const t0 = process.hrtime.bigint();
  const curl = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-b', cookie, '-H', `X-Ramvm-CSRF: ${csrf}`, '-T', src, `${base}/api/iso/${name}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  curl.stdout.on('data', (d) => (out += d));
  let pid = 0;
  let peak = 0;
  let done = false;
  curl.on('exit', () => (done = true));
  while (!done) {
    if (!pid) pid = isoCgiPid(node);
    if (pid) peak = Math.max(peak, hwmKb(pid));
    await new Promise((r) => setTimeout(r, 25));
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (out !== '201') throw new Error(`upload answered ${out}`);
  return { s, hwmKb: peak };
}

export async function bench(): Promise<BenchResult[]> {
  const node = await startTestNode();
  try {
    const isoDir = pathsFor(node.root).iso;
    const src = join(node.root, 'source.iso');
    const fd = openSync(src, 'w');
    for (let i = 0; i < FILE_BYTES / MiB; i++) writeSync(fd, randomBytes(MiB));
    closeSync(fd);
    timed(['cat', src]); // into the page cache
    const api = await node.login('admin', node.adminPassword);
    const mib = FILE_BYTES / MiB;

    const sink = await startSink(node);
    const sinkRuns: number[] = [];
    try {
      for (let i = 0; i < RUNS; i++) sinkRuns.push((await upload(node, api.cookie!, api.csrf!, src, 'x.iso', sink.url)).s);
    } finally {
      sink.proc.kill('SIGTERM');
    }

    const cp: number[] = [];
    const cpSync: number[] = [];
    const up: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const dst = join(isoDir, `cp-${i}.iso`);
      cp.push(timed(['cp', src, dst]));
      rmSync(dst);
      timed(['sync']);
      cpSync.push(timed(['sh', '-c', 'cp "$1" "$2" && sync "$2"', 'sh', src, dst]));
      rmSync(dst);
      timed(['sync']);
      const u = await upload(node, api.cookie!, api.csrf!, src, `up-${i}.iso`);
      up.push(u.s);
      rss.push(u.hwmKb);
      const del = await api.del(`/api/iso/up-${i}.iso`);
      if (del.status !== 204) throw new Error(`delete answered ${del.status}`);
      timed(['sync']);
    }
    // maxRSS of a node that does nothing else, in KiB (getrusage).
    const nodeHwm = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.resourceUsage().maxRSS))'], { encoding: 'utf8' }).stdout);
    const upRate = mib / median(up);
    const cpRate = mib / median(cp);
    const cpSyncRate = mib / median(cpSync);
    const peakMb = Math.max(...rss) / 1024;
    const sinkRate = mib / median(sinkRuns);
    return [
      {
        name: `iso upload ${mib} MiB (curl -T → lighttpd → iso.cgi, sha256 + fsync)`,
        value: upRate,
        unit: 'MiB/s',
        baseline: { name: 'cp into the library', value: cpRate },
        ratio: upRate / cpRate,
        goal: goal('≥ 0.8', upRate / cpRate >= 0.8),
        note: `runs ${up.map((s) => s.toFixed(2)).join('/')} s`,
      },
      {
        name: 'iso upload against cp + sync of the copy',
        value: upRate,
        unit: 'MiB/s',
        baseline: { name: 'cp + sync', value: cpSyncRate },
        ratio: upRate / cpSyncRate,
      },
      {
        name: 'iso upload against the same upload into a CGI that discards it',
        value: upRate,
        unit: 'MiB/s',
        baseline: { name: 'lighttpd → discarding CGI', value: sinkRate },
        ratio: upRate / sinkRate,
        note: `runs ${sinkRuns.map((s) => s.toFixed(2)).join('/')} s`,
      },
      {
        name: 'iso upload CGI peak RSS',
        value: peakMb,
        unit: 'MiB',
        baseline: { name: 'node -e 0', value: nodeHwm / 1024 },
        ratio: peakMb / (nodeHwm / 1024),
        goal: goal('< 100 MB', peakMb * 2 ** 20 < 100e6),
        note: `runs ${rss.map((k) => (k / 1024).toFixed(1)).join('/')} MiB`,
      },
    ];
  } finally {
    await node.stop();
  }
}
