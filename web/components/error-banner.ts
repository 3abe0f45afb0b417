/**
 * An error shown where it happened: a translated headline from the HTTP
 * status, then the node's own message (it names the field or the object),
 * then the machine code for support. role="alert" so it is announced.
 *
 *   409 {"code":"conflict","message":"guest 101 is running"}
 *     → "Not possible in the current state.  guest 101 is running  Code: conflict"
 */
import { html } from '../html';
import { t, type MessageKey } from '../i18n';
import { ApiError } from '../api';
import { Icon } from './icon';

/** The headline of an error, from its status. */
export function errorTitle(err: unknown): MessageKey {
  if (!(err instanceof ApiError)) return 'error.title';
  const s = err.status;
  if (s === 0) return 'error.network';
  if (s === 400 || s === 415) return 'error.invalid';
  if (s === 401) return 'error.unauthenticated';
  if (s === 403) return 'error.forbidden';
  if (s === 404) return 'error.notFound';
  if (s === 409) return 'error.conflict';
  if (s === 413) return 'error.tooLarge';
  if (s === 429) return 'error.throttled';
  // In a cluster: the node that holds the object (or the master) does not answer.
  if (s === 503) return 'error.unavailable';
  if (s >= 500) return 'error.server';
  return 'error.title';
}

export interface ErrorBannerProps {
  error: unknown;
  /** A headline to use instead of the one from the status. */
  title?: string;
  onRetry?: () => void;
  onDismiss?: () => void;
}

export function ErrorBanner({ error, title, onRetry, onDismiss }: ErrorBannerProps) {
  if (!error) return null;
  const e = error instanceof Error ? error : new Error(String(error));
  const code = e instanceof ApiError && e.status !== 0 ? e.code : null;
  const detail = e instanceof ApiError && e.status === 0 ? null : e.message;
  return html`<div class="banner banner-error" role="alert">
    <${Icon} name="failed" />
    <div class="banner-body">
      <strong>${title ?? t(errorTitle(e))}</strong>
      ${detail && html` <span class="banner-detail">${detail}</span>`}
      ${code && html` <span class="banner-code">${t('error.code', { code })}</span>`}
    </div>
    ${onRetry && html`<button type="button" class="btn" onClick=${onRetry}>${t('error.retry')}</button>`}
    ${onDismiss && html`<button type="button" class="btn btn-quiet" onClick=${onDismiss}>${t('error.dismiss')}</button>`}
  </div>`;
}
