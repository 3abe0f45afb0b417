/**
 * Whether a replica is fit for what an operation on a running guest does
 * with it (a cluster-mode backup reads the peer's copy, a live migration
 * makes the peer primary), which node its peer is, and the argv of the
 * dual-primary switch. Pure; the callers read the record and /proc/drbd.
 *
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
import type { DrbdHost } from './resource';

/** The node of `r` that is not `node`; throws when `node` is neither. */
export function peerOf(r: { name: string; hosts: readonly [DrbdHost, DrbdHost] }, node: string): string {
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
