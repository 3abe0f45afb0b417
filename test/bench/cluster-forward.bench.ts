/**
 * What the cluster costs: the time a node takes to join (token on the
 * master, join on the node, until its join task is done), and the overhead
 * of a forwarded request: `GET /api/vm/<id>` of a guest on n2 asked of the
 * master (authenticated and ACL-checked there, signed, sent over HTTPS to n2,
 * answered by n2's CGI) against the same request asked of n2 itself.
 * Two namespaced nodes (test/helpers/cluster.ts); the two kinds of request
 * alternate, so load on the machine hits both alike.
 *
 *   npm run bench -- cluster
 */
import type { BenchResult } from '../../build/bench';
import { goal } from '../../build/bench';
import { startTestCluster, waitTask } from '../helpers/cluster';
import { createSectorGuest } from '../helpers/guest';
import { ADMIN_PASSWORD, type Client } from '../helpers/node';

const REQUESTS = 100;
/** The forwarded request may cost this much of the direct one (issue goal). */
const FORWARD_RATIO_GOAL = 1.5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(api: Client, path: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await api.get(path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export async function bench(): Promise<BenchResult[]> {
  const c = await startTestCluster(2);
  try {
    const [n1, n2] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0]];
    const master = await n1.login('admin', ADMIN_PASSWORD);
    const created = await master.post('/api/cluster', { name: 'bench' });
    if (created.status !== 200) throw new Error(`POST /api/cluster: ${created.status} ${created.text}`);

    const t0 = process.hrtime.bigint();
    const tok = await master.post('/api/cluster/token', {});
    if (tok.status !== 200) throw new Error(`POST /api/cluster/token: ${tok.status} ${tok.text}`);
    const member = await n2.login('admin', ADMIN_PASSWORD);
    const j = await member.post('/api/cluster/join', { master: n1.clusterUrl, token: tok.json.data.token, fingerprint: tok.json.data.fingerprint });
    if (j.status !== 202) throw new Error(`POST /api/cluster/join: ${j.status} ${j.text}`);
    const t = await waitTask(member, j.json.data.task, 60_000, () => n2.login('admin', ADMIN_PASSWORD));
    if (t.status !== 'ok') throw new Error(`join failed: ${t.message}`);
    const joinMs = Number(process.hrtime.bigint() - t0) / 1e6;

    const vmid = await createSectorGuest(master, n2.root, { name: 'far', node: 'n2' });
    const onN2 = await n2.login('admin', ADMIN_PASSWORD);
    const path = `/api/vm/${vmid}`;
    const direct: number[] = [];
    const forwarded: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      direct.push(await timed(onN2, path));
      forwarded.push(await timed(master, path));
    }
    const d = median(direct);
    const f = median(forwarded);
    return [
      { name: 'join of a second node (token, join, until its task is done)', value: joinMs, unit: 'ms' },
      {
        name: `GET /api/vm/<id> of a guest on n2 through the master, p50 of ${REQUESTS}`,
        value: f,
        unit: 'ms',
        baseline: { name: 'the same request on n2', value: d },
        ratio: f / d,
        goal: goal(`≤ ${FORWARD_RATIO_GOAL}× the request on its node`, f / d <= FORWARD_RATIO_GOAL),
      },
    ];
  } finally {
    await c.stop();
  }
}
