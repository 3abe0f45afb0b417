/**
 * When the backup scheduler of this node last ran, and by what (cron, or
 * the process of `npm start`): on the Backup jobs page and the Node page.
 * A scheduler that stopped or fails shows red with what is wrong: no
 * scheduled job starts while it lasts. Polled every SCHEDULER_POLL_MS.
 */
import type { SchedulerHealth } from '../../../node-cgi/api-types';
import { client } from '../../client';
import { ErrorBanner } from '../../components/error-banner';
import { StatusBadge } from '../../components/status-badge';
import { formatDuration, formatTime } from '../../format';
import { usePoll } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';

/** How often the scheduler's state is read again. */
export const SCHEDULER_POLL_MS = 30_000;

function Badge({ h }: { h: SchedulerHealth }) {
  if (h.state === 'stale') return html`<${StatusBadge} tone="failed" label=${t('scheduler.stale')} />`;
  if (h.state === 'failing') return html`<${StatusBadge} tone="failed" label=${t('scheduler.failing')} />`;
  if (h.state === 'idle') return html`<${StatusBadge} tone="neutral" label=${t('scheduler.idle')} />`;
  return html`<${StatusBadge} tone="ok" label=${t('scheduler.ok')} />`;
}

export function SchedulerStatus() {
  const { data: h, error } = usePoll(client.backups.scheduler, { every: SCHEDULER_POLL_MS });
  if (!h) return html`<${ErrorBanner} error=${error} />`;
  const last = h.last;
  return html`<section class=${`card scheduler${h.state === 'stale' || h.state === 'failing' ? ' card-failed' : ''}`} aria-labelledby="scheduler">
    <div class="section-head">
      <h2 id="scheduler">${t('scheduler.title', { node: h.node })}</h2>
      <${Badge} h=${h} />
    </div>
    <dl class="props">
      <dt>${t('scheduler.lastRun')}</dt>
      <dd class="scheduler-last">${last
        ? t('scheduler.lastRunValue', { time: formatTime(last.at), by: t(last.by === 'cron' ? 'scheduler.by.cron' : 'scheduler.by.npm') })
        : t('scheduler.never')}</dd>
      <dt>${t('scheduler.jobs')}</dt><dd>${h.jobs}</dd>
    </dl>
    ${h.message && html`<div class="banner banner-error" role="alert"><div class="banner-body">
      <strong>${t('scheduler.alert')}</strong>
      <span class="banner-detail">${h.message}</span>
      ${h.since !== null && html`<span class="banner-detail">${t('scheduler.since', { duration: formatDuration(Date.now() - h.since) })}</span>`}
    </div></div>`}
    <${ErrorBanner} error=${error} />
  </section>`;
}
