/**
 * Prepared images for a cluster, as data: `npm run image -- --cluster NAME
 * --node 1:ADDR/PREFIX --node 2:ADDR/PREFIX [--gw ADDR] [--dns ADDR[,ADDR]]`
 * writes one ISO per node. Booted on blank disks, the nodes format their
 * data disks and form the cluster on their own, node 1 master.
 *
 * One ISO per node rather than one ISO with a menu entry per node: each ISO
 * carries its node's private key, and a node must not hold its peers' keys.
 *
 * Trust without trust-on-first-use: the build makes every node's certificate
 * (and key), so each ISO knows every peer's fingerprint before anything
 * boots, and a shared random secret derives the single-use join token of
 * each joining node. Node 2 joins node 1 pinned to node 1's fingerprint, and
 * node 1 admits it for the token that only holders of the secret can make.
 * The ISO is the credential: keep it like a password.
 *
 * What a node gets (a second initrd, a cpio; stage 1 moves it to
 * /etc/ramvm-prepared, root's alone, 0700; the files 0600):
 *
 *   prepared/node.json   { cluster, index, name, ip, gw?, dns?, master, nodes: [{ index, name, address, fingerprint }] }
 *   prepared/secret      the cluster secret, hex
 *   prepared/node.pem    this node's certificate and key (becomes etc/ramvm/priv/node.pem on first boot)
 */
import { createHmac } from 'node:crypto';
import { isIPv4, type BootParams } from './boot-params';

export interface PreparedNodeArg {
  index: number;
  name: string;
  address: string;
  prefix: number;
}

export interface ClusterImageArgs {
  cluster: string;
  nodes: PreparedNodeArg[];
  gw?: string;
  dns?: string[];
}

export interface ImageArgs {
  iso: boolean;
  /** Also the kiosk variant (kiosk.ts). */
  kiosk: boolean;
  cluster?: ClusterImageArgs;
}

/** Most nodes of a cluster (the design's one master and one or two members). */
export const MAX_PREPARED_NODES = 3;
/** Cluster names as the cluster API takes them (node-cgi/cluster/model.ts checkedClusterName). */
const CLUSTER_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const NODE_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * `npm run image` arguments: `--no-iso`, or a cluster:
 *   --cluster office --node 1:10.0.0.11/24 --node 2:10.0.0.12/24:beta --gw 10.0.0.1 --dns 10.0.0.1
 * A node is INDEX:ADDR/PREFIX[:NAME]; its name defaults to "node<INDEX>". Throws naming the bad argument.
 */
export function parseImageArgs(args: readonly string[]): ImageArgs {
  let iso = true;
  let kiosk = false;
  let cluster: string | undefined;
  let gw: string | undefined;
  let dns: string[] | undefined;
  const nodes: PreparedNodeArg[] = [];
  const value = (flag: string, v: string | undefined): string => {
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    switch (a) {
      case '--no-iso': iso = false; break;
      case '--kiosk': kiosk = true; break;
      case '--cluster': {
        const v = value(a, args[++i]);
        if (!CLUSTER_NAME_RE.test(v)) throw new Error(`--cluster ${v}: a cluster name is 1-32 lower-case letters, digits and inner "-"`);
        cluster = v;
        break;
      }
      case '--node': {
        const v = value(a, args[++i]);
        const m = /^([0-9]+):([0-9.]+)\/([0-9]{1,2})(?::(.+))?$/.exec(v);
        if (!m) throw new Error(`--node ${v}: expected INDEX:ADDR/PREFIX[:NAME], e.g. 1:192.168.1.11/24`);
        const index = Number(m[1]);
        const prefix = Number(m[3]);
        const name = m[4] ?? `node${index}`;
        if (index < 1 || index > MAX_PREPARED_NODES) throw new Error(`--node ${v}: the index is 1-${MAX_PREPARED_NODES}`);
        if (!isIPv4(m[2]!)) throw new Error(`--node ${v}: ${m[2]} is no IPv4 address`);
        if (prefix < 1 || prefix > 32) throw new Error(`--node ${v}: the prefix length must be 1-32`);
        if (!NODE_NAME_RE.test(name)) throw new Error(`--node ${v}: a node name is 1-63 lower case letters, digits and inner hyphens`);
        nodes.push({ index, name, address: m[2]!, prefix });
        break;
      }
      case '--gw': {
        const v = value(a, args[++i]);
        if (!isIPv4(v)) throw new Error(`--gw ${v}: expected an IPv4 address`);
        gw = v;
        break;
      }
      case '--dns': {
        const v = value(a, args[++i]).split(',');
        if (!v.every(isIPv4)) throw new Error(`--dns ${v.join(',')}: expected IPv4 addresses separated by commas`);
        dns = v;
        break;
      }
      default: throw new Error(`unknown option ${a} (npm run image [--no-iso] [--kiosk] [--cluster NAME --node 1:ADDR/PREFIX --node 2:ADDR/PREFIX [--gw ADDR] [--dns ADDR]])`);
    }
  }
  if (cluster === undefined) {
    if (nodes.length > 0 || gw || dns) throw new Error('--node, --gw and --dns need --cluster NAME');
    return { iso, kiosk };
  }
  nodes.sort((a, b) => a.index - b.index);
  if (nodes.length < 2) throw new Error(`--cluster ${cluster}: give at least two nodes (--node 1:ADDR/PREFIX --node 2:ADDR/PREFIX)`);
  if (nodes[0]!.index !== 1) throw new Error(`--cluster ${cluster}: node 1 (the master) is missing`);
  for (const key of ['index', 'name', 'address'] as const) {
    const seen = new Set<string>();
    for (const n of nodes) {
      if (seen.has(String(n[key]))) throw new Error(`--cluster ${cluster}: two nodes have the ${key} ${n[key]}`);
      seen.add(String(n[key]));
    }
  }
  return { iso, kiosk, cluster: { cluster, nodes, ...(gw ? { gw } : {}), ...(dns ? { dns } : {}) } };
}

