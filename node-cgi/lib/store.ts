/**
 * The config store: JSON files under etc/ramvm, written atomically and
 * updated under a lock, so concurrent CGIs never lose an update and a reader
 * never sees half a file.
 *
 * Write: temp file in the same folder → fsync → rename over the target →
 * fsync of the folder. Lock: `mkdir <locks>/<name>.lock` (atomic on every
 * filesystem), holding an `owner` file with pid and start time; a lock whose
 * owner process is gone, or older than LOCK_STALE_MS, is broken.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HttpError } from './errors';
import { paths } from './paths';

/** How long to wait for a lock before answering 503. */
export const LOCK_TIMEOUT_MS = 10_000;
/** A lock held longer than this is considered abandoned (CGIs finish in ms). */
export const LOCK_STALE_MS = 60_000;
const LOCK_POLL_MS = 5;

/** Write `data` to `file` atomically; the folder is created if missing. */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o640): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeJsonAtomic(file: string, value: unknown, mode?: number): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n', mode);
}

/** Read a JSON file; `fallback` when it does not exist. A corrupt file throws. */
export function readJson<T>(file: string, fallback: T): T;
export function readJson<T>(file: string): T | undefined;
export function readJson<T>(file: string, fallback?: T): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new HttpError(500, 'internal', 'a configuration file is corrupt', `${file}: ${(e as Error).message}`);
  }
}

const sleepBuf = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepBuf, 0, 0, ms);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Run `fn` holding the named lock. Synchronous on purpose: critical sections
 * are a read-modify-write of one small file, and a sync section cannot be
 * interleaved by other work of the same process.
 */
export function withLock<T>(name: string, fn: () => T, timeoutMs = LOCK_TIMEOUT_MS): T {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new Error(`bad lock name ${name}`);
  const dir = join(paths().locks, `${name}.lock`);
  mkdirSync(paths().locks, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'owner'), `${process.pid} ${Date.now()}\n`);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (breakStaleLock(dir)) continue;
      if (Date.now() > deadline) {
        throw new HttpError(503, 'unavailable', `the configuration is busy (lock ${name}); try again`);
      }
      sleepSync(LOCK_POLL_MS);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Break a lock whose owner died or that is too old; true when broken. */
function breakStaleLock(dir: string): boolean {
  let owner: string;
  try {
    owner = readFileSync(join(dir, 'owner'), 'utf8');
  } catch {
    // No owner file: just taken (fine), or its taker died before writing it.
    try {
      if (Date.now() - statSync(dir).mtimeMs < LOCK_STALE_MS) return false;
    } catch {
      return false;
    }
    owner = '0 0';
  }
  const [pidText, sinceText] = owner.trim().split(' ');
  const pid = Number(pidText);
  const since = Number(sinceText);
  if (!(pid > 0) || !(since > 0)) {
    // An owner file being written reads empty or half: judge the lock by its age.
    try {
      if (Date.now() - statSync(dir).mtimeMs < LOCK_STALE_MS) return false;
    } catch {
      return false;
    }
  } else if (pidAlive(pid) && Date.now() - since < LOCK_STALE_MS) {
    return false;
  }
  // Rename first so two breakers cannot both remove a fresh lock.
  const grave = `${dir}.stale.${process.pid}.${randomBytes(3).toString('hex')}`;
  try {
    renameSync(dir, grave);
  } catch {
    return false;
  }
  rmSync(grave, { recursive: true, force: true });
  return true;
}

/**
 * Read-modify-write of one JSON file under its lock. `fn` returns the new
 * value (or mutates and returns the draft); it may throw to abort, in which
 * case nothing is written.
 */
export function updateJson<T>(file: string, fallback: T, fn: (draft: T) => T): T {
  const lockName = file.slice(paths().root.length).replace(/[^a-z0-9._-]+/gi, '_').replace(/^_+/, '');
  return withLock(lockName, () => {
    const next = fn(readJson<T>(file, structuredClone(fallback)));
    writeJsonAtomic(file, next);
    return next;
  });
}

/** Remove a file if it exists. */
export function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
