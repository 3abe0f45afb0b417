/**
 * The shell: login, then top bar, navigation, the current view and the task
 * panel. The route picks the view from the registry (views/index.ts); "#/"
 * goes to the first view the user may use. A 401 from any request brings
 * the login page back with a message (after a join this tab started: that
 * the node's users are the cluster's now), and the route is kept, so
 * logging in again returns to the same page. The cluster's banner (where
 * the master is, nodes that do not answer) heads every page.
 */
import type { ComponentType } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html';
import { t, useLang, type MessageKey } from '../i18n';
import { api, type Me } from '../api';
import { href, navigate, useRoute, type Route } from '../router';
import { ErrorBanner } from '../components/error-banner';
import { Icon } from '../components/icon';
import { navViews, VIEWS, visibleViews, type ViewDef, type ViewProps } from '../views';
import { tookJoin } from '../cluster';
import { ClusterBanner } from './cluster-banner';
import { LoginPage } from './login';
import { TaskPanel } from './task-panel';
import { TopBar } from './top-bar';

type Phase = { kind: 'starting' } | { kind: 'login'; notice?: MessageKey } | { kind: 'in'; me: Me; fromLogin?: boolean };

/** `views`: the registry (tests pass one whose modules load without a bundler). */
export function App({ views = VIEWS }: { views?: readonly ViewDef[] }) {
  useLang();
  const [phase, setPhase] = useState<Phase>({ kind: 'starting' });

  useEffect(() => {
    const off = api.onUnauthenticated(() => setPhase({ kind: 'login', notice: tookJoin() ? 'login.joined' : 'login.expired' }));
    api.resume().then(
      (me) => setPhase(me ? { kind: 'in', me } : { kind: 'login' }),
      () => setPhase({ kind: 'login' }),
    );
    return off;
  }, []);

  if (phase.kind === 'starting') return html`<p class="starting">${t('app.loading')}</p>`;
  if (phase.kind === 'login') return html`<${LoginPage} notice=${phase.notice} onLogin=${(me: Me) => setPhase({ kind: 'in', me, fromLogin: true })} />`;
  const logout = async () => {
    await api.logout().catch(() => undefined);
    setPhase({ kind: 'login', notice: 'login.loggedOut' });
  };
  return html`<${Shell} me=${phase.me} registry=${views} focusMain=${!!phase.fromLogin} onLogout=${logout} />`;
}

interface ShellProps {
  me: Me;
  registry: readonly ViewDef[];
  /** Put the focus on the page at once (after the login form, whose button is gone). */
  focusMain: boolean;
  onLogout: () => void;
}

function Shell({ me, registry, focusMain, onLogout }: ShellProps) {
  const route = useRoute();
  const [navOpen, setNavOpen] = useState(false);
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  const views = visibleViews(me.privileges, registry);
  const nav = navViews(views);
  const def = registry.find((v) => v.id === route.view);

  useEffect(() => {
    if (route.view === '' && nav[0]) navigate(href(nav[0].id), { replace: true });
  }, [route.view]);

  // A new page: close the phone menu, move focus to the page, name the tab.
  // A fresh load leaves the focus alone, so Tab reaches the skip link first.
  useEffect(() => {
    setNavOpen(false);
    document.title = [def ? t(def.title) : '', me.node, t('app.name')].filter(Boolean).join(' — ');
    if (!first.current || focusMain) mainRef.current?.focus();
    first.current = false;
  }, [route.view, route.parts.join('/')]);

  const skip = (e: Event) => {
    e.preventDefault();
    mainRef.current?.focus();
  };

  return html`<div class="shell">
    <a class="skip-link" href="#main" onClick=${skip}>${t('app.skip')}</a>
    <${TopBar} me=${me} navOpen=${navOpen} onToggleNav=${() => setNavOpen(!navOpen)} onLogout=${onLogout} />
    <div class="shell-body">
      <nav id="nav" class=${`nav${navOpen ? ' nav-open' : ''}`} aria-label=${t('nav.label')}>
        <ul>
          ${nav.map(
            (v) => html`<li key=${v.id}>
              <a href=${href(v.id)} aria-current=${v.id === route.view ? 'page' : undefined}><${Icon} name=${v.icon} />${t(v.title)}</a>
            </li>`,
          )}
        </ul>
      </nav>
      <main id="main" ref=${mainRef} tabindex="-1">
        <${ClusterBanner} />
        <${Page} route=${route} def=${def} me=${me} allowed=${!!def && views.includes(def)} />
      </main>
    </div>
    <${TaskPanel} username=${me.username} />
  </div>`;
}

function Page({ route, def, me, allowed }: { route: Route; def: ViewDef | undefined; me: Me; allowed: boolean }) {
  if (route.view === '') return null;
  if (!def || !def.load) return html`<${Notice} text=${t('app.notFound')} />`;
  if (!allowed) return html`<${Notice} text=${t('app.noAccess')} />`;
  return html`<${ViewHost} key=${def.id} def=${def} parts=${route.parts} me=${me} />`;
}

function Notice({ text }: { text: string }) {
  return html`<h1>${text}</h1><p><a href=${href('')}>${t('app.home')}</a></p>`;
}

/** Views loaded so far: going back to one shows it at once. */
const loaded = new Map<string, ComponentType<ViewProps>>();

function ViewHost({ def, parts, me }: { def: ViewDef; parts: string[]; me: Me }) {
  const [View, setView] = useState<ComponentType<ViewProps> | undefined>(() => loaded.get(def.id));
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (View || !def.load) return;
    let live = true;
    def.load().then(
      (m) => {
        loaded.set(def.id, m.default);
        if (live) setView(() => m.default);
      },
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [def.id]);
  if (error) {
    return html`<${ErrorBanner} error=${error} title=${t('app.viewFailed')} />
      <button type="button" class="btn" onClick=${() => location.reload()}>${t('app.reload')}</button>`;
  }
  if (!View) return html`<p>${t('app.loading')}</p>`;
  return html`<${View} parts=${parts} me=${me} />`;
}
