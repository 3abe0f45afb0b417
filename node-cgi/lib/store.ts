/**
 * The config store: JSON files under etc/ramvm, written atomically and
 * updated under a lock, so concurrent CGIs never lose an update and a reader
 * never sees half a file.
 *
 * Write: temp file in the same folder → fsync → rename over the target →
 * fsync of the folder. Lock: `mkdir <locks>/<name>.lock` (atomic on every
 * filesystem), holding an `owner` file "pid start-ms nonce" written by
 * rename; a lock whose owner process is gone, or older than LOCK_STALE_MS,
 * is broken (one breaker at a time, see breakStaleLock).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { internal, HttpError } from './errors';
import { lockDir, paths } from './paths';
import { pidExists } from './proc';

/** How long to wait for a lock before answering 503. */
export const LOCK_TIMEOUT_MS = 10_000;
/** A lock held longer than this is considered abandoned (CGIs finish in ms). */
export const LOCK_STALE_MS = 60_000;
/** First wait between attempts; it doubles (with jitter) up to LOCK_POLL_MAX_MS, so many waiters leave the CPU to the holder. */
const LOCK_POLL_MS = 2;
const LOCK_POLL_MAX_MS = 50;

/** Told of every write and removal before it happens; it may throw to refuse it. */
export type WriteObserver = (file: string) => void;
const observers: WriteObserver[] = [];

/**
 * Watch every write and removal of this process (a cluster counts the
 * changes of its cluster-wide files, and refuses them on a member).
 */
export function observeWrites(fn: WriteObserver): void {
  observers.push(fn);
}

/** Write `data` to `file` atomically; the folder is created if missing. */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o640): void {
  for (const o of observers) o(file);
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
  fsyncPath(dir);
}

/** Flush a file, or a folder's entries, to its device. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
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
    throw internal('a configuration file is corrupt', `${file}: ${(e as Error).message}`);
  }
}

const sleepBuf = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepBuf, 0, 0, ms);
}

/**
 * Run `fn` holding the named lock. Synchronous on purpose: critical sections
 * are a read-modify-write of one small file, and a sync section cannot be
 * interleaved by other work of the same process.
 */
export function withLock<T>(name: string, fn: () => T, timeoutMs = LOCK_TIMEOUT_MS): T {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new Error(`bad lock name ${name}`);
  const dir = lockDir(name);
  mkdirSync(paths().locks, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  const me = `${process.pid} ${Date.now()} ${randomBytes(6).toString('hex')}\n`;
  let pollMs = LOCK_POLL_MS;
  for (;;) {
    try {
      mkdirSync(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (breakStaleLock(dir)) continue;
      if (Date.now() > deadline) {
        throw new HttpError('unavailable', `the configuration is busy (lock ${name}); try again`);
      }
      sleepSync(pollMs / 2 + Math.random() * pollMs);
      pollMs = Math.min(pollMs * 2, LOCK_POLL_MAX_MS);
    }
  }
  // Written whole by rename: a reader never sees an empty owner (which would look stale).
  writeFileSync(join(dir, 'owner.tmp'), me);
  renameSync(join(dir, 'owner.tmp'), join(dir, 'owner'));
  try {
    return fn();
  } finally {
    // Only our own lock: held past LOCK_STALE_MS it may have been broken and taken by another.
    if (readOwner(dir) === me) rmSync(dir, { recursive: true, force: true });
  }
}

function readOwner(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, 'owner'), 'utf8');
  } catch {
    return undefined;
  }
}

/** A breaker that died leaves its guard behind; the guard is removed after this. */
const BREAK_GUARD_STALE_MS = 5_000;

/**
 * Break a lock whose owner died or that is too old; true when broken.
 * Breakers take a guard (`<name>.lock.break`) and check again inside it, so
 * no breaker can remove a lock that another breaker has already replaced.
 */
function breakStaleLock(dir: string): boolean {
  if (!isStale(dir)) return false;
  const guard = `${dir}.break`;
  try {
    mkdirSync(guard);
  } catch {
    try {
      if (Date.now() - statSync(guard).mtimeMs > BREAK_GUARD_STALE_MS) rmSync(guard, { recursive: true, force: true });
    } catch {
      /* gone already */
    }
    return false;
  }
  try {
    if (!isStale(dir)) return false;
    rmSync(dir, { recursive: true, force: true });
    return true;
  } finally {
    rmSync(guard, { recursive: true, force: true });
  }
}

/** "4711 1767225600000 a3f90c…": stale when pid 4711 is gone or the lock is older than LOCK_STALE_MS. */
function isStale(dir: string): boolean {
  const m = /^(\d+) (\d+)\b/.exec(readOwner(dir) ?? '');
  if (!m) {
    // No owner yet: being taken right now, or its taker died before writing the owner.
    try {
      return Date.now() - statSync(dir).mtimeMs >= LOCK_STALE_MS;
    } catch {
      return false;
    }
  }
  return !pidExists(Number(m[1])) || Date.now() - Number(m[2]) >= LOCK_STALE_MS;
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
  for (const o of observers) o(file);
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
