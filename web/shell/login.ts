/**
 * The login page. The user name field has the focus; Enter logs in. A notice
 * says why the page is shown (logged out, session ended); a failed login
 * says what failed (wrong password, throttled, node unreachable).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html';
import { t, type MessageKey } from '../i18n';
import { api, ApiError, type Me } from '../api';
import { ErrorBanner } from '../components/error-banner';
import { useAction } from '../hooks';
import { Field } from '../components/field';
import { LangSwitch } from './lang-switch';

export interface LoginPageProps {
  notice?: MessageKey | undefined;
  onLogin: (me: Me) => void;
}

export function LoginPage({ notice, onLogin }: LoginPageProps) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [missing, setMissing] = useState({ username: false, password: false });
  const userRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    userRef.current?.querySelector('input')?.focus();
    document.title = `${t('login.title')} — ${t('app.name')}`;
  }, []);

  const login = useAction(async (form: HTMLFormElement) => {
    try {
      onLogin(await api.login(username.trim(), password));
    } catch (err) {
      // A wrong password: back into its field, selected, to type it again.
      if (err instanceof ApiError && err.status === 401) {
        const pw = form.querySelector<HTMLInputElement>('input[type="password"]');
        pw?.focus();
        pw?.select();
      }
      throw err;
    }
  });
  const { busy, error } = login;

  const submit = (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const form = e.currentTarget as HTMLFormElement;
    const m = { username: username.trim() === '', password: password === '' };
    setMissing(m);
    if (m.username || m.password) setTimeout(() => form.querySelector<HTMLInputElement>('[aria-invalid="true"]')?.focus());
    else void login.run(form);
  };

  const wrong = error instanceof ApiError && error.status === 401;

  return html`<main class="login" id="main">
    <div class="login-card">
      <div class="login-head">
        <span class="brand">${t('app.name')}</span>
        <${LangSwitch} />
      </div>
      <h1>${t('login.title')}</h1>
      <p class="muted">${t('login.intro')}</p>
      ${notice && !error && html`<p class="banner banner-info" role="status">${t(notice)}</p>`}
      ${wrong
        ? html`<p class="banner banner-error" role="alert">${t('login.failed')}</p>`
        : error && html`<${ErrorBanner} error=${error} />`}
      <form onSubmit=${submit} noValidate>
        <div ref=${userRef}>
          <${Field}
            label=${t('login.username')}
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck=${false}
            value=${username}
            error=${missing.username ? t('field.required') : null}
            onInput=${(e: Event) => setUsername((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <${Field}
          label=${t('login.password')}
          name="password"
          type="password"
          autocomplete="current-password"
          value=${password}
          error=${missing.password ? t('field.required') : null}
          onInput=${(e: Event) => setPassword((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit" class="btn btn-primary btn-wide" aria-disabled=${busy || undefined}>${busy ? t('login.busy') : t('login.submit')}</button>
      </form>
    </div>
  </main>`;
}
