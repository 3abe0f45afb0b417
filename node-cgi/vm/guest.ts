/**
 * A guest resolved once into a handle: its config, its files, the node it
 * lives on, and its QEMU's pid (looked up at first use, once). Handlers
 * resolve the VMID of the path once and pass the handle on; power actions,
 * status and changes take it instead of resolving the VMID again.
 *
 *   const g = openGuest(101);   // 404 when there is no such guest
 *   g.config.memory             // 512
 *   g.files.qmp                 // run/ramvm/qemu/101.qmp
 *   g.pid                       // 4242, or null when it does not run
 *   mustLiveHere(g)             // 409 when it lives on another node
 *
 * What decides something — a start under its lock, a delete — looks at the
 * process again (pidNow); so do polls.
 */
import { conflict, notFound } from '../lib/errors';
import { nodeName } from '../lib/paths';
import { findVmConfig } from './config';
import { vmFiles } from './files';
import { guestPid, type GuestPid } from './status';
import type { Guest, VmConfig } from './types';

/** The handle of a guest whose config was read already (lists). */
export function guestOf(config: VmConfig): Guest {
  const files = vmFiles(config.vmid);
  let look: GuestPid | undefined;
  const seen = () => (look ??= guestPid(config.vmid, files));
  return {
    vmid: config.vmid,
    config,
    files,
    node: config.node,
    here: config.node === nodeName(),
    get pid() {
      return seen().pid;
    },
    get stale() {
      return seen().stale;
    },
  };
}

/** The guest, or undefined when it has no config. */
export function findGuest(vmid: number): Guest | undefined {
  const config = findVmConfig(vmid);
  return config ? guestOf(config) : undefined;
}

/** The guest; 404 when there is none. */
export function openGuest(vmid: number): Guest {
  const g = findGuest(vmid);
  if (!g) throw notFound(`no guest with VMID ${vmid}`);
  return g;
}

/** 409 unless the guest lives on this node (its disks and its QEMU are here). */
export function mustLiveHere(g: Guest): void {
  if (!g.here) throw conflict(`guest ${g.vmid} lives on node ${g.node}, not on ${nodeName()}`);
}

/** Its QEMU's pid now: a fresh look, for checks that decide something and for polls. */
export function pidNow(g: Pick<Guest, 'vmid' | 'files'>): number | null {
  return guestPid(g.vmid, g.files).pid;
}

/** The pid of a running guest; 409 when it does not run. */
export function runningPid(g: Guest): number {
  if (g.pid === null) throw conflict(`guest ${g.vmid} is not running`);
  return g.pid;
}
