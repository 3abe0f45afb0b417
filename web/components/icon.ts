/**
 * Line icons, 24×24, drawn with the current text colour. Always decorative
 * (aria-hidden): the text next to an icon carries the meaning.
 */
import { html } from '../html';

/** SVG path data per icon name (stroke only, round caps). */
export const ICONS = {
  guests: 'M3 4h18v12H3zM8 20h8M12 16v4',
  iso: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 9.5a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5z',
  backups: 'M3 4h18v4H3zM5 8v12h14V8M10 12h4',
  tasks: 'M9 6h11M9 12h11M9 18h11M4 6h.01M4 12h.01M4 18h.01',
  users: 'M12 12a4 4 0 1 0 0-8a4 4 0 1 0 0 8zM4 21c0-4 4-6 8-6s8 2 8 6',
  cluster: 'M4 4h6v6H4zM14 4h6v6h-6zM9 14h6v6H9zM7 10v2h10v-2M12 12v2',
  node: 'M4 4h16v6H4zM4 14h16v6H4zM8 7h.01M8 17h.01',
  logout: 'M10 4H5v16h5M15 8l4 4-4 4M9 12h10',
  menu: 'M4 6h16M4 12h16M4 18h16',
  ok: 'M5 12.5l4.5 4.5L19 7',
  failed: 'M6 6l12 12M18 6L6 18',
  warning: 'M12 3L2 21h20zM12 10v5M12 18v.01',
  running: 'M20 12a8 8 0 1 1-2.3-5.7M20 4v4h-4',
  paused: 'M9 5v14M15 5v14',
  neutral: 'M12 6a6 6 0 1 0 0 12a6 6 0 1 0 0-12z',
  language: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM3 12h18M12 3c3 3 3 15 0 18M12 3c-3 3-3 15 0 18',
} as const;

export type IconName = keyof typeof ICONS;

export function Icon({ name }: { name: IconName }) {
  return html`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d=${ICONS[name]} /></svg>`;
}
