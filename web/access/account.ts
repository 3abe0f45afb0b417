/**
 * My account, for every logged-in user (#/account): change one's own
 * password with the old one (PUT /api/access/password answers with a fresh
 * ticket, so this session goes on), and one's own API tokens: create (with
 * an optional expiry and privilege separation), list, delete. A new token's
 * secret is shown once, with a copy button; the node keeps only its hash.
 *
 *   curl -H 'Authorization: RamvmToken anna!ci=q5V…' https://node/api/vm
 */
import { useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import { api } from '../api';
import { client } from '../client';
import { HeldNotice, useHeld } from '../cluster';
import { formatExpiry, formatTime } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DataTable, type Column } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { fieldError, Field, formError } from '../components/field';
import { useAction, useLoad } from '../hooks';
import { PasswordForm } from './password-form';
import { copyText } from '../console/clipboard';
import { StatusBadge } from '../components/status-badge';
import { expireFromDate, type NewToken, type TokenView } from './model';
import type { ViewProps } from '../views/props';

/** The header a script sends with a token: tokenHeader(t) → "Authorization: RamvmToken anna!ci=q5V…". */
export const tokenHeader = (tok: Pick<NewToken, 'id' | 'secret'>): string => `Authorization: RamvmToken ${tok.id}=${tok.secret}`;

export function ChangePassword({ username }: { username: string }) {
  return html`<${PasswordForm} title=${t('account.password')} username=${username} primary=${true}
    submitLabel=${t('account.changePassword')} doneText=${t('account.passwordChanged')}
    onSubmit=${async (password: string, oldpassword: string) => api.adoptTicket(await client.access.password({ oldpassword, password }))} />`;
}

