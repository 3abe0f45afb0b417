/**
 * The Cluster page's actions, each a card: create a cluster and join one
 * (on a single node), make a join token (on the master: shown once, with
 * the master's URL and fingerprint, and the one line to paste on the
 * joining node), promote this member (only while its master does not
 * answer, after a confirmation that says what it means).
 */
import { useState } from 'preact/hooks';
import type { ClusterView, JoinTokenAnswer } from '../../../node-cgi/api-types';
import { client } from '../../client';
import { clusterPoller, masterOf, noteJoining, offlineText, selfOf, tookJoin } from '../../cluster';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { ErrorBanner } from '../../components/error-banner';
import { Field, fieldError, formError } from '../../components/field';
import { useCopy } from '../../console/clipboard';
import { formatTime } from '../../format';
import { useAction } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { href } from '../../router';
import { useTasks } from '../../tasks';
import { clusterNameIssue, joinBody, joinIssues, joinLine, parseJoinLine, type Issue, type JoinField, type JoinForm } from './model';

const said = (i: Issue | null | undefined): string | undefined => (i ? t(i[0], i[1]) : undefined);
const value = (e: Event) => (e.currentTarget as HTMLInputElement).value;

/** A value to copy: shown whole, with its button and a "Copied" that is announced. */
export function Copyable({ label, text }: { label: string; text: string }) {
  const { copied, copy } = useCopy();
  return html`<dt>${label}</dt>
    <dd class="copyable"><code>${text}</code>
      <button type="button" class="btn btn-small" aria-label=${t('cluster.copyOf', { what: label })} onClick=${() => copy(text)}>${t('cluster.copy')}</button>
      <span class="sha-copied" role="status">${copied ? t('cluster.copied') : ''}</span>
    </dd>`;
}

export function CreateCard() {
  const [name, setName] = useState('');
  const [shown, setShown] = useState(false);
  const issue = clusterNameIssue(name);
  const create = useAction(async () => {
    await client.cluster.create(name);
    await clusterPoller.refresh();
  });
  const submit = (e: Event) => {
    e.preventDefault();
    setShown(true);
    if (!issue) void create.run();
  };
  return html`<section class="card" aria-labelledby="c-create">
    <h2 id="c-create">${t('cluster.create.title')}</h2>
    <p>${t('cluster.create.intro')}</p>
    <form onSubmit=${submit} noValidate>
      <${Field} label=${t('cluster.field.name')} name="cluster" value=${name} required autocomplete="off" hint=${t('cluster.field.nameHint')}
        error=${(shown ? said(issue) : undefined) ?? fieldError(create.error, 'name')} onInput=${(e: Event) => setName(value(e))} />
      <${ErrorBanner} error=${formError(create.error, ['name'])} />
      <div class="form-buttons">
        <button type="submit" class="btn btn-primary" disabled=${create.busy} aria-busy=${create.busy || undefined}>${t('cluster.create.submit')}</button>
      </div>
    </form>
  </section>`;
}

/** The join form, on a node in no cluster; refused up front while the node has guests. */
export function JoinCard({ c }: { c: ClusterView }) {
  const [form, setForm] = useState<JoinForm>({ master: '', token: '', fingerprint: '' });
  const [shown, setShown] = useState(false);
  const [asking, setAsking] = useState(false);
  const [task, setTask] = useState<string | null>(null);
  const { tasks } = useTasks();
  const guests = selfOf(c)?.resources?.guests.total ?? 0;
  const issues = joinIssues(form);
  const set = (k: JoinField, v: string) => setForm((f) => ({ ...f, ...(parseJoinLine(v) ?? { [k]: v }) }));
  const join = useAction(async () => {
    const started = await client.cluster.join(joinBody(form));
    noteJoining();
    setTask(started.task);
  });
  const failed = task ? tasks?.find((x) => x.id === task && x.status === 'failed') : undefined;
  // A join that failed changed nothing: this session goes on, and a later end of it is no join's.
  if (failed) tookJoin();
  const field = (k: JoinField, label: string, hint?: string) => html`<${Field} label=${label} name=${k} value=${form[k]} required autocomplete="off" spellcheck=${false}
    class="mono" hint=${hint} error=${(shown ? said(issues[k]) : undefined) ?? fieldError(join.error, k)} onInput=${(e: Event) => set(k, value(e))} />`;
  const submit = (e: Event) => {
    e.preventDefault();
    setShown(true);
    if (Object.keys(issues).length === 0) setAsking(true);
  };
  return html`<section class="card" aria-labelledby="c-join">
    <h2 id="c-join">${t('cluster.join.title')}</h2>
    <div class="banner banner-warn"><div class="banner-body">
      <strong>${t('cluster.join.replacesTitle')}</strong>
      <span class="banner-detail">${t('cluster.join.replaces')}</span>
    </div></div>
    ${guests > 0 && html`<div class="banner banner-error" role="status"><div class="banner-body">${t('cluster.join.hasGuests', { node: c.self, count: guests })}</div></div>`}
    <p>${t('cluster.join.intro')}</p>
    <form onSubmit=${submit} noValidate>
      ${field('master', t('cluster.field.master'), t('cluster.field.masterHint'))}
      ${field('token', t('cluster.field.token'), t('cluster.field.tokenHint'))}
      ${field('fingerprint', t('cluster.field.fingerprint'), t('cluster.field.fingerprintHint'))}
      <${ErrorBanner} error=${formError(join.error, ['master', 'token', 'fingerprint'])} />
      ${task && !failed && html`<div class="banner banner-info" role="status"><div class="banner-body">
        <strong>${t('cluster.join.running')}</strong> <span class="banner-detail">${t('cluster.join.relogin')}</span>
        <a href=${href('tasks', task)}>${t('cluster.join.log')}</a></div></div>`}
      ${failed && html`<${ErrorBanner} error=${new Error(failed.message)} title=${t('cluster.join.failed')} />`}
      <div class="form-buttons">
        <button type="submit" class="btn btn-primary" disabled=${join.busy || guests > 0 || (task !== null && !failed)} aria-busy=${join.busy || undefined}>${t('cluster.join.submit')}</button>
      </div>
    </form>
    <${ConfirmDialog}
      open=${asking}
      title=${t('cluster.join.confirmTitle', { node: c.self })}
      message=${t('cluster.join.confirmText', { master: form.master.trim() })}
      confirmLabel=${t('cluster.join.confirm')}
      onConfirm=${async () => {
        setAsking(false);
        await join.run();
      }}
      onCancel=${() => setAsking(false)}
    />
  </section>`;
}

