/**
 * Locks held for the length of a backup (minutes to hours), unlike the
 * store's short locks: one backup per guest at a time, one job per mounted
 * device at a time. `<locks>/<name>.lock/owner` holds "<pid> <task id>"; a
 * lock whose process is gone (kill -9, reboot) is broken by the next taker.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HttpError } from '../lib/errors';
import { lockDir, paths } from '../lib/paths';
import { processAlive } from '../lib/proc';

const POLL_MS = 1000;

function tryTake(dir: string, task: string): string | null {
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, 'owner'), `${process.pid} ${task}\n`);
    return null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let owner = '';
  try {
    owner = readFileSync(join(dir, 'owner'), 'utf8').trim();
  } catch {
    return 'unknown';
  }
  const [pid, holder] = owner.split(' ');
  if (processAlive(Number(pid), holder)) return holder ?? 'unknown';
  const grave = `${dir}.stale.${randomBytes(3).toString('hex')}`;
  try {
    renameSync(dir, grave);
    rmSync(grave, { recursive: true, force: true });
  } catch {
    // Someone else broke it first.
  }
  return tryTake(dir, task);
}

/**
 * Take the lock `name` for `task`; waits up to `waitMs` while another live
 * task holds it, then fails with 409 naming the holder. Returns the release.
 */
export async function takeLongLock(name: string, task: string, waitMs: number, onWait?: (holder: string) => void): Promise<() => void> {
  mkdirSync(paths().locks, { recursive: true });
  const dir = lockDir(name);
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const holder = tryTake(dir, task);
    if (holder === null) return () => rmSync(dir, { recursive: true, force: true });
    if (Date.now() >= deadline) throw new HttpError('conflict', `${name} is busy: task ${holder} holds it`);
    if (!told) onWait?.(holder);
    told = true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
