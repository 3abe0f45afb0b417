/**
 * When jobs run, as pure functions of the jobs, the clock and the last runs.
 * cron runs `ramvm backup tick` each minute; the tick asks `dueJobs` what to
 * start and records each started occurrence as the job's `lastScheduled`.
 *
 * An occurrence is the job's start time on one of its weekdays, in the
 * node's time zone. A job is due when its latest occurrence at or before
 * now is newer than the one it last ran for (and not before the minute the
 * job was created), no
 * older than MISSED_GRACE_MS (a tick that cron skipped, or a node that was
 * busy, still runs the job; a node that was off all night does not start
 * the night's backup in the morning), and the job is not still running.
 *
 *   job { weekdays: ["mon"], start: "22:00" }, tz Europe/Vienna
 *   now Mon 22:03 local, lastScheduled = last week's Mon 22:00 → due (scheduled Mon 22:00)
 *   now Mon 22:03 local, lastScheduled = Mon 22:00             → not due (already ran)
 *
 * Daylight saving: a start time inside the spring-forward gap (02:30 on the
 * last Sunday of March in Vienna) runs at the instant the clocks skip to,
 * i.e. 03:30 local; a start time that happens twice (02:30 on the last
 * Sunday of October) runs once, at the first.
 */
import { WEEKDAYS, type BackupJob, type BackupMode, type Weekday } from './types';

/** How late a missed occurrence may still start. */
export const MISSED_GRACE_MS = 60 * 60 * 1000; // 1 h

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

export interface LocalTime {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: Weekday;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', weekday: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall clock in `tz` at instant `ms`. */
export function localTime(ms: number, tz: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(new Date(ms))) parts[p.type] = p.value;
  return {
    year: Number(parts.year), month: Number(parts.month), day: Number(parts.day),
    hour: Number(parts.hour) % 24, minute: Number(parts.minute),
    weekday: parts.weekday!.toLowerCase().slice(0, 3) as Weekday,
  };
}

/** Offset of `tz` from UTC at instant `ms`, in ms (Vienna in winter: +3600000). */
export function tzOffsetMs(ms: number, tz: string): number {
  const l = localTime(ms, tz);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute);
  return asUtc - Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/**
 * The instant a wall time happens in `tz`: the first of two in the autumn
 * overlap, the instant after the gap in the spring gap.
 */
export function instantOf(year: number, month: number, day: number, hour: number, minute: number, tz: string): number {
  const naive = Date.UTC(year, month - 1, day, hour, minute);
  const before = naive - tzOffsetMs(naive - DAY_MS, tz);
  const after = naive - tzOffsetMs(naive + DAY_MS, tz);
  const fits = (t: number) => {
    const l = localTime(t, tz);
    return l.year === year && l.month === month && l.day === day && l.hour === hour && l.minute === minute;
  };
  const ok = [before, after].filter(fits).sort((a, b) => a - b);
  if (ok.length > 0) return ok[0]!;
  // In the gap: the old offset maps the wall time to the instant the clocks jump past it.
  return before;
}

/** "22:00" → [22, 0]; throws on anything else. */
export function parseStartTime(s: string): [number, number] {
  const m = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(s);
  if (!m) throw new Error(`bad start time ${JSON.stringify(s)}; expected HH:MM`);
  return [Number(m[1]), Number(m[2])];
}

/** The calendar date `delta` days from the local date of `ms` in `tz`. */
function shiftDate(ms: number, delta: number, tz: string): { year: number; month: number; day: number; weekday: Weekday } {
  const l = localTime(ms, tz);
  const d = new Date(Date.UTC(l.year, l.month - 1, l.day + delta));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: WEEKDAYS[d.getUTCDay()]! };
}

/** The job's latest occurrence at or before `now` within the last 8 days, or null. */
export function latestOccurrence(job: Pick<BackupJob, 'weekdays' | 'start'>, now: number, tz: string): number | null {
  const [hour, minute] = parseStartTime(job.start);
  const days = new Set(job.weekdays);
  for (let back = 0; back <= 8; back++) {
    const date = shiftDate(now, -back, tz);
    if (!days.has(date.weekday)) continue;
    const t = instantOf(date.year, date.month, date.day, hour, minute, tz);
    if (t <= now) return t;
  }
  return null;
}

