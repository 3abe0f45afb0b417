/**
 * A real node for integration tests: lighttpd running the built CGIs on a
 * free port of 127.0.0.1, with a temporary RAMVM_ROOT, plus a small HTTP
 * client that logs in like a browser (cookie + CSRF header) or uses a token.
 *
 *   const node = await startTestNode();
 *   const api = await node.login('admin', node.adminPassword);
 *   const r = await api.get('/api/task');   // r.status, r.json
 *   await node.stop();                        // also removes the root
 *
 * A node not stopped when the test process exits (a failed hook, a signal:
 * suite.ts turns SIGINT and SIGTERM into an exit) is ended then: its guests'
 * QEMUs, its lighttpd and its task processes killed by pid, its root removed.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../build/server';
import { DIST } from '../../build/build';
import { asUser } from '../../node-cgi/root/trust';
import { readNodeRecord } from '../../node-cgi/lib/separation';
import { unregisterNode } from '../../node-cgi/root/setup';

export const ADMIN_PASSWORD = 'admin-test-pw';

export interface TestNode {
  url: string;
  root: string;
  adminPassword: string;
  server: RunningServer;
  /** Environment for running the built CLI or CGIs against this node's root. */
  env: NodeJS.ProcessEnv;
  login(username: string, password: string): Promise<Client>;
  /** A client with no credentials. */
  anon(): Client;
  stop(): Promise<void>;
}

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  json: T;
  text: string;
}

export interface Client {
  csrf?: string;
  cookie?: string;
  get<T = any>(path: string): Promise<Reply<T>>;
  post<T = any>(path: string, body?: unknown): Promise<Reply<T>>;
  put<T = any>(path: string, body?: unknown): Promise<Reply<T>>;
  del<T = any>(path: string, body?: unknown): Promise<Reply<T>>;
  request<T = any>(method: string, path: string, init?: { body?: BodyInit | null; headers?: Record<string, string>; json?: unknown }): Promise<Reply<T>>;
}

/**
 * End the `ramvm` task processes this test node started (found by their
 * RAMVM_ROOT), so none writes into the root while it is removed, and any
 * QEMU still using a file of the root: a guest, or the KVM probe's, which a
 * task killed halfway leaves to init (a probe frozen under this host's KVM
 * would never end).
 */
export function endTaskProcesses(root: string): void {
  const inRoot = `${root}/`;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const qemu = argv[0]!.startsWith('qemu-system') && argv.some((a) => a.includes(inRoot));
      if (!qemu) {
        if (!argv.some((a) => a.endsWith('/bin/ramvm'))) continue;
        if (!readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`RAMVM_ROOT=${root}`)) continue;
      }
      process.kill(Number(d), 'SIGKILL');
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

/**
 * One request to a node that serves HTTPS with its own self-signed
 * certificate (a lab node through its forwarded port): fetch() takes no
 * such certificate, node:https does. Bodies are strings or bytes.
 */
function selfSignedRequest(url: string, method: string, headers: Record<string, string>, body: BodyInit | null | undefined): Promise<{ status: number; headers: Headers; text(): Promise<string> }> {
  if (body != null && typeof body !== 'string' && !(body instanceof Uint8Array)) throw new Error('a request to an HTTPS node takes a string or bytes as its body');
  return new Promise((res, rej) => {
    const req = httpsRequest(url, { method, headers: { ...headers, ...(body != null ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, rejectUnauthorized: false, agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('error', rej);
      r.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) for (const one of [v].flat()) h.append(k, one);
        const text = Buffer.concat(chunks).toString('utf8');
        res({ status: r.statusCode ?? 0, headers: h, text: async () => text });
      });
    });
    req.on('error', rej);
    req.end(body ?? undefined);
  });
}

