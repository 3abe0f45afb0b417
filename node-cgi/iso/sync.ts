/**
 * What makes a node's ISO library like the master's, as data. The master
 * compares its own images with the list a node sent (GET /api/iso/cluster)
 * and gets the steps; a copy travels as the node's own upload would, its
 * SHA-256 and provenance in the signed target.
 *
 *   master: a.iso (aa…), b.iso (bb…)
 *   n2:     b.iso (b0…, from n1, CD-ROM of 105), c.iso (cc…, from n1), own.iso (its own upload)
 *   → steps: copy a.iso; remove c.iso
 *     kept:  "b.iso on n2 is not the master's image and is the CD-ROM of guest 105 there: not replaced"
 *     own.iso stays: a node's own images (uploaded before it joined) are its own
 *
 *   copyTarget(a.iso) → "/api/iso/cluster/a.iso?sha256=aa…&user=anna&uploaded=2026-11-25T10%3A15%3A00.123Z"
 *
 * The rules: every image of the master (with a checksum) is on the node
 * with the same SHA-256, unless the node's different image of that name is
 * a guest's CD-ROM there; a copy the master sent (`from` set) that the
 * master no longer has is removed, unless a guest there uses it. `only`
 * limits the steps to some names (after one upload or delete).
 */
import { badRequest, invalid } from '../lib/errors';
import { checkedHostname, checkedUsername } from '../lib/validate';
import type { IsoImage } from './library';
import { checkedIsoName, isIsoName } from './names';
import type { UploadRequest } from './upload';

/** An image of a node's library as the master needs to know it. */
export interface NodeImage {
  name: string;
  size: number;
  sha256: string | null;
  /** The node that sent it (a cluster's copy); null for the node's own. */
  from: string | null;
  /** VMIDs of the node's guests whose CD-ROM it is. */
  usedBy: number[];
}

export type SyncStep =
  | { op: 'copy'; name: string; size: number; sha256: string; user: string; uploaded: string }
  | { op: 'remove'; name: string };

export interface SyncPlan {
  steps: SyncStep[];
  /** Why an image differs and is left as it is, one sentence each. */
  kept: string[];
}

const SHA256_RE = /^[0-9a-f]{64}$/;

const guestsText = (vmids: readonly number[]) => `guest${vmids.length > 1 ? 's' : ''} ${vmids.join(', ')}`;

/** The steps that make `node`'s library (`theirs`) like the master's (`mine`), limited to `only` when given. */
export function syncPlan(node: string, mine: readonly IsoImage[], theirs: readonly NodeImage[], only: readonly string[] | null = null): SyncPlan {
  const wanted = (name: string) => !only || only.includes(name);
  const byName = new Map(theirs.map((i) => [i.name, i]));
  const masterNames = new Set(mine.map((i) => i.name));
  const steps: SyncStep[] = [];
  const kept: string[] = [];
  for (const m of mine) {
    if (!wanted(m.name)) continue;
    const t = byName.get(m.name);
    if (m.sha256 === null) {
      kept.push(`${m.name} has no checksum on the master (put into its folder by other means): not copied; upload it through the API`);
      continue;
    }
    if (t && t.sha256 === m.sha256 && t.size === m.size) continue;
    if (t && t.usedBy.length > 0) {
      kept.push(`${m.name} on ${node} is not the master's image and is the CD-ROM of ${guestsText(t.usedBy)} there: not replaced`);
      continue;
    }
    steps.push({ op: 'copy', name: m.name, size: m.size, sha256: m.sha256, user: m.user ?? 'root', uploaded: m.date });
  }
  for (const t of theirs) {
    if (!wanted(t.name) || masterNames.has(t.name) || t.from === null) continue;
    if (t.usedBy.length > 0) {
      kept.push(`${t.name} is gone from the master but is the CD-ROM of ${guestsText(t.usedBy)} on ${node}: not removed there`);
      continue;
    }
    steps.push({ op: 'remove', name: t.name });
  }
  return { steps, kept };
}

/** What GET /api/iso/cluster answers: the library without guest names. */
export function nodeImages(images: readonly IsoImage[]): NodeImage[] {
  return images.map((i) => ({ name: i.name, size: i.size, sha256: i.sha256, from: i.from ?? null, usedBy: i.usedBy.map((g) => g.vmid) }));
}

/** A node's answer to GET /api/iso/cluster, checked entry by entry; throws naming the first bad one. */
export function parseNodeImages(value: unknown): NodeImage[] {
  if (!Array.isArray(value)) throw new Error('the library list is not an array');
  return value.map((v, i) => {
    const e = v as Record<string, unknown> | null;
    const bad = (what: string) => new Error(`entry ${i} of the library list: ${what}`);
    if (!e || typeof e !== 'object') throw bad('not an object');
    if (typeof e.name !== 'string' || !isIsoName(e.name)) throw bad('not an image name');
    if (!Number.isSafeInteger(e.size) || (e.size as number) < 0) throw bad('size is not a byte count');
    if (e.sha256 !== null && (typeof e.sha256 !== 'string' || !SHA256_RE.test(e.sha256))) throw bad('sha256 is not 64 hex digits or null');
    if (e.from !== null && (typeof e.from !== 'string' || !isHostname(e.from))) throw bad('from is not a node name or null');
    if (!Array.isArray(e.usedBy) || !e.usedBy.every((x) => Number.isSafeInteger(x))) throw bad('usedBy is not a list of VMIDs');
    return { name: e.name, size: e.size as number, sha256: e.sha256 as string | null, from: e.from as string | null, usedBy: e.usedBy as number[] };
  });
}

function isHostname(v: string): boolean {
  try {
    checkedHostname(v);
    return true;
  } catch {
    return false;
  }
}

/** Where the master sends a copy: the image's name, checksum, uploader and upload time, all signed. */
export function copyTarget(step: Extract<SyncStep, { op: 'copy' }>): string {
  const q = new URLSearchParams({ sha256: step.sha256, user: step.user, uploaded: step.uploaded });
  return `/api/iso/cluster/${encodeURIComponent(step.name)}?${q}`;
}

/** Where the master removes its copy. */
export const removeTarget = (name: string) => `/api/iso/cluster/${encodeURIComponent(name)}`;

/**
 * PUT /api/iso/cluster/<name> from node `from`, as an upload that replaces
 * an image of that name unless a guest uses it, and must arrive with the
 * SHA-256 named; 400 naming the field otherwise.
 */
export function parseCopyRequest(name: unknown, query: URLSearchParams, contentLength: number | null, from: string): UploadRequest {
  const checkedName = checkedIsoName(name);
  for (const k of query.keys()) if (!['sha256', 'user', 'uploaded'].includes(k)) throw invalid(k, 'unknown parameter');
  const sha256 = query.get('sha256');
  if (sha256 === null || !SHA256_RE.test(sha256)) throw invalid('sha256', 'must be 64 lower-case hexadecimal digits: a copy is verified on arrival');
  const uploaded = query.get('uploaded');
  if (uploaded === null || Number.isNaN(Date.parse(uploaded)) || new Date(uploaded).toISOString() !== uploaded) {
    throw invalid('uploaded', 'must be a UTC time like 2026-11-25T10:15:00.123Z');
  }
  if (contentLength === null || contentLength === 0) throw badRequest('a copy needs its Content-Length and a body');
  return {
    name: checkedName,
    size: contentLength,
    expectedSha256: sha256,
    replace: true,
    user: checkedUsername(query.get('user'), 'user'),
    copy: { from, uploaded },
  };
}
