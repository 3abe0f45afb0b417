/**
 * The suites' common frame: a test node with an admin session, guests made
 * and powered through the API, and everything ended afterwards. `useNode`
 * registers a suite's first `before` and `after`:
 *
 *   before  start a node (test/helpers/node.ts) and log admin in
 *   after   end every QEMU of the node (by pid, checked against its command
 *           line), run the suite's cleanups last first (all of them, even
 *           when one fails), stop the node and remove its root; a failed
 *           cleanup fails the suite (test/helpers/suite.ts says how)
 *
 *   const f = useNode(S, { node: 'console1' });
 *   S.before(async () => { await f.createGuest({ vmid: 101, memory: 32, disks: [], nics: [] }); await f.startGuest(101); });
 *   S('…', async () => { const r = await f.admin.get('/api/vm/101'); … });
 *   f.cleanups.push(() => sh(['umount', mnt]));   // in a test or a before
 */
import { join } from 'node:path';
import type { Test } from 'uvu';
import { killGuests, waitForSerial } from './guest';
import { startTestNode, type Client, type TestNode } from './node';

export interface NodeOptions {
  /** Node name (RAMVM_NODE); default "testnode". */
  node?: string;
  /** Extra environment of `ramvm init` and lighttpd. */
  env?: NodeJS.ProcessEnv;
}

export interface GuestStart {
  /** Wait until the guest's COM1 log holds this text (a test boot sector's marker). */
  marker?: string;
  markerTimeoutMs?: number;
}

export interface NodeFixture {
  readonly node: TestNode;
  /** admin, logged in with a ticket (cookie and CSRF header). */
  readonly admin: Client;
  /** The node's data root. */
  readonly root: string;
  /** Run in `after`, last first, before the node stops. */
  readonly cleanups: (() => unknown)[];
  /** POST /api/vm; the new guest's config (throws unless 201). */
  createGuest(config: Record<string, unknown>): Promise<GuestConfig>;
  /** POST /api/vm/<vmid>/start (throws unless 200), then wait for `marker` on COM1 if asked. */
  startGuest(vmid: number, opts?: GuestStart): Promise<void>;
  /** POST /api/vm/<vmid>/stop (throws unless 200). */
  stopGuest(vmid: number): Promise<void>;
  /** A runtime file of a guest: run/ramvm/qemu/<vmid>.<ext> (qmp, vnc, serial.log, pid, …). */
  runFile(vmid: number, ext: string): string;
  /** An image file of a guest: var/lib/vz/images/<vmid>/<file>. */
  imageFile(vmid: number, file: string): string;
}

/** What POST /api/vm answers (the fields the suites read). */
export interface GuestConfig {
  vmid: number;
  name: string;
  disks: { id: string; file: string; format: 'qcow2' | 'raw'; size: string }[];
  nics: { id: string; mac: string }[];
  [k: string]: unknown;
}

/** Run every cleanup (last first) even when some fail; throw the failures together. */
export async function runCleanups(cleanups: (() => unknown)[]): Promise<void> {
  const failures: string[] = [];
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (e) {
      failures.push((e as Error).message ?? String(e));
    }
  }
  if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`);
}

/** The fixture's calls over a node and admin session that `current` hands out once they exist. */
function fixture(current: () => { node?: TestNode; admin?: Client }, cleanups: (() => unknown)[]): NodeFixture {
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`the test node's ${what} is used before the suite's before hook ran`);
    return v;
  };
  const f: NodeFixture = {
    get node() {
      return need(current().node, 'node');
    },
    get admin() {
      return need(current().admin, 'admin session');
    },
    get root() {
      return f.node.root;
    },
    cleanups,
    async createGuest(config) {
      const r = await f.admin.post('/api/vm', config);
      if (r.status !== 201) throw new Error(`create guest ${JSON.stringify(config).slice(0, 200)}: ${r.status} ${r.text}`);
      return r.json.data as GuestConfig;
    },
    async startGuest(vmid, o = {}) {
      const r = await f.admin.post(`/api/vm/${vmid}/start`);
      if (r.status !== 200) throw new Error(`start ${vmid}: ${r.status} ${r.text}`);
      if (o.marker) await waitForSerial(f.runFile(vmid, 'serial.log'), o.marker, o.markerTimeoutMs ?? 60_000);
    },
    async stopGuest(vmid) {
      const r = await f.admin.post(`/api/vm/${vmid}/stop`);
      if (r.status !== 200) throw new Error(`stop ${vmid}: ${r.status} ${r.text}`);
    },
    runFile: (vmid, ext) => join(f.root, 'run/ramvm/qemu', `${vmid}.${ext}`),
    imageFile: (vmid, file) => join(f.root, 'var/lib/vz/images', String(vmid), file),
  };
  return f;
}

/** End the node's guests, run the cleanups, stop the node (also when a cleanup fails). */
async function closeNode(node: TestNode, cleanups: (() => unknown)[]): Promise<void> {
  try {
    await killGuests(node.root);
    await runCleanups(cleanups);
  } finally {
    await node.stop();
  }
}

/** A node and admin session outside a suite (benchmarks); `close()` ends it as `useNode`'s after does. */
export async function openNode(opts: NodeOptions = {}): Promise<NodeFixture & { close(): Promise<void> }> {
  const node = await startTestNode(opts);
  const cleanups: (() => unknown)[] = [];
  try {
    const admin = await node.login('admin', node.adminPassword);
    return Object.assign(fixture(() => ({ node, admin }), cleanups), { close: () => closeNode(node, cleanups) });
  } catch (e) {
    await node.stop();
    throw e;
  }
}

/** A node and admin session for suite `s`: started in its first before, ended in its first after. */
export function useNode(s: Test<any>, opts: NodeOptions = {}): NodeFixture {
  let node: TestNode | undefined;
  let admin: Client | undefined;
  const cleanups: (() => unknown)[] = [];
  s.before(async () => {
    node = await startTestNode(opts);
    admin = await node.login('admin', node.adminPassword);
  });
  s.after(async () => {
    if (node) await closeNode(node, cleanups);
    else await runCleanups(cleanups);
  });
  return fixture(() => ({ node, admin }), cleanups);
}
