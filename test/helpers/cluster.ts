/**
 * Up to three (nine) ramvm nodes on one machine, each in a network
 * namespace of its own (netns.ts): a real lighttpd per node with its own
 * RAMVM_ROOT, the UI on ADDR:8006 (HTTP) and the cluster socket on
 * ADDR:8007 (HTTPS), started with `ip netns exec`, so every CGI, task and
 * QEMU process a node starts lives in that node's namespace. The test
 * process reaches every node through its own veth on the same bridge.
 *
 *   const c = await startTestCluster(3);          // n1, n2, n3; not yet a cluster
 *   await formCluster(c, 'office');               // n1 creates, n2 and n3 join
 *   const api = await c.nodes[0].login('admin', ADMIN_PASSWORD);
 *   await c.nodes[1].kill();                      // its lighttpd stops: the node is "down"
 *   await c.nodes[1].revive();                    // the same root, served again
 *   await c.stop();                               // processes by pid, namespaces, roots
 *
 * One booted cluster serves all tests of a file: start it in `before`, stop
 * it in `after`. Stopping also happens at process exit, and a later run
 * sweeps what a killed run left (netns.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../build/server';
import { DIST } from '../../build/build';
import { createNetwork, type Network } from './netns';
import { ADMIN_PASSWORD, endTaskProcesses, loginClient, makeClient, type Client } from './node';
import { killGuests, waitFor } from './guest';
import { fingerprintOf } from '../../node-cgi/cluster/identity';

/** The UI port of every node (each has an address of its own). */
export const CLUSTER_UI_PORT = 8006;
/** The cluster socket of every node. */
export const CLUSTER_PORT = 8007;

export interface ClusterTestNode {
  name: string;
  ns: string;
  addr: string;
  root: string;
  /** "http://10.213.57.2:8006" */
  url: string;
  /** "https://10.213.57.2:8007" */
  clusterUrl: string;
  /** Environment for the built CLI against this node's root (run it with `ip netns exec`, see cli()). */
  env: NodeJS.ProcessEnv;
  /** argv prefix that runs a command inside the node's namespace. */
  inNs: string[];
  server: RunningServer | null;
  login(username: string, password: string): Promise<Client>;
  anon(): Client;
  /** Stop the node's lighttpd (guests and their QEMU keep running, as on a host whose web server died). */
  kill(): Promise<void>;
  /** Start lighttpd again on the same root. */
  revive(): Promise<void>;
}

export interface TestCluster {
  net: Network;
  nodes: ClusterTestNode[];
  stop(): Promise<void>;
}

