/**
 * The top bar: product, node, user, language, logout; below 640 px also the
 * button that opens the navigation.
 */
import { html } from '../html';
import { t } from '../i18n';
import type { Me } from '../api';
import { Icon } from '../components/icon';
import { LangSwitch } from './lang-switch';

export interface TopBarProps {
  me: Me;
  navOpen: boolean;
  onToggleNav: () => void;
  onLogout: () => void;
}

export function TopBar({ me, navOpen, onToggleNav, onLogout }: TopBarProps) {
  return html`<header class="topbar">
    <button type="button" class="btn-bar nav-toggle" aria-expanded=${navOpen ? 'true' : 'false'} aria-controls="nav" onClick=${onToggleNav}>
      <${Icon} name="menu" /><span class="nav-toggle-text">${t('app.menu')}</span>
    </button>
    <span class="brand">${t('app.name')}</span>
    <span class="topbar-item topbar-node" title=${t('top.node')}>
      <${Icon} name="node" /><span class="topbar-label">${t('top.node')}:</span> <strong>${me.node}</strong>
    </span>
    <span class="topbar-spacer"></span>
    <span class="topbar-item topbar-user" title=${t('top.user')}>
      <${Icon} name="users" /><span class="topbar-label">${t('top.user')}:</span> <strong>${me.username}</strong>
    </span>
    <${LangSwitch} />
    <button type="button" class="btn-bar" onClick=${onLogout}><${Icon} name="logout" /><span class="logout-text">${t('top.logout')}</span></button>
  </header>`;
}
