/**
 * A status as a badge: an icon shape and a word, with a tone colour. The word
 * and the shape carry the meaning, the colour only helps.
 *
 *   html`<${StatusBadge} tone="failed" label=${t('task.status.failed')} />`
 */
import { html } from '../html';
import { Icon } from './icon';

export type Tone = 'ok' | 'running' | 'failed' | 'warning' | 'paused' | 'neutral';

export function StatusBadge({ tone, label }: { tone: Tone; label: string }) {
  return html`<span class=${`badge badge-${tone}`}><${Icon} name=${tone} />${label}</span>`;
}
