/**
 * Requests on guests as data: each parser takes what a client sent and
 * returns what to do, or throws 400 "invalid" naming the field. Pure; the
 * handler then acts (power.ts, manage.ts). A guest's config itself is
 * parsed by validate.ts (checkVmConfig), which needs facts of the node.
 *
 *   parseShutdown({})                                → { timeout: null, forceStop: false }   press the button, do not wait
 *   parseShutdown({ timeout: 60, forceStop: true })  → { timeout: 60, forceStop: true }     a task waits, then stops
 *   parseDiskAdd({ size: '8G', bus: 'virtio' })      → { size: '8G', bus: 'virtio', format: 'qcow2' }
 *   parseDiskAdd({ size: '8G', replicated: true })   → { size: '8G', replicated: true, format: 'raw' }
 *   parseDiskChange({ size: '64G' })                 → { size: '64G' }
 */
import { isPrivilege, PRIVILEGES, type Privilege } from '../access/privileges';
import { invalid } from '../lib/errors';
import { checkedBool, only } from '../lib/validate';
import { DISK_FORMATS, type DiskConfig, type DiskFormat } from './types';

/** Longest wait a shutdown task accepts, seconds. */
export const SHUTDOWN_TIMEOUT_MAX_S = 3600;

export interface ShutdownRequest {
  /** Seconds a task waits for the guest to power off; null: press the button and answer at once. */
  timeout: number | null;
  /** Stop it hard when it has not powered off in time. */
  forceStop: boolean;
}

/** POST /api/vm/<vmid>/shutdown {timeout?, forceStop?} */
export function parseShutdown(body: Record<string, unknown>): ShutdownRequest {
  only(body, ['timeout', 'forceStop']);
  const forceStop = body.forceStop === undefined ? false : checkedBool(body.forceStop, 'forceStop');
  const t = body.timeout;
  if (t === undefined) {
    if (forceStop) throw invalid('forceStop', 'needs a timeout (seconds to wait before stopping)');
    return { timeout: null, forceStop };
  }
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > SHUTDOWN_TIMEOUT_MAX_S) {
    throw invalid('timeout', `must be a whole number of seconds from 1 to ${SHUTDOWN_TIMEOUT_MAX_S}`);
  }
  return { timeout: t, forceStop };
}

/** PUT /api/vm/<vmid>/cdrom {cdrom}: the ISO's name or null (whether it is in the library, the config's validation says). */
export function parseCdrom(body: Record<string, unknown>): { cdrom: unknown } {
  only(body, ['cdrom']);
  if (!('cdrom' in body)) throw invalid('cdrom', 'is required: an ISO image name or null');
  return { cdrom: body.cdrom };
}

/** A disk to add: its fields for the config's validation, with the format checked first (it becomes part of a file name). */
export type DiskAdd = Record<string, unknown> & { format: DiskFormat };

/** POST /api/vm/<vmid>/disks {size?, bus?, format?, cache?, replicated?}: a replicated disk is raw unless told otherwise (then refused). */
export function parseDiskAdd(body: Record<string, unknown>): DiskAdd {
  // id and file are the node's to choose: {"file": "/etc/passwd"} is refused, not ignored.
  only(body, ['size', 'bus', 'format', 'cache', 'replicated']);
  if (body.replicated !== undefined) checkedBool(body.replicated, 'replicated');
  const format = body.format ?? (body.replicated === true ? 'raw' : 'qcow2');
  if (!(DISK_FORMATS as readonly unknown[]).includes(format)) throw invalid('format', `must be one of ${DISK_FORMATS.join(', ')}`);
  return { ...body, format: format as DiskFormat };
}

export type DiskChange = Partial<Pick<DiskConfig, 'size' | 'bus' | 'cache'>>;

/** PUT /api/vm/<vmid>/disks/<id> {size?, bus?, cache?}: grow it, or move it to another bus or cache mode. */
export function parseDiskChange(body: Record<string, unknown>): DiskChange {
  if ('format' in body) throw invalid('format', 'cannot be changed');
  only(body, ['size', 'bus', 'cache']);
  return body as DiskChange;
}

/** GET /api/vm?can=VM.Backup: list only guests the caller also holds this privilege on (null: no filter). */
export function parseListQuery(q: URLSearchParams): { also: Privilege | null } {
  const also = q.get('can');
  if (also !== null && !isPrivilege(also)) throw invalid('can', `must be a privilege: ${PRIVILEGES.join(', ')}`);
  return { also };
}
