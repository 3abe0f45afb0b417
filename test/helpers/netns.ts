/**
 * A private network of network namespaces on this machine, for tests that
 * need several nodes with addresses of their own: a hub namespace with a
 * bridge, one namespace per node with a veth pair to the bridge, and one
 * more veth pair from the root namespace (the test process) to the bridge.
 * The /24 is picked per run from 10.213.0.0/16; every name carries the
 * run's id, so runs side by side never meet.
 *
 *   const net = createNetwork(3);      // rvc3f9a-hub, rvc3f9a-n1 … n3
 *   net.nodes[0]                       // { ns: 'rvc3f9a-n1', addr: '10.213.57.1' }
 *   net.host                           // 10.213.57.254 on link rvc3f9ah (root namespace)
 *   spawn('ip', ['netns', 'exec', net.nodes[0].ns, 'lighttpd', …])
 *   net.destroy();                     // links and namespaces gone (also at process exit)
 *
 * A run writes its id and pid into REGISTRY_DIR before it creates anything;
 * createNetwork() first removes what runs whose process is gone left behind
 * (a test killed with SIGKILL cannot clean up itself).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidExists } from '../../node-cgi/lib/proc';

/** Every name of this harness starts with this. */
export const NETNS_PREFIX = 'rvc';
/** Where runs note their pid and subnet (one file per run). */
export const REGISTRY_DIR = '/tmp/ramvm-netns';
/** The /16 the runs' /24s come from. */
const NET_BASE = '10.213';
/** Host part of the root namespace's address in each /24. */
const HOST_OCTET = 254;

export interface NsNode {
  /** Namespace name: "rvc3f9a-n1". */
  ns: string;
  /** Address on the node's eth0: "10.213.57.1". */
  addr: string;
}

export interface Network {
  id: string;
  /** "10.213.57" */
  subnet: string;
  hub: string;
  host: { link: string; addr: string };
  nodes: NsNode[];
  /** Remove links and namespaces; safe to call twice. */
  destroy(): void;
}

/** The names a run uses: namespaces and interface names (at most 15 characters). */
export function networkNames(id: string, count: number) {
  if (!/^[0-9a-f]{4}$/.test(id)) throw new Error(`network id must be 4 hex digits, not ${id}`);
  const base = `${NETNS_PREFIX}${id}`;
  return {
    hub: `${base}-hub`,
    hostLink: `${base}h`,
    hostPeer: `${base}hb`,
    nodes: Array.from({ length: count }, (_, i) => ({ ns: `${base}-n${i + 1}`, link: `${base}n${i + 1}a`, peer: `${base}n${i + 1}b` })),
  };
}

/**
 * The `ip` commands that build the network, in order (argv without "ip").
 *
 *   networkPlan('3f9a', 57, 1) →
 *     [netns add rvc3f9a-hub], [-n rvc3f9a-hub link add br0 type bridge], …,
 *     [link add rvc3f9an1a type veth peer name rvc3f9an1b], [link set rvc3f9an1a netns rvc3f9a-n1], …
 */
export function networkPlan(id: string, third: number, count: number): string[][] {
  if (!Number.isInteger(third) || third < 1 || third > 254) throw new Error(`subnet octet must be 1..254, not ${third}`);
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new Error(`a network has 1..9 nodes, not ${count}`);
  const n = networkNames(id, count);
  const subnet = `${NET_BASE}.${third}`;
  const steps: string[][] = [
    ['netns', 'add', n.hub],
    ['-n', n.hub, 'link', 'add', 'br0', 'type', 'bridge'],
    ['-n', n.hub, 'link', 'set', 'br0', 'up'],
  ];
  n.nodes.forEach((node, i) => {
    steps.push(
      ['netns', 'add', node.ns],
      ['-n', node.ns, 'link', 'set', 'lo', 'up'],
      ['link', 'add', node.link, 'type', 'veth', 'peer', 'name', node.peer],
      ['link', 'set', node.link, 'netns', node.ns],
      ['link', 'set', node.peer, 'netns', n.hub],
      ['-n', node.ns, 'link', 'set', node.link, 'name', 'eth0'],
      ['-n', node.ns, 'addr', 'add', `${subnet}.${i + 1}/24`, 'dev', 'eth0'],
      ['-n', node.ns, 'link', 'set', 'eth0', 'up'],
      ['-n', n.hub, 'link', 'set', node.peer, 'master', 'br0'],
      ['-n', n.hub, 'link', 'set', node.peer, 'up'],
    );
  });
  steps.push(
    ['link', 'add', n.hostLink, 'type', 'veth', 'peer', 'name', n.hostPeer],
    ['link', 'set', n.hostPeer, 'netns', n.hub],
    ['-n', n.hub, 'link', 'set', n.hostPeer, 'master', 'br0'],
    ['-n', n.hub, 'link', 'set', n.hostPeer, 'up'],
    ['addr', 'add', `${subnet}.${HOST_OCTET}/24`, 'dev', n.hostLink],
    // No IPv6 link-local address on the host's end: its duplicate address detection ends a second or
    // two after the link is up, and Chromium on the host takes that address change as a network change
    // and fails the requests it has in flight (net::ERR_NETWORK_CHANGED: a browser test's page load).
    ['link', 'set', n.hostLink, 'addrgenmode', 'none'],
    ['link', 'set', n.hostLink, 'up'],
  );
  return steps;
}

