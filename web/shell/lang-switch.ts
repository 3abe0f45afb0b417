/** The language switch of the top bar and the login page: a labelled <select>. */
import { useId } from 'preact/hooks';
import { html } from '../html';
import { LANGS, lang, setLang, t, type Lang } from '../i18n';
import { Icon } from '../components/icon';

const LANG_NAME = { en: 'lang.en', de: 'lang.de' } as const;

export function LangSwitch() {
  const id = `lang${useId()}`;
  return html`<span class="lang-switch">
    <label for=${id}><${Icon} name="language" /><span class="sr-only">${t('top.language')}</span></label>
    <select id=${id} value=${lang()} onChange=${(e: Event) => setLang((e.currentTarget as HTMLSelectElement).value as Lang)}>
      ${LANGS.map((l) => html`<option value=${l} lang=${l}>${t(LANG_NAME[l])}</option>`)}
    </select>
  </span>`;
}
