/** Entry of the browser app: pick the language, render the shell. */
import { render } from 'preact';
import { html } from './html';
import { initLang } from './i18n';
import { App } from './shell/app';
import './style.css';

initLang();
render(html`<${App} />`, document.getElementById('app')!);
