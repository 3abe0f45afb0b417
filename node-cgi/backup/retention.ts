/**
 * Which backups retention removes: a pure function of the backups of one
 * guest on one storage, the policy and the time zone. It runs only after a
 * new backup of that guest was verified.
 *
 * Only verified backups fill the keep slots and only they are ever removed;
 * an unverified one (damaged, found by a verify job) stays until an admin
 * deletes it. The newest verified backup is always kept. Rules are applied
 * in order last → daily → weekly → monthly; each rule keeps the newest
 * backup of each of its N newest periods (local day, ISO week, month) not
 * already covered by an earlier rule, and passes over the older backups of
 * a period it kept — as `proxmox-backup`'s prune does.
 *
 *   backups (newest first): Tue 22:00, Tue 03:00, Mon 22:00, Sun 22:00, Sat 22:00
 *   { keepLast: 1, keepDaily: 2 } → keep Tue 22:00 (last), Mon 22:00 (daily), Sun 22:00 (daily)
 *   → delete Tue 03:00, Sat 22:00
 */
import { localTime } from './schedule';
import type { RetentionPolicy } from './types';

export interface RetentionItem {
  id: string;
  /** Unix ms of the backup's start. */
  time: number;
  verified: boolean;
}

/** "2026-11-25" */
function dayKey(ms: number, tz: string): string {
  const l = localTime(ms, tz);
  return `${l.year}-${l.month}-${l.day}`;
}

/** ISO 8601 week of the local date: "2026-W48". */
function weekKey(ms: number, tz: string): string {
  const l = localTime(ms, tz);
  const d = new Date(Date.UTC(l.year, l.month - 1, l.day));
  d.setUTCDate(d.getUTCDate() + 4 - (d.getUTCDay() || 7)); // the Thursday of its week names the year
  const year = d.getUTCFullYear();
  const week = Math.ceil(((d.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${week}`;
}

function monthKey(ms: number, tz: string): string {
  const l = localTime(ms, tz);
  return `${l.year}-${l.month}`;
}

/** Ids to delete, oldest first. */
export function retentionToDelete(items: readonly RetentionItem[], policy: RetentionPolicy, tz: string): string[] {
  const verified = items.filter((b) => b.verified).sort((a, b) => b.time - a.time || b.id.localeCompare(a.id));
  if (verified.length === 0) return [];
  const nothing = policy.keepLast + policy.keepDaily + policy.keepWeekly + policy.keepMonthly === 0;
  const rules: [number, (ms: number) => string][] = [
    [nothing ? 1 : policy.keepLast, (ms) => String(ms)],
    [policy.keepDaily, (ms) => dayKey(ms, tz)],
    [policy.keepWeekly, (ms) => weekKey(ms, tz)],
    [policy.keepMonthly, (ms) => monthKey(ms, tz)],
  ];
  // id → kept (true) or passed over within a kept period (false); unmarked ones are removed.
  const mark = new Map<string, boolean>();
  for (const [n, key] of rules) {
    if (n <= 0) continue;
    const covered = new Set(verified.filter((b) => mark.get(b.id) === true).map((b) => key(b.time)));
    const periods = new Set<string>();
    for (const b of verified) {
      if (mark.has(b.id)) continue;
      const k = key(b.time);
      if (covered.has(k)) continue;
      if (periods.has(k)) {
        mark.set(b.id, false);
        continue;
      }
      if (periods.size >= n) break;
      periods.add(k);
      mark.set(b.id, true);
    }
  }
  const keep = new Set([verified[0]!.id, ...[...mark].filter(([, k]) => k).map(([id]) => id)]);
  return verified.filter((b) => !keep.has(b.id)).map((b) => b.id).reverse();
}