export function makeClient(base: string, auth: { cookie?: string; csrf?: string; token?: string } = {}): Client {
  const c: Client = {
    ...(auth.csrf ? { csrf: auth.csrf } : {}),
    ...(auth.cookie ? { cookie: auth.cookie } : {}),
    async request(method, path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (auth.cookie) headers.cookie = auth.cookie;
      if (auth.token) headers.authorization = `RamvmToken ${auth.token}`;
      if (auth.csrf && method !== 'GET') headers['x-ramvm-csrf'] = auth.csrf;
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers['content-type'] = 'application/json';
      }
      const r = base.startsWith('https:')
        ? await selfSignedRequest(base + path, method, headers, body)
        : await fetch(base + path, { method, headers, body: body ?? null, redirect: 'manual', ...(body && typeof body !== 'string' && !(body instanceof Uint8Array) ? { duplex: 'half' } : {}) } as RequestInit);
      const text = await r.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: r.status, headers: r.headers, json, text };
    },
    get: (p) => c.request('GET', p),
    post: (p, b) => c.request('POST', p, b === undefined ? {} : { json: b }),
    put: (p, b) => c.request('PUT', p, b === undefined ? {} : { json: b }),
    del: (p, b) => c.request('DELETE', p, b === undefined ? {} : { json: b }),
  };
  return c;
}

export async function loginClient(base: string, username: string, password: string): Promise<Client> {
  const r = await makeClient(base).post('/api/access/ticket', { username, password });
  const j = r.json as { data?: { ticket: string; csrf: string }; error?: { message: string } } | undefined;
  if (r.status !== 200 || !j?.data) throw new Error(`login of ${username} failed: ${r.status} ${j?.error?.message ?? r.text.slice(0, 200)}`);
  return makeClient(base, { cookie: `RamvmAuth=${encodeURIComponent(j.data.ticket)}`, csrf: j.data.csrf });
}

/**
 * Run `fn` as the owner of a node's data tree: user ramvm on a separated
 * node (tests run as root), so that files a test writes straight into the
 * tree (users, tokens) are the node's to read, as if its CGIs wrote them.
 */
export function asNodeOwner<T>(root: string, fn: () => T): T {
  const rec = readNodeRecord(root);
  return rec ? asUser(rec.cgi, fn) : fn();
}

/**
 * A temporary folder that a node's own processes may use too: on a
 * separated node (tests run as root) they run as user ramvm, who cannot
 * enter mkdtemp's 0700 folders. Sticky and open to all, like /tmp.
 */
export function sharedTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o1777);
  return dir;
}

/** Pids of QEMU processes whose pidfiles lie under `root` (this test's guests). */
export function guestPids(root: string): number[] {
  const dir = join(root, 'run/ramvm/qemu');
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => /^[0-9]+\.pid$/.test(n));
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const n of names) {
    try {
      const pid = Number(readFileSync(join(dir, n), 'utf8').trim());
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(`process=ramvm-${n.slice(0, -4)}`)) out.push(pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Test nodes started and not stopped yet, by root: what an exit still has to end. */
const liveNodes = new Map<string, { server: RunningServer; ownRoot: boolean }>();

/** End a node at once, synchronously (the process is exiting): guests, lighttpd, tasks by pid; its root if the test made it. */
export function endNodeNow(root: string, server: RunningServer, ownRoot: boolean): void {
  for (const pid of guestPids(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
  endTaskProcesses(root);
  if (server.record) unregisterNode(root);
  if (ownRoot) rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

process.on('exit', () => {
  for (const [root, n] of liveNodes) endNodeNow(root, n.server, n.ownRoot);
});

/** A node as `npm start` runs it; `separate: false` (started by root) runs everything as root, as nodes did before separation (benchmarks). */
export async function startTestNode(opts: { node?: string; env?: NodeJS.ProcessEnv; root?: string; separate?: boolean; dist?: string } = {}): Promise<TestNode> {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'ramvm-test-'));
  const port = await freePort();
  const server = await startServer({
    root,
    listen: '127.0.0.1',
    port,
    // A port of its own: UI port + 1 may belong to another test's node.
    clusterPort: await freePort(),
    node: opts.node ?? 'testnode',
    env: { RAMVM_ADMIN_PASSWORD: ADMIN_PASSWORD, ...opts.env },
    quiet: true,
    ...(opts.separate === false ? { separate: false } : {}),
    ...(opts.dist ? { dist: opts.dist } : {}),
  });
  liveNodes.set(root, { server, ownRoot: !opts.root });
  const env = { ...process.env, RAMVM_ROOT: root, RAMVM_DIST: DIST, RAMVM_NODE: opts.node ?? 'testnode' };
  return {
    url: server.url,
    root,
    adminPassword: ADMIN_PASSWORD,
    server,
    env,
    login: (u, p) => loginClient(server.url, u, p),
    anon: () => makeClient(server.url),
    async stop() {
      liveNodes.delete(root);
      await server.stop();
      endTaskProcesses(root);
      if (!opts.root) rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
