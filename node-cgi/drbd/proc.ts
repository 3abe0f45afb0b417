/**
 * /proc/drbd of the DRBD 8.4 kernel module, parsed into each minor's
 * roles, connection state, disk states and resync progress. The format
 * (drivers/block/drbd/drbd_proc.c, 8.4.11 in Debian's 6.1 kernel):
 *
 *   version: 8.4.11 (api:1/proto:86-101)
 *   srcversion: 211FB288A383ED945B83420
 *    0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----
 *       ns:3072 nr:0 dw:0 dr:4040 al:8 bm:0 lo:0 pe:2 ua:0 ap:0 ep:1 wo:f oos:62460
 *   	[>...................] sync'ed:  5.2% (62460/65532)K
 *   	finish: 0:00:20 speed: 3,072 (3,072) K/sec
 *    1: cs:Unconfigured
 *
 *   → { version: "8.4.11", devices: [
 *       { minor: 0, connection: "SyncSource", role: "Primary", peerRole: "Secondary",
 *         disk: "UpToDate", peerDisk: "Inconsistent", protocol: "C", outOfSyncKiB: 62460,
 *         sync: { kind: "sync", percent: 5.2, leftKiB: 62460, totalKiB: 65532 } },
 *       { minor: 1, connection: "Unconfigured" } ] }
 *
 * A minor with "verified:" instead of "sync'ed:" is running an online
 * verify (kind "verify"). Lines the parser does not need (act_log:,
 * resync:, finish:) are skipped; a minor line it cannot read throws with
 * that line.
 */
import { HttpError } from '../lib/errors';

/** Roles of drbdadm role / ro: (drbd_role in drbd.h). */
export type DrbdRole = 'Primary' | 'Secondary' | 'Unknown';

export interface DrbdSync {
  /** A resync, or an online verify. */
  kind: 'sync' | 'verify';
  /** Done, 0–100 with one decimal as the kernel prints it. */
  percent: number;
  leftKiB: number;
  totalKiB: number;
}

export interface DrbdDeviceState {
  minor: number;
  /** cs: "Connected", "WFConnection", "StandAlone", "SyncSource", "SyncTarget", "Unconfigured", … */
  connection: string;
  role?: DrbdRole;
  peerRole?: DrbdRole;
  /** ds: "UpToDate", "Inconsistent", "Outdated", "Diskless", "DUnknown", … */
  disk?: string;
  peerDisk?: string;
  protocol?: 'A' | 'B' | 'C';
  /** oos: KiB out of sync with the peer. */
  outOfSyncKiB?: number;
  sync?: DrbdSync;
}

export interface ProcDrbd {
  /** "8.4.11" */
  version: string;
  devices: DrbdDeviceState[];
}

const unreadable = (what: string, line: string) => new HttpError('internal', `/proc/drbd: cannot read ${what}: ${JSON.stringify(line.slice(0, 200))}`);

const ROLES: readonly string[] = ['Primary', 'Secondary', 'Unknown'];

function role(v: string, line: string): DrbdRole {
  if (!ROLES.includes(v)) throw unreadable('a role', line);
  return v as DrbdRole;
}

/** "(62460/65532)K" or "(448976/1301592)M" → KiB */
const toKiB = (n: string, unit: string) => Number(n) * (unit === 'M' ? 1024 : 1);