function SecretOnce({ tok, onDone }: { tok: NewToken; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const value = `${tok.id}=${tok.secret}`;
  const copy = async () => setCopied(await copyText(value));
  return html`<div class="banner banner-warn token-secret" role="alert">
    <div class="banner-body">
      <strong>${t('tokens.secretTitle', { id: tok.id })}</strong>
      <span class="banner-detail">${t('tokens.secretOnce')}</span>
      <label class="token-secret-label" for="token-secret">${t('tokens.secretLabel')}</label>
      <input id="token-secret" class="token-secret-value" readonly value=${value} onFocus=${(e: Event) => (e.currentTarget as HTMLInputElement).select()} />
      <span class="banner-detail muted">${t('tokens.usage')} <code>${tokenHeader(tok)}</code></span>
      ${copied === true && html`<span role="status">${t('tokens.copied')}</span>`}
      ${copied === false && html`<span role="status">${t('tokens.copyFailed')}</span>`}
    </div>
    <span class="panel-actions">
      <button type="button" class="btn btn-primary" onClick=${copy}>${t('tokens.copy')}</button>
      <button type="button" class="btn" onClick=${onDone}>${t('tokens.secretDone')}</button>
    </span>
  </div>`;
}

export function Tokens({ viaToken }: { viaToken: boolean }) {
  const tokens = useLoad(client.access.tokens.list);
  const [fresh, setFresh] = useState<NewToken | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const columns: Column<TokenView>[] = [
    { key: 'tokenid', label: t('tokens.col.id'), value: (k) => k.id },
    {
      key: 'expire', label: t('tokens.col.expire'), value: (k) => formatExpiry(k.expire), sortValue: (k) => k.expire || Number.MAX_SAFE_INTEGER,
      render: (k) => (k.expired ? html`<${StatusBadge} tone="failed" label=${t('tokens.expired')} />` : formatExpiry(k.expire)),
    },
    { key: 'privsep', label: t('tokens.col.privsep'), value: (k) => (k.privsep ? t('tokens.privsepYes') : t('tokens.privsepNo')) },
    { key: 'comment', label: t('tokens.col.comment'), value: (k) => k.comment },
    { key: 'created', label: t('tokens.col.created'), value: (k) => (k.created ? formatTime(k.created * 1000) : ''), sortValue: (k) => k.created },
    {
      key: 'actions', label: t('table.actions'), value: () => '', sortable: false,
      render: (k) => html`<button type="button" class="btn btn-small" onClick=${() => setDeleting(k.tokenid)}
        aria-label=${t('tokens.deleteOne', { id: k.id })}>${t('tokens.delete')}</button>`,
    },
  ];
  return html`<section class="card tokens">
    <h2>${t('tokens.title')}</h2>
    <p class="muted">${t('tokens.intro')}</p>
    ${fresh && html`<${SecretOnce} tok=${fresh} onDone=${() => setFresh(null)} />`}
    <${ErrorBanner} error=${tokens.error} onRetry=${tokens.reload} />
    ${tokens.data === null
      ? !tokens.error && html`<p>${t('app.loading')}</p>`
      : html`<${DataTable} label=${t('tokens.title')} filter=${false} empty=${t('tokens.empty')} columns=${columns} rows=${tokens.data}
          rowKey=${(k: TokenView) => k.id} rowClass=${(k: TokenView) => (k.expired ? 'row-disabled' : undefined)} />`}
    ${viaToken
      ? html`<p class="muted">${t('tokens.needTicket')}</p>`
      : html`<${TokenCreate} onCreated=${async (tok: NewToken) => (setFresh(tok), await tokens.reload())} />`}
    <${ConfirmDialog} open=${deleting !== null} title=${t('tokens.deleteTitle', { id: deleting ?? '' })} message=${t('tokens.deleteText')}
      confirmLabel=${t('tokens.delete')}
      onConfirm=${async () => {
        await client.access.tokens.remove(deleting!);
        setDeleting(null);
        await tokens.reload();
      }}
      onCancel=${() => setDeleting(null)} />
  </section>`;
}

function TokenCreate({ onCreated }: { onCreated: (t: NewToken) => Promise<unknown> }) {
  const [tokenid, setTokenid] = useState('');
  const [expire, setExpire] = useState('');
  const [privsep, setPrivsep] = useState(true);
  const [comment, setComment] = useState('');
  const [expireBad, setExpireBad] = useState(false);
  const create = useAction(async (expire: number) => {
    const tok = await client.access.tokens.create({ tokenid: tokenid.trim(), expire, privsep, comment: comment.trim() });
    setTokenid('');
    setExpire('');
    setComment('');
    await onCreated(tok);
  });
  const submit = (e: Event) => {
    e.preventDefault();
    const exp = expireFromDate(expire);
    setExpireBad(exp === null);
    if (exp !== null) void create.run(exp);
  };
  const fe = (k: string) => fieldError(create.error, k);
  const held = useHeld();
  return html`<form class="token-form" onSubmit=${submit} noValidate>
    <h3>${t('tokens.new')}</h3>
    <${ErrorBanner} error=${formError(create.error, ['tokenid', 'expire', 'comment'])} />
    <div class="form-row">
      <${Field} label=${t('tokens.f.id')} name="tokenid" value=${tokenid} required autocomplete="off" hint=${t('tokens.f.idHint')}
        onInput=${(e: Event) => setTokenid((e.currentTarget as HTMLInputElement).value)} error=${fe('tokenid')} />
      <${Field} label=${t('tokens.f.expire')} name="expire" type="date" value=${expire} hint=${t('users.f.expireHint')}
        onInput=${(e: Event) => setExpire((e.currentTarget as HTMLInputElement).value)} error=${expireBad ? t('users.f.expireBad') : fe('expire')} />
      <${Field} label=${t('tokens.f.comment')} name="comment" value=${comment}
        onInput=${(e: Event) => setComment((e.currentTarget as HTMLInputElement).value)} error=${fe('comment')} />
    </div>
    <label class="check"><input type="checkbox" name="privsep" checked=${privsep}
      onChange=${(e: Event) => setPrivsep((e.currentTarget as HTMLInputElement).checked)} /> ${t('tokens.f.privsep')}</label>
    <p class="field-hint">${t('tokens.f.privsepHint')}</p>
    <${HeldNotice} held=${held} />
    <div class="form-actions"><button type="submit" class="btn btn-primary" disabled=${create.busy || tokenid.trim() === '' || held !== null}>${t('tokens.create')}</button></div>
  </form>`;
}

export default function AccountView({ me }: ViewProps) {
  return html`<h1>${t('account.title')}</h1>
    <p>${t('account.intro', { name: me.username, node: me.node })}</p>
    ${me.tokenid ? html`<p class="muted">${t('account.viaToken')}</p>` : html`<${ChangePassword} username=${me.username} />`}
    <${Tokens} viaToken=${!!me.tokenid} />`;
}
