/** The tabs of the Users view; Audit only for holders of Sys.Audit. */
import type { Me } from '../../api';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';
import { holds } from '../../access/model';

export type UsersTab = 'users' | 'groups' | 'acl' | 'audit';

export function UsersTabs({ current, me }: { current: UsersTab; me: Me }) {
  const tab = (id: UsersTab, to: string, label: string) =>
    html`<a href=${to} aria-current=${current === id ? 'page' : undefined}>${label}</a>`;
  return html`<nav class="tabs" aria-label=${t('users.tabs')}>
    ${tab('users', href('users'), t('users.tab.users'))}
    ${tab('groups', href('users', 'groups'), t('users.tab.groups'))}
    ${tab('acl', href('users', 'acl'), t('users.tab.acl'))}
    ${holds(me.privileges, 'Sys.Audit') && tab('audit', href('users', 'audit'), t('users.tab.audit'))}
  </nav>`;
}
