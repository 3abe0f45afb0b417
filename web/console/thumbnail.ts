/**
 * A small picture of a guest's screen for lists and the guest page:
 * GET /api/monitor/<vmid>/screenshot?width=160 (a PNG, ~2 KB), fetched
 * again every THUMB_REFRESH_MS, and only while the picture is on screen and
 * the browser tab is visible. A guest that does not run shows a word
 * instead of a picture.
 *
 *   html`<${Thumbnail} vmid=${101} />`
 *   html`<${Thumbnail} vmid=${101} width=${240} />`
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import { urls } from '../client';

/** A thumbnail is fetched again this often while it is seen. */
export const THUMB_REFRESH_MS = 12_000;
/** Default width in pixels (the node scales down, keeping the aspect). */
export const THUMB_WIDTH_PX = 160;

export type ThumbState = { kind: 'loading' } | { kind: 'image'; url: string } | { kind: 'not-running' } | { kind: 'none' };

export interface ThumbnailProps {
  vmid: number | string;
  width?: number;
  /** Refresh interval (tests); default THUMB_REFRESH_MS. */
  refreshMs?: number;
}

export function Thumbnail({ vmid, width = THUMB_WIDTH_PX, refreshMs = THUMB_REFRESH_MS }: ThumbnailProps) {
  const ref = useRef<HTMLElement>(null);
  const [state, setState] = useState<ThumbState>({ kind: 'loading' });

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let url: string | null = null;
    let onScreen = true;
    let inFlight = false;

    const shown = () => onScreen && document.visibilityState !== 'hidden';
    const schedule = () => {
      clearTimeout(timer);
      timer = setTimeout(load, refreshMs);
    };
    async function load() {
      if (!live || inFlight) return;
      if (!shown()) return; // picked up again when seen
      inFlight = true;
      try {
        const res = await fetch(urls.screenshot(vmid, width), { credentials: 'same-origin', cache: 'no-store' });
        if (!live) return;
        if (res.ok) {
          const next = URL.createObjectURL(await res.blob());
          if (!live) {
            URL.revokeObjectURL(next);
            return;
          }
          if (url) URL.revokeObjectURL(url);
          url = next;
          setState({ kind: 'image', url });
        } else {
          setState({ kind: res.status === 409 ? 'not-running' : 'none' });
        }
      } catch {
        if (live) setState({ kind: 'none' });
      } finally {
        inFlight = false;
        if (live) schedule();
      }
    }

    const wake = () => {
      if (shown()) void load();
    };
    document.addEventListener('visibilitychange', wake);
    let io: IntersectionObserver | undefined;
    if (typeof IntersectionObserver !== 'undefined' && ref.current) {
      io = new IntersectionObserver((es) => {
        const was = onScreen;
        onScreen = es.some((e) => e.isIntersecting);
        if (onScreen && !was) wake();
      });
      io.observe(ref.current);
    }
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
      io?.disconnect();
      document.removeEventListener('visibilitychange', wake);
      if (url) URL.revokeObjectURL(url);
    };
  }, [vmid, width, refreshMs]);

  const style = { width: `${width}px` };
  return html`<span class="thumb" ref=${ref} style=${style}>
    ${state.kind === 'image'
      ? html`<img src=${state.url} width=${width} alt=${t('thumb.alt', { vmid })} />`
      : html`<span class="thumb-empty">${state.kind === 'not-running' ? t('thumb.notRunning') : state.kind === 'loading' ? '' : t('thumb.none')}</span>`}
  </span>`;
}
