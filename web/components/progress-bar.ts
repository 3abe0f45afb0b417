/**
 * A progress bar with its value also as text ("45 %"), so it reads without
 * colour and to a screen reader (role progressbar with aria-valuenow).
 * `value` null: busy with no known progress (no aria-valuenow, a moving stripe).
 *
 *   html`<${ProgressBar} value=${45} label=${'Backup of guest 101'} />`
 */
import { html } from '../html';
import { t } from '../i18n';

export interface ProgressBarProps {
  /** 0..100, or null when unknown. */
  value: number | null;
  /** What progresses (the accessible name). */
  label: string;
  tone?: 'running' | 'ok' | 'failed';
}

export function ProgressBar({ value, label, tone = 'running' }: ProgressBarProps) {
  const v = value === null || !Number.isFinite(value) ? null : Math.max(0, Math.min(100, Math.round(value)));
  const text = v === null ? '' : t('progress.value', { value: v });
  return html`<div class=${`progress progress-${tone}${v === null ? ' progress-busy' : ''}`}>
    <div
      class="progress-track"
      role="progressbar"
      aria-label=${label}
      aria-valuemin="0"
      aria-valuemax="100"
      aria-valuenow=${v ?? undefined}
      aria-valuetext=${v === null ? undefined : text}
    >
      <div class="progress-fill" style=${{ width: `${v ?? 100}%` }}></div>
    </div>
    ${v !== null && html`<span class="progress-text" aria-hidden="true">${text}</span>`}
  </div>`;
}
