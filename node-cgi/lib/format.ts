/**
 * Numbers as the node writes them for people: in error messages, task logs
 * and mails (the web app formats for the browser's locale itself).
 *
 *   formatBytes(1023)        → "1023 bytes"
 *   formatBytes(1536)        → "1.5 KiB"
 *   formatBytes(3 * 1024**3) → "3.0 GiB"
 */

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes in the largest binary unit that keeps the number at 1 or more, one decimal. */
export function formatBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${UNITS[i]}`;
}
