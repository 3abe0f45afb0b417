/**
 * The Audit tab of the Users view (Sys.Audit on /access): logins, failed
 * and throttled logins and every change to users, groups, ACL and tokens,
 * newest first, narrowed by user and action on the node (?user=, ?action=).
 */
import { useState } from 'preact/hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import type { Me } from '../../api';
import { client } from '../../client';
import { useLoad } from '../../hooks';
import { formatTime } from '../../format';
import { DataTable, type Column } from '../../components/data-table';
import { ErrorBanner } from '../../components/error-banner';
import { Field } from '../../components/field';
import { StatusBadge } from '../../components/status-badge';
import type { AuditView } from '../../access/model';
import { UsersTabs } from './tabs';

/** Entries fetched at once. */
const AUDIT_LIMIT = 200;

export const AUDIT_ACTIONS = [
  'login', 'logout', 'user.create', 'user.update', 'user.delete', 'user.password', 'group.create', 'group.update', 'group.delete',
  'acl.set', 'acl.delete', 'token.create', 'token.delete',
] as const;

/** The node's filter of the form's: auditFilter(' anna ', '') → { limit: 200, user: 'anna', action: '' }. */
export function auditFilter(user: string, action: string): { limit: number; user: string; action: string } {
  return { limit: AUDIT_LIMIT, user: user.trim(), action };
}

const detailText = (d: unknown): string => (d === undefined || d === null ? '' : typeof d === 'string' ? d : JSON.stringify(d));

export function AuditTab({ me }: { me: Me }) {
  const [user, setUser] = useState('');
  const [action, setAction] = useState('');
  const [asked, setAsked] = useState({ user: '', action: '' });
  const { data: rows, error, reload } = useLoad(() => client.access.audit(auditFilter(asked.user, asked.action)), [asked]);
  const columns: Column<AuditView>[] = [
    { key: 'time', label: t('audit.col.time'), value: (a) => formatTime(a.time), sortValue: (a) => a.time },
    { key: 'user', label: t('audit.col.user'), value: (a) => (a.token ? a.token : a.user) },
    { key: 'action', label: t('audit.col.action'), value: (a) => a.action },
    { key: 'object', label: t('audit.col.object'), value: (a) => a.object ?? '' },
    {
      key: 'ok', label: t('audit.col.result'), value: (a) => (a.ok ? t('audit.ok') : t('audit.failed')),
      render: (a) => html`<${StatusBadge} tone=${a.ok ? 'ok' : 'failed'} label=${a.ok ? t('audit.ok') : t('audit.failed')} />`,
    },
    { key: 'addr', label: t('audit.col.addr'), value: (a) => a.addr ?? '' },
    { key: 'detail', label: t('audit.col.detail'), value: (a) => detailText(a.detail), sortable: false },
  ];
  return html`<h1>${t('users.title')}</h1>
    <${UsersTabs} current="audit" me=${me} />
    <form class="form-row audit-filter" onSubmit=${(e: Event) => (e.preventDefault(), setAsked({ user, action }))}>
      <${Field} label=${t('audit.f.user')} name="user" value=${user} onInput=${(e: Event) => setUser((e.currentTarget as HTMLInputElement).value)} />
      <${Field} label=${t('audit.f.action')}>
        <select name="action" value=${action} onChange=${(e: Event) => setAction((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">${t('audit.allActions')}</option>
          ${AUDIT_ACTIONS.map((a) => html`<option value=${a}>${a}</option>`)}
        </select>
      <//>
      <div class="form-actions"><button type="submit" class="btn">${t('audit.show')}</button></div>
    </form>
    <${ErrorBanner} error=${error} onRetry=${reload} />
    ${rows === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${t('audit.title')} filter=${t('audit.filter')} empty=${t('audit.empty')} columns=${columns}
          rows=${rows.map((r, i) => ({ ...r, i }))} rowKey=${(a: AuditView & { i: number }) => a.i}
          initialSort=${{ key: 'time', dir: 'desc' }} rowClass=${(a: AuditView) => (a.ok ? undefined : 'row-failed')} />`}`;
}
