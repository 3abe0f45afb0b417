/**
 * Uploads of ISO images from the browser: the file goes as the raw body of
 * PUT /api/iso/<name> through XMLHttpRequest (fetch reports no upload
 * progress), with the CSRF header, and the expected checksum and the
 * replace choice in the query:
 *
 *   PUT /api/iso/debian-12.iso?sha256=013f…&replace=1      body: the file
 *   → 201 {"data": {"name", "size", "sha256", "date", "user", "usedBy"}}
 *
 * The upload lives in this module, not in a component, so it goes on while
 * the user looks at other pages, and the ISO view shows it again on return;
 * the browser asks before a tab with a running upload is closed. Cancel
 * aborts the request: the node removes its partial file, nothing is stored.
 * Progress shows bytes, the rate over the last RATE_WINDOW_MS and the time
 * left at that rate.
 */
import { useEffect, useState } from 'preact/hooks';
import type { IsoImage } from '../../../node-cgi/api-types';
import { api, ApiError } from '../../api';
import { urls } from '../../client';
import { t, type MessageKey } from '../../i18n';
import { formatBytes } from '../../format';
import { renewSession } from '../../console/session';

export type { IsoImage };

/** The rate is measured over this last stretch of the upload. */
export const RATE_WINDOW_MS = 5000;
/** Progress redraws at most this often. */
export const PROGRESS_RENDER_MS = 250;
/** Longest image name (node-cgi/iso/names.ts). */
export const ISO_NAME_MAX_CHARS = 128;

const NAME_CHARS_RE = /^[A-Za-z0-9._+-]+$/;
const EXTENSION_RE = /\.(iso|img)$/i;
const SHA256_RE = /^[0-9a-fA-F]{64}$/;

/** What is wrong with an image name, by the node's rules (node-cgi/iso/names.ts), or null. */
export function isoNameProblem(name: string): MessageKey | null {
  if (name.length === 0) return 'iso.name.empty';
  if (name.length > ISO_NAME_MAX_CHARS) return 'iso.name.long';
  if (name.startsWith('.') || name.startsWith('-')) return 'iso.name.start';
  if (!NAME_CHARS_RE.test(name)) return 'iso.name.chars';
  if (name.includes('..')) return 'iso.name.dots';
  if (!EXTENSION_RE.test(name)) return 'iso.name.extension';
  return null;
}

/**
 * A valid name suggested from a file's name: other characters become "-",
 * runs of them one, leading dots and dashes go.
 *
 *   nameFromFile('Debian 12 (netinst).iso')  → 'Debian-12-netinst.iso'
 */
