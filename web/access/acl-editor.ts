/**
 * ACL entries as a table with a remove button each, and a form to add one
 * (path, user/group/token, role from GET /api/access/roles, propagate).
 * The Users view's ACL tab shows every entry and asks for the path; the
 * Permissions panel fixes the path and also lists the entries inherited from
 * the paths above it (those are changed where they are set).
 *
 *   html`<${AclEditor} />`                       all entries, any path
 *   html`<${AclEditor} path="/vms/101" />`       GET /api/access/acl?path=/vms/101
 */
import { useState } from 'preact/hooks';
import { html } from '../html';
import { t, type MessageKey } from '../i18n';
import { client } from '../client';
import { HeldNotice, useHeld } from '../cluster';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DataTable, type Column } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { Field, fieldError, formError } from '../components/field';
import { useAction, useLoad } from '../hooks';
import {
  aclBody, aclKey, aclTarget, principalOf, PRINCIPAL_KINDS, type AclEntryView, type AclForm, type PrincipalKind, type RoleView,
} from './model';

export const KIND_KEY: Record<PrincipalKind, MessageKey> = { user: 'perm.kind.user', group: 'perm.kind.group', token: 'perm.kind.token' };

/** Roles for the select; an empty list until loaded (the node's list is the truth). */
export function useRoles(): RoleView[] {
  return useLoad(client.access.roles).data ?? [];
}

/** User and group names to offer in the add form (what the caller may see). */
function useNames(): { users: string[]; groups: string[] } {
  const users = useLoad(client.access.users.list).data ?? [];
  const groups = useLoad(client.access.groups.list).data ?? [];
  return { users: users.map((x) => x.username), groups: groups.map((x) => x.group) };
}

export interface AclEditorProps {
  /** One path: its own and inherited entries, and the add form fixed to it. */
  path?: string;
  /** The table's accessible name. */
  label?: string;
}

