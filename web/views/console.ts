/**
 * "#/console/<vmid>": a guest's console in a window of its own (opened by
 * the guest page's "Open in own window"). Not in the navigation. The page
 * gives the screen the room: while it is shown the root element carries
 * the class "console-window", and the style sheet then hides the
 * navigation and the task panel. Below the console sits the monitor, for
 * users who may use it. A guest that runs from a backup says so in the
 * title of the window and above its screen.
 */
import { useEffect } from 'preact/hooks';
import { client } from '../client';
import { useLoad } from '../hooks';
import { html } from '../html';
import { t } from '../i18n';
import { href } from '../router';
import { TemporaryBadge, temporaryText } from './backups/temporary';
import { Console } from '../console/console';
import { Monitor } from '../console/monitor';
import type { ViewProps } from './props';

/** Class on <html> while the console fills the window. */
export const CONSOLE_WINDOW_CLASS = 'console-window';

export default function ConsoleView({ parts, me }: ViewProps) {
  const vmid = parts[0] ?? '';
  const valid = /^[1-9][0-9]{2,8}$/.test(vmid);
  // Only to mark a guest that runs from a backup: a console user without VM.Audit sees the console without it.
  const guest = useLoad(() => (valid ? client.vms.get(Number(vmid)) : Promise.resolve(null)), [vmid]).data;
  const mark = guest?.temporary;

  useEffect(() => {
    document.documentElement.classList.add(CONSOLE_WINDOW_CLASS);
    return () => document.documentElement.classList.remove(CONSOLE_WINDOW_CLASS);
  }, []);
  useEffect(() => {
    const title = mark ? `${t('console.title', { vmid })} (${t(mark.purpose === 'bootcheck' ? 'temp.badgeBootcheck' : 'temp.badge')})` : t('console.title', { vmid });
    if (valid) document.title = [title, me.node, t('app.name')].filter(Boolean).join(' — ');
  }, [vmid, mark?.backup]);

  if (!valid) {
    return html`<h1>${t('console.noGuest')}</h1><p><a href=${href('')}>${t('app.home')}</a></p>`;
  }
  return html`<div class="console-view">
    <div class="console-view-head">
      <h1>${t('console.title', { vmid })}</h1>
      ${mark && html`<${TemporaryBadge} mark=${mark} />`}
      <a href=${href('guests', vmid)}>${t('console.toGuest', { vmid })}</a>
    </div>
    ${mark && guest && html`<p class="temp-line">${temporaryText(mark, guest.nics.some((n) => n.linkDown === true))}</p>`}
    <${Console} vmid=${Number(vmid)} standalone />
    <${Monitor} vmid=${Number(vmid)} me=${me} />
  </div>`;
}
