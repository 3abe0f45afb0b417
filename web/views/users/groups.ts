/**
 * The Groups tab of the Users view: groups with their members; create one
 * (name, comment, members), change its members, delete it (its ACL entries
 * go with it). PUT replaces the member list as a whole.
 */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import type { Me } from '../../api';
import { client } from '../../client';
import { HeldNotice, useHeld } from '../../cluster';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable, type Column } from '../../components/data-table';
import { Dialog } from '../../components/dialog';
import { ErrorBanner } from '../../components/error-banner';
import { Field, fieldError, formError } from '../../components/field';
import { useAction, useLoad } from '../../hooks';
import type { GroupView } from '../../access/model';
import { UsersTabs } from './tabs';

function MemberChoice({ users, chosen, onChange }: { users: string[]; chosen: string[]; onChange: (m: string[]) => void }) {
  return html`<fieldset class="choices">
    <legend>${t('groups.f.members')}</legend>
    ${users.length === 0 && html`<p class="muted">${t('groups.noUsers')}</p>`}
    ${users.map((u) => html`<label class="check"><input type="checkbox" name=${`member-${u}`} checked=${chosen.includes(u)}
      onChange=${(e: Event) => onChange((e.currentTarget as HTMLInputElement).checked ? [...chosen, u] : chosen.filter((x) => x !== u))} /> ${u}</label>`)}
  </fieldset>`;
}

export function GroupsTab({ me }: { me: Me }) {
  const groups = useLoad(client.access.groups.list);
  const users = (useLoad(client.access.users.list).data ?? []).map((x) => x.username).sort();
  const [deleting, setDeleting] = useState<string | null>(null);
  const [editing, setEditing] = useState<GroupView | null>(null);
  const columns: Column<GroupView>[] = [
    { key: 'group', label: t('groups.col.name'), value: (g) => g.group },
    { key: 'comment', label: t('groups.col.comment'), value: (g) => g.comment },
    { key: 'members', label: t('groups.col.members'), value: (g) => g.members.join(', ') },
    {
      key: 'actions', label: t('table.actions'), value: () => '', sortable: false,
      render: (g) => html`<span class="panel-actions">
        <button type="button" class="btn btn-small" onClick=${() => setEditing(g)} aria-label=${t('groups.membersOne', { name: g.group })}>${t('groups.editMembers')}</button>
        <button type="button" class="btn btn-small" onClick=${() => setDeleting(g.group)} aria-label=${t('groups.deleteOne', { name: g.group })}>${t('groups.delete')}</button>
      </span>`,
    },
  ];
  return html`<h1>${t('users.title')}</h1>
    <${UsersTabs} current="groups" me=${me} />
    <${ErrorBanner} error=${groups.error} onRetry=${groups.reload} />
    ${groups.data === null
      ? !groups.error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${t('groups.title')} filter=${t('groups.filter')} empty=${t('groups.empty')} columns=${columns} rows=${groups.data}
          rowKey=${(g: GroupView) => g.group} initialSort=${{ key: 'group', dir: 'asc' }} />`}
    <${GroupCreate} users=${users} onCreated=${groups.reload} />
    <${MembersDialog} group=${editing} users=${users} onClose=${() => setEditing(null)} onSaved=${async () => (setEditing(null), await groups.reload())} />
    <${ConfirmDialog} open=${deleting !== null} title=${t('groups.deleteTitle', { name: deleting ?? '' })} message=${t('groups.deleteText')}
      confirmLabel=${t('groups.deleteOne', { name: deleting ?? '' })}
      onConfirm=${async () => {
        await client.access.groups.remove(deleting!);
        setDeleting(null);
        await groups.reload();
      }}
      onCancel=${() => setDeleting(null)} />`;
}

function GroupCreate({ users, onCreated }: { users: string[]; onCreated: () => Promise<unknown> }) {
  const [name, setName] = useState('');
  const [comment, setComment] = useState('');
  const [members, setMembers] = useState<string[]>([]);
  const held = useHeld();
  const create = useAction(async () => {
    await client.access.groups.create({ group: name.trim(), comment: comment.trim(), members });
    setName('');
    setComment('');
    setMembers([]);
    await onCreated();
  });
  const fe = (k: string) => fieldError(create.error, k);
  return html`<form class="card group-form" onSubmit=${(e: Event) => (e.preventDefault(), void create.run())} noValidate>
    <h2>${t('groups.new')}</h2>
    <${ErrorBanner} error=${formError(create.error, ['group', 'comment', 'members'])} />
    <div class="form-row">
      <${Field} label=${t('groups.f.name')} name="group" value=${name} required autocomplete="off"
        onInput=${(e: Event) => setName((e.currentTarget as HTMLInputElement).value)} error=${fe('group')} />
      <${Field} label=${t('groups.f.comment')} name="comment" value=${comment}
        onInput=${(e: Event) => setComment((e.currentTarget as HTMLInputElement).value)} error=${fe('comment')} />
    </div>
    <${MemberChoice} users=${users} chosen=${members} onChange=${setMembers} />
    ${fe('members') && html`<p class="field-error">${fe('members')}</p>`}
    <${HeldNotice} held=${held} />
    <div class="form-actions"><button type="submit" class="btn btn-primary" disabled=${create.busy || name.trim() === '' || held !== null}>${t('groups.create')}</button></div>
  </form>`;
}

function MembersDialog(p: { group: GroupView | null; users: string[]; onClose: () => void; onSaved: () => Promise<unknown> }) {
  const [members, setMembers] = useState<string[]>([]);
  const held = useHeld();
  const save = useAction(async (group: GroupView) => {
    await client.access.groups.setMembers(group.group, members);
    await p.onSaved();
  });
  useEffect(() => {
    setMembers(p.group?.members ?? []);
    save.setError(null);
  }, [p.group]);
  const submit = (e: Event) => {
    e.preventDefault();
    if (p.group) void save.run(p.group);
  };
  return html`<${Dialog} open=${p.group !== null} title=${t('groups.membersTitle', { name: p.group?.group ?? '' })} onClose=${() => !save.busy && p.onClose()}>
    <form onSubmit=${submit} noValidate>
      <${MemberChoice} users=${[...new Set([...p.users, ...(p.group?.members ?? [])])]} chosen=${members} onChange=${setMembers} />
      <${ErrorBanner} error=${save.error} />
      <${HeldNotice} held=${held} />
      <div class="dialog-buttons">
        <button type="button" class="btn dialog-cancel" disabled=${save.busy} onClick=${p.onClose}>${t('dialog.cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled=${save.busy || held !== null}>${t('groups.saveMembers')}</button>
      </div>
    </form>
  <//>`;
}