export interface JobRunState {
  /** The occurrence (unix ms) the job last started for. */
  lastScheduled: number;
  /** Task of the last or current run. */
  task?: string;
}

export interface DueJob {
  id: string;
  /** The occurrence it runs for. */
  scheduled: number;
}

/**
 * Which jobs to start now. `running` holds jobs whose last task still runs;
 * only enabled jobs of `node` count.
 */
export function dueJobs(
  jobs: readonly BackupJob[],
  now: number,
  last: Readonly<Record<string, JobRunState>>,
  running: ReadonlySet<string>,
  node: string,
  tz: string,
): DueJob[] {
  const out: DueJob[] = [];
  for (const job of jobs) {
    if (!job.enabled || job.node !== node || job.weekdays.length === 0) continue;
    const occ = latestOccurrence(job, now, tz);
    if (occ === null) continue;
    // A job created during its start minute still runs for it.
    const createdMinute = job.created - (job.created % MINUTE_MS);
    if (occ <= (last[job.id]?.lastScheduled ?? 0) || occ < createdMinute || now - occ > MISSED_GRACE_MS) continue;
    if (running.has(job.id)) continue;
    out.push({ id: job.id, scheduled: occ });
  }
  return out.sort((a, b) => a.scheduled - b.scheduled || a.id.localeCompare(b.id));
}

/** The next occurrence strictly after `now` (for the UI), or null when the job has no weekdays. */
export function nextOccurrence(job: Pick<BackupJob, 'weekdays' | 'start'>, now: number, tz: string): number | null {
  if (job.weekdays.length === 0) return null;
  const [hour, minute] = parseStartTime(job.start);
  const days = new Set(job.weekdays);
  for (let ahead = 0; ahead <= 8; ahead++) {
    const date = shiftDate(now, ahead, tz);
    if (!days.has(date.weekday)) continue;
    const t = instantOf(date.year, date.month, date.day, hour, minute, tz);
    if (t > now) return t;
  }
  return null;
}

export interface GuestInfo {
  vmid: number;
  name: string | null;
  node: string;
  status: 'running' | 'paused' | 'stopped';
}

export type PlanStep =
  | { vmid: number; action: 'backup'; mode: BackupMode; method: 'live' | 'offline'; restart: boolean }
  | { vmid: number; action: 'missing'; reason: string };

/**
 * What a backup job does, guest by guest: all guests of its node or its
 * selection, in VMID order; a running guest is copied live (snapshot) or
 * shut down and restarted (stop); a stopped guest is copied offline and
 * stays stopped; in cluster mode every guest is copied from its replicas on
 * the peer (offline there, running or not here); a selected guest that does
 * not exist here is a failure.
 *
 *   backupPlan({ vmids: [101, 105], mode: "stop" }, [101 running, 102 stopped], "pve1")
 *   → [{ vmid: 101, action: "backup", mode: "stop", method: "offline", restart: true },
 *      { vmid: 105, action: "missing", reason: "no guest 105 on node pve1" }]
 */
export function backupPlan(
  job: Pick<BackupJob, 'vmids' | 'mode'>,
  guests: readonly GuestInfo[],
  node: string,
): PlanStep[] {
  const here = new Map(guests.filter((g) => g.node === node).map((g) => [g.vmid, g]));
  const wanted = job.vmids === 'all' ? [...here.keys()] : [...new Set(job.vmids)];
  return wanted.sort((a, b) => a - b).map((vmid): PlanStep => {
    const g = here.get(vmid);
    if (!g) return { vmid, action: 'missing', reason: `no guest ${vmid} on node ${node}` };
    if (job.mode === 'cluster') return { vmid, action: 'backup', mode: 'cluster', method: 'offline', restart: false };
    const up = g.status !== 'stopped';
    if (!up) return { vmid, action: 'backup', mode: job.mode, method: 'offline', restart: false };
    if (job.mode === 'stop') return { vmid, action: 'backup', mode: 'stop', method: 'offline', restart: true };
    return { vmid, action: 'backup', mode: 'snapshot', method: 'live', restart: false };
  });
}