/** The text of /proc/drbd → its version and devices (see the top of this module). */
export function parseProcDrbd(text: string): ProcDrbd {
  const lines = text.split('\n');
  const v = /^version: (\d+\.\d+\.\d+)/.exec(lines[0] ?? '');
  if (!v) throw unreadable('the version', lines[0] ?? '');
  // DRBD 9 shows only its version here (devices: drbdsetup status); reading none would look like "no disks".
  if (!v[1]!.startsWith('8.4.')) throw new HttpError('internal', `/proc/drbd: DRBD ${v[1]} is not the 8.4 module this parser reads`);
  const devices: DrbdDeviceState[] = [];
  let cur: DrbdDeviceState | undefined;
  for (const line of lines.slice(1)) {
    const head = /^\s*(\d+): cs:(\S+)(.*)$/.exec(line);
    if (head) {
      cur = { minor: Number(head[1]), connection: head[2]! };
      devices.push(cur);
      const rest = head[3]!.trim();
      if (rest === '') continue;
      // No protocol while StandAlone: " 1: cs:StandAlone ro:Secondary/Unknown ds:UpToDate/DUnknown   r-----"
      const m = /^ro:(\S+)\/(\S+) ds:(\S+)\/(\S+)(?: ([ABC]))?\s/.exec(rest + ' ');
      if (!m) throw unreadable(`minor ${cur.minor}`, line);
      Object.assign(cur, { role: role(m[1]!, line), peerRole: role(m[2]!, line), disk: m[3], peerDisk: m[4] });
      if (m[5]) cur.protocol = m[5] as 'A' | 'B' | 'C';
      continue;
    }
    if (!cur) continue; // srcversion:, GIT-hash:, blank lines
    const oos = /\boos:(\d+)/.exec(line);
    if (oos && /^\s+ns:/.test(line)) {
      cur.outOfSyncKiB = Number(oos[1]);
      continue;
    }
    const sync = /(sync'ed|verified):\s*(\d+(?:\.\d+)?)% \((\d+)\/(\d+)\)([KM])/.exec(line);
    if (sync) {
      cur.sync = {
        kind: sync[1] === 'verified' ? 'verify' : 'sync',
        percent: Number(sync[2]),
        leftKiB: toKiB(sync[3]!, sync[5]!),
        totalKiB: toKiB(sync[4]!, sync[5]!),
      };
    }
  }
  return { version: v[1]!, devices };
}

/** One minor of a parsed /proc/drbd; undefined when the kernel does not list it. */
export function deviceOf(p: ProcDrbd, minor: number): DrbdDeviceState | undefined {
  return p.devices.find((d) => d.minor === minor);
}

/**
 * A replicated disk's `replication` in the API (CONTRACT.md, "Replicated
 * disks"): `state` is this node's disk state, `synced` the percent in
 * sync with the peer — the resync's progress while one runs, 100 when
 * both sides are UpToDate, null when it cannot be known (disconnected,
 * not up). The rest says why.
 *
 *   cs:SyncSource ds:UpToDate/Inconsistent sync'ed: 5.2%  → { state: "UpToDate", synced: 5.2, connection: "SyncSource", … }
 */
export interface Replication {
  peer: string;
  state: string;
  synced: number | null;
  connection: string;
  role: DrbdRole | null;
  peerState: string | null;
  /** True when the kernel's log says this StandAlone disk is in an unresolved split brain (splitBrainInLog). */
  splitBrain?: true;
}

export function replicationOf(dev: DrbdDeviceState | undefined, peer: string): Replication {
  const connection = dev?.connection ?? 'Unconfigured';
  const both = dev?.disk === 'UpToDate' && dev.peerDisk === 'UpToDate';
  return {
    peer,
    state: dev?.disk ?? 'Unconfigured',
    synced: dev?.sync?.kind === 'sync' ? dev.sync.percent : both && connection === 'Connected' ? 100 : null,
    connection,
    role: dev?.role ?? null,
    peerState: dev?.peerDisk ?? null,
  };
}

/**
 * Whether the kernel's log says minor `minor` (resource `resource`) is in
 * an unresolved split brain: /proc/drbd of 8.4 shows only "StandAlone",
 * the same as a disconnect asked for. The last word counts:
 *
 *   block drbd0: Split-Brain detected but unresolved, dropping connection!   → true
 *   block drbd0: Split-Brain detected, manually solved. Sync from this node  → false
 *   block drbd0: … conn( SyncSource -> Connected ) …                         → false
 *   drbd vm-101-disk-0: conn( WFReportParams -> Connected ) …                → false
 */
export function splitBrainInLog(log: string, minor: number, resource: string): boolean {
  const dev = `block drbd${minor}: `;
  const res = `drbd ${resource}: `;
  let split = false;
  for (const line of log.split('\n')) {
    const own = line.includes(dev) || line.includes(res);
    if (!own) continue;
    if (/Split-Brain detected but unresolved/.test(line)) split = true;
    else if (/Split-Brain detected, .*solved/.test(line) || /conn\( \S+ -> Connected \)/.test(line)) split = false;
  }
  return split;
}
