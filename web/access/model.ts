/**
 * What the Users view, My account and the Permissions panel show, shaped as
 * /api/access answers, and the pure steps between a form and a request:
 *
 *   expireFromDate('2026-12-31')  → 1798675200   (the last second of that day, UTC, in Unix seconds)
 *   dateFromExpire(0)             → ''            (0 = never expires)
 *   aclBody({ path: '/vms/101', kind: 'user', name: 'anna', role: 'VMUser', propagate: true })
 *     → { path: '/vms/101', user: 'anna', role: 'VMUser', propagate: true }
 *   principalOf({ path: '/', group: 'staff', role: 'Auditor', propagate: true }) → { kind: 'group', name: 'staff' }
 */

/** The /api/access answers: the node's own types, imported type-only. */
import type { AclEntryView, AuditEvent, GroupView, NewToken, RoleView, TokenView, UserView } from '../../node-cgi/api-types';

export type { AclEntryView, GroupView, NewToken, RoleView, TokenView, UserView };
/** GET /api/access/audit */
export type AuditView = AuditEvent;

export type PrincipalKind = 'user' | 'group' | 'token';
export const PRINCIPAL_KINDS: readonly PrincipalKind[] = ['user', 'group', 'token'];

export function principalOf(e: Pick<AclEntryView, 'user' | 'group' | 'token'>): { kind: PrincipalKind; name: string } {
  if (e.user !== undefined) return { kind: 'user', name: e.user };
  if (e.group !== undefined) return { kind: 'group', name: e.group };
  return { kind: 'token', name: e.token ?? '' };
}

export interface AclForm {
  path: string;
  kind: PrincipalKind;
  name: string;
  role: string;
  propagate: boolean;
}

/** The PUT /api/access/acl body of the add form. */
export function aclBody(f: AclForm): Record<string, unknown> {
  return { path: f.path.trim(), [f.kind]: f.name.trim(), role: f.role, propagate: f.propagate };
}

/** Which entry DELETE /api/access/acl removes: { path: '/vms/101', user: 'anna' }. */
export function aclTarget(e: Pick<AclEntryView, 'path' | 'user' | 'group' | 'token'>): Record<string, string> {
  const p = principalOf(e);
  return { path: e.path, [p.kind]: p.name };
}

/** A stable key of an entry (one per path and principal). */
export const aclKey = (e: Pick<AclEntryView, 'path' | 'user' | 'group' | 'token'>): string => {
  const p = principalOf(e);
  return `${e.path}\u0000${p.kind}\u0000${p.name}`;
};

const DAY_S = 86_400;

/** "YYYY-MM-DD" of a date input → Unix seconds at the end of that day (UTC); '' → 0 (never). Null: no such date. */
export function expireFromDate(date: string): number | null {
  if (date.trim() === '') return 0;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.trim());
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(ms);
  if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) return null;
  return ms / 1000 + DAY_S - 1;
}

/** Unix seconds → "YYYY-MM-DD" (UTC) for a date input; 0 → ''. */
export function dateFromExpire(expire: number): string {
  if (!expire) return '';
  return new Date(expire * 1000).toISOString().slice(0, 10);
}

/** The user form → the POST (create) or PUT (edit) body; only changed fields on edit, the password only when typed. */
export interface UserForm {
  username: string;
  fullname: string;
  email: string;
  comment: string;
  enabled: boolean;
  expire: string;
  groups: string[];
  password: string;
}

export function userBody(f: UserForm, before: UserView | null): Record<string, unknown> | { error: 'expire' } {
  const expire = expireFromDate(f.expire);
  if (expire === null) return { error: 'expire' };
  const all: Record<string, unknown> = {
    fullname: f.fullname.trim(),
    email: f.email.trim(),
    comment: f.comment.trim(),
    enabled: f.enabled,
    expire,
    groups: [...f.groups].sort(),
  };
  if (!before) return { username: f.username.trim(), password: f.password, ...all };
  const out: Record<string, unknown> = {};
  const was: Record<string, unknown> = { ...before, groups: [...before.groups].sort() };
  for (const [k, v] of Object.entries(all)) if (JSON.stringify(v) !== JSON.stringify(was[k])) out[k] = v;
  if (f.password !== '') out.password = f.password;
  return out;
}

/** Privilege a user holds on "/" or below (GET /api/access/me). */
export const holds = (privileges: readonly string[], priv: string): boolean => privileges.includes(priv);
