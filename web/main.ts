/** Entry of the browser app: pick the language, render the shell; `?kiosk` adds the node screen's kiosk mode. */
import { render } from 'preact';
import { html } from './html';
import { initLang } from './i18n';
import { isKiosk, installKiosk } from './kiosk';
import { App } from './shell/app';
import './style.css';

initLang();
render(html`<${App} />`, document.getElementById('app')!);
if (isKiosk(location.search)) installKiosk();
