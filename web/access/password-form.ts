/**
 * A new password typed twice, for one's own account (My account: the
 * current password first) and for another user's (the Users view: reset).
 * The button waits until both fields agree; a refusal shows at its field
 * (a 403 for a wrong current password, 400 "password: …" for a weak one).
 *
 *   html`<${PasswordForm} title=${t('users.reset')} submitLabel=${t('users.resetButton')}
 *          doneText=${t('users.resetDone', { name })}
 *          onSubmit=${(password: string) => client.access.users.update(name, { password })} />`
 */
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { ErrorBanner } from '../components/error-banner';
import { Field, fieldError } from '../components/field';
import { useAction } from '../hooks';
import { HeldNotice, useHeld } from '../cluster';
import { html } from '../html';
import { t } from '../i18n';

export interface PasswordFormProps {
  title: string;
  /** A line under the title: what the change does to sessions. */
  intro?: string;
  /** One's own account: ask for the current password, and give password managers the user name. */
  username?: string;
  submitLabel: string;
  /** Said once the node took the new password. */
  doneText: string;
  /** The form's main action (a primary button). */
  primary?: boolean;
  /** Send it; `old` is '' when the form has no current-password field. */
  onSubmit: (password: string, old: string) => Promise<unknown>;
}

export function PasswordForm(p: PasswordFormProps) {
  const own = p.username !== undefined;
  const [old, setOld] = useState('');
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const save = useAction(async () => {
    await p.onSubmit(pw, old);
    setOld('');
    setPw('');
    setPw2('');
  });
  const held = useHeld();
  const ready = pw !== '' && pw === pw2 && (!own || old !== '') && held === null;
  const submit = (e: Event) => {
    e.preventDefault();
    if (ready) void save.run();
  };
  const typed = (set: (v: string) => void) => (e: Event) => set((e.currentTarget as HTMLInputElement).value);
  // Said until the user types again.
  const done = save.done && old === '' && pw === '' && pw2 === '';
  const wrongOld = own && save.error instanceof ApiError && save.error.status === 403 ? t('account.wrongOld') : fieldError(save.error, 'oldpassword');
  const weak = fieldError(save.error, 'password');
  return html`<form class="card password-form" onSubmit=${submit} noValidate>
    <h2>${p.title}</h2>
    ${p.intro && html`<p class="muted">${p.intro}</p>`}
    ${own && html`<input type="text" name="username" autocomplete="username" value=${p.username} hidden readonly />`}
    ${!wrongOld && !weak && html`<${ErrorBanner} error=${save.error} />`}
    ${own &&
    html`<${Field} label=${t('account.f.old')} name="oldpassword" type="password" autocomplete="current-password" value=${old} required
      onInput=${typed(setOld)} error=${wrongOld} />`}
    <div class="form-row">
      <${Field} label=${t('users.f.newPassword')} name="password" type="password" autocomplete="new-password" value=${pw} required
        hint=${t('users.f.passwordHint')} onInput=${typed(setPw)} error=${weak} />
      <${Field} label=${t('users.f.repeatPassword')} name="password2" type="password" autocomplete="new-password" value=${pw2} required
        onInput=${typed(setPw2)} error=${pw2 !== '' && pw !== pw2 ? t('users.f.mismatch') : null} />
    </div>
    ${done && html`<p role="status">${p.doneText}</p>`}
    <${HeldNotice} held=${held} />
    <div class="form-actions"><button type="submit" class=${p.primary ? 'btn btn-primary' : 'btn'} disabled=${save.busy || !ready}>${p.submitLabel}</button></div>
  </form>`;
}
