/**
 * What a node runs for a replicated disk, as data: the argv of each
 * drbdadm and losetup step, and the steps of bringing a resource up or down
 * on one node. Nothing here runs anything; edge.ts does, step by step.
 *
 *   drbdadmArgs('up', '/run/ramvm/drbd/vm-101-disk-0.res', 'vm-101-disk-0')
 *   → drbdadm -c /run/ramvm/drbd/vm-101-disk-0.res up vm-101-disk-0
 *   drbdadmArgs('skip-sync', …)
 *   → drbdadm -c … new-current-uuid --clear-bitmap vm-101-disk-0
 *
 * drbd-utils 9.22's drbdadm runs drbdadm-84 itself when the kernel module
 * is 8.4; `drbdadm-84 -d` prints what each step does (drbdsetup-84 and
 * drbdmeta calls), which the unit tests compare.
 *
 * A new, empty disk on both nodes: prepare (file, loop, resource file),
 * create-md, up on both; once connected (both Inconsistent), skip-sync on
 * one of them makes both UpToDate without copying a byte, so both files
 * stay sparse (the user's guide, "Skipping initial resync"); then primary
 * on the guest's node.
 */
import { createArgs } from '../tools/qemu-img';
import { conflict } from '../lib/errors';
import { backingFileBytes, drbdAddress, loopDevice, type DrbdResource } from './resource';

export const DRBDADM = 'drbdadm';
/** drbd-utils 9's drbdsetup for the 8.4 kernel module: the program drbdadm-84 runs for each step. */
export const DRBDSETUP_84 = '/usr/lib/drbd/drbdsetup-84';
export const LOSETUP = 'losetup';
/** Time one drbdadm or losetup call may take (down waits for the peer's goodbye). */
export const DRBD_STEP_TIMEOUT_MS = 60_000;

/** drbdadm's steps, by what they do; skip-sync is new-current-uuid --clear-bitmap. */
export type DrbdadmStep = 'create-md' | 'up' | 'skip-sync' | 'primary' | 'force-primary' | 'secondary' | 'disconnect' | 'connect' | 'down' | 'discard-my-data';

const STEP_ARGS: Record<DrbdadmStep, readonly string[]> = {
  // --force: answer drbdmeta's questions; the file is ours and new.
  'create-md': ['create-md', '--force'],
  up: ['up'],
  'skip-sync': ['new-current-uuid', '--clear-bitmap'],
  primary: ['primary'],
  // Both sides Inconsistent, this one's data wins: UpToDate here, the peer gets all of it (a disk made replicated with its data).
  'force-primary': ['primary', '--force'],
  secondary: ['secondary'],
  disconnect: ['disconnect'],
  connect: ['connect'],
  down: ['down'],
  // After a split brain, on the side whose changes are thrown away (it must be secondary).
  'discard-my-data': ['connect', '--discard-my-data'],
};

/** What the root helper does for a replicated disk (`drbd <step> <vmid> <disk>`, root/drbd.ts). */
export const DRBD_HELPER_STEPS = [
  'create', 'up', 'skip-sync', 'primary', 'secondary', 'connect', 'disconnect', 'discard', 'down', 'split-brain',
  // Two primaries allowed for a live migration only, then forbidden again (migrate/replicated.ts).
  'two-primaries', 'one-primary',
  // A raw disk made replicated with its data (drbd/guest.ts convertToReplicated): its file taken as it is, then synced whole to the peer.
  'adopt', 'force-primary',
] as const;
export type DrbdHelperStep = (typeof DRBD_HELPER_STEPS)[number];

export function drbdadmArgs(step: DrbdadmStep, configFile: string, resource: string): string[] {
  return [DRBDADM, '-c', configFile, ...STEP_ARGS[step], resource];
}

/**
 * The one call `drbdadm disconnect` comes to on node `here`: DRBD 8.4
 * names a connection by its two ends, this node's address first.
 *
 *   disconnectArgs(vm-101-disk-0 on node1 10.99.0.1 and node2 10.99.0.2, minor 2, 'node1')
 *   → /usr/lib/drbd/drbdsetup-84 disconnect ipv4:10.99.0.1:7790 ipv4:10.99.0.2:7790
 *
 * drbdadm parses the resource file and starts drbdadm-84, which parses it
 * again and starts this: three programs where one does, and under TCG each
 * start costs tens of ms while a cluster backup holds its guest. The unit
 * test holds it equal to drbdadm-84's own dry run of the step.
 */
export function disconnectArgs(r: DrbdResource, here: string): string[] {
  const i = r.hosts.findIndex((h) => h.name === here);
  if (i < 0) throw conflict(`${r.name} is not on node ${here} (its nodes: ${r.hosts.map((h) => h.name).join(', ')})`);
  return [DRBDSETUP_84, 'disconnect', drbdAddress(r.hosts[i]!, r.port), drbdAddress(r.hosts[1 - i]!, r.port)];
}

/** The connection state of the resource with `minor`, one word ("Connected"): drbdadm-84's `cstate`. */
export function cstateArgs(minor: number): string[] {
  return [DRBDSETUP_84, 'cstate', String(minor)];
}

/** Attach `file` as loop device `device` (util-linux losetup makes a missing device node itself). */
export function loopAttachArgs(device: string, file: string): string[] {
  return [LOSETUP, device, file];
}

export function loopDetachArgs(device: string): string[] {
  return [LOSETUP, '-d', device];
}

/** The backing file a loop device is attached to (empty output: none). */
export function loopBackingArgs(device: string): string[] {
  return [LOSETUP, '--list', '--noheadings', '--output', 'BACK-FILE', device];
}

/** One step of a node's part: a program to run, or the resource file to write. */
export type DrbdStep = { run: string[] } | { write: string; text: string };

export interface NodeDisk {
  resource: DrbdResource;
  /** The resource file's text (drbdResourceConfig) and where it goes. */
  configFile: string;
  config: string;
  /** The sparse backing file on this node. */
  file: string;
  /** Bytes the guest sees. */
  bytes: number;
}

/**
 * A new replicated disk on one node, up to "up" (connecting to the peer):
 * a sparse raw file of backingFileBytes, its loop device, the resource
 * file, meta-data, up.
 */
export function createSteps(d: NodeDisk): DrbdStep[] {
  return [
    { run: createArgs(d.file, 'raw', backingFileBytes(d.bytes)) },
    { run: loopAttachArgs(loopDevice(d.resource.minor), d.file) },
    { write: d.configFile, text: d.config },
    { run: drbdadmArgs('create-md', d.configFile, d.resource.name) },
    { run: drbdadmArgs('up', d.configFile, d.resource.name) },
  ];
}

/** An existing replicated disk back up on a node (after a reboot): loop device, resource file, up. */
export function activateSteps(d: Omit<NodeDisk, 'bytes'>): DrbdStep[] {
  return [
    { run: loopAttachArgs(loopDevice(d.resource.minor), d.file) },
    { write: d.configFile, text: d.config },
    { run: drbdadmArgs('up', d.configFile, d.resource.name) },
  ];
}

/** The resource down on a node and its loop device free (the file stays). */
export function deactivateSteps(d: Pick<NodeDisk, 'resource' | 'configFile'>): DrbdStep[] {
  return [
    { run: drbdadmArgs('down', d.configFile, d.resource.name) },
    { run: loopDetachArgs(loopDevice(d.resource.minor)) },
  ];
}
