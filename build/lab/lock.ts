/**
 * One lab per machine. Two labs (or a lab and the image test) at once fight
 * over the CPU and ports until both time out, so whatever boots lab nodes
 * holds an flock(2) on /run/lock/ramvm-lab.lock (RAMVM_LAB_LOCK moves it).
 *
 * The lock belongs to an open file of this process: `flock --nonblock 3`
 * runs with that file as its fd 3 and locks the shared open file, which stays
 * locked until this process closes it. So it ends with the process however
 * the process ends (Ctrl-C, a crash, SIGKILL), and nothing is left to clean
 * up. The holder writes one line into the file for whoever finds it locked:
 *
 *   4242 npm run lab since 2026-12-06T12:00:00.000Z in /work/ramvm
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, fchmodSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `flock` exits with this when the lock is held by someone else. */
const HELD_EXIT = 75;

/** The machine-wide lock file: RAMVM_LAB_LOCK, else /run/lock/ramvm-lab.lock (tmp when /run/lock is missing). */
export function labLockFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RAMVM_LAB_LOCK) return env.RAMVM_LAB_LOCK;
  return join(existsSync('/run/lock') ? '/run/lock' : tmpdir(), 'ramvm-lab.lock');
}

export interface LabLock {
  file: string;
  /** Unlock now (the end of the process does the same). */
  release(): void;
}

export interface LockOptions {
  /** What holds it, for the one who waits: "npm run lab", "image test". */
  what: string;
  /** Wait for the holder (told through `onWait`) instead of refusing. */
  wait: boolean;
  onWait?: (holder: string) => void;
  file?: string;
}

/** The holder's line, or a note that it has not written one. */
export function lockHolder(file: string): string {
  try {
    const line = readFileSync(file, 'utf8').trim();
    if (line) return `pid ${line}`;
  } catch {
    /* unreadable: say so below */
  }
  return 'a process that has not said who it is';
}

function flockArgs(wait: boolean): string[] {
  return wait ? ['flock', '3'] : ['flock', '--nonblock', '--conflict-exit-code', String(HELD_EXIT), '3'];
}

/** Take the lab lock, or throw naming its holder (wait: false), or wait for it. */
export async function acquireLabLock(o: LockOptions): Promise<LabLock> {
  const file = o.file ?? labLockFile();
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o666);
  try {
    fchmodSync(fd, 0o666); // any user's lab may take it next
  } catch {
    /* someone else's file: it is theirs to set */
  }
  try {
    const [cmd, ...args] = flockArgs(false);
    const r = spawnSync(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8' });
    if (r.status === HELD_EXIT) {
      const holder = lockHolder(file);
      if (!o.wait) throw new Error(`another lab runs on this machine: ${holder}. Stop it first (lock ${file}).`);
      o.onWait?.(holder);
      const [wcmd, ...wargs] = flockArgs(true);
      const code = await new Promise<number | null>((res, rej) => {
        const p = spawn(wcmd!, wargs, { stdio: ['ignore', 'ignore', 'inherit', fd] });
        p.once('error', rej);
        p.once('exit', (c) => res(c));
      });
      if (code !== 0) throw new Error(`flock ${file} failed (exit ${code})`);
    } else if (r.status !== 0) {
      throw new Error(`flock ${file} failed (exit ${r.status}): ${r.error?.message ?? r.stderr}`);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid} ${o.what} since ${new Date().toISOString()} in ${process.cwd()}\n`, 0);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  let open = true;
  return {
    file,
    release() {
      if (!open) return;
      open = false;
      ftruncateSync(fd, 0);
      closeSync(fd);
    },
  };
}