export function AclEditor({ path, label }: AclEditorProps) {
  const { data: entries, error, reload } = useLoad(() => client.access.acl.list(path), [path]);
  const [removing, setRemoving] = useState<AclEntryView | null>(null);
  const roles = useRoles();

  const who = (e: AclEntryView) => {
    const p = principalOf(e);
    return `${t(KIND_KEY[p.kind])}: ${p.name}`;
  };
  const columns: Column<AclEntryView>[] = [
    {
      key: 'path', label: t('perm.col.path'), value: (e) => e.path,
      render: (e) => html`<code>${e.path}</code>${e.inherited && html` <span class="muted">(${t('perm.inherited')})</span>`}`,
    },
    { key: 'who', label: t('perm.col.who'), value: who },
    { key: 'role', label: t('perm.col.role'), value: (e) => e.role },
    { key: 'propagate', label: t('perm.col.propagate'), value: (e) => (e.propagate ? t('perm.yes') : t('perm.no')) },
    {
      key: 'actions', label: t('table.actions'), value: () => '', sortable: false,
      render: (e) =>
        e.inherited
          ? html`<span class="muted">${t('perm.setAbove')}</span>`
          : html`<button type="button" class="btn btn-small" onClick=${() => setRemoving(e)}
              aria-label=${t('perm.removeOne', { who: who(e), path: e.path })}>${t('perm.remove')}</button>`,
    },
  ];

  return html`<div class="acl-editor">
    <${ErrorBanner} error=${error} onRetry=${reload} />
    ${entries === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${label ?? t('perm.allTitle')} filter=${path ? false : t('perm.filter')} empty=${t('perm.empty')}
          columns=${columns} rows=${entries} rowKey=${aclKey} initialSort=${{ key: 'path', dir: 'asc' }} />`}
    <${AclAddForm} path=${path} roles=${roles} onAdded=${reload} />
    <${ConfirmDialog} open=${removing !== null} title=${t('perm.removeTitle')}
      message=${removing ? t('perm.removeText', { who: who(removing), role: removing.role, path: removing.path }) : ''}
      confirmLabel=${t('perm.remove')}
      onConfirm=${async () => {
        await client.access.acl.remove(aclTarget(removing!));
        setRemoving(null);
        await reload();
      }}
      onCancel=${() => setRemoving(null)} />
  </div>`;
}

function AclAddForm({ path, roles, onAdded }: { path: string | undefined; roles: RoleView[]; onAdded: () => Promise<unknown> }) {
  const blank = (): AclForm => ({ path: path ?? '/', kind: 'user', name: '', role: 'VMUser', propagate: true });
  const [f, setF] = useState<AclForm>(blank);
  const [done, setDone] = useState<string | null>(null);
  const names = useNames();
  const set = <K extends keyof AclForm>(k: K, v: AclForm[K]) => setF((s) => ({ ...s, [k]: v }));
  const val = (e: Event) => (e.currentTarget as HTMLInputElement).value;
  const add = useAction(async () => {
    await client.access.acl.set(aclBody(f));
    setDone(t('perm.added', { who: `${t(KIND_KEY[f.kind])}: ${f.name.trim()}`, role: f.role, path: f.path.trim() }));
    setF((s) => ({ ...s, name: '' }));
    await onAdded();
  });
  const submit = (e: Event) => {
    e.preventDefault();
    setDone(null);
    void add.run();
  };
  const fe = (k: string) => fieldError(add.error, k);
  const listId = `acl-names-${f.kind}`;
  const held = useHeld();
  const offered = f.kind === 'user' ? names.users : f.kind === 'group' ? names.groups : [];
  const shown = ['path', 'user', 'group', 'token', 'role'];
  return html`<form class="card acl-add" onSubmit=${submit} noValidate>
    <h3>${t('perm.add')}</h3>
    <${ErrorBanner} error=${formError(add.error, shown)} />
    ${done && html`<p role="status" >${done}</p>`}
    <div class="form-row">
      ${path === undefined &&
      html`<${Field} label=${t('perm.f.path')} name="path" value=${f.path} hint=${t('perm.f.pathHint')} required
        onInput=${(e: Event) => set('path', val(e))} error=${fe('path')} />`}
      <${Field} label=${t('perm.f.kind')}>
        <select name="kind" value=${f.kind} onChange=${(e: Event) => set('kind', val(e) as PrincipalKind)}>
          ${(path === undefined ? PRINCIPAL_KINDS : PRINCIPAL_KINDS.filter((k) => k !== 'token')).map(
            (k) => html`<option value=${k}>${t(KIND_KEY[k])}</option>`,
          )}
        </select>
      <//>
      <${Field} label=${t('perm.f.name')} name="name" value=${f.name} list=${listId} autocomplete="off" required
        hint=${f.kind === 'token' ? t('perm.f.tokenHint') : undefined}
        onInput=${(e: Event) => set('name', val(e))} error=${fe(f.kind)} />
      <datalist id=${listId}>${offered.map((n) => html`<option value=${n}></option>`)}</datalist>
      <${Field} label=${t('perm.f.role')} error=${fe('role')}>
        <select name="role" value=${f.role} onChange=${(e: Event) => set('role', val(e))}>
          ${(roles.length ? roles : [{ role: f.role, description: '', privileges: [] }]).map(
            (r) => html`<option value=${r.role} title=${r.privileges.join(', ')}>${r.role}</option>`,
          )}
        </select>
      <//>
    </div>
    <label class="check"><input type="checkbox" name="propagate" checked=${f.propagate}
      onChange=${(e: Event) => set('propagate', (e.currentTarget as HTMLInputElement).checked)} /> ${t('perm.f.propagate')}</label>
    <${HeldNotice} held=${held} />
    <div class="form-actions"><button type="submit" class="btn btn-primary" disabled=${add.busy || f.name.trim() === '' || held !== null}>${t('perm.addButton')}</button></div>
  </form>`;
}
