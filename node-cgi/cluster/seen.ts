/**
 * When each other node of the cluster last answered this one, so a node
 * that does not answer can be shown "not answering since …". Node-local
 * (run/ramvm/cluster-seen.json, Unix seconds), noted by whatever asks every
 * node anyway: GET /api/cluster and the minute tick. A node's time is
 * written again only once it is SEEN_WRITE_S old, so the polls of open
 * pages do not write on every ask.
 *
 *   seenAfter({ n2: 1000, n3: 900 }, [{ node: 'n2', ok: true }, { node: 'n3', ok: false }], 1100)
 *   → { n2: 1100, n3: 900 }
 *   seenAfter({ n2: 1090 }, [{ node: 'n2', ok: true }], 1100) → null   (nothing worth writing)
 */
import { paths } from '../lib/paths';
import { readJson, updateJson } from '../lib/store';

/** How old a node's time may get before an answer of it is written down. */
export const SEEN_WRITE_S = 30;

export type Seen = Record<string, number>;

/** The times after these answers, or null when none is SEEN_WRITE_S older than now. */
export function seenAfter(prev: Seen, answers: readonly { node: string; ok: boolean }[], nowS: number): Seen | null {
  const due = answers.filter((a) => a.ok && nowS - (prev[a.node] ?? 0) >= SEEN_WRITE_S);
  if (due.length === 0) return null;
  const next = { ...prev };
  for (const a of due) next[a.node] = nowS;
  return next;
}

/** Note which nodes answered now; returns when each node last answered. */
export function noteSeen(answers: readonly { node: string; ok: boolean }[], nowS = Math.floor(Date.now() / 1000)): Seen {
  const file = paths().clusterSeen;
  const prev = readJson<Seen>(file, {});
  if (!seenAfter(prev, answers, nowS)) return prev;
  return updateJson<Seen>(file, {}, (now) => seenAfter(now, answers, nowS) ?? now);
}
