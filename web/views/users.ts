/**
 * The Users view (User.Modify), in four tabs:
 *
 *   #/users               users: name, full name, email, enabled, expiry, groups; enable/disable, delete
 *   #/users/new           create a user
 *   #/users/user/<name>   edit a user, reset their password
 *   #/users/groups        groups: create, members, delete
 *   #/users/acl           ACL entries: path, user/group/token, role, propagate; add, remove
 *   #/users/audit         the audit log (Sys.Audit)
 *
 * The node refuses what would lock every administrator out (409) and names
 * the field of a bad value (400 "email: …"); both show where they happen.
 */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import type { Me } from '../api';
import { client } from '../client';
import { HeldNotice, useHeld } from '../cluster';
import { href, navigate } from '../router';
import { formatExpiry } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DataTable, type Column } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { Field, fieldError, formError } from '../components/field';
import { useAction, useLoad } from '../hooks';
import { StatusBadge } from '../components/status-badge';
import { AclEditor } from '../access/acl-editor';
import { dateFromExpire, userBody, type UserForm, type UserView } from '../access/model';
import { PasswordForm } from '../access/password-form';
import { GroupsTab } from './users/groups';
import { AuditTab } from './users/audit';
import { UsersTabs } from './users/tabs';
import type { ViewProps } from './props';

