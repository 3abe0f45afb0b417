/**
 * Copy text to the clipboard. navigator.clipboard exists only in secure
 * contexts (HTTPS or localhost); a node reached over plain HTTP on the LAN
 * falls back to the older copy command on a hidden, selected text area.
 * Resolves false when the browser refused both. useCopy() adds the
 * "Copied" a button shows for COPIED_MS after it worked.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

/** How long "Copied" shows. */
export const COPIED_MS = 2000;

export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* denied: try the old way */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  const before = document.activeElement as HTMLElement | null;
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  before?.focus?.();
  return ok;
}

/** copy(text), and `copied` true for COPIED_MS after it worked. */
export function useCopy(): { copied: boolean; copy: (text: string) => Promise<void> } {
  const [copied, setCopied] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = async (text: string) => {
    if (!(await copyText(text))) return;
    setCopied(true);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setCopied(false), COPIED_MS);
  };
  return { copied, copy };
}
