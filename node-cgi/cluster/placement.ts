/**
 * VMIDs unique cluster-wide: a node that creates a guest (a new guest, a
 * restore to a new VMID, a guest run off a backup) first reserves its VMID
 * in the master's placement index (model.ts, state.ts), then creates it
 * with that VMID fixed; a failed create, and a delete, release it.
 *
 *   const vmid = await reserveVmid(null, 'web', usedHere);   // 103, now listed for this node everywhere
 *   …create guest 103…  (on failure: await releaseVmid(103))
 *
 * Outside a cluster reserveVmid answers null and the node allocates as a
 * single node does. On a member it asks the master (signed POST
 * /api/cluster/vmids); while the master does not answer, new guests wait.
 */
import { HttpError, conflict, invalid } from '../lib/errors';
import { nodeName } from '../lib/paths';
import { withLock, writeJsonAtomic } from '../lib/store';
import { log } from '../lib/cgi';
import { checkedVmid } from '../lib/validate';
import { commitChanges } from './replicate';
import { nodeJson } from './members';
import { allocateVmid, staleEntries, type Placement } from './model';
import { updateAccess } from '../access/store';
import { audit } from '../access/audit';
import { PeerError } from './peer';
import { CLUSTER_LOCK, placementFile, readCluster, readPlacement } from './state';

/**
 * How long a node waits for the master to reserve, move or release a VMID.
 * Longer than a status call (STATUS_TIMEOUT_MS): the caller is creating or
 * moving a guest and waits anyway, and a busy master that answers in 5 s
 * must not fail the create. An unreachable master still fails at once
 * (PEER_CONNECT_TIMEOUT_MS).
 */
export const PLACEMENT_TIMEOUT_MS = 15_000;

/** Largest list of locally used VMIDs a reservation carries. */
const USED_MAX = 10_000;

/** On the master: reserve a VMID for a guest of `node`; `used` are VMIDs taken on that node outside the index (disk folders). */
export function reserveOnMaster(node: string, wanted: number | null, name: string, used: readonly number[]): number {
  return withLock(CLUSTER_LOCK, () => {
    const p = readPlacement();
    const taken: Placement = { ...p };
    for (const v of used) taken[String(v)] ??= { node, name: '' };
    if (wanted !== null && !p[String(wanted)] && used.includes(wanted)) throw conflict(`VMID ${wanted} is in use on node ${node}`);
    const vmid = allocateVmid(taken, wanted);
    writeJsonAtomic(placementFile(), { ...p, [String(vmid)]: { node, name, since: Math.floor(Date.now() / 1000) } });
    return vmid;
  });
}

/**
 * On the master: release `vmid` if the index puts it on `node` (a guest
 * elsewhere keeps its entry). Its ACL entries go first: a guest that gets
 * the VMID later must not inherit them.
 */
export function releaseOnMaster(node: string, vmid: number, by = 'root'): boolean {
  return withLock(CLUSTER_LOCK, () => {
    const p = readPlacement();
    if (p[String(vmid)]?.node !== node) return false;
    const path = `/vms/${vmid}`;
    const removed = updateAccess((d) => {
      const before = d.acl.acl.length;
      d.acl.acl = d.acl.acl.filter((e) => e.path !== path);
      return before - d.acl.acl.length;
    });
    if (removed > 0) audit({ user: by, action: 'acl.delete', object: path, ok: true, detail: { reason: `guest deleted on node ${node}`, entries: removed } });
    delete p[String(vmid)];
    writeJsonAtomic(placementFile(), p);
    return true;
  });
}

/**
 * On the master: guest `vmid` of `from` lives on `to` from now (a migration
 * that copied it there). 409 when the index does not put it on `from`.
 */
export function moveOnMaster(from: string, vmid: number, to: string): void {
  withLock(CLUSTER_LOCK, () => {
    const p = readPlacement();
    const e = p[String(vmid)];
    if (e?.node !== from) throw conflict(`the placement index puts guest ${vmid} on ${e?.node ?? 'no node'}, not on ${from}`);
    writeJsonAtomic(placementFile(), { ...p, [String(vmid)]: { ...e, node: to, since: Math.floor(Date.now() / 1000) } });
  });
}

