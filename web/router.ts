/**
 * Hash routing, so links, bookmarks and the back button work without any
 * server-side routes:
 *
 *   '#/guests/101/console'  →  { view: 'guests', parts: ['101', 'console'] }
 *   '#/' or ''              →  { view: '', parts: [] }   (the shell picks a start view)
 *
 * Hashes that do not start with "#/" (such as the skip link's "#main") are
 * not routes and leave the current route alone.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  view: string;
  parts: string[];
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The route of a location hash, or null when the hash is no route. */
export function parseHash(hash: string): Route | null {
  if (hash === '' || hash === '#') return { view: '', parts: [] };
  if (!hash.startsWith('#/')) return null;
  const [view = '', ...parts] = hash.slice(2).split('?')[0]!.split('/').filter((p) => p !== '').map(decode);
  return { view, parts };
}

/** The hash of a route: href('guests', 101) → '#/guests/101'. */
export function href(view: string, ...parts: Array<string | number>): string {
  return '#/' + [view, ...parts].map((p) => encodeURIComponent(String(p))).join('/');
}

/** Go to a route; `replace` keeps the back button from returning to the current one. */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) {
    history.replaceState(history.state, '', to);
    window.dispatchEvent(new Event('hashchange'));
  } else {
    location.hash = to;
  }
}

/** The current route; re-renders on every route change. */
export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseHash(location.hash) ?? { view: '', parts: [] });
  useEffect(() => {
    const onChange = () => {
      const r = parseHash(location.hash);
      if (r) setRoute((old) => (old.view === r.view && old.parts.join('/') === r.parts.join('/') ? old : r));
    };
    window.addEventListener('hashchange', onChange);
    onChange();
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
