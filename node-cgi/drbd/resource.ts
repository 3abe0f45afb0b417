/**
 * A replicated disk as a DRBD 8.4 resource, as data and as the text of its
 * resource file. One guest disk is one resource on two nodes of a cluster:
 * a sparse file on each node behind a loop device, protocol C (a write
 * counts once both disks have it), internal meta-data at the end of the
 * file, one TCP port per resource on each node's cluster address.
 *
 *   drbdResourceConfig({ name: 'vm-101-disk-0', minor: 0, port: 7788,
 *     hosts: [{ name: 'node1', address: '10.99.0.1' }, { name: 'node2', address: '10.99.0.2' }] })
 *   →
 *   global {
 *     usage-count no;
 *   }
 *   resource vm-101-disk-0 {
 *     protocol C;
 *     device /dev/drbd0 minor 0;
 *     disk /dev/loop1000;
 *     meta-disk internal;
 *     on node1 {
 *       address ipv4 10.99.0.1:7788;
 *     }
 *     on node2 {
 *       address ipv4 10.99.0.2:7788;
 *     }
 *   }
 *
 * `usage-count no`: drbdadm's default is "ask", and a node boots into RAM
 * without /var/lib/drbd's record of having asked, so every drbdadm call on a
 * terminal stopped to ask (on its stdin) whether to report the node to
 * usage.drbd.org, and one with "yes" would send it there. No question, no
 * traffic: each resource file says no.
 *
 * The minor is the same on both nodes and picks both the DRBD device and the
 * loop device (LOOP_FIRST + minor), so the file is the same on both nodes
 * and after a reboot: `losetup /dev/loop1000 FILE` makes that loop device
 * itself. Host sections carry the node names `uname -n` gives (drbdadm picks
 * its own section by it). drbdadm-84(8) and drbd.conf(5) of drbd-utils 9.22
 * are the reference; `drbdadm-84 -c FILE dump all` accepts every file this
 * makes (test/unit/drbd/resource.test.ts).
 */
import { isIP } from 'node:net';
import { HttpError } from '../lib/errors';
import { checkedVmid } from '../lib/validate';
import { checkedNodeName } from '../cluster/model';

/** First TCP port of replicated disks (DRBD's customary 7788); a resource listens on DRBD_PORT_FIRST + minor. */
export const DRBD_PORT_FIRST = 7788;
/** Minors handed out: 0..DRBD_MINOR_MAX (the 8.4 module's minor_count ceiling is 255). */
export const DRBD_MINOR_MAX = 255;
/** Loop devices of replicated disks start here, far above the ones `losetup -f` hands out (the image's own parts use loop0-4). */
export const LOOP_FIRST = 1000;
/** Disks of a guest: the disk index of a resource name is 0..DISK_INDEX_MAX. */
export const DISK_INDEX_MAX = 29;

export interface DrbdHost {
  /** The node's name: its host name, which drbdadm matches against `uname -n`. */
  name: string;
  /** Its IP address in the cluster (the host of its cluster URL). */
  address: string;
}

export interface DrbdResource {
  /** "vm-101-disk-0" (drbdResourceName). */
  name: string;
  minor: number;
  port: number;
  /** The guest's node first, then its peer. */
  hosts: readonly [DrbdHost, DrbdHost];
}

const bad = (message: string) => new HttpError('invalid', message);

/** "vm-101-disk-0": the resource (and backing file stem) of disk 0 of guest 101. */
export function drbdResourceName(vmid: number, disk: number): string {
  checkedVmid(vmid);
  if (!Number.isInteger(disk) || disk < 0 || disk > DISK_INDEX_MAX) throw bad(`disk index must be 0–${DISK_INDEX_MAX}, not ${disk}`);
  return `vm-${vmid}-disk-${disk}`;
}

/** "vm-101-disk-0" → { vmid: 101, disk: 0 }; null for a name ramvm did not make. */
export function parseResourceName(name: string): { vmid: number; disk: number } | null {
  const m = /^vm-([1-9][0-9]{2,8})-disk-(0|[1-9][0-9]?)$/.exec(name);
  if (!m) return null;
  const disk = Number(m[2]);
  return disk <= DISK_INDEX_MAX ? { vmid: Number(m[1]), disk } : null;
}

/**
 * The lowest minor neither node uses: `used` joins the minors of both
 * nodes (a resource has the same minor on both). Throws when all are taken.
 */
export function allocateMinor(used: Iterable<number>): number {
  const taken = new Set(used);
  for (let m = 0; m <= DRBD_MINOR_MAX; m++) if (!taken.has(m)) return m;
  throw new HttpError('conflict', `all ${DRBD_MINOR_MAX + 1} DRBD minors are in use`);
}

