/**
 * A labelled form field with an inline validation message. The label is a
 * real <label for>, the message is tied to the control with
 * aria-describedby and marks it aria-invalid, so it is read out with it.
 *
 *   html`<${Field} label=${t('vm.memory')} name="memory" type="number"
 *            value=${mem} onInput=${(e) => setMem(e.currentTarget.value)}
 *            error=${memError} hint=${t('vm.memoryHint')} required />`
 *
 * Pass one child element instead (a <select>, a <textarea>) to wrap that
 * control; it gets the id and the aria attributes. `suffix` sits right of
 * the control (a unit <select> with its own aria-label).
 *
 * fieldError() picks a server validation error for one field: the node
 * answers 400 {"code":"invalid","message":"memory: must be at least 16"}.
 * formError() is the rest, for the form's banner: an error no field shows.
 *
 *   <${Field} … error=${fieldError(save.error, 'memory')} />
 *   <${ErrorBanner} error=${formError(save.error, ['name', 'memory'])} />
 */
import { cloneElement, type ComponentChildren, type VNode } from 'preact';
import { useId } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import { ApiError } from '../api';

export interface FieldProps {
  label: string;
  /** The message under the field; the field is invalid while it is set. */
  error?: string | null | undefined;
  hint?: string | undefined;
  required?: boolean;
  id?: string;
  children?: ComponentChildren;
  /** Shown right of the control, e.g. a unit. */
  suffix?: ComponentChildren;
  [input: string]: unknown;
}

export function Field({ label, error, hint, required, id, children, suffix, ...input }: FieldProps) {
  const auto = useId();
  const fid = id ?? `f${auto}`;
  const hintId = `${fid}-hint`;
  const errId = `${fid}-error`;
  const describedBy = [hint ? hintId : '', error ? errId : ''].filter(Boolean).join(' ') || undefined;
  const aria = {
    id: fid,
    'aria-invalid': error ? 'true' : undefined,
    'aria-describedby': describedBy,
    required: required || undefined,
  };
  const control =
    children && typeof children === 'object' && 'type' in (children as VNode)
      ? cloneElement(children as VNode, aria)
      : html`<input ...${input} ...${aria} />`;
  return html`<div class=${`field${error ? ' field-invalid' : ''}`}>
    <label for=${fid}>
      ${label}${required && html` <span class="field-required">(${t('field.requiredMark')})</span>`}
    </label>
    ${suffix ? html`<div class="field-row">${control}${suffix}</div>` : control}
    ${hint && html`<p class="field-hint" id=${hintId}>${hint}</p>`}
    ${error && html`<p class="field-error" id=${errId}>${error}</p>`}
  </div>`;
}

/** The node's message for `field` when it refused that field, else null. */
export function fieldError(err: unknown, field: string): string | null {
  if (!(err instanceof ApiError) || err.code !== 'invalid') return null;
  const prefix = `${field}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : null;
}

/** `err` unless one of `fields` shows it (fieldError); null then. */
export function formError(err: unknown, fields: readonly string[]): unknown {
  return fields.some((f) => fieldError(err, f) !== null) ? null : err;
}