/** What a prepared node knows (prepared/node.json). */
export interface PreparedNode {
  cluster: string;
  index: number;
  name: string;
  ip: { address: string; prefix: number };
  gw?: string;
  dns?: string[];
  /** The master's name (node 1). */
  master: string;
  nodes: { index: number; name: string; address: string; fingerprint: string }[];
}

/** node.json of node `index`, with the fingerprints of every node's build-time certificate. */
export function preparedNode(c: ClusterImageArgs, index: number, fingerprints: ReadonlyMap<number, string>): PreparedNode {
  const self = c.nodes.find((n) => n.index === index);
  if (!self) throw new Error(`no node ${index} in cluster ${c.cluster}`);
  return {
    cluster: c.cluster,
    index,
    name: self.name,
    ip: { address: self.address, prefix: self.prefix },
    ...(c.gw ? { gw: c.gw } : {}),
    ...(c.dns ? { dns: c.dns } : {}),
    master: c.nodes[0]!.name,
    nodes: c.nodes.map((n) => {
      const fingerprint = fingerprints.get(n.index);
      if (!fingerprint) throw new Error(`no certificate for node ${n.index}`);
      return { index: n.index, name: n.name, address: n.address, fingerprint };
    }),
  };
}

/** node.json read back on a node, checked (it came from the build, but a bad file must not half-form a cluster). */
export function parsePreparedNode(text: string): PreparedNode {
  const p = JSON.parse(text) as PreparedNode;
  const ok = typeof p === 'object' && p !== null && CLUSTER_NAME_RE.test(p.cluster) && NODE_NAME_RE.test(p.name) && NODE_NAME_RE.test(p.master)
    && isIPv4(p.ip?.address) && Number.isInteger(p.ip?.prefix) && Array.isArray(p.nodes)
    && p.nodes.every((n) => NODE_NAME_RE.test(n.name) && isIPv4(n.address) && /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(n.fingerprint))
    && p.nodes.some((n) => n.name === p.name) && p.nodes.some((n) => n.name === p.master);
  if (!ok) throw new Error('prepared/node.json is not a prepared node');
  return p;
}

/**
 * The single-use join token of node `joiner`, derived from the cluster
 * secret: "rjt_" + base64url(HMAC-SHA256(secret, "ramvm prepared join <joiner>")),
 * the shape of the tokens POST /api/cluster/token makes.
 */
export function preparedJoinToken(secret: Buffer, joiner: string): string {
  return `rjt_${createHmac('sha256', secret).update(`ramvm prepared join ${joiner}`).digest('base64url')}`;
}

/** Where a prepared node's files go at boot (stage 1 moves the cpio's prepared/ here). */
export const PREPARED_DIR = '/etc/ramvm-prepared';

/** Files of a node's cluster ISO: "office-node1.iso" (names are checked above). */
export function preparedIsoName(cluster: string, node: string): string {
  return `${cluster}-${node}.iso`;
}

/** Where the set-up log waits while the cluster forms, in percent. */
export const FORM_PERCENT = 92;

/**
 * A prepared node's boot parameters: what the kernel command line gives
 * wins (GRUB's "e" still works), the prepared name and address fill in the
 * rest, and the data disk is the labelled or first blank one (datadisk=auto).
 */
export function withPrepared(p: BootParams, n: PreparedNode): BootParams {
  const out: BootParams = { ...p, node: p.node ?? n.name };
  if (!p.ip) {
    out.ip = n.ip;
    if (n.gw) out.gw = n.gw;
    if (n.dns) out.dns = n.dns;
  }
  if (!p.ramonly && !p.datadisk) out.datadisk = 'auto';
  return out;
}
