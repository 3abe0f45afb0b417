/**
 * The pure side of the Cluster page: the form checks (the node's rules:
 * node-cgi/cluster/model.ts and identity.ts; a unit test keeps them
 * agreeing), the one line a join token travels in, and which node may be
 * removed.
 *
 *   joinLine({ url: 'https://10.0.0.1:8007', token: 'rjt_…', fingerprint: '90:FB:…' })
 *   → 'ramvm cluster join https://10.0.0.1:8007 rjt_… 90:FB:…'
 *   parseJoinLine('ramvm cluster join https://10.0.0.1:8007 rjt_… 90:FB:…')
 *   → { master: 'https://10.0.0.1:8007', token: 'rjt_…', fingerprint: '90:FB:…' }
 *   removal(n2, cluster, 1) → ['cluster.remove.hasGuests', { count: 1 }]
 */
import type { ClusterNodeView, ClusterView, JoinTokenAnswer } from '../../../node-cgi/api-types';
import type { MessageKey } from '../../i18n';

export interface JoinForm {
  /** The master's cluster URL. */
  master: string;
  token: string;
  fingerprint: string;
}

export type JoinField = keyof JoinForm;
export type Issue = [MessageKey, Record<string, string | number>?];

const CLUSTER_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const HOST_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)$/;
const URL_RE = /^https:\/\/([^/?#@]+?)(:\d{1,5})?\/?$/;
const TOKEN_RE = /^rjt_[A-Za-z0-9_-]{43}$/;
const FINGERPRINT_RE = /^(([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{64})$/;

/** What is wrong with a new cluster's name, or null. */
export function clusterNameIssue(name: string): Issue | null {
  if (name.trim() === '') return ['field.required'];
  return CLUSTER_NAME_RE.test(name) ? null : ['cluster.err.name'];
}

/** The join form's own checks, per field. */
export function joinIssues(f: JoinForm): Partial<Record<JoinField, Issue>> {
  const out: Partial<Record<JoinField, Issue>> = {};
  const m = URL_RE.exec(f.master.trim());
  if (f.master.trim() === '') out.master = ['field.required'];
  else if (!m || !HOST_RE.test(m[1]!) || (m[2] && Number(m[2].slice(1)) > 65535)) out.master = ['cluster.err.url'];
  if (f.token.trim() === '') out.token = ['field.required'];
  else if (!TOKEN_RE.test(f.token.trim())) out.token = ['cluster.err.token'];
  if (f.fingerprint.trim() === '') out.fingerprint = ['field.required'];
  else if (!FINGERPRINT_RE.test(f.fingerprint.trim())) out.fingerprint = ['cluster.err.fingerprint'];
  return out;
}

/** The POST /api/cluster/join body of a form that passed joinIssues(). */
export const joinBody = (f: JoinForm): JoinForm => ({ master: f.master.trim(), token: f.token.trim(), fingerprint: f.fingerprint.trim() });

/** The line that carries a join token to the joining node: the `ramvm` command that joins, pasted whole into its form. */
export const joinLine = (a: Pick<JoinTokenAnswer, 'url' | 'token' | 'fingerprint'>): string => `ramvm cluster join ${a.url} ${a.token} ${a.fingerprint}`;

/** The three fields of a pasted join line (with or without "ramvm cluster join"); null when it is none. */
export function parseJoinLine(text: string): JoinForm | null {
  const words = text.trim().split(/\s+/);
  const args = words.slice(0, 3).join(' ') === 'ramvm cluster join' ? words.slice(3) : words;
  if (args.length !== 3 || !args[0]!.startsWith('https://') || !args[1]!.startsWith('rjt_')) return null;
  return { master: args[0]!, token: args[1]!, fingerprint: args[2]! };
}

/** Why node `n` may not be removed now (the master itself, a node with guests), or null. */
export function removal(n: Pick<ClusterNodeView, 'name' | 'master'>, c: Pick<ClusterView, 'name'>, guests: number): Issue | null {
  if (n.master) return ['cluster.remove.isMaster', { cluster: c.name ?? '' }];
  if (guests > 0) return ['cluster.remove.hasGuests', { count: guests }];
  return null;
}