/** A join token made just now, with all the joining node needs; shown until dismissed, never again. */
function FreshToken({ tok, onDone }: { tok: JoinTokenAnswer; onDone: () => void }) {
  return html`<div class="banner banner-warn join-token" role="status"><div class="banner-body">
    <strong>${t('cluster.token.once', { time: formatTime(tok.expires * 1000) })}</strong>
    <dl class="props">
      <${Copyable} label=${t('cluster.token.line')} text=${joinLine(tok)} />
      <${Copyable} label=${t('cluster.field.master')} text=${tok.url} />
      <${Copyable} label=${t('cluster.field.token')} text=${tok.token} />
      <${Copyable} label=${t('cluster.field.fingerprint')} text=${tok.fingerprint} />
      <dt>${t('cluster.token.expires')}</dt><dd>${formatTime(tok.expires * 1000)}</dd>
    </dl>
    <p class="banner-detail">${t('cluster.token.how')}</p>
    <button type="button" class="btn" onClick=${onDone}>${t('cluster.token.done')}</button>
  </div></div>`;
}

export function TokenCard() {
  const [tok, setTok] = useState<JoinTokenAnswer | null>(null);
  const make = useAction(async () => setTok(await client.cluster.token()));
  return html`<section class="card" aria-labelledby="c-token">
    <h2 id="c-token">${t('cluster.token.title')}</h2>
    <p>${t('cluster.token.intro')}</p>
    <${ErrorBanner} error=${make.error} />
    ${tok
      ? html`<${FreshToken} tok=${tok} onDone=${() => setTok(null)} />`
      : html`<button type="button" class="btn btn-primary" disabled=${make.busy} aria-busy=${make.busy || undefined} onClick=${() => make.run()}>${t('cluster.token.make')}</button>`}
  </section>`;
}

/** On a member whose master does not answer: make this node the master, after saying what that means. */
export function PromoteCard({ c }: { c: ClusterView }) {
  const [asking, setAsking] = useState(false);
  const master = masterOf(c);
  const names = { node: c.self, master: c.master ?? '', cluster: c.name ?? '', epoch: c.epoch + 1 };
  return html`<section class="card card-accent" aria-labelledby="c-promote">
    <h2 id="c-promote">${t('cluster.promote.title')}</h2>
    <p><strong>${t('cluster.promote.down', { master: names.master, since: master ? offlineText(master) : '' })}</strong></p>
    <p>${t('cluster.promote.intro', names)}</p>
    <button type="button" class="btn btn-danger" onClick=${() => setAsking(true)}>${t('cluster.promote.submit', names)}</button>
    <${ConfirmDialog}
      open=${asking}
      title=${t('cluster.promote.confirmTitle', names)}
      message=${t('cluster.promote.confirmText', names)}
      confirmLabel=${t('cluster.promote.submit', names)}
      requireText=${c.self}
      onConfirm=${async () => {
        await client.cluster.promote();
        setAsking(false);
        await clusterPoller.refresh();
      }}
      onCancel=${() => setAsking(false)}
    />
  </section>`;
}
