/**
 * Other processes as /proc shows them: whether one still runs and whether
 * it is still the one we mean. A pid is reused once its process is gone,
 * so a record "pid 4242 runs task X" is checked against the process's own
 * argv (/proc/<pid>/cmdline: NUL-separated):
 *
 *   /proc/4242/cmdline "node\0/usr/lib/ramvm/bin/ramvm\0task\0run\02026…-a3f90c\0"
 *   processAlive(4242, "2026…-a3f90c") → true;  processAlive(4242, "other") → false
 */
import { readFileSync } from 'node:fs';

/** The argv of process `pid`; null when it is gone (or not ours to read). */
export function processArgv(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

/** True while `pid` runs and, when `mark` is given, has `mark` among its arguments. */
export function processAlive(pid: number, mark?: string): boolean {
  const argv = processArgv(pid);
  return argv !== null && (mark === undefined || argv.includes(mark));
}

/** True while a process `pid` exists, ours or another user's (kill(pid, 0)). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
