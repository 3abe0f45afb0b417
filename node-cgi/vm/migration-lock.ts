/**
 * The lock of a guest that is moving to another node. While a migration
 * task holds it, nobody starts, deletes, changes or backs up the guest (409
 * naming the task). It is a folder `<locks>/migrate-vm-<vmid>.lock` whose
 * `owner` file says "<pid> <task id>", like the backup locks; a lock whose
 * task process is gone (kill -9, reboot) counts as free and is broken by
 * the next taker.
 *
 *   claimMigration(101, () => startTask(…))   // 409 when another migration of 101 runs
 *   refuseIfMigrating(101, 'start it')         // 409 "guest 101 is being migrated (task …); start it after that"
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { conflict } from '../lib/errors';
import { lockDir, paths } from '../lib/paths';
import { processAlive } from '../lib/proc';
import { withLock } from '../lib/store';

const lockName = (vmid: number) => `migrate-vm-${vmid}`;

/** The task holding the long lock `name` (backup/lock.ts's format) while its process lives, else null. */
export function lockHolder(name: string): string | null {
  let owner = '';
  try {
    owner = readFileSync(join(lockDir(name), 'owner'), 'utf8').trim();
  } catch {
    return null;
  }
  const [pid, task] = owner.split(' ');
  return task && processAlive(Number(pid), task) ? task : null;
}

/** The task migrating `vmid` while its process lives, else null. */
export const migrationHolder = (vmid: number) => lockHolder(lockName(vmid));

/** 409 while a migration of the guest runs. */
export function refuseIfMigrating(vmid: number, what: string): void {
  const task = migrationHolder(vmid);
  if (task) throw conflict(`guest ${vmid} is being migrated (task ${task}); ${what} after that`);
}

/**
 * Take the lock of `vmid` for the task `start()` starts (it returns the
 * task's local id and pid), under a short node lock so that two requests
 * never both pass; 409 while another migration of the guest runs.
 */
export function claimMigration<T extends { id: string; pid: number }>(vmid: number, start: () => T): T {
  return withLock('vm-migrate', () => {
    refuseIfMigrating(vmid, 'migrate it');
    const dir = lockDir(lockName(vmid));
    mkdirSync(paths().locks, { recursive: true });
    // A stale lock (its task died) is moved away whole before it is taken again.
    const grave = `${dir}.stale.${randomBytes(3).toString('hex')}`;
    try {
      renameSync(dir, grave);
      rmSync(grave, { recursive: true, force: true });
    } catch {
      // There was none.
    }
    const t = start();
    mkdirSync(dir);
    writeFileSync(join(dir, 'owner'), `${t.pid} ${t.id}\n`);
    return t;
  });
}

/** Give the lock back (the task that holds it, at its end). */
export function releaseMigration(vmid: number, task: string): void {
  const dir = lockDir(lockName(vmid));
  try {
    if (readFileSync(join(dir, 'owner'), 'utf8').trim().split(' ')[1] !== task) return;
  } catch {
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}
