/**
 * What a request costs through lighttpd: a static file, the smallest CGI
 * answer (`/api/nothing` → unknown.cgi), an authenticated JSON CGI
 * (`/api/access/me`), and the floor under every Node CGI: `node -e 0` started
 * as lighttpd starts a CGI. lighttpd hands a CGI none of its own environment
 * (only the CGI variables and the config's setenv: PATH, RAMVM_*, an empty
 * NODE_OPTIONS), so the floor runs with just that; `node -e 0` in this
 * process's environment is shown too (NODE_EXTRA_CA_CERTS, if set, makes
 * every start read a CA bundle: no CGI pays that). 200 sequential keep-alive
 * requests each; p50 and p95 in ms.
 *
 * What privilege separation costs (run as root): the same two CGI requests
 * against a separated node (lighttpd and CGIs as ramvm, node-cgi/root/) and
 * a node of the same build run all as root (`separate: false`), in
 * alternating rounds of 25 so that both see the same load; and one call of
 * the root helper (`ping`: sudo, then the helper's Node start and its
 * registry checks), which a node pays per guest start or stop and per backup
 * mount, never per request, against the floor.
 */
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import type { BenchResult } from '../../build/bench';
import { rootCall } from '../../node-cgi/lib/separation';
import { startTestNode, type TestNode } from '../helpers/node';

const N = 200;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function timeRequests(url: string, headers: Record<string, string>, n = N): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((res, rej) => {
      request(url, { agent, headers }, (r) => {
        r.resume();
        r.on('end', () => res());
      }).on('error', rej).end();
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  agent.destroy();
  return times;
}

/** What lighttpd gives a CGI beyond the CGI variables (build/lighttpd.conf.in's setenv; RAMVM_* cost nothing). */
const CGI_ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH, NODE_OPTIONS: '' };

/** `n` starts of `node -e 0` with this environment, ms each. */
function nodeStarts(env: NodeJS.ProcessEnv, n = 20): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0'], { env });
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/** Requests of the same path to two nodes in alternating rounds of ROUND (N each): the load falls on both alike. */
const ROUND = 25;
async function timeAlternating(a: string, b: string, path: string, headers: [Record<string, string>, Record<string, string>]): Promise<[number[], number[]]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < N / ROUND; i++) {
    ta.push(...(await timeRequests(a + path, headers[0], ROUND)));
    tb.push(...(await timeRequests(b + path, headers[1], ROUND)));
  }
  return [ta, tb];
}

/** The separated node against one run all as root: two CGI requests and a root helper call. */
async function separationCost(): Promise<BenchResult[]> {
  if (process.getuid?.() !== 0) return [{ name: 'privilege separation: not measured (needs root: a node started by another user is not separated)', value: 0, unit: 'ms' }];
  let sep: TestNode | undefined;
  let root: TestNode | undefined;
  try {
    sep = await startTestNode({ node: 'benchsep' });
    root = await startTestNode({ node: 'benchroot', separate: false });
    if (!sep.server.record || root.server.record) throw new Error('expected one separated node and one run as root');
    const [sa, ra] = [await sep.login('admin', sep.adminPassword), await root.login('admin', root.adminPassword)];
    const out: BenchResult[] = [];
    for (const [name, path, headers] of [
      ['unknown.cgi (JSON 404)', '/api/nothing', [{}, {}]],
      ['access.cgi GET /me', '/api/access/me', [{ cookie: sa.cookie! }, { cookie: ra.cookie! }]],
    ] as const) {
      const [s, r] = await timeAlternating(sep.url, root.url, path, headers as [Record<string, string>, Record<string, string>]);
      out.push({
        name: `${name} p50, separated (ramvm) (p95 ${percentile(s, 95).toFixed(1)} ms; as root p95 ${percentile(r, 95).toFixed(1)} ms)`,
        value: percentile(s, 50),
        unit: 'ms',
        baseline: { name: 'the same, node run all as root', value: percentile(r, 50) },
        ratio: percentile(s, 50) / percentile(r, 50),
      });
    }
    const rec = sep.server.record;
    // Each call right after a bare Node start, so that both see the same load.
    const calls: number[] = [];
    const starts: number[] = [];
    for (let i = 0; i < 20; i++) {
      starts.push(...nodeStarts(CGI_ENV, 1));
      const t0 = process.hrtime.bigint();
      await rootCall(rec, 'ping');
      calls.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    out.push({
      name: `root helper call (sudo, ramvm-root ping) p50 (p95 ${percentile(calls, 95).toFixed(1)} ms)`,
      value: percentile(calls, 50),
      unit: 'ms',
      baseline: { name: 'node -e 0 as a CGI, alternating with the calls', value: percentile(starts, 50) },
      ratio: percentile(calls, 50) / percentile(starts, 50),
      note: 'paid per guest start or stop and per backup mount, not per request',
    });
    return out;
  } finally {
    await sep?.stop();
    await root?.stop();
  }
}

export async function bench(): Promise<BenchResult[]> {
  const node = await startTestNode();
  try {
    const admin = await node.login('admin', node.adminPassword);
    const floor = percentile(nodeStarts(CGI_ENV), 50);
    const session = percentile(nodeStarts(process.env), 50);
    const stat = await timeRequests(`${node.url}/favicon.svg`, {});
    const unknown = await timeRequests(`${node.url}/api/nothing`, {});
    const me = await timeRequests(`${node.url}/api/access/me`, { cookie: admin.cookie! });
    const row = (name: string, xs: number[]): BenchResult => ({
      name: `${name} p50 (p95 ${percentile(xs, 95).toFixed(1)} ms)`,
      value: percentile(xs, 50),
      unit: 'ms',
      baseline: { name: 'node -e 0 as a CGI', value: floor },
      ratio: percentile(xs, 50) / floor,
    });
    return [
      { name: 'node -e 0 p50, as lighttpd starts a CGI (PATH and NODE_OPTIONS only)', value: floor, unit: 'ms' },
      {
        name: 'node -e 0 p50, in this process\'s environment', value: session, unit: 'ms',
        note: process.env.NODE_EXTRA_CA_CERTS ? `NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}` : 'no NODE_EXTRA_CA_CERTS',
      },
      { name: `static file p50 (p95 ${percentile(stat, 95).toFixed(2)} ms)`, value: percentile(stat, 50), unit: 'ms' },
      row('unknown.cgi (JSON 404)', unknown),
      row('access.cgi GET /me (ticket, ACL)', me),
      ...(await separationCost()),
    ];
  } finally {
    await node.stop();
  }
}
