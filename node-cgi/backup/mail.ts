/**
 * The mail a backup job sends: on failure always, on success when asked.
 * Pure text (RFC 5322 headers, a summary table, the log's tail); the edge
 * pipes it into the configured sendmail command (`sendmail -t -oi` reads the
 * recipients from the headers).
 *
 *   Subject: ramvm backup FAILED on pve1: job nightly (1 of 2 guests failed)
 *
 *   guest  result  mode      size      time   message
 *   101    ok      snapshot  1.2 GiB   42 s   verified
 *   102    FAILED  stop      -         3 s    qemu-img: No space left on device
 *
 * Replicated disks of the node in trouble (drbd/guest.ts replicaWarning)
 * are as impossible to miss: a mail is sent for them even after a job
 * that succeeded quietly, its subject says so, and a section lists them:
 *
 *   Subject: ramvm backup ok on pve1: job nightly (2 guests); 1 REPLICATED DISK IN TROUBLE
 *
 *   REPLICATED DISKS IN TROUBLE (the guest's data is on one node only):
 *     vm-101-disk-0 (guest 101): disconnected from pve2 (WFConnection): writes are not replicated
 */
import { formatBytes } from '../lib/format';

export interface GuestResult {
  vmid: number;
  ok: boolean;
  mode: string;
  size: number | null;
  durationMs: number;
  message: string;
}

export interface MailInput {
  to: string;
  from: string;
  node: string;
  /** Job id, or null for a manual run. */
  job: string | null;
  task: string;
  ok: boolean;
  /** Failure of the job as a whole (mount, storage), if any. */
  error: string | null;
  results: readonly GuestResult[];
  logTail: readonly string[];
  /** RFC 2822 date of sending. */
  date: Date;
  /** This node's replicated disks in trouble, one line each ("vm-101-disk-0 (guest 101): …"). */
  replicaWarnings?: readonly string[];
}

/** Strip what could break a header line. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ').slice(0, 200);

export function mailSubject(m: Pick<MailInput, 'ok' | 'node' | 'job' | 'results' | 'error' | 'replicaWarnings'>): string {
  const what = m.job ? `job ${m.job}` : 'manual backup';
  const failed = m.results.filter((r) => !r.ok).length;
  const detail = m.error && m.results.length === 0 ? oneLine(m.error) : `${failed} of ${m.results.length} guests failed`;
  const n = m.replicaWarnings?.length ?? 0;
  const replicas = n ? `; ${n} REPLICATED DISK${n === 1 ? '' : 'S'} IN TROUBLE` : '';
  return oneLine(`${m.ok ? `ramvm backup ok on ${m.node}: ${what} (${m.results.length} guests)` : `ramvm backup FAILED on ${m.node}: ${what} (${detail})`}${replicas}`);
}

/** Whether a job's mail goes out: on failure, on success when asked, and whenever a replicated disk is in trouble. */
export function mailDue(ok: boolean, mailOnSuccess: boolean, replicaWarnings: readonly string[]): boolean {
  return !ok || mailOnSuccess || replicaWarnings.length > 0;
}

export function mailMessage(m: MailInput): string {
  const rows = [['guest', 'result', 'mode', 'size', 'time', 'message']].concat(
    m.results.map((r) => [String(r.vmid), r.ok ? 'ok' : 'FAILED', r.mode, r.size === null ? '-' : formatBytes(r.size), `${Math.round(r.durationMs / 1000)} s`, oneLine(r.message)]),
  );
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n');
  const body = [
    m.ok ? 'All backups were written and verified by reading them back.' : 'THE BACKUP FAILED. Guests marked FAILED have no new verified backup.',
    '',
    ...(m.error ? [`Error: ${oneLine(m.error)}`, ''] : []),
    ...(m.replicaWarnings?.length ? ['REPLICATED DISKS IN TROUBLE (the guest\'s data is on one node only):', ...m.replicaWarnings.map((w) => `  ${oneLine(w)}`), ''] : []),
    table,
    '',
    `Node: ${m.node}`,
    `Task: ${m.task}`,
    '',
    `Last ${m.logTail.length} lines of the log:`,
    ...m.logTail.map((l) => `  ${l}`),
    '',
  ].join('\n');
  return [
    `From: ${oneLine(m.from)}`,
    `To: ${oneLine(m.to)}`,
    `Subject: ${mailSubject(m)}`,
    `Date: ${m.date.toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    `X-Ramvm-Task: ${m.task}`,
    '',
    body,
  ].join('\n');
}
