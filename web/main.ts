/** Entry of the browser app: pick the language, render the shell; `?kiosk` adds the node screen's kiosk mode. */
import { render } from 'preact';
import { html } from './html';
import { initLang } from './i18n';
import { App } from './shell/app';
import './style.css';

initLang();
render(html`<${App} />`, document.getElementById('app')!);
// Kiosk mode only on the node's own screen: its code loads only there.
if (location.search.includes('kiosk')) void import('./kiosk').then((k) => k.isKiosk(location.search) && k.installKiosk());
