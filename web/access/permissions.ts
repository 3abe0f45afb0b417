/**
 * "Permissions" for one ACL path, to embed where that object is shown (a
 * guest's own page, a storage): who holds which role there, inherited
 * entries included, and a form to grant a user or group a role on it or to
 * take an entry away. Shown only to users holding User.Modify (somewhere:
 * the node decides per path and answers 403 otherwise, shown in the panel).
 *
 *   import { Permissions } from '../access/permissions';
 *   html`<${Permissions} path=${`/vms/${vmid}`} me=${p.me} />`
 */
import { html } from '../html';
import { t } from '../i18n';
import type { Me } from '../api';
import { AclEditor } from './acl-editor';
import { holds } from './model';

export interface PermissionsProps {
  /** The ACL path: "/vms/101", "/storage/local", "/iso", … */
  path: string;
  /** The logged-in user (ViewProps.me): without User.Modify the panel renders nothing. */
  me: Pick<Me, 'privileges'>;
}

export function Permissions({ path, me }: PermissionsProps) {
  if (!holds(me.privileges, 'User.Modify')) return null;
  return html`<section class="card permissions" aria-label=${t('perm.title', { path })}>
    <h2>${t('perm.title', { path })}</h2>
    <p class="muted">${t('perm.intro')}</p>
    <${AclEditor} key=${path} path=${path} label=${t('perm.title', { path })} />
  </section>`;
}
