/**
 * The registry of views: one entry per page of the app, in navigation
 * order. A view appears in the navigation once it has `load` and the user
 * holds `priv` somewhere (GET /api/access/me lists the privileges held on
 * "/" or below it; null means every logged-in user). Its route is
 * "#/<id>/…": the component gets the parts after the id, so
 * "#/guests/101/console" renders the guests view with parts ['101', 'console'].
 *
 * A feature adds its view with one line, its `load`:
 *
 *   load: () => import('./guests'),      // web/views/guests.ts: export default function GuestsView(p: ViewProps)
 *
 * The import is lazy: each view is a chunk of its own, fetched on first use.
 */
import type { ComponentType } from 'preact';
import type { Privilege } from '../../node-cgi/api-types';
import type { IconName } from '../components/icon';
import type { MessageKey } from '../i18n';
import type { ViewProps } from './props';

export type { ViewProps };

export interface ViewDef {
  /** The route's first part, and a stable name. */
  id: string;
  /** Navigation label and page title. */
  title: MessageKey;
  icon: IconName;
  /** Shown to users who hold this privilege somewhere; null: to everyone. */
  priv: Privilege | null;
  load?: () => Promise<{ default: ComponentType<ViewProps> }>;
  /** Reached by links only (e.g. a console in a window of its own), not listed in the navigation. */
  hidden?: boolean;
}

export const VIEWS: readonly ViewDef[] = [
  {
    id: 'guests',
    title: 'nav.guests',
    icon: 'guests',
    priv: 'VM.Audit',
    load: () => import('./guests'),
  },
  {
    id: 'iso',
    title: 'nav.iso',
    icon: 'iso',
    priv: 'Datastore.Audit',
    load: () => import('./iso'),
  },
  {
    id: 'backups',
    title: 'nav.backups',
    icon: 'backups',
    priv: 'Datastore.Audit',
    load: () => import('./backups'),
  },
  {
    id: 'tasks',
    title: 'nav.tasks',
    icon: 'tasks',
    priv: null,
    load: () => import('./tasks'),
  },
  {
    id: 'users',
    title: 'nav.users',
    icon: 'users',
    priv: 'User.Modify',
    load: () => import('./users'),
  },
  {
    id: 'nodes',
    title: 'nav.nodes',
    icon: 'node',
    priv: 'Sys.Audit',
    load: () => import('./nodes'),
  },
  {
    id: 'cluster',
    title: 'nav.cluster',
    icon: 'cluster',
    priv: 'Sys.Audit',
    load: () => import('./cluster'),
  },
  {
    id: 'console',
    title: 'nav.console',
    icon: 'guests',
    priv: 'VM.Console',
    load: () => import('./console'),
    hidden: true,
  },
  {
    id: 'account',
    title: 'nav.account',
    icon: 'account',
    priv: null,
    load: () => import('./account'),
    hidden: true,
  },
];

/** The views of the navigation: those the user may open, less the hidden ones. */
export const navViews = (views: readonly ViewDef[]): ViewDef[] => views.filter((v) => !v.hidden);

/** The views this user may open, in navigation order. */
export function visibleViews(privileges: readonly string[], views: readonly ViewDef[] = VIEWS): ViewDef[] {
  return views.filter((v) => v.load && (v.priv === null || privileges.includes(v.priv)));
}
