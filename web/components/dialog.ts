/**
 * A modal dialog: the native <dialog> opened with showModal() (the page
 * behind becomes inert), plus what the platform leaves to us: Tab and
 * Shift+Tab cycle inside the dialog, Escape asks the owner to close, focus
 * goes to the first control (or `initialFocus`) on open and back to the
 * element that had it on close.
 *
 *   html`<${Dialog} open=${open} title=${t('vm.delete')} onClose=${() => setOpen(false)}>
 *          …body and buttons…
 *        </${Dialog}>`
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';
import { html } from '../html';

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function focusables(root: Element): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => !el.closest('[hidden]'));
}

export interface DialogProps {
  open: boolean;
  title: string;
  onClose: () => void;
  children?: ComponentChildren;
  /** "alertdialog" for confirmations that interrupt. */
  role?: 'dialog' | 'alertdialog';
  /** CSS selector of the element to focus first (e.g. the safe button). */
  initialFocus?: string;
  /** Id of the element describing the dialog. */
  describedBy?: string;
}

export function Dialog(p: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = `d${useId()}`;

  useEffect(() => {
    const d = ref.current;
    if (!p.open || !d) return;
    const opener = document.activeElement as HTMLElement | null;
    if (typeof d.showModal === 'function') {
      if (!d.open) d.showModal();
    } else d.setAttribute('open', '');
    const first = (p.initialFocus ? d.querySelector<HTMLElement>(p.initialFocus) : null) ?? focusables(d)[0] ?? d;
    first.focus();
    return () => {
      if (typeof d.close === 'function' && d.open) d.close();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    };
  }, [p.open]);

  if (!p.open) return null;

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      p.onClose();
      return;
    }
    if (e.key !== 'Tab' || !ref.current) return;
    const items = focusables(ref.current);
    if (items.length === 0) {
      e.preventDefault();
      return;
    }
    const first = items[0]!;
    const last = items[items.length - 1]!;
    const active = document.activeElement;
    if (e.shiftKey && (active === first || !ref.current.contains(active))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (active === last || !ref.current.contains(active))) {
      e.preventDefault();
      first.focus();
    }
  };

  return html`<dialog
    ref=${ref}
    class="dialog"
    role=${p.role ?? 'dialog'}
    aria-modal="true"
    aria-labelledby=${titleId}
    aria-describedby=${p.describedBy}
    tabindex="-1"
    onKeyDown=${onKeyDown}
    onCancel=${(e: Event) => {
      e.preventDefault();
      p.onClose();
    }}
  >
    <h2 id=${titleId} class="dialog-title">${p.title}</h2>
    ${p.children}
  </dialog>`;
}
