/**
 * A replicated disk as an operation on a running guest finds it: its
 * resource file (written each time the disk comes up, resource.ts) read
 * back for the minor and the two nodes, and whether the replica is fit for
 * what the operation does with it (a cluster-mode backup reads the peer's
 * copy, a live migration makes the peer primary). Pure; the callers read
 * the file and /proc/drbd.
 *
 *   parseResourceFile(drbdResourceConfig({ name: "vm-101-disk-0", minor: 0, … }))
 *   → { name: "vm-101-disk-0", minor: 0, hosts: [{ name: "node1", address: "10.99.0.1" }, { name: "node2", … }] }
 *   replicaProblem({ connection: "WFConnection", disk: "UpToDate", peerDisk: "DUnknown", … }, "vm-101-disk-0")
 *   → "vm-101-disk-0 is WFConnection, not Connected to its peer"
 *
 * Dual-primary for a live migration only (drbd.conf(5), net section):
 * `drbdadm net-options --allow-two-primaries=yes` on both nodes changes a
 * connected resource without taking it down (drbdadm-84 -d shows
 * `drbdsetup-84 net-options <local> <peer> --allow-two-primaries=yes`).
 */
import { HttpError } from '../lib/errors';
import { DRBDADM } from './commands';
import type { DrbdDeviceState } from './proc';
import { parseResourceName, type DrbdHost } from './resource';

export interface ResourceFile {
  name: string;
  minor: number;
  hosts: [DrbdHost, DrbdHost];
}

const unreadable = (why: string) => new HttpError('internal', `resource file: ${why}`);

/** The text drbdResourceConfig wrote → its name, minor and hosts; throws naming what is missing. */
export function parseResourceFile(text: string): ResourceFile {
  const name = /^resource (\S+) \{$/m.exec(text)?.[1];
  if (!name || !parseResourceName(name)) throw unreadable(`no "resource vm-<vmid>-disk-<n> {" line in ${JSON.stringify(text.slice(0, 80))}`);
  const minor = /^\s*device \/dev\/drbd(\d+) minor (\d+);$/m.exec(text);
  if (!minor || minor[1] !== minor[2]) throw unreadable(`${name}: no "device /dev/drbdN minor N;" line`);
  const hosts = [...text.matchAll(/^\s*on (\S+) \{\s*\n\s*address ipv[46] \[?([0-9A-Fa-f.:]+)\]?:\d+;/gm)].map((m) => ({ name: m[1]!, address: m[2]! }));
  if (hosts.length !== 2) throw unreadable(`${name}: ${hosts.length} "on <node>" sections, not 2`);
  return { name, minor: Number(minor[1]), hosts: [hosts[0]!, hosts[1]!] };
}

/** The node of `r` that is not `node`; throws when `node` is neither. */
export function peerOf(r: Pick<ResourceFile, 'name' | 'hosts'>, node: string): string {
  const i = r.hosts.findIndex((h) => h.name === node);
  if (i < 0) throw new HttpError('conflict', `${r.name} is replicated between ${r.hosts[0].name} and ${r.hosts[1].name}, not on node ${node}`);
  return r.hosts[1 - i]!.name;
}

/**
 * Why a replica cannot be relied on now (null: both sides UpToDate and
 * connected). `dev` is this node's view of the resource in /proc/drbd.
 */
export function replicaProblem(dev: DrbdDeviceState | undefined, resource: string): string | null {
  if (!dev || dev.connection === 'Unconfigured') return `${resource} is not up on this node`;
  if (dev.connection !== 'Connected') return `${resource} is ${dev.connection}, not Connected to its peer`;
  if (dev.disk !== 'UpToDate' || dev.peerDisk !== 'UpToDate') {
    return `${resource} is ${dev.disk ?? 'unknown'} here and ${dev.peerDisk ?? 'unknown'} on the peer; both must be UpToDate`;
  }
  return null;
}

/** drbdadm net-options: two primaries allowed (for a live migration) or not (always otherwise). */
export function twoPrimariesArgs(configFile: string, resource: string, allow: boolean): string[] {
  return [DRBDADM, '-c', configFile, 'net-options', `--allow-two-primaries=${allow ? 'yes' : 'no'}`, resource];
}
