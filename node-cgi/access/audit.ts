/**
 * The audit log: logins, failed logins and every change to users, groups,
 * ACL entries and API tokens, one JSON object per line in
 * var/log/ramvm/audit.log:
 *
 *   {"time":"2026-11-25T10:15:00.123Z","node":"pve1","user":"admin","addr":"10.0.0.5",
 *    "action":"acl.set","object":"/vms/101","ok":true,"detail":{"user":"anna","role":"VMUser"}}
 *
 * Each line is one write(2) on a file opened with O_APPEND, so concurrent
 * CGIs never interleave or overwrite lines (lines stay far below a page).
 * Above AUDIT_ROTATE_BYTES the file moves to audit.log.1 (one generation
 * kept) under a lock; readers read both. Secrets and hashes never enter it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { nodeName, paths } from '../lib/paths';
import { withLock } from '../lib/store';
import { log } from '../lib/cgi';

/** Rotate to audit.log.1 beyond this size. */
export const AUDIT_ROTATE_BYTES = 4 * 1024 * 1024; // 4 MiB
/** A detail longer than this (as JSON) is cut, so a line stays one small write. */
const DETAIL_MAX_CHARS = 1024;

export type AuditAction =
  | 'login' | 'login.failed' | 'login.throttled' | 'logout'
  | 'user.create' | 'user.update' | 'user.delete' | 'user.password'
  | 'group.create' | 'group.update' | 'group.delete'
  | 'acl.set' | 'acl.delete'
  | 'token.create' | 'token.delete';

export interface AuditEvent {
  /** ISO time. */
  time: string;
  node: string;
  /** Who acted (the user name tried, for failed logins). */
  user: string;
  /** "user!tokenid" when the request came with an API token. */
  token?: string;
  addr?: string;
  action: AuditAction;
  /** What it acted on: a user name, group, ACL path or token id. */
  object?: string;
  ok: boolean;
  detail?: unknown;
}

export const auditFile = () => paths().auditLog;

/** One line for the log: JSON without newlines, the detail cut when long. */
export function auditLine(e: AuditEvent): string {
  const ev: AuditEvent = { ...e };
  if (ev.detail !== undefined) {
    const d = JSON.stringify(ev.detail);
    if (d.length > DETAIL_MAX_CHARS) ev.detail = d.slice(0, DETAIL_MAX_CHARS) + '…';
  }
  return JSON.stringify(ev) + '\n';
}

/** Parse the log's text; broken lines (a crash mid-write, hand edits) are skipped. */
export function parseAuditLines(text: string): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const v = JSON.parse(line) as AuditEvent;
      if (v && typeof v === 'object' && typeof v.action === 'string' && typeof v.time === 'string') out.push(v);
    } catch {
      /* skipped */
    }
  }
  return out;
}

/** Append an event; a failure to log is reported to stderr and never fails the request. */
export function audit(e: Omit<AuditEvent, 'time' | 'node'>, now = new Date()): void {
  const file = auditFile();
  try {
    const line = Buffer.from(auditLine({ time: now.toISOString(), node: nodeName(), ...e }));
    mkdirSync(paths().log, { recursive: true });
    const fd = openSync(file, 'a', 0o640);
    try {
      writeSync(fd, line);
    } finally {
      closeSync(fd);
    }
    if (statSync(file).size > AUDIT_ROTATE_BYTES) rotate(file);
  } catch (err) {
    log(`audit log: ${(err as Error).message}; lost event ${e.action} ${e.object ?? ''} by ${e.user}`);
  }
}

function rotate(file: string): void {
  withLock('audit-rotate', () => {
    // Another process may have rotated while this one waited.
    if (statSync(file).size > AUDIT_ROTATE_BYTES) renameSync(file, `${file}.1`);
  });
}

export interface AuditQuery {
  limit: number;
  user?: string;
  action?: string;
}

/** Newest first, at most `limit` events. */
export function readAudit(q: AuditQuery): AuditEvent[] {
  const file = auditFile();
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw e;
    }
  };
  return filterAudit(parseAuditLines(read(`${file}.1`) + read(file)), q);
}

export function filterAudit(events: readonly AuditEvent[], q: AuditQuery): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let i = events.length - 1; i >= 0 && out.length < q.limit; i--) {
    const e = events[i]!;
    if (q.user !== undefined && e.user !== q.user) continue;
    if (q.action !== undefined && e.action !== q.action && !e.action.startsWith(q.action + '.')) continue;
    out.push(e);
  }
  return out;
}
