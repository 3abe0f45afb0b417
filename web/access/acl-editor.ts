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
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html';
import { t, type MessageKey } from '../i18n';
import { client } from '../client';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DataTable, type Column } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { Field, fieldError } from '../components/field';
import {
  aclBody, aclKey, aclTarget, principalOf, PRINCIPAL_KINDS, type AclEntryView, type AclForm, type PrincipalKind, type RoleView,
} from './model';

export const KIND_KEY: Record<PrincipalKind, MessageKey> = { user: 'perm.kind.user', group: 'perm.kind.group', token: 'perm.kind.token' };

/** Roles for the select; an empty list until loaded (the node's list is the truth). */
export function useRoles(): RoleView[] {
  const [roles, setRoles] = useState<RoleView[]>([]);
  useEffect(() => {
    client.access.roles().then(setRoles, () => setRoles([]));
  }, []);
  return roles;
}

/** User and group names to offer in the add form (what the caller may see). */
function useNames(): { users: string[]; groups: string[] } {
  const [names, setNames] = useState<{ users: string[]; groups: string[] }>({ users: [], groups: [] });
  useEffect(() => {
    void Promise.all([
      client.access.users.list().catch(() => []),
      client.access.groups.list().catch(() => []),
    ]).then(([u, g]) => setNames({ users: u.map((x) => x.username), groups: g.map((x) => x.group) }));
  }, []);
  return names;
}

export interface AclEditorProps {
  /** One path: its own and inherited entries, and the add form fixed to it. */
  path?: string;
  /** The table's accessible name. */
  label?: string;
}

export function AclEditor({ path, label }: AclEditorProps) {
  const [entries, setEntries] = useState<AclEntryView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [removing, setRemoving] = useState<AclEntryView | null>(null);
  const roles = useRoles();
  const load = () =>
    client.access.acl.list(path).then((x) => (setEntries(x), setError(null)), setError);
  useEffect(() => {
    void load();
  }, [path]);

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
    ${error && html`<${ErrorBanner} error=${error} onRetry=${load} />`}
    ${entries === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${label ?? t('perm.allTitle')} filter=${path ? false : t('perm.filter')} empty=${t('perm.empty')}
          columns=${columns} rows=${entries} rowKey=${aclKey} initialSort=${{ key: 'path', dir: 'asc' }} />`}
    <${AclAddForm} path=${path} roles=${roles} onAdded=${load} />
    <${ConfirmDialog} open=${removing !== null} title=${t('perm.removeTitle')}
      message=${removing ? t('perm.removeText', { who: who(removing), role: removing.role, path: removing.path }) : ''}
      confirmLabel=${t('perm.remove')}
      onConfirm=${async () => {
        await client.access.acl.remove(aclTarget(removing!));
        setRemoving(null);
        await load();
      }}
      onCancel=${() => setRemoving(null)} />
  </div>`;
}

function AclAddForm({ path, roles, onAdded }: { path: string | undefined; roles: RoleView[]; onAdded: () => Promise<unknown> }) {
  const blank = (): AclForm => ({ path: path ?? '/', kind: 'user', name: '', role: 'VMUser', propagate: true });
  const [f, setF] = useState<AclForm>(blank);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const names = useNames();
  const set = <K extends keyof AclForm>(k: K, v: AclForm[K]) => setF((s) => ({ ...s, [k]: v }));
  const val = (e: Event) => (e.currentTarget as HTMLInputElement).value;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await client.access.acl.set(aclBody(f));
      setDone(t('perm.added', { who: `${t(KIND_KEY[f.kind])}: ${f.name.trim()}`, role: f.role, path: f.path.trim() }));
      setF((s) => ({ ...s, name: '' }));
      await onAdded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fe = (k: string) => fieldError(error, k);
  const listId = `acl-names-${f.kind}`;
  const offered = f.kind === 'user' ? names.users : f.kind === 'group' ? names.groups : [];
  const shown = ['path', 'user', 'group', 'token', 'role'];
  return html`<form class="card acl-add" onSubmit=${submit} noValidate>
    <h3>${t('perm.add')}</h3>
    ${error && !shown.some((k) => fe(k)) && html`<${ErrorBanner} error=${error} />`}
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
    <div class="form-actions"><button type="submit" class="btn btn-primary" disabled=${busy || f.name.trim() === ''}>${t('perm.addButton')}</button></div>
  </form>`;
}
