/**
 * The power buttons of one guest (a row of the list has fewer than its
 * page): the actions its status allows, stop and reset asked first. A
 * guest that runs from a backup goes away when it stops: its stop and
 * shut down ask first and say so. A guest whose node does not answer
 * ("unknown" in a cluster's list) shows its buttons disabled, with why.
 */
import { useId, useState } from 'preact/hooks';
import type { TemporaryMark, VmFault, VmListState } from '../../../node-cgi/api-types';
import { client } from '../../client';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { ErrorBanner } from '../../components/error-banner';
import { useAction } from '../../hooks';
import { html } from '../../html';
import { t, type MessageKey } from '../../i18n';
import { actionsFor, CONFIRM_ACTIONS, listActionsFor, type PowerAction } from './model';

const ACTION_KEY: Record<PowerAction, MessageKey> = {
  start: 'guests.action.start', shutdown: 'guests.action.shutdown', stop: 'guests.action.stop',
  reset: 'guests.action.reset', pause: 'guests.action.pause', resume: 'guests.action.resume',
};

export interface PowerButtonsProps {
  vmid: number;
  name: string;
  status: VmListState;
  /** The node it lives on: named when it does not answer. */
  node?: string;
  /** A crashed guest's fault: only its actions are offered. */
  fault?: VmFault | undefined;
  /** The mark of a guest that runs from a backup: stopping it discards it. */
  temporary?: TemporaryMark | undefined;
  onDone: () => void;
  /** The list's row: fewer actions, small buttons. */
  small?: boolean;
}

/** What the confirmation of an action says: title, text and button. */
function confirmTexts(action: PowerAction, vmid: number, name: string, temporary: boolean): [string, string, string] {
  if (temporary && (action === 'stop' || action === 'shutdown')) {
    const verb = action === 'stop' ? 'Stop' : 'Shutdown';
    return [
      t(`guests.confirm.discard${verb}Title`, { vmid, name }),
      t('guests.confirm.discardText', { vmid }),
      t(`guests.confirm.discard${verb}`, { vmid }),
    ];
  }
  return action === 'stop'
    ? [t('guests.confirm.stopTitle', { vmid, name }), t('guests.confirm.stopText'), t('guests.confirm.stop', { vmid })]
    : [t('guests.confirm.resetTitle', { vmid, name }), t('guests.confirm.resetText'), t('guests.confirm.reset', { vmid })];
}

export function PowerButtons({ vmid, name, status, node, fault, temporary, onDone, small }: PowerButtonsProps) {
  const whyId = `w${useId()}`;
  const away = status === 'unknown';
  const [ask, setAsk] = useState<PowerAction | null>(null);
  const power = useAction(async (action: PowerAction) => {
    await client.vms.power(vmid, action);
    onDone();
  });
  const asks = (action: PowerAction) => CONFIRM_ACTIONS.has(action) || (temporary?.purpose === 'run' && action === 'shutdown');
  const press = (action: PowerAction) => (asks(action) ? setAsk(action) : void power.run(action));
  const texts = ask ? confirmTexts(ask, vmid, name, temporary?.purpose === 'run') : null;
  const cls = `btn${small ? ' btn-small' : ''}`;
  return html`<div class="guest-actions" role="group" aria-label=${t('guests.actionsFor', { name })}>
      ${(small ? listActionsFor(status, fault) : actionsFor(status, fault)).map(
        (a) => html`<button type="button" class=${a === 'start' ? `${cls} btn-primary` : cls} disabled=${power.busy || away} aria-busy=${power.running?.[0] === a || undefined}
          aria-describedby=${away ? whyId : undefined} onClick=${() => press(a)}>${t(ACTION_KEY[a])}</button>`,
      )}
      ${away && html`<span class="guest-away muted" id=${whyId}>${t('guests.nodeDown', { node: node ?? '' })}</span>`}
    </div>
    ${power.error && html`<${ErrorBanner} error=${power.error} onDismiss=${() => power.setError(null)} />`}
    ${ask && texts &&
    html`<${ConfirmDialog}
      open=${true}
      title=${texts[0]}
      message=${texts[1]}
      confirmLabel=${texts[2]}
      onConfirm=${async () => {
        await client.vms.power(vmid, ask);
        setAsk(null);
        onDone();
      }}
      onCancel=${() => setAsk(null)}
    />`}`;
}
