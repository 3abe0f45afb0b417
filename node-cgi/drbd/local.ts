/**
 * This node's replicated disks as operations on running guests (cluster
 * backups, live migrations) find and change them. A guest disk is
 * replicated when its record is there (record.ts, beside the backing file:
 * var/lib/vz/images/101/vm-101-disk-0.drbd.json); the DRBD device's size
 * comes from sysfs, which needs no open of a Secondary device; every change
 * goes through the root helper's `drbd <step> <vmid> <disk>` (edge.ts).
 *
 *   guestReplicas(101, [{ id: "disk0" }, { id: "disk1" }])
 *   → [{ id: "disk0", replica: { name: "vm-101-disk-0", minor: 0, hosts, bytes } }, { id: "disk1", replica: null }]
 */
import { readFileSync } from 'node:fs';
import { conflict, internal, invalid } from '../lib/errors';
import { drbdMissing, drbdNodeStep, localRunner, PROC_DRBD, readDrbdRecord } from './edge';
import { parseProcDrbd, type ProcDrbd } from './proc';
import type { DrbdHost } from './resource';
import { parseResourceName } from './resource';

/** A replicated disk of this node, from its record. */
export interface LocalReplica {
  /** The resource: "vm-101-disk-0". */
  name: string;
  minor: number;
  /** The guest's node first, then its peer (as the record holds them). */
  hosts: readonly [DrbdHost, DrbdHost];
  /** Bytes the disk was made with. */
  bytes: number;
}

/** What an operation on a running guest does to one of its resources (the root helper's steps of those names). */
export type ReplicaStep = 'primary' | 'secondary' | 'connect' | 'disconnect' | 'two-primaries' | 'one-primary';

/** One step on a resource of this node, through the root helper. */
export async function replicaStep(step: ReplicaStep, resource: string): Promise<void> {
  const r = parseResourceName(resource);
  if (!r) throw invalid('resource', `"${resource}" is not vm-<vmid>-disk-<n>`);
  await drbdNodeStep(step, r.vmid, r.disk);
}

/** /proc/drbd now; 409 when the module is not loaded (a node without the node image's kernel). */
export async function procHere(node: string): Promise<ProcDrbd> {
  let text: string;
  try {
    text = await localRunner.read(PROC_DRBD);
  } catch {
    throw conflict(drbdMissing(node));
  }
  return parseProcDrbd(text);
}

/** "disk3" → 3 */
export function diskIndex(id: string): number {
  const m = /^disk([0-9]{1,2})$/.exec(id);
  if (!m) throw invalid('disks', `"${id}" is not a disk id disk<n>`);
  return Number(m[1]);
}

/** Disk `disk` of guest `vmid` as replicated on this node; null when it has no record here. */
export function replicaHere(vmid: number, disk: number): LocalReplica | null {
  const record = readDrbdRecord(vmid, disk);
  return record && { name: record.resource, minor: record.minor, hosts: record.hosts, bytes: record.bytes };
}

/** Each disk of guest `vmid` with its replica here (null: not replicated). */
export function guestReplicas(vmid: number, disks: readonly { id: string }[]): { id: string; replica: LocalReplica | null }[] {
  return disks.map((d) => ({ id: d.id, replica: replicaHere(vmid, diskIndex(d.id)) }));
}

/** /sys/block/drbdN/size: the device's bytes (512-byte sectors there). */
export function deviceBytes(minor: number): number {
  let text = '';
  try {
    text = readFileSync(`/sys/block/drbd${minor}/size`, 'utf8');
  } catch {
    // Not up: no such device.
  }
  const sectors = Number(text.trim());
  if (!text || !Number.isSafeInteger(sectors) || sectors <= 0) throw internal(`/dev/drbd${minor} has no size (is its resource up?)`);
  return sectors * 512;
}