export function nameFromFile(file: string): string {
  const m = /^(.*?)(\.(iso|img))?$/i.exec(file)!;
  const ext = m[2] ?? '';
  const base = m[1]!
    .replace(/[^A-Za-z0-9._+-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '');
  return (base.slice(0, ISO_NAME_MAX_CHARS - ext.length) || 'image') + ext;
}

/** What is wrong with an expected checksum (empty: none given), or null. */
export function sha256Problem(value: string): MessageKey | null {
  const v = value.trim();
  return v === '' || SHA256_RE.test(v) ? null : 'iso.sha.invalid';
}

export interface UploadOptions {
  /** Expected SHA-256 (hex); '' for none. */
  sha256: string;
  replace: boolean;
}

/** The upload's URL, its checksum in lower case. */
export function uploadUrl(name: string, o: UploadOptions): string {
  return urls.isoUpload(name, { sha256: o.sha256.trim().toLowerCase(), replace: o.replace });
}

/** "013f5b44a1c2…" — the first 12 hex digits. */
export const shortSha = (sha: string): string => `${sha.slice(0, 12)}…`;

export interface Sample {
  /** ms */
  at: number;
  bytes: number;
}

/** Bytes per second over the samples of the last `windowMs`; null until there are two apart in time. */
export function rateOf(samples: readonly Sample[], windowMs = RATE_WINDOW_MS): number | null {
  const last = samples[samples.length - 1];
  if (!last) return null;
  const first = samples.find((s) => last.at - s.at <= windowMs) ?? last;
  const dt = last.at - first.at;
  return dt > 0 ? ((last.bytes - first.bytes) * 1000) / dt : null;
}

/** Seconds left at `rate`; null when unknown. */
export function secondsLeft(loaded: number, total: number, rate: number | null): number | null {
  if (rate === null || rate <= 0) return null;
  return Math.max(0, Math.ceil((total - loaded) / rate));
}

/** The headline of a failed upload, in plain words. */
export function uploadErrorTitle(err: unknown, replace: boolean): MessageKey {
  if (!(err instanceof ApiError)) return 'iso.error.other';
  if (err.status === 0) return 'iso.error.network';
  if (err.status === 507) return 'iso.error.full';
  if (err.status === 409) return replace ? 'iso.error.inUse' : 'iso.error.exists';
  if (err.status === 413) return 'iso.error.tooLarge';
  if (err.status === 400 && err.message.startsWith('sha256: ')) return err.message.includes('not the expected') ? 'iso.error.checksum' : 'iso.sha.invalid';
  if (err.status === 400 && err.message.startsWith('name: ')) return 'iso.error.name';
  if (err.status === 400) return 'iso.error.incomplete';
  if (err.status === 401) return 'error.unauthenticated';
  if (err.status === 403) return 'iso.error.forbidden';
  return 'iso.error.other';
}

// ---------------------------------------------------------------- the request

/** The part of XMLHttpRequest an upload uses (unit tests pass a fake). */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null; onload: (() => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

export class UploadCancelled extends Error {
  constructor() {
    super('upload cancelled');
    this.name = 'UploadCancelled';
  }
}

export interface UploadHandlers {
  onProgress(loaded: number, total: number): void;
  /** The whole body is sent; the node now checks and stores it. */
  onSent(): void;
}

/** Send one upload; `done` resolves with the stored image or rejects with ApiError / UploadCancelled. */
export function sendUpload(
  xhr: XhrLike,
  file: Blob,
  name: string,
  o: UploadOptions,
  headers: Record<string, string>,
  h: UploadHandlers,
): { done: Promise<IsoImage>; abort: () => void } {
  const done = new Promise<IsoImage>((resolve, reject) => {
    xhr.open('PUT', uploadUrl(name, o));
    for (const [k, v] of Object.entries({ accept: 'application/json', 'content-type': 'application/octet-stream', ...headers })) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => h.onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.upload.onload = () => h.onSent();
    xhr.onload = () => {
      let json: { data?: IsoImage; error?: { code?: string; message?: string } } | undefined;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        json = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300 && json?.data) resolve(json.data);
      else if (json?.error) reject(new ApiError(xhr.status, json.error.code ?? 'error', json.error.message ?? `HTTP ${xhr.status}`));
      else reject(new ApiError(xhr.status, 'bad_response', `HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload broke off'));
    xhr.onabort = () => reject(new UploadCancelled());
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}

// ---------------------------------------------------------------- the store

export interface UploadState {
  name: string;
  size: number;
  loaded: number;
  /** Bytes per second, null until known. */
  rate: number | null;
  phase: 'sending' | 'saving' | 'done' | 'failed' | 'cancelled';
  replace: boolean;
  error?: unknown;
  image?: IsoImage;
}

export interface UploadDeps {
  xhr: () => XhrLike;
  now: () => number;
  headers: () => Record<string, string>;
  /** Renew the ticket when due, before the request goes out with the cookie. */
  renew: () => Promise<void>;
}

const DEFAULT_DEPS: UploadDeps = {
  xhr: () => new XMLHttpRequest() as unknown as XhrLike,
  now: () => Date.now(),
  headers: () => api.authHeaders(),
  renew: () => renewSession(),
};

let state: UploadState | null = null;
let abortCurrent: (() => void) | null = null;
const listeners = new Set<(s: UploadState | null) => void>();

function set(s: UploadState | null): void {
  state = s;
  for (const fn of listeners) fn(s);
}

export const currentUpload = (): UploadState | null => state;
export const uploading = (): boolean => state?.phase === 'sending' || state?.phase === 'saving';

function beforeUnload(e: BeforeUnloadEvent): void {
  if (!uploading()) return;
  e.preventDefault();
  e.returnValue = '';
}

/** Start an upload (one at a time); its state is published to useUpload(). */
export function startUpload(file: Blob, name: string, o: UploadOptions, deps: Partial<UploadDeps> = {}): Promise<void> {
  if (uploading()) throw new Error('an upload is running');
  const d = { ...DEFAULT_DEPS, ...deps };
  const samples: Sample[] = [];
  let drawn = 0;
  let cancelled = false;
  set({ name, size: file.size, loaded: 0, rate: null, phase: 'sending', replace: o.replace });
  abortCurrent = () => (cancelled = true);
  if (typeof window !== 'undefined') window.addEventListener('beforeunload', beforeUnload);
  return d
    .renew()
    .then(() => {
      if (cancelled) throw new UploadCancelled();
      const { done, abort } = sendUpload(d.xhr(), file, name, o, d.headers(), {
        onProgress(loaded) {
          const now = d.now();
          samples.push({ at: now, bytes: loaded });
          while (samples.length > 2 && now - samples[1]!.at > RATE_WINDOW_MS) samples.shift();
          if (state?.phase !== 'sending' || (now - drawn < PROGRESS_RENDER_MS && loaded < file.size)) return;
          drawn = now;
          set({ ...state, loaded, rate: rateOf(samples) });
        },
        onSent() {
          if (state?.phase === 'sending') set({ ...state, loaded: file.size, phase: 'saving' });
        },
      });
      abortCurrent = abort;
      return done;
    })
    .then(
      (image) => set({ ...state!, loaded: file.size, phase: 'done', image }),
      (error) => set({ ...state!, phase: error instanceof UploadCancelled ? 'cancelled' : 'failed', error }),
    )
    .finally(() => {
      abortCurrent = null;
      if (typeof window !== 'undefined') window.removeEventListener('beforeunload', beforeUnload);
    });
}

export function cancelUpload(): void {
  abortCurrent?.();
}

/** Forget a finished upload (its message is read). */
export function dismissUpload(): void {
  if (!uploading()) set(null);
}

/** The current upload; re-renders on every change. */
export function useUpload(): UploadState | null {
  const [s, setS] = useState(state);
  useEffect(() => {
    listeners.add(setS);
    setS(state);
    return () => void listeners.delete(setS);
  }, []);
  return s;
}

/** "120 MiB of 650 MiB · 11.2 MiB/s · 47 s left" */
export function progressText(s: Pick<UploadState, 'loaded' | 'size' | 'rate'>, formatSeconds: (s: number) => string): string {
  const parts = [t('iso.progress.bytes', { loaded: formatBytes(s.loaded), total: formatBytes(s.size) })];
  if (s.rate !== null) {
    parts.push(t('iso.progress.rate', { rate: formatBytes(s.rate) }));
    const left = secondsLeft(s.loaded, s.size, s.rate);
    if (left !== null) parts.push(t('iso.progress.left', { left: formatSeconds(left) }));
  }
  return parts.join(' · ');
}