function UserList({ me }: { me: Me }) {
  const users = useLoad(client.access.users.list);
  const [deleting, setDeleting] = useState<string | null>(null);
  const toggle = useAction(async (u: UserView) => {
    await client.access.users.update(u.username, { enabled: !u.enabled });
    await users.reload();
  });
  const columns: Column<UserView>[] = [
    { key: 'username', label: t('users.col.name'), value: (u) => u.username, render: (u) => html`<a href=${href('users', 'user', u.username)}>${u.username}</a>` },
    { key: 'fullname', label: t('users.col.fullname'), value: (u) => u.fullname },
    { key: 'email', label: t('users.col.email'), value: (u) => u.email },
    {
      key: 'enabled', label: t('users.col.enabled'), value: (u) => (u.enabled ? t('users.enabled') : t('users.disabled')),
      render: (u) => html`<${StatusBadge} tone=${u.enabled ? 'ok' : 'neutral'} label=${u.enabled ? t('users.enabled') : t('users.disabled')} />`,
    },
    { key: 'expire', label: t('users.col.expire'), value: (u) => formatExpiry(u.expire), sortValue: (u) => u.expire || Number.MAX_SAFE_INTEGER },
    { key: 'groups', label: t('users.col.groups'), value: (u) => u.groups.join(', ') },
    {
      key: 'actions', label: t('table.actions'), value: () => '', sortable: false,
      render: (u) => html`<span class="panel-actions">
        <button type="button" class="btn btn-small" disabled=${toggle.running?.[0].username === u.username} onClick=${() => toggle.run(u)}
          aria-label=${t(u.enabled ? 'users.disableOne' : 'users.enableOne', { name: u.username })}>${u.enabled ? t('users.disable') : t('users.enable')}</button>
        <button type="button" class="btn btn-small" disabled=${u.username === me.username} onClick=${() => setDeleting(u.username)}
          aria-label=${t('users.deleteOne', { name: u.username })}>${t('users.delete')}</button>
      </span>`,
    },
  ];
  return html`<h1>${t('users.title')}</h1>
    <${UsersTabs} current="users" me=${me} />
    <p><a class="btn btn-primary" href=${href('users', 'new')}>${t('users.new')}</a></p>
    <${ErrorBanner} error=${toggle.error} onDismiss=${() => toggle.setError(null)} />
    <${ErrorBanner} error=${users.error} onRetry=${users.reload} />
    ${users.data === null
      ? !users.error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${t('users.title')} filter=${t('users.filter')} empty=${t('users.empty')} columns=${columns} rows=${users.data}
          rowKey=${(u: UserView) => u.username} initialSort=${{ key: 'username', dir: 'asc' }}
          rowClass=${(u: UserView) => (u.enabled ? undefined : 'row-disabled')} />`}
    <${ConfirmDialog} open=${deleting !== null} title=${t('users.deleteTitle', { name: deleting ?? '' })} message=${t('users.deleteText')}
      confirmLabel=${t('users.deleteOne', { name: deleting ?? '' })} requireText=${deleting ?? ''}
      onConfirm=${async () => {
        await client.access.users.remove(deleting!);
        setDeleting(null);
        await users.reload();
      }}
      onCancel=${() => setDeleting(null)} />`;
}

const EMPTY: UserForm = { username: '', fullname: '', email: '', comment: '', enabled: true, expire: '', groups: [], password: '' };

const fromUser = (u: UserView): UserForm => ({
  username: u.username, fullname: u.fullname, email: u.email, comment: u.comment, enabled: u.enabled,
  expire: dateFromExpire(u.expire), groups: [...u.groups], password: '',
});

function UserEdit({ name, me }: { name: string | null; me: Me }) {
  const [before, setBefore] = useState<UserView | null>(null);
  const [f, setF] = useState<UserForm | null>(name ? null : EMPTY);
  const groups = useLoad(client.access.groups.list).data ?? [];
  const user = useLoad(() => (name ? client.access.users.get(name) : Promise.resolve(null)), [name]);
  useEffect(() => {
    if (user.data) {
      setBefore(user.data);
      setF(fromUser(user.data));
    }
  }, [user.data]);
  const [saved, setSaved] = useState(false);
  const set = <K extends keyof UserForm>(k: K, v: UserForm[K]) => (setSaved(false), setF((s) => (s ? { ...s, [k]: v } : s)));
  const val = (e: Event) => (e.currentTarget as HTMLInputElement).value;
  const [expireError, setExpireError] = useState(false);
  const held = useHeld();
  const save = useAction(async (body: Record<string, unknown>) => {
    if (name) {
      const u = await client.access.users.update(name, body);
      setBefore(u);
      setF(fromUser(u));
      setSaved(true);
    } else {
      await client.access.users.create(body);
      navigate(href('users'));
    }
  });
  const submit = (e: Event) => {
    e.preventDefault();
    if (!f) return;
    const body = userBody(f, before);
    setExpireError('error' in body);
    if (!('error' in body)) void save.run(body);
  };
  const error = save.error ?? user.error;
  const fe = (k: string) => fieldError(error, k);
  const shown = ['username', 'password', 'fullname', 'email', 'comment', 'expire', 'groups'];
  return html`<p class="crumbs"><a href=${href('users')}>${t('users.back')}</a></p>
    <h1>${name ? t('users.editTitle', { name }) : t('users.new')}</h1>
    <${ErrorBanner} error=${formError(error, shown)} />
    ${!f && !error && html`<p>${t('app.loading')}</p>`}
    ${f && html`<form class="card user-form" onSubmit=${submit} noValidate>
      ${!name && html`<${Field} label=${t('users.f.username')} name="username" value=${f.username} required autocomplete="off"
        hint=${t('users.f.usernameHint')} onInput=${(e: Event) => set('username', val(e))} error=${fe('username')} />`}
      ${!name && html`<${Field} label=${t('users.f.password')} name="password" type="password" value=${f.password} required autocomplete="new-password"
        hint=${t('users.f.passwordHint')} onInput=${(e: Event) => set('password', val(e))} error=${fe('password')} />`}
      <div class="form-row">
        <${Field} label=${t('users.f.fullname')} name="fullname" value=${f.fullname} onInput=${(e: Event) => set('fullname', val(e))} error=${fe('fullname')} />
        <${Field} label=${t('users.f.email')} name="email" type="email" value=${f.email} onInput=${(e: Event) => set('email', val(e))} error=${fe('email')} />
      </div>
      <div class="form-row">
        <${Field} label=${t('users.f.expire')} name="expire" type="date" value=${f.expire} hint=${t('users.f.expireHint')}
          onInput=${(e: Event) => set('expire', val(e))} error=${expireError ? t('users.f.expireBad') : fe('expire')} />
        <${Field} label=${t('users.f.comment')} name="comment" value=${f.comment} onInput=${(e: Event) => set('comment', val(e))} error=${fe('comment')} />
      </div>
      <label class="check"><input type="checkbox" name="enabled" checked=${f.enabled}
        onChange=${(e: Event) => set('enabled', (e.currentTarget as HTMLInputElement).checked)} /> ${t('users.f.enabled')}</label>
      <fieldset class="choices">
        <legend>${t('users.f.groups')}</legend>
        ${groups.length === 0 && html`<p class="muted">${t('users.f.noGroups')}</p>`}
        ${groups.map((g) => html`<label class="check"><input type="checkbox" name=${`group-${g.group}`} checked=${f.groups.includes(g.group)}
          onChange=${(e: Event) => set('groups', (e.currentTarget as HTMLInputElement).checked ? [...f.groups, g.group] : f.groups.filter((x) => x !== g.group))} /> ${g.group}</label>`)}
        ${fe('groups') && html`<p class="field-error">${fe('groups')}</p>`}
      </fieldset>
      ${saved && html`<p role="status">${t('users.saved')}</p>`}
      <${HeldNotice} held=${held} />
      <div class="form-actions"><button type="submit" class="btn btn-primary" disabled=${save.busy || held !== null}>${name ? t('users.save') : t('users.create')}</button></div>
    </form>`}
    ${name && before && html`<${ResetPassword} name=${name} self=${name === me.username} />`}`;
}

function ResetPassword({ name, self }: { name: string; self: boolean }) {
  return html`<${PasswordForm} title=${t('users.reset')} intro=${self ? t('users.resetSelf') : t('users.resetText')}
    submitLabel=${t('users.resetButton')} doneText=${t('users.resetDone', { name })}
    onSubmit=${(password: string) => client.access.users.update(name, { password })} />`;
}

function AclTab({ me }: { me: Me }) {
  return html`<h1>${t('users.title')}</h1>
    <${UsersTabs} current="acl" me=${me} />
    <p class="muted">${t('perm.aclIntro')}</p>
    <${AclEditor} />`;
}

export default function UsersView({ parts, me }: ViewProps) {
  if (parts[0] === 'new') return html`<${UserEdit} key="new" name=${null} me=${me} />`;
  if (parts[0] === 'user' && parts[1]) return html`<${UserEdit} key=${parts[1]} name=${parts[1]} me=${me} />`;
  if (parts[0] === 'groups') return html`<${GroupsTab} me=${me} />`;
  if (parts[0] === 'acl') return html`<${AclTab} me=${me} />`;
  if (parts[0] === 'audit') return html`<${AuditTab} me=${me} />`;
  return html`<${UserList} me=${me} />`;
}
