/**
 * The Guests view:
 *
 *   #/guests              the list: status, node, CPU, memory, disk, uptime, actions, filter
 *   #/guests/new          the create form (the original's fields and defaults, checked as you type)
 *   #/guests/101          a guest: status and actions, console, hardware, options, backups, permissions
 *   #/guests/101/start    the same, right after create: the start prompt first
 *
 * Lists and pages poll the node (POLL_MS) so a status changed elsewhere
 * shows up. Stop, reset and delete ask first; delete wants the VMID typed.
 * The parts live in guests/: list.ts, create.ts, page.ts (with hardware.ts,
 * options.ts and backups.ts), power.ts, common.ts, and model.ts, the pure side.
 */
import { html } from '../html';
import { t } from '../i18n';
import { GuestCreate } from './guests/create';
import { GuestList } from './guests/list';
import { GuestPage } from './guests/page';
import type { ViewProps } from './props';

export default function GuestsView({ parts, me }: ViewProps) {
  if (parts[0] === 'new') return html`<${GuestCreate} me=${me} />`;
  if (parts[0] && /^[0-9]+$/.test(parts[0])) {
    return html`<${GuestPage} key=${parts[0]} vmid=${Number(parts[0])} me=${me} startPrompt=${parts[1] === 'start'} />`;
  }
  if (parts[0]) return html`<h1>${t('app.notFound')}</h1>`;
  return html`<${GuestList} me=${me} />`;
}
