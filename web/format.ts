/**
 * Numbers, sizes and times as the user's language writes them: the one
 * place the web app formats them, so every page writes a size alike.
 *
 *   formatBytes(1536 * 1024 ** 2)  → "1.5 GiB" (en) / "1,5 GiB" (de)
 *   formatBytes(681574400)         → "650 MiB"   (no decimal from 100 on, none for whole numbers)
 *   formatPercent(0.256)           → "25.6 %"
 *   formatDuration(75_000)         → "1 min 15 s"
 *   formatTime(1764065700000)      → "25.11.25, 10:15:00" (de) / "11/25/25, 10:15:00 AM" (en), in the browser's time zone (here UTC)
 *   formatTime('2025-11-25T10:15:00Z') → the same, from the node's ISO time
 *   formatExpiry(0)                → "never"; any other Unix time in seconds as formatTime
 */
import { lang, t } from './i18n';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

const numberFormats = new Map<string, Intl.NumberFormat>();

function number(l: string, maxDigits: number): Intl.NumberFormat {
  const k = `${l}/${maxDigits}`;
  let f = numberFormats.get(k);
  if (!f) numberFormats.set(k, (f = new Intl.NumberFormat(l, { minimumFractionDigits: 0, maximumFractionDigits: maxDigits })));
  return f;
}

/** Binary units; one decimal at most, and none from 100 on or in bytes. */
export function formatBytes(bytes: number, l: string = lang()): string {
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${number(l, v >= 100 || u === 0 ? 0 : 1).format(v)} ${UNITS[u]}`;
}

/** A share 0..1 (or more) as a percentage with one decimal at most. */
export function formatPercent(share: number, l: string = lang()): string {
  return `${number(l, 1).format(share * 100)} %`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t('time.seconds', { s });
  if (s < 3600) return t('time.minutes', { m: Math.floor(s / 60), s: s % 60 });
  return t('time.hours', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();

/** A point in time: ms since the epoch, or an ISO 8601 time as the node writes them. */
export function formatTime(when: number | string): string {
  const l = lang();
  let f = timeFormats.get(l);
  if (!f) timeFormats.set(l, (f = new Intl.DateTimeFormat(l, { dateStyle: 'short', timeStyle: 'medium' })));
  return f.format(new Date(typeof when === 'string' ? Date.parse(when) : when));
}

/** An expiry in Unix seconds (users, tokens); 0 never expires. */
export function formatExpiry(expireS: number): string {
  return expireS ? formatTime(expireS * 1000) : t('users.never');
}
