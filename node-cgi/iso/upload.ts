/**
 * One upload into the ISO library, streamed from the request body straight
 * into a hidden partial file in the library folder:
 *
 *   PUT /api/iso/debian-12.iso?sha256=013f…  (Content-Length: 658505728)
 *   → .debian-12.iso.partial-4711-9f3a61c0b2   written as the bytes arrive, hashed on the way
 *   → fsync → .debian-12.iso.meta.json (sidecar) → rename to debian-12.iso → fsync of the folder
 *
 * Until the rename nothing is visible; an upload that fails (short body,
 * wrong checksum, full disk, SIGTERM from lighttpd when the client goes
 * away) removes its partial file. One killed outright leaves it behind for
 * the clean-up, which sees that no process holds it open any more.
 *
 * Memory stays bounded: the body is read only as fast as the file takes it
 * (the write stream's buffer is the only queue), and lighttpd itself reads
 * from the client only as fast as we read from it (server.stream-request-body = 2).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, fstatSync, fsyncSync, openSync, renameSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { HttpError, badRequest, conflict, invalid } from '../lib/errors';
import { paths } from '../lib/paths';
import { fsyncDir, removeFile, withLock, writeJsonAtomic } from '../lib/store';
import {
  LIBRARY_LOCK,
  checkFreeSpace,
  checkNotInUse,
  cleanupLibrary,
  formatBytes,
  imageEntry,
  imageExists,
  imagePath,
  libraryAvailBytes,
  metaPath,
  type IsoImage,
  type IsoMeta,
} from './library';
import { partialFileName } from './names';

/** Bytes the write stream may hold before reading from the client pauses. */
export const WRITE_BUFFER_BYTES = 4 * 1024 * 1024; // 4 MiB
/** Header carrying the expected checksum (alternative to ?sha256=). */
export const SHA256_HEADER = 'x-ramvm-sha256';

export interface UploadRequest {
  name: string;
  size: number;
  /** Lower-case hex, or null when the client gave none. */
  expectedSha256: string | null;
  replace: boolean;
  user: string;
}

/**
 * The upload's parameters from the request, or 400:
 *   ?sha256=<64 hex> or header X-Ramvm-SHA256 (both given must agree),
 *   ?replace=1|true|0|false, Content-Length > 0.
 */
export function parseUploadRequest(
  name: string,
  req: { query: URLSearchParams; headers: Record<string, string>; contentLength: number | null },
  user: string,
): UploadRequest {
  const fromQuery = req.query.get('sha256');
  const fromHeader = req.headers[SHA256_HEADER] ?? null;
  for (const v of [fromQuery, fromHeader]) {
    if (v !== null && !/^[0-9a-fA-F]{64}$/.test(v.trim())) throw invalid('sha256', 'must be 64 hexadecimal digits');
  }
  const q = fromQuery?.trim().toLowerCase() ?? null;
  const h = fromHeader?.trim().toLowerCase() ?? null;
  if (q !== null && h !== null && q !== h) throw invalid('sha256', `?sha256= and the ${SHA256_HEADER} header disagree`);
  const replaceText = req.query.get('replace');
  let replace = false;
  if (replaceText !== null) {
    if (!['1', 'true', '0', 'false'].includes(replaceText)) throw invalid('replace', 'must be 1, true, 0 or false');
    replace = replaceText === '1' || replaceText === 'true';
  }
  if (req.contentLength === null) throw badRequest('Content-Length is required: send the image as the request body');
  if (req.contentLength === 0) throw badRequest('the request body is empty: send the image as the body');
  return { name, size: req.contentLength, expectedSha256: q ?? h, replace, user };
}

/** 409 unless `req` may create or replace its image now. */
function checkMayPublish(req: UploadRequest): void {
  if (!imageExists(req.name)) return;
  if (!req.replace) throw conflict(`${req.name} exists already; add ?replace=1 to replace it`);
  checkNotInUse(req.name, 'it cannot be replaced while in use');
}

function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

function drained(ws: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.errored) return reject(ws.errored);
    const done = (e?: Error) => {
      ws.off('drain', done);
      ws.off('error', done);
      if (e) reject(e);
      else resolve();
    };
    ws.on('drain', done);
    ws.on('error', done);
  });
}

function ended(ws: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.errored) return reject(ws.errored);
    ws.once('error', reject);
    ws.end(() => {
      ws.off('error', reject);
      resolve();
    });
  });
}

/** Copy `body` into `fd`, hashing on the way; returns the hex SHA-256 of exactly `size` bytes. */
async function streamInto(fd: number, file: string, body: Readable, size: number): Promise<string> {
  const hash = createHash('sha256');
  const ws = createWriteStream(file, { fd, autoClose: false, highWaterMark: WRITE_BUFFER_BYTES });
  ws.on('error', () => {}); // reported through drained()/ended()
  let received = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    received += buf.length;
    if (received > size) throw badRequest(`the body is longer than its Content-Length of ${size} bytes`);
    hash.update(buf);
    if (!ws.write(buf)) await drained(ws);
  }
  await ended(ws);
  if (received < size) {
    throw badRequest(`the upload ended after ${received} of ${size} bytes; nothing was stored`);
  }
  return hash.digest('hex');
}

/**
 * Receive the body into the library and make it visible as `req.name`.
 * Throws HttpError 400/409/507 with nothing left behind.
 */
export async function receiveUpload(req: UploadRequest, body: Readable): Promise<IsoImage> {
  checkMayPublish(req);
  cleanupLibrary();
  checkFreeSpace(req.size, libraryAvailBytes());

  const partial = join(paths().iso, partialFileName(req.name, process.pid, randomBytes(5).toString('hex')));
  const fd = openSync(partial, 'wx', 0o644);
  let published = false;
  // lighttpd sends SIGTERM when the client goes away: leave nothing behind, then die of it.
  const onSignal = (sig: NodeJS.Signals) => {
    if (!published) removeFile(partial);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.kill(process.pid, sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const sha256 = await streamInto(fd, partial, body, req.size);
    fsyncSync(fd);
    if (req.expectedSha256 !== null && sha256 !== req.expectedSha256) {
      throw invalid('sha256', `the upload's SHA-256 is ${sha256}, not the expected ${req.expectedSha256}; nothing was stored`);
    }
    const st = fstatSync(fd);
    const meta: IsoMeta = {
      name: req.name,
      size: st.size,
      sha256,
      uploaded: new Date().toISOString(),
      user: req.user,
      ino: st.ino,
      mtimeMs: st.mtimeMs,
    };
    // The fd stays open until the rename, so the clean-up never takes the partial for a leftover.
    withLock(LIBRARY_LOCK, () => {
      checkMayPublish(req);
      writeJsonAtomic(metaPath(req.name), meta, 0o644);
      renameSync(partial, imagePath(req.name));
      published = true;
      fsyncDir(paths().iso);
    });
    return imageEntry(req.name, st, meta, []);
  } catch (e) {
    if (isDiskFull(e)) {
      throw new HttpError(507, 'insufficient_storage', `the ISO library's filesystem is full; ${req.name} (${formatBytes(req.size)}) was not stored`);
    }
    throw e;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    closeSync(fd);
    if (!published) removeFile(partial);
  }
}
