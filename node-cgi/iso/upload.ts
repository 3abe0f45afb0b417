/**
 * One upload into the ISO library, streamed from the request body straight
 * into a hidden partial file in the library folder:
 *
 *   PUT /api/iso/debian-12.iso?sha256=013f…  (Content-Length: 658505728)
 *   → .debian-12.iso.partial-4711-9f3a61c0b2   written as the bytes arrive, hashed on the way
 *   → fsync → .debian-12.iso.meta.json (sidecar) → rename to debian-12.iso → fsync of the folder
 *
 * Until the rename nothing is visible; an upload that fails (short body,
 * wrong checksum, full disk, the client gone) removes its partial file.
 * One killed outright leaves it behind for the clean-up, which sees that
 * no process holds it open any more.
 *
 * Memory stays bounded: the body passes through one reused 1 MiB buffer,
 * read only as fast as the file takes it, and lighttpd reads from the
 * client only as fast as we read from it (server.stream-request-body = 2).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { HttpError, badRequest, conflict, invalid } from '../lib/errors';
import { formatBytes } from '../lib/format';
import { isoFile, paths } from '../lib/paths';
import { fsyncPath, removeFile, withLock, writeJsonAtomic } from '../lib/store';
import {
  LIBRARY_LOCK,
  checkFreeSpace,
  checkNotInUse,
  cleanupLibrary,
  imageEntry,
  imageExists,
  imagePath,
  libraryAvailBytes,
  metaPath,
  type IsoImage,
  type IsoMeta,
} from './library';
import { partialFileName } from './names';

/** The one buffer an upload passes through: read up to this much, hash it, write it. */
export const COPY_BUFFER_BYTES = 1024 * 1024; // 1 MiB
/** Header carrying the expected checksum (alternative to ?sha256=). */
export const SHA256_HEADER = 'x-ramvm-sha256';

export interface UploadRequest {
  name: string;
  size: number;
  /** Lower-case hex, or null when the client gave none. */
  expectedSha256: string | null;
  replace: boolean;
  user: string;
  /** A copy from another node (distribute.ts): that node, and the upload time it recorded. */
  copy?: { from: string; uploaded: string };
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

const pauseBuf = new Int32Array(new SharedArrayBuffer(4));

/** read(2) that waits instead of failing when the body has not arrived yet. */
function readSome(fd: number, buf: Buffer, off: number, len: number): number {
  for (;;) {
    try {
      return readSync(fd, buf, off, len, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EINTR') continue;
      if (code !== 'EAGAIN') throw e;
      Atomics.wait(pauseBuf, 0, 0, 1);
    }
  }
}

/**
 * Copy exactly `size` bytes from `bodyFd` into `fd`, hashing on the way;
 * returns the hex SHA-256. Synchronous on purpose: one buffer, reused, is
 * the only memory the body ever occupies, and a blocked read or write is
 * the backpressure that reaches lighttpd and the client.
 */
export function copyHashing(bodyFd: number, fd: number, size: number): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(COPY_BUFFER_BYTES);
  let received = 0;
  for (;;) {
    let fill = 0;
    let eof = false;
    while (fill < buf.length && received + fill < size) {
      const n = readSome(bodyFd, buf, fill, Math.min(buf.length - fill, size - received - fill));
      if (n === 0) {
        eof = true;
        break;
      }
      fill += n;
    }
    if (fill > 0) {
      const chunk = buf.subarray(0, fill);
      hash.update(chunk);
      let off = 0;
      while (off < fill) off += writeSync(fd, chunk, off, fill - off, received + off);
      received += fill;
    }
    if (received === size) return hash.digest('hex');
    if (eof) throw badRequest(`the upload ended after ${received} of ${size} bytes; nothing was stored`);
  }
}

/**
 * Receive the body into the library and make it visible as `req.name`.
 * Throws HttpError 400/409/507 with nothing left behind.
 */
export function receiveUpload(req: UploadRequest, bodyFd: number): IsoImage {
  checkMayPublish(req);
  cleanupLibrary();
  checkFreeSpace(req.size, libraryAvailBytes());

  const partial = isoFile(partialFileName(req.name, process.pid, randomBytes(5).toString('hex')));
  const fd = openSync(partial, 'wx', 0o644);
  let published = false;
  // When the client goes away, lighttpd closes our stdin and sends SIGTERM. Handling the
  // signal keeps it from killing us mid-copy: the copy then sees the short body and
  // cleans up. Should the signal be handled first, it removes the partial and re-raises.
  const onSignal = (sig: NodeJS.Signals) => {
    if (!published) removeFile(partial);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.kill(process.pid, sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const sha256 = copyHashing(bodyFd, fd, req.size);
    fsyncSync(fd);
    if (req.expectedSha256 !== null && sha256 !== req.expectedSha256) {
      throw invalid('sha256', `the upload's SHA-256 is ${sha256}, not the expected ${req.expectedSha256}; nothing was stored`);
    }
    const st = fstatSync(fd);
    const meta: IsoMeta = {
      name: req.name,
      size: st.size,
      sha256,
      uploaded: req.copy?.uploaded ?? new Date().toISOString(),
      user: req.user,
      ...(req.copy ? { from: req.copy.from } : {}),
      ino: st.ino,
      mtimeMs: st.mtimeMs,
    };
    // The fd stays open until the rename, so the clean-up never takes the partial for a leftover.
    withLock(LIBRARY_LOCK, () => {
      checkMayPublish(req);
      writeJsonAtomic(metaPath(req.name), meta, 0o644);
      renameSync(partial, imagePath(req.name));
      published = true;
      fsyncPath(paths().iso);
    });
    return imageEntry(req.name, st, meta, []);
  } catch (e) {
    if (isDiskFull(e)) {
      throw new HttpError('insufficient_storage', `the ISO library's filesystem is full; ${req.name} (${formatBytes(req.size)}) was not stored`);
    }
    throw e;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    closeSync(fd);
    if (!published) removeFile(partial);
  }
}
