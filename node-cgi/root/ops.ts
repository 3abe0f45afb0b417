/**
 * The root helper's allow-list: the only things the node's user may ask of
 * root, each taking ids and names, never a path, an option or a program.
 * A call is argv after the helper's own path:
 *
 *   <node key> <operation> <argument>…
 *
 *   3f9c0a1b2c3d4e5f ping                         the set-up works (nothing else)
 *   3f9c0a1b2c3d4e5f start-guest 101 kvm          taps for the guest's NICs, its QEMU as the QEMU user
 *   3f9c0a1b2c3d4e5f start-guest 101 tcg incoming the same for a guest arriving by live migration (-S -incoming defer)
 *   3f9c0a1b2c3d4e5f stop-guest 101               SIGTERM, then SIGKILL, to that QEMU; its taps removed
 *   3f9c0a1b2c3d4e5f mount-backup usb             the backup device of storage "usb" on its mount point
 *   3f9c0a1b2c3d4e5f umount-backup usb            and off it again
 *   3f9c0a1b2c3d4e5f prepare-backup-disk usb sdb  blank disk sdb laid out to boot, its backup filesystem for "usb"
 *   3f9c0a1b2c3d4e5f boot-backup usb              the mounted "usb" disk's boot partition brought to its rescue image
 *   3f9c0a1b2c3d4e5f drbd create 101 0            a step of guest 101's replicated disk 0 (root/drbd.ts)
 *   3f9c0a1b2c3d4e5f disconnect-on-go 101 0 1     guest 101's replicated disks 0 and 1 checked, then disconnected
 *                                                 when "go" arrives on stdin (a cluster backup's hold: root/drbd.ts)
 *
 * The node key names a node the root-side start registered (lib/paths.ts);
 * everything else the helper needs (data root, users, the guest's config,
 * the storage's device) it reads itself and checks again. parseRootCall is
 * the whole of what a caller controls, refused with the reason for anything
 * else; test/unit/root/ops.test.ts holds the table of bad calls.
 *
 * To add an operation: a case here that parses its arguments into data, a
 * function in root/ that does it from that data alone, a line in
 * helper.ts's dispatch, rows of bad arguments in the unit test.
 */
import { HttpError } from '../lib/errors';
import { checkedVmid } from '../lib/validate';
import { checkedStorageName, DISK_NAME_RE } from '../backup/validate';
import type { Accelerator } from '../vm';
import { DISK_INDEX_MAX } from '../drbd/resource';
import { DRBD_HELPER_STEPS, type DrbdHelperStep } from '../drbd/commands';

export type RootCall =
  | { key: string; op: 'ping' }
  | { key: string; op: 'start-guest'; vmid: number; accel: Accelerator; incoming: boolean }
  | { key: string; op: 'stop-guest'; vmid: number }
  | { key: string; op: 'mount-backup'; storage: string }
  | { key: string; op: 'umount-backup'; storage: string }
  | { key: string; op: 'prepare-backup-disk'; storage: string; disk: string }
  | { key: string; op: 'boot-backup'; storage: string }
  | { key: string; op: 'drbd'; step: DrbdHelperStep; vmid: number; disk: number }
  | { key: string; op: 'disconnect-on-go'; vmid: number; disks: number[] };

export const ROOT_OPS = ['ping', 'start-guest', 'stop-guest', 'mount-backup', 'umount-backup', 'prepare-backup-disk', 'boot-backup', 'drbd', 'disconnect-on-go'] as const;

/** Longest argv a call may have, in characters: the key, an operation and a few short arguments. */
const CALL_MAX_CHARS = 200;

const refuse = (message: string) => new HttpError('forbidden', `root helper: ${message}`);

function arity(op: string, args: readonly string[], names: readonly string[]): void {
  if (args.length !== names.length) {
    throw refuse(`${op} takes ${names.length ? names.join(' ') : 'no arguments'}, not ${args.length} argument${args.length === 1 ? '' : 's'}`);
  }
}

/** A checked value, or the refusal with the checker's reason. */
function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw refuse((e as Error).message);
  }
}

/** A replicated disk's index: 0–DISK_INDEX_MAX, written as a plain number. */
function diskIndexArg(a: string): number {
  if (!/^(0|[1-9][0-9]?)$/.test(a) || Number(a) > DISK_INDEX_MAX) throw refuse(`the disk index must be 0–${DISK_INDEX_MAX}`);
  return Number(a);
}

/** The helper's argv (after its own path) → the call as data; throws 403 "forbidden" with the reason. */
export function parseRootCall(argv: readonly string[]): RootCall {
  if (argv.some((a) => typeof a !== 'string' || a.length === 0 || /[\0-\x1f\x7f]/.test(a))) throw refuse('arguments must be non-empty and printable');
  if (argv.join(' ').length > CALL_MAX_CHARS) throw refuse(`a call is at most ${CALL_MAX_CHARS} characters`);
  const [key, op, ...args] = argv;
  if (!key || !/^[0-9a-f]{16}$/.test(key)) throw refuse('the first argument must be a node key (16 hex digits)');
  switch (op) {
    case 'ping':
      arity(op, args, []);
      return { key, op };
    case 'start-guest': {
      arity(op, args, args.length === 3 ? ['VMID', 'kvm|tcg', 'incoming'] : ['VMID', 'kvm|tcg']);
      const vmid = checked(() => checkedVmid(args[0]));
      if (args[1] !== 'kvm' && args[1] !== 'tcg') throw refuse('the accelerator must be kvm or tcg');
      if (args.length === 3 && args[2] !== 'incoming') throw refuse('the third argument of start-guest can only be "incoming"');
      return { key, op, vmid, accel: args[1], incoming: args.length === 3 };
    }
    case 'stop-guest':
      arity(op, args, ['VMID']);
      return { key, op, vmid: checked(() => checkedVmid(args[0])) };
    case 'prepare-backup-disk':
      arity(op, args, ['STORAGE', 'DISK']);
      if (!DISK_NAME_RE.test(args[1]!)) throw refuse('the disk must be a whole disk\'s name such as sdb, vdc or nvme0n1');
      return { key, op, storage: checked(() => checkedStorageName(args[0])), disk: args[1]! };
    case 'mount-backup':
    case 'umount-backup':
    case 'boot-backup':
      arity(op, args, ['STORAGE']);
      return { key, op, storage: checked(() => checkedStorageName(args[0])) };
    case 'drbd': {
      arity(op, args, ['STEP', 'VMID', 'DISK']);
      const step = args[0] as DrbdHelperStep;
      if (!DRBD_HELPER_STEPS.includes(step)) throw refuse(`drbd steps are ${DRBD_HELPER_STEPS.join(', ')}`);
      const vmid = checked(() => checkedVmid(args[1]));
      return { key, op, step, vmid, disk: diskIndexArg(args[2]!) };
    }
    case 'disconnect-on-go': {
      if (args.length < 2) throw refuse(`disconnect-on-go takes VMID DISK…, not ${args.length} argument${args.length === 1 ? '' : 's'}`);
      const vmid = checked(() => checkedVmid(args[0]));
      const disks = args.slice(1).map(diskIndexArg);
      if (new Set(disks).size !== disks.length) throw refuse('disconnect-on-go names each disk once');
      return { key, op, vmid, disks };
    }
    default:
      throw refuse(`unknown operation ${JSON.stringify(op ?? '')}; the helper does ${ROOT_OPS.join(', ')}`);
  }
}
