/**
 * Privilege separation as a node's own processes see it. A node started as
 * root runs lighttpd, every CGI and task as user `ramvm`, each guest's QEMU
 * as user `ramvm-qemu`, and reaches root only through the root helper
 * (node-cgi/root/helper.ts, built to dist/bin/ramvm-root), which this module
 * calls through sudo and its one sudoers line:
 *
 *   sudo -n /usr/bin/node /opt/ramvm/dist/bin/ramvm-root 3f9c… start-guest 101 kvm
 *   → {"ok":{"pid":4242}}
 *   → {"error":{"code":"conflict","message":"guest 101 is already running"}}
 *
 * The root-side start (build/server.ts, the image's set-up) registers the
 * node in /run/ramvm-root/<key>/node.json (lib/paths.ts). A node without that
 * record runs "direct": everything as the user that started it (`npm start`
 * as a normal user, the cgi suite's processes), and what needs root fails
 * with a message that says so.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpError, STATUS_OF_CODE, type ErrorCode } from './errors';
import { runAllowFail } from './exec';
import { nodeKey, paths, registryDir } from './paths';

/** A user of the node's two: name and ids. */
export interface NodeUser {
  user: string;
  uid: number;
  gid: number;
}

/** /run/ramvm-root/<key>/node.json: written by root, trusted by the helper. */
export interface NodeRecord {
  /** The data root (absolute). */
  root: string;
  /** The node binary and the helper bundle: together the command the sudoers line allows. */
  node: string;
  helper: string;
  /** lighttpd, the CGIs, tasks and the `ramvm` CLI. */
  cgi: NodeUser;
  /** Every guest's QEMU; `groups`: its supplementary groups (the CGI user's group, which shares disks and sockets, and /dev/kvm's). */
  qemu: NodeUser & { groups: number[] };
}

/** The record's file for a data root. */
export const nodeRecordFile = (root: string) => join(registryDir(root), 'node.json');

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 2 ** 31;
const isUserName = (v: unknown): v is string => typeof v === 'string' && /^[a-z_][a-z0-9_-]{0,31}$/.test(v);
const isAbsPath = (v: unknown): v is string => typeof v === 'string' && /^\/[A-Za-z0-9_./-]*$/.test(v) && !v.split('/').includes('..');

function user(v: unknown, what: string): NodeUser {
  const u = v as Partial<NodeUser> | null;
  if (!u || !isUserName(u.user) || !isId(u.uid) || !isId(u.gid)) throw new Error(`node record: ${what} must be {user, uid, gid} of a user other than root`);
  return { user: u.user, uid: u.uid, gid: u.gid };
}

/** node.json's text → the record; throws on anything else (root ids included: nobody of ours is root). */
export function parseNodeRecord(text: string): NodeRecord {
  const v = JSON.parse(text) as Record<string, unknown>;
  if (!v || typeof v !== 'object') throw new Error('node record: not an object');
  for (const k of ['root', 'node', 'helper'] as const) if (!isAbsPath(v[k])) throw new Error(`node record: ${k} must be an absolute path`);
  const cgi = user(v.cgi, 'cgi');
  const q = v.qemu as { groups?: unknown } | null;
  const qemu = user(q, 'qemu');
  const groups = q?.groups;
  if (!Array.isArray(groups) || !groups.every(isId)) throw new Error('node record: qemu.groups must be group ids other than root\'s');
  if (cgi.uid === qemu.uid) throw new Error('node record: the CGI user and the QEMU user must differ');
  return { root: v.root as string, node: v.node as string, helper: v.helper as string, cgi, qemu: { ...qemu, groups: groups as number[] } };
}

/** The record of a data root; null when the node is not registered (direct). A record that is there but bad throws. */
export function readNodeRecord(root: string): NodeRecord | null {
  let text: string;
  try {
    text = readFileSync(nodeRecordFile(root), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const rec = parseNodeRecord(text);
  if (rec.root !== root) throw new Error(`node record ${nodeRecordFile(root)} is for ${rec.root}, not ${root}`);
  return rec;
}

let cached: { root: string; record: NodeRecord | null } | undefined;

/** This process's node record (RAMVM_ROOT's), read once; null when the node runs direct. */
export function separation(): NodeRecord | null {
  const root = paths().root;
  if (!cached || cached.root !== root) cached = { root, record: readNodeRecord(root) };
  return cached.record;
}

/** What the helper prints: one line of JSON, its last. */
export type HelperAnswer<T> = { ok: T } | { error: { code: ErrorCode; message: string; detail?: string } };

/** The helper's stdout → its answer; anything else → an internal error (its stderr goes to the log). */
export function parseHelperAnswer<T>(stdout: string): HelperAnswer<T> {
  const line = stdout.trim().split('\n').pop() ?? '';
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { error: { code: 'internal', message: 'the root helper gave no answer' } };
  }
  const a = v as { ok?: T; error?: { code?: unknown; message?: unknown; detail?: unknown } };
  if (a && typeof a === 'object' && 'ok' in a) return { ok: a.ok as T };
  const e = a?.error;
  if (e && typeof e.message === 'string' && typeof e.code === 'string' && e.code in STATUS_OF_CODE) {
    return { error: { code: e.code as ErrorCode, message: e.message, ...(typeof e.detail === 'string' ? { detail: e.detail } : {}) } };
  }
  return { error: { code: 'internal', message: 'the root helper gave no answer' } };
}

/** How long one call may take: a guest's stop waits up to 20 s for QEMU, a mount for a slow disk. */
export const ROOT_CALL_TIMEOUT_MS = 90_000;

/** The argv of one call: sudo, then exactly the command the sudoers line allows, then key, operation and arguments. */
export function rootCallArgv(rec: Pick<NodeRecord, 'root' | 'node' | 'helper'>, op: string, args: readonly string[]): string[] {
  return ['sudo', '-n', rec.node, rec.helper, nodeKey(rec.root), op, ...args];
}

/**
 * Ask the root helper for one operation of its allow-list (node-cgi/root/ops.ts);
 * its answer, or its error as an HttpError. Only for a separated node.
 */
export async function rootCall<T>(rec: NodeRecord, op: string, args: readonly string[] = []): Promise<T> {
  const argv = rootCallArgv(rec, op, args);
  const r = await runAllowFail(argv, { timeoutMs: ROOT_CALL_TIMEOUT_MS, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  const a = parseHelperAnswer<T>(r.stdout);
  if ('ok' in a) return a.ok;
  const detail = [a.error.detail, r.stderr.trim() && `stderr: ${r.stderr.trim()}`].filter(Boolean).join('; ');
  throw new HttpError(a.error.code, a.error.message, `root helper ${op} ${args.join(' ')} (exit ${r.code})${detail ? `: ${detail}` : ''}`);
}

/**
 * Become the node's user for good (the `ramvm` CLI started by root, cron's
 * or an admin's): its supplementary groups from /etc/group, its group, its
 * user. Files it writes then belong to the node like those of the CGIs.
 */
export function dropPrivileges(rec: NodeRecord): void {
  (process as unknown as { initgroups(user: string, extraGroup: number): void }).initgroups(rec.cgi.user, rec.cgi.gid);
  process.setgid!(rec.cgi.gid);
  process.setuid!(rec.cgi.uid);
}
