/**
 * The power buttons of one guest (a row of the list has fewer than its
 * page): the actions its status allows, stop and reset asked first.
 */
import { useState } from 'preact/hooks';
import type { VmFault, VmState } from '../../../node-cgi/api-types';
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
  status: VmState;
  /** A crashed guest's fault: only its actions are offered. */
  fault?: VmFault | undefined;
  onDone: () => void;
  /** The list's row: fewer actions, small buttons. */
  small?: boolean;
}

export function PowerButtons({ vmid, name, status, fault, onDone, small }: PowerButtonsProps) {
  const [ask, setAsk] = useState<PowerAction | null>(null);
  const power = useAction(async (action: PowerAction) => {
    await client.vms.power(vmid, action);
    onDone();
  });
  const press = (action: PowerAction) => (CONFIRM_ACTIONS.has(action) ? setAsk(action) : void power.run(action));
  const cls = `btn${small ? ' btn-small' : ''}`;
  return html`<div class="guest-actions" role="group" aria-label=${t('guests.actionsFor', { name })}>
      ${(small ? listActionsFor(status, fault) : actionsFor(status, fault)).map(
        (a) => html`<button type="button" class=${a === 'start' ? `${cls} btn-primary` : cls} disabled=${power.busy} aria-busy=${power.running?.[0] === a || undefined}
          onClick=${() => press(a)}>${t(ACTION_KEY[a])}</button>`,
      )}
    </div>
    ${power.error && html`<${ErrorBanner} error=${power.error} onDismiss=${() => power.setError(null)} />`}
    ${ask &&
    html`<${ConfirmDialog}
      open=${true}
      title=${t(ask === 'stop' ? 'guests.confirm.stopTitle' : 'guests.confirm.resetTitle', { vmid, name })}
      message=${t(ask === 'stop' ? 'guests.confirm.stopText' : 'guests.confirm.resetText')}
      confirmLabel=${t(ask === 'stop' ? 'guests.confirm.stop' : 'guests.confirm.reset', { vmid })}
      onConfirm=${async () => {
        await client.vms.power(vmid, ask);
        setAsk(null);
        onDone();
      }}
      onCancel=${() => setAsk(null)}
    />`}`;
}