/** Tell the master (here, or asked) that guest `vmid` of this node lives on `to` now; throws when it could not be told. */
export async function movePlacement(vmid: number, to: string): Promise<void> {
  const c = readCluster();
  if (!c) throw conflict(`node ${nodeName()} is in no cluster`);
  if (c.master === nodeName()) {
    moveOnMaster(nodeName(), vmid, to);
    await commitChanges();
    return;
  }
  await nodeJson(c.master, 'PUT', `/api/cluster/vmids/${vmid}`, { node: to }, { timeoutMs: PLACEMENT_TIMEOUT_MS });
}

/**
 * On the master, with the guests `node` has now: release the entries it no
 * longer has (see staleEntries; returned), and take the names it gives its
 * guests (a renamed guest shows its name while its node is away).
 */
export function reconcileOnMaster(node: string, present: readonly { vmid: number; name: string }[]): number[] {
  const stale = staleEntries(readPlacement(), node, present.map((g) => g.vmid), Math.floor(Date.now() / 1000));
  for (const vmid of stale) releaseOnMaster(node, vmid);
  withLock(CLUSTER_LOCK, () => {
    const p = readPlacement();
    const renamed = present.filter((g) => p[String(g.vmid)]?.node === node && p[String(g.vmid)]!.name !== g.name);
    for (const g of renamed) p[String(g.vmid)] = { ...p[String(g.vmid)]!, name: g.name };
    if (renamed.length) writeJsonAtomic(placementFile(), p);
  });
  return stale;
}

/** POST /api/cluster/vmids body, from a node: {vmid: number|null, name, used: number[]}. */
export function checkedReservation(body: Record<string, unknown>): { vmid: number | null; name: string; used: number[] } {
  const vmid = body.vmid === null || body.vmid === undefined ? null : checkedVmid(body.vmid);
  const name = typeof body.name === 'string' && body.name.length <= 128 ? body.name : '';
  const used = Array.isArray(body.used) ? body.used : [];
  if (used.length > USED_MAX) throw invalid('used', `at most ${USED_MAX} VMIDs`);
  return { vmid, name, used: used.map((v) => checkedVmid(v, 'used')) };
}

/**
 * Reserve a VMID for a new guest on this node: the index of the master
 * (here, or asked) gives `wanted` or the lowest free one. Null outside a
 * cluster. 503 while the master does not answer.
 */
export async function reserveVmid(wanted: number | null, name: string, usedHere: Iterable<number>): Promise<number | null> {
  const c = readCluster();
  if (!c) return null;
  const used = [...usedHere].slice(0, USED_MAX);
  if (c.master === nodeName()) {
    const vmid = reserveOnMaster(nodeName(), wanted, name, used);
    await commitChanges();
    return vmid;
  }
  try {
    const r = await nodeJson<{ vmid: number }>(c.master, 'POST', '/api/cluster/vmids', { vmid: wanted, name, used }, { timeoutMs: PLACEMENT_TIMEOUT_MS });
    return checkedVmid(r.vmid);
  } catch (e) {
    if (e instanceof PeerError) {
      throw new HttpError('unavailable', `new guests get their VMID from the master ${c.master}, which does not answer (${e.message}); they wait for it, or for a promotion`);
    }
    throw e;
  }
}

/**
 * Give a reservation (or a deleted guest's entry, with its ACL entries)
 * back; failures are logged: the master's tick releases entries a node no
 * longer has (reconcileOnMaster), and until then the VMID is not given again.
 */
export async function releaseVmid(vmid: number, by?: string): Promise<void> {
  const c = readCluster();
  if (!c) return;
  try {
    if (c.master === nodeName()) {
      releaseOnMaster(nodeName(), vmid, by);
      await commitChanges();
    } else {
      await nodeJson(c.master, 'DELETE', `/api/cluster/vmids/${vmid}`, undefined, { timeoutMs: PLACEMENT_TIMEOUT_MS, identity: by ? { username: by } : null });
    }
  } catch (e) {
    log(`VMID ${vmid} stays in the placement index for now: ${(e as Error).message}`);
  }
}
