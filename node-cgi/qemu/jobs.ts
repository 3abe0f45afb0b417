/**
 * QEMU's block jobs (backups, streams, mirrors) as QMP shows them, and
 * getting rid of them: a job that ends "concluded" stays until it is
 * dismissed (we start them with auto-dismiss off, so their error can be
 * read); one still running is cancelled first.
 *
 *   → {"execute": "query-jobs"}
 *   ← {"return": [{"id": "ramvm-backup-101-0", "type": "backup", "status": "running",
 *                   "current-progress": 1048576, "total-progress": 67108864}]}
 *   → {"execute": "job-cancel", "arguments": {"id": "ramvm-backup-101-0"}}   … "status": "concluded", "error": "…"
 *   → {"execute": "job-dismiss", "arguments": {"id": "ramvm-backup-101-0"}}
 *
 * Reference: https://qemu-project.gitlab.io/qemu/interop/qemu-qmp-ref.html (query-jobs, job-cancel, job-dismiss)
 */
import { HttpError } from '../lib/errors';
import { withQmp } from './qmp';

/** Time cancelled jobs get to conclude. */
export const JOB_CANCEL_TIMEOUT_MS = 60_000;
/** Time between two looks at jobs being cancelled. */
const DROP_POLL_MS = 100;

export interface QueryJob {
  id: string;
  type?: string;
  /** "created", "running", "ready", "aborting", "concluded", "null", … */
  status: string;
  'current-progress': number;
  'total-progress': number;
  /** Set when a concluded job failed. */
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function queryJobs(socket: string): Promise<QueryJob[]> {
  return withQmp(socket, (q) => q.execute<QueryJob[]>('query-jobs'));
}

/**
 * Cancel the jobs whose id `which` selects and dismiss each once it has
 * concluded, until none is left; `seen` hears what was done to which job.
 * Throws 504 (`what` … "does not end") when they outlast JOB_CANCEL_TIMEOUT_MS.
 */
export async function dropJobs(
  socket: string,
  which: (id: string) => boolean,
  what: string,
  seen: (job: QueryJob, action: 'dismissed' | 'cancelled') => void = () => undefined,
): Promise<void> {
  const deadline = Date.now() + JOB_CANCEL_TIMEOUT_MS;
  for (;;) {
    const jobs = (await queryJobs(socket)).filter((j) => which(j.id));
    if (jobs.length === 0) return;
    await withQmp(socket, async (q) => {
      for (const j of jobs) {
        if (j.status === 'concluded') {
          await q.execute('job-dismiss', { id: j.id });
          seen(j, 'dismissed');
        } else if (j.status !== 'aborting') {
          await q.execute('job-cancel', { id: j.id }).catch(() => undefined);
          seen(j, 'cancelled');
        }
      }
    });
    if (Date.now() > deadline) throw new HttpError('timeout', `${what} does not end`);
    await sleep(DROP_POLL_MS);
  }
}