/** The `ip` commands that remove a run's network (each may fail: already gone). */
export function teardownPlan(id: string, count: number): string[][] {
  const n = networkNames(id, count);
  // Deleting a namespace deletes the veth ends in it, and with them their peers.
  return [['link', 'del', n.hostLink], ...n.nodes.map((node) => ['netns', 'del', node.ns]), ['netns', 'del', n.hub]];
}

/**
 * SIGKILL every process still inside the run's node namespaces (lighttpd,
 * CGIs, tasks, QEMU of a test that died): they are this run's by
 * construction, and a namespace with processes in it outlives its name.
 */
function killNamespaceProcesses(id: string, count: number): void {
  for (const node of [...networkNames(id, count).nodes.map((n) => n.ns), networkNames(id, count).hub]) {
    const r = spawnSync('ip', ['netns', 'pids', node], { encoding: 'utf8' });
    for (const pid of (r.stdout ?? '').split('\n').filter((l) => /^\d+$/.test(l))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

function ip(args: string[], allowFail = false): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
}

interface RegistryEntry {
  pid: number;
  third: number;
  count: number;
}

function readRegistry(): Map<string, RegistryEntry> {
  const out = new Map<string, RegistryEntry>();
  let names: string[] = [];
  try {
    names = readdirSync(REGISTRY_DIR);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^[0-9a-f]{4}\.json$/.test(name)) continue;
    try {
      out.set(name.slice(0, 4), JSON.parse(readFileSync(join(REGISTRY_DIR, name), 'utf8')) as RegistryEntry);
    } catch {
      // Half written by a run that is starting: leave it.
    }
  }
  return out;
}

/** Remove the networks of runs whose process is gone. */
export function sweepStaleNetworks(): string[] {
  const swept: string[] = [];
  for (const [id, e] of readRegistry()) {
    if (pidExists(e.pid)) continue;
    killNamespaceProcesses(id, e.count);
    for (const step of teardownPlan(id, e.count)) ip(step, true);
    rmSync(join(REGISTRY_DIR, `${id}.json`), { force: true });
    swept.push(id);
  }
  return swept;
}

/** Subnet octets in use: by registered runs and by any address of the root namespace in 10.213/16. */
function usedThirds(): Set<number> {
  const used = new Set([...readRegistry().values()].map((e) => e.third));
  const r = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  for (const m of (r.stdout ?? '').matchAll(/inet 10\.213\.(\d+)\./g)) used.add(Number(m[1]));
  return used;
}

/** Build a network of `count` node namespaces; see the module comment. */
export function createNetwork(count: number): Network {
  sweepStaleNetworks();
  mkdirSync(REGISTRY_DIR, { recursive: true });
  const used = usedThirds();
  const free = Array.from({ length: 254 }, (_, i) => i + 1).filter((t) => !used.has(t));
  if (free.length === 0) throw new Error('no free /24 left in 10.213.0.0/16');
  const third = free[randomBytes(2).readUInt16BE(0) % free.length]!;
  let id: string;
  do id = randomBytes(2).toString('hex');
  while (readRegistry().has(id));
  const entry = join(REGISTRY_DIR, `${id}.json`);
  // Registered before anything exists, so a sweep finds whatever a crash leaves.
  writeFileSync(entry, JSON.stringify({ pid: process.pid, third, count } satisfies RegistryEntry));
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    process.off('exit', destroy);
    killNamespaceProcesses(id, count);
    for (const step of teardownPlan(id, count)) ip(step, true);
    rmSync(entry, { force: true });
  };
  process.on('exit', destroy);
  try {
    for (const step of networkPlan(id, third, count)) ip(step);
  } catch (e) {
    destroy();
    throw e;
  }
  const names = networkNames(id, count);
  const subnet = `${NET_BASE}.${third}`;
  return {
    id,
    subnet,
    hub: names.hub,
    host: { link: names.hostLink, addr: `${subnet}.${HOST_OCTET}` },
    nodes: names.nodes.map((node, i) => ({ ns: node.ns, addr: `${subnet}.${i + 1}` })),
    destroy,
  };
}

/** Namespaces of this harness that exist now (for tests of the clean-up). */
export function existingNamespaces(id?: string): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${NETNS_PREFIX}${id ?? ''}`));
}