function checkedMinor(minor: number): number {
  if (!Number.isInteger(minor) || minor < 0 || minor > DRBD_MINOR_MAX) throw bad(`DRBD minor must be 0–${DRBD_MINOR_MAX}, not ${minor}`);
  return minor;
}

/** The TCP port of a resource on both nodes. */
export const drbdPort = (minor: number) => DRBD_PORT_FIRST + checkedMinor(minor);
/** "/dev/drbd0" */
export const drbdDevice = (minor: number) => `/dev/drbd${checkedMinor(minor)}`;
/** "/dev/loop1000": the loop device over the backing file of the resource with this minor. */
export const loopDevice = (minor: number) => `/dev/loop${LOOP_FIRST + checkedMinor(minor)}`;

/** A resource of disk `disk` of guest `vmid` on its node and its peer, with minor `minor`. */
export function drbdResource(vmid: number, disk: number, minor: number, hosts: readonly [DrbdHost, DrbdHost]): DrbdResource {
  return { name: drbdResourceName(vmid, disk), minor: checkedMinor(minor), port: drbdPort(minor), hosts };
}

/** "ipv4:10.0.0.1:7788" or "ipv6:[fd00::1]:7788", as drbdsetup-84 names an end of a connection; throws for a name (DRBD connects to addresses). */
export function drbdAddress(h: DrbdHost, port: number): string {
  const v = isIP(h.address);
  if (v === 4) return `ipv4:${h.address}:${port}`;
  if (v === 6) return `ipv6:[${h.address}]:${port}`;
  throw bad(`node ${h.name}: its cluster address ${JSON.stringify(h.address)} is not an IP address, which DRBD needs`);
}

/** The resource file's "ipv4 10.0.0.1:7788". */
const addressLine = (h: DrbdHost, port: number) => drbdAddress(h, port).replace(':', ' ');

/** The resource file (see the top of this module); throws 400 naming what is wrong. */
export function drbdResourceConfig(r: DrbdResource): string {
  if (!parseResourceName(r.name)) throw bad(`resource name ${JSON.stringify(r.name)} is not vm-<vmid>-disk-<n>`);
  if (r.hosts.length !== 2) throw bad(`a replicated disk has two nodes, not ${r.hosts.length}`);
  const [a, b] = r.hosts.map((h) => ({ ...h, name: checkedNodeName(h.name) }));
  if (a!.name === b!.name) throw bad(`the two nodes of ${r.name} are both ${a!.name}`);
  if (a!.address === b!.address) throw bad(`nodes ${a!.name} and ${b!.name} have the same address ${a!.address}`);
  if (r.port !== drbdPort(r.minor)) throw bad(`resource ${r.name}: port ${r.port} is not that of minor ${r.minor} (${drbdPort(r.minor)})`);
  const host = (h: DrbdHost) => [`  on ${h.name} {`, `    address ${addressLine(h, r.port)};`, '  }'];
  return [
    'global {',
    '  usage-count no;',
    '}',
    `resource ${r.name} {`,
    '  protocol C;',
    `  device ${drbdDevice(r.minor)} minor ${r.minor};`,
    `  disk ${loopDevice(r.minor)};`,
    '  meta-disk internal;',
    ...host(a!),
    ...host(b!),
    '}',
    '',
  ].join('\n');
}

/** Bytes of one sector, the unit of DRBD's meta-data size. */
const SECTOR_BYTES = 512;

/**
 * Bytes DRBD 8.4's internal meta-data takes at the end of a backing device
 * of `deviceBytes`: 4 KiB superblock + 32 KiB activity log (72 sectors)
 * and one bitmap bit per 4 KiB, in 4 KiB steps — the user's guide's
 * "Ms = ceil(Cs / 2^18) × 8 + 72" in sectors, Cs the device's size.
 *
 *   1 GiB → 2^21 sectors → ceil(2^21 / 2^18) × 8 + 72 = 136 sectors = 69632 bytes
 */
export function internalMetaBytes(deviceBytes: number): number {
  if (!Number.isSafeInteger(deviceBytes) || deviceBytes <= 0) throw bad(`disk size must be a positive number of bytes, not ${deviceBytes}`);
  const sectors = Math.ceil(deviceBytes / SECTOR_BYTES);
  return (Math.ceil(sectors / 2 ** 18) * 8 + 72) * SECTOR_BYTES;
}

/**
 * The backing file's size for a disk the guest sees as `dataBytes`: the
 * smallest B with B − internalMetaBytes(B) ≥ dataBytes. (1 GiB + 136
 * sectors would need 144 sectors of meta-data, crossing a bitmap step.)
 *
 *   1 GiB → 1073741824 + 73728 = 1073815552
 */
export function backingFileBytes(dataBytes: number): number {
  let b = dataBytes + internalMetaBytes(dataBytes);
  while (b - internalMetaBytes(b) < dataBytes) b = dataBytes + internalMetaBytes(b);
  return b;
}
