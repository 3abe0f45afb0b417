/**
 * Numbers and times as the user's language writes them.
 *
 *   formatDuration(75_000)    → "1 min 15 s"
 *   formatTime(1764065700000) → "25.11.25, 10:15:00" (de) / "11/25/25, 10:15:00 AM" (en), in the browser's time zone (here UTC)
 */
import { lang, t } from './i18n';

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t('time.seconds', { s });
  if (s < 3600) return t('time.minutes', { m: Math.floor(s / 60), s: s % 60 });
  return t('time.hours', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();

export function formatTime(ms: number): string {
  const l = lang();
  let f = timeFormats.get(l);
  if (!f) timeFormats.set(l, (f = new Intl.DateTimeFormat(l, { dateStyle: 'short', timeStyle: 'medium' })));
  return f.format(new Date(ms));
}
