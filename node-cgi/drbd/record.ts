/**
 * A replicated disk's record: what a node keeps about one DRBD resource,
 * beside its backing file, in the node's data tree (written by the node's
 * user, so never believed as it is):
 *
 *   var/lib/vz/images/101/vm-101-disk-0.drbd.json
 *   { "resource": "vm-101-disk-0", "minor": 0, "bytes": 67108864,
 *     "hosts": [{ "name": "node1", "address": "10.99.0.1" }, { "name": "node2", "address": "10.99.0.2" }] }
 *
 * The root helper reads it as the node's user and takes from it only what
 * parseDrbdRecord lets through: a resource name of the guest and disk it was
 * asked about, a minor, a size, two node names and IP addresses. The
 * resource file drbdadm reads is generated from that data
 * (drbdResourceConfig) into root's own folder, so no text of the record
 * ever reaches drbdadm (a resource file can name handler programs).
 */
import { HttpError } from '../lib/errors';
import { deviceOf, replicationOf, type ProcDrbd, type Replication } from './proc';
import { drbdResource, drbdResourceConfig, drbdResourceName, DRBD_MINOR_MAX, type DrbdHost, type DrbdResource } from './resource';

export interface DrbdRecord {
  resource: string;
  minor: number;
  /** Bytes the guest sees. */
  bytes: number;
  /** The guest's node first, then its peer. */
  hosts: [DrbdHost, DrbdHost];
}

/** Largest replicated disk: 16 TiB (the 8.4 module's internal meta-data still fits in one bitmap step of 4 KiB per 128 MiB). */
export const DRBD_BYTES_MAX = 16 * 2 ** 40;
/** Smallest: 1 MiB. */
export const DRBD_BYTES_MIN = 2 ** 20;

const bad = (message: string) => new HttpError('invalid', `replicated disk record: ${message}`);

/**
 * The record's JSON text, for guest `vmid` and disk index `disk` → the
 * record and its resource; throws 400 naming what is wrong (the resource
 * file is generated here once, so a record that passes also makes a valid
 * resource file).
 */
export function parseDrbdRecord(text: string, vmid: number, disk: number): { record: DrbdRecord; resource: DrbdResource; config: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('not an object');
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !['resource', 'minor', 'bytes', 'hosts'].includes(k));
  if (extra.length) throw bad(`unknown field ${extra[0]}`);
  const name = drbdResourceName(vmid, disk);
  if (o.resource !== name) throw bad(`resource must be ${name}, not ${JSON.stringify(o.resource)}`);
  if (typeof o.minor !== 'number' || !Number.isInteger(o.minor) || o.minor < 0 || o.minor > DRBD_MINOR_MAX) throw bad(`minor must be 0–${DRBD_MINOR_MAX}`);
  if (typeof o.bytes !== 'number' || !Number.isSafeInteger(o.bytes) || o.bytes < DRBD_BYTES_MIN || o.bytes > DRBD_BYTES_MAX || o.bytes % 4096 !== 0) {
    throw bad(`bytes must be a multiple of 4096 from ${DRBD_BYTES_MIN} to ${DRBD_BYTES_MAX}`);
  }
  if (!Array.isArray(o.hosts) || o.hosts.length !== 2) throw bad('hosts must be two nodes');
  const hosts = o.hosts.map((h: unknown, i) => {
    const x = h as Record<string, unknown> | null;
    if (!x || typeof x !== 'object' || typeof x.name !== 'string' || typeof x.address !== 'string' || Object.keys(x).length !== 2) {
      throw bad(`hosts[${i}] must be {name, address}`);
    }
    return { name: x.name, address: x.address };
  }) as [DrbdHost, DrbdHost];
  const resource = drbdResource(vmid, disk, o.minor, hosts);
  const config = drbdResourceConfig(resource);
  return { record: { resource: name, minor: o.minor, bytes: o.bytes, hosts }, resource, config };
}

/** The record's text, as the node's user writes it. */
export function drbdRecordText(r: DrbdRecord): string {
  return JSON.stringify({ resource: r.resource, minor: r.minor, bytes: r.bytes, hosts: r.hosts }, null, 2) + '\n';
}

/**
 * A replicated disk's `replication` as the API shows it on node `self`:
 * the peer is the record's other host, the state this node's minor in
 * /proc/drbd (parsed).
 */
export function recordReplication(r: DrbdRecord, proc: ProcDrbd, self: string): Replication {
  const peer = r.hosts[0].name === self ? r.hosts[1].name : r.hosts[0].name;
  return replicationOf(deviceOf(proc, r.minor), peer);
}
