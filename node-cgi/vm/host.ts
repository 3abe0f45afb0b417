/**
 * Facts about the node a guest runs on: which bridges exist, whether the
 * disk folder takes O_DIRECT (cache=none), and attaching a guest's tap to
 * its bridge; and fresh MAC addresses. (Whether KVM works: vm/accel.ts.)
 *
 *   /sys/class/net/vmbr0/bridge exists → vmbr0 is a bridge: taps join it
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../lib/exec';
import { MAC_PREFIX } from './defaults';

/** The names among `names` that are Linux bridges on this node. */
export function existingBridges(names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const n of names) if (!n.includes('/') && existsSync(`/sys/class/net/${n}/bridge`)) out.add(n);
  return out;
}

/** Put a guest's tap into its bridge and bring it up. */
export async function attachTap(ifname: string, bridge: string): Promise<void> {
  await run(['ip', 'link', 'set', 'dev', ifname, 'master', bridge], { timeoutMs: 10_000 });
  await run(['ip', 'link', 'set', 'dev', ifname, 'up'], { timeoutMs: 10_000 });
}

/** Whether files in `dir` can be opened with O_DIRECT (tmpfs cannot: cache=none would fail there). */
export function directIoSupported(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  const probe = join(dir, `.odirect-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    closeSync(openSync(probe, constants.O_CREAT | constants.O_EXCL | constants.O_RDWR | constants.O_DIRECT, 0o600));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

/** A fresh MAC: "02:52:4D:" + 3 random bytes (callers check it is unused). */
export function randomMac(): string {
  return `${MAC_PREFIX}:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}`;
}
