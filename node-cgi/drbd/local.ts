/**
 * This node's replicated disks as operations on running guests find them:
 * a guest disk is replicated here when its resource file is (it is written
 * each time the disk comes up: run/ramvm/drbd/<resource>.res), and the
 * DRBD device's size is read from sysfs, which needs no open of a
 * Secondary device. Reads only; commands go through edge.ts's runner.
 *
 *   guestReplicas(101, [{ id: "disk0" }, { id: "disk1" }])
 *   → [{ id: "disk0", replica: { name: "vm-101-disk-0", minor: 0, hosts, configFile } }, { id: "disk1", replica: null }]
 */
import { existsSync, readFileSync } from 'node:fs';
import { conflict, internal, invalid } from '../lib/errors';
import { drbdResourceFile } from '../lib/paths';
import { localRunner, PROC_DRBD, type DrbdRunner } from './edge';
import { parseProcDrbd, type ProcDrbd } from './proc';
import { parseResourceFile, twoPrimariesArgs, type ResourceFile } from './replica';
import { drbdadmArgs } from './commands';
import { drbdResourceName } from './resource';

/** The runner of DRBD commands for operations on running guests: this process, until the root helper has DRBD operations. */
export const drbdRunner: DrbdRunner = localRunner;

/** What an operation on a running guest does to one of its resources. */
export type ReplicaStep = 'primary' | 'secondary' | 'connect' | 'disconnect' | 'allow-two-primaries' | 'one-primary';

/**
 * One step on a resource of this node: the one place operations on running
 * guests (cluster backups, migrations) change DRBD, so the root helper's
 * `drbd <step> <vmid> <disk>` can take it over in one place.
 */
export async function replicaStep(step: ReplicaStep, r: { resource: string; configFile: string }): Promise<void> {
  const argv = step === 'allow-two-primaries' || step === 'one-primary'
    ? twoPrimariesArgs(r.configFile, r.resource, step === 'allow-two-primaries')
    : drbdadmArgs(step, r.configFile, r.resource);
  await drbdRunner.run(argv);
}

export type LocalReplica = ResourceFile & { configFile: string };

/** /proc/drbd now; 409 when the module is not loaded (a node without the node image's kernel). */
export async function procHere(node: string): Promise<ProcDrbd> {
  let text: string;
  try {
    text = await drbdRunner.read(PROC_DRBD);
  } catch {
    throw conflict(`DRBD is not loaded on node ${node} (no ${PROC_DRBD}): replicated disks need the node image's kernel module`);
  }
  return parseProcDrbd(text);
}

/** "disk3" → 3 */
export function diskIndex(id: string): number {
  const m = /^disk([0-9]{1,2})$/.exec(id);
  if (!m) throw invalid('disks', `"${id}" is not a disk id disk<n>`);
  return Number(m[1]);
}

/** This node's resource file of `resource`, read back; null when the disk is not up here. */
export function replicaHere(resource: string): LocalReplica | null {
  const file = drbdResourceFile(resource);
  if (!existsSync(file)) return null;
  return { ...parseResourceFile(readFileSync(file, 'utf8')), configFile: file };
}

/** Each disk of guest `vmid` with its replica here (null: not replicated, or not up here). */
export function guestReplicas(vmid: number, disks: readonly { id: string }[]): { id: string; replica: LocalReplica | null }[] {
  return disks.map((d) => ({ id: d.id, replica: replicaHere(drbdResourceName(vmid, diskIndex(d.id))) }));
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
