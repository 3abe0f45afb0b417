/**
 * Confirmation before a destructive action. The safe choice (Cancel) has the
 * focus; the action button says what it does ("Delete guest 101", not "OK").
 * With `requireText` the action stays disabled until that text is typed, for
 * what cannot be undone. onConfirm may return a promise: the buttons wait,
 * and an error is shown in the dialog instead of closing it.
 *
 *   html`<${ConfirmDialog} open=${asking} title=${t('vm.deleteTitle', { vmid })}
 *          message=${t('vm.deleteText')} confirmLabel=${t('vm.delete')}
 *          requireText=${String(vmid)}
 *          onConfirm=${async () => { await api.del(`/api/vm/${vmid}`); setAsking(false); }}
 *          onCancel=${() => setAsking(false)} />`
 */
import { useEffect, useId, useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import { Dialog } from './dialog';
import { ErrorBanner } from './error-banner';
import { Field } from './field';
import { useAction } from '../hooks';

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  message: string;
  confirmLabel: string;
  onConfirm: () => void | Promise<void>;
  onCancel: () => void;
  /** Red action button (default true: this dialog is for destructive actions). */
  danger?: boolean;
  requireText?: string;
}

export function ConfirmDialog(p: ConfirmDialogProps) {
  const msgId = `m${useId()}`;
  const [typed, setTyped] = useState('');
  const action = useAction(() => p.onConfirm());
  const { busy, error } = action;

  useEffect(() => {
    if (p.open) {
      setTyped('');
      action.setError(null);
    }
  }, [p.open]);

  const ready = !busy && (p.requireText === undefined || typed === p.requireText);
  const confirm = (e: Event) => {
    e.preventDefault();
    if (ready) void action.run();
  };

  return html`<${Dialog}
    open=${p.open}
    title=${p.title}
    role="alertdialog"
    describedBy=${msgId}
    initialFocus=${p.requireText === undefined ? '.dialog-cancel' : 'input'}
    onClose=${() => !busy && p.onCancel()}
  >
    <form onSubmit=${confirm} noValidate>
      <p id=${msgId}>${p.message}</p>
      ${p.requireText !== undefined &&
      html`<${Field}
        label=${t('dialog.typeToConfirm', { text: p.requireText })}
        value=${typed}
        autocomplete="off"
        spellcheck=${false}
        onInput=${(e: Event) => setTyped((e.currentTarget as HTMLInputElement).value)}
      />`}
      <${ErrorBanner} error=${error} />
      <div class="dialog-buttons">
        <button type="button" class="btn dialog-cancel" disabled=${busy} onClick=${p.onCancel}>${t('dialog.cancel')}</button>
        <button type="submit" class=${`btn ${p.danger === false ? 'btn-primary' : 'btn-danger'} dialog-confirm`} disabled=${!ready} aria-busy=${busy || undefined}>
          ${p.confirmLabel}
        </button>
      </div>
    </form>
  </${Dialog}>`;
}