export async function startTestCluster(count = 3, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<TestCluster> {
  const net = createNetwork(count);
  const nodes: ClusterTestNode[] = [];
  try {
    for (const [i, n] of net.nodes.entries()) {
      const name = `n${i + 1}`;
      const root = mkdtempSync(join(tmpdir(), `ramvm-cluster-${name}-`));
      const serverOpts = {
        root,
        listen: n.addr,
        port: CLUSTER_UI_PORT,
        clusterPort: CLUSTER_PORT,
        node: name,
        netns: n.ns,
        quiet: true,
        env: { RAMVM_ADMIN_PASSWORD: ADMIN_PASSWORD, ...opts.env },
      };
      const node: ClusterTestNode = {
        name,
        ns: n.ns,
        addr: n.addr,
        root,
        url: `http://${n.addr}:${CLUSTER_UI_PORT}`,
        clusterUrl: `https://${n.addr}:${CLUSTER_PORT}`,
        env: {
          ...process.env,
          RAMVM_ROOT: root,
          RAMVM_DIST: DIST,
          RAMVM_NODE: name,
          RAMVM_LISTEN: n.addr,
          RAMVM_PORT: String(CLUSTER_UI_PORT),
          RAMVM_CLUSTER_PORT: String(CLUSTER_PORT),
          RAMVM_ADDRESS: '',
        },
        inNs: ['ip', 'netns', 'exec', n.ns],
        server: null,
        login: (u, p) => loginClient(node.url, u, p),
        anon: () => makeClient(node.url),
        async kill() {
          await node.server?.stop();
          node.server = null;
        },
        async revive() {
          if (!node.server) node.server = await startServer(serverOpts);
        },
      };
      nodes.push(node);
    }
    await Promise.all(nodes.map((n) => n.revive()));
  } catch (e) {
    await stopAll(nodes, net);
    throw e;
  }
  return { net, nodes, stop: () => stopAll(nodes, net) };
}

async function stopAll(nodes: ClusterTestNode[], net: Network): Promise<void> {
  for (const n of nodes) {
    try {
      await n.kill();
    } catch {
      /* stopping what is left matters more */
    }
    endTaskProcesses(n.root);
    await killGuests(n.root);
  }
  net.destroy();
  for (const n of nodes) rmSync(n.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/**
 * Wait for a task (by id, on the node `api` talks to) to end; returns its
 * record. With `relogin`, a 401 (the node's key changed: a join) logs in again.
 */
export async function waitTask(
  api: Client,
  id: string,
  timeoutMs = 60_000,
  relogin?: () => Promise<Client>,
): Promise<{ status: string; message: string; [k: string]: unknown }> {
  return waitFor(
    `task ${id}`,
    async () => {
      let r = await api.get(`/api/task/${encodeURIComponent(id)}`);
      if (r.status === 401 && relogin) {
        api = await relogin();
        r = await api.get(`/api/task/${encodeURIComponent(id)}`);
      }
      if (r.status !== 200) throw new Error(`GET task ${id}: ${r.status} ${r.text}`);
      return r.json.data.status === 'running' ? null : r.json.data;
    },
    timeoutMs,
    100,
  );
}

/** Admin clients of every node. */
export function adminClients(c: TestCluster): Promise<Client[]> {
  return Promise.all(c.nodes.map((n) => n.login('admin', ADMIN_PASSWORD)));
}

/**
 * Make a cluster of the nodes: the first creates it, the others join with a
 * token each (through the API, as an admin would). Returns the master's admin client.
 */
export async function formCluster(c: TestCluster, name = 'office'): Promise<Client> {
  const [master, ...members] = c.nodes;
  const api = await master!.login('admin', ADMIN_PASSWORD);
  const created = await api.post('/api/cluster', { name });
  if (created.status !== 200) throw new Error(`POST /api/cluster: ${created.status} ${created.text}`);
  for (const m of members) {
    const tok = await api.post('/api/cluster/token', {});
    if (tok.status !== 200) throw new Error(`POST /api/cluster/token: ${tok.status} ${tok.text}`);
    const mApi = await m.login('admin', ADMIN_PASSWORD);
    const j = await mApi.post('/api/cluster/join', { master: master!.clusterUrl, token: tok.json.data.token, fingerprint: tok.json.data.fingerprint });
    if (j.status !== 202) throw new Error(`POST /api/cluster/join on ${m.name}: ${j.status} ${j.text}`);
    // The join replaces the node's users and key: its old ticket ends with it.
    const t = await waitTask(mApi, j.json.data.task, 60_000, () => m.login('admin', ADMIN_PASSWORD));
    if (t.status !== 'ok') throw new Error(`join of ${m.name} failed: ${t.message}`);
  }
  return api;
}

/** Snapshots of a node's etc/ramvm (config-tree.ts), here for the cluster's tests too. */
export { configTree } from './config-tree';

/** The node's certificate fingerprint, read from its root. */
export function fingerprintOfNode(n: ClusterTestNode): string {
  return fingerprintOf(readFileSync(join(n.root, 'etc/ramvm/priv/node.crt'), 'utf8'));
}

/** Run the built `ramvm` CLI on node `n`, inside its namespace (it may talk to other nodes). */
export function nodeCli(n: ClusterTestNode, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(n.inNs[0]!, [...n.inNs.slice(1), process.execPath, join(DIST, 'bin/ramvm'), ...args], { env: n.env, encoding: 'utf8', ...(input !== undefined ? { input } : {}), timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
