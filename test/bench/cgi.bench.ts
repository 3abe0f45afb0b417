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
 */
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import type { BenchResult } from '../../build/bench';
import { startTestNode } from '../helpers/node';

const N = 200;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function timeRequests(url: string, headers: Record<string, string>): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
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

/** 20 starts of `node -e 0` with this environment, ms each. */
function nodeStarts(env: NodeJS.ProcessEnv): number[] {
  const out: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0'], { env });
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
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
    ];
  } finally {
    await node.stop();
  }
}
