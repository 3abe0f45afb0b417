/**
 * What the pages of the Guests view share: how often they ask the node
 * again, a guest's status as a badge (a crashed one says so), OS names, a privilege check, a
 * <select> of value/label pairs, the ISO names for a CD-ROM choice,
 * the "Replicated" checkbox of a new disk (create form, Hardware card) and
 * the "QEMU guest agent" checkbox (create form, Options card).
 */
import type { Privilege, VmFault, VmListState } from '../../../node-cgi/api-types';
import type { Me } from '../../api';
import { client } from '../../client';
import { StatusBadge, type Tone } from '../../components/status-badge';
import { useLoad } from '../../hooks';
import { html } from '../../html';
import { lang, t, type Lang, type MessageKey } from '../../i18n';
import { SIZE_UNITS, type SizeUnit } from './model';

/** How often lists and pages ask the node again. */
export const POLL_MS = 3000;

/** "unknown": in a cluster's list, a guest whose node does not answer. */
const STATUS_TONE: Record<VmListState, Tone> = { running: 'running', paused: 'paused', stopped: 'neutral', unknown: 'warning' };
const STATUS_KEY: Record<VmListState, MessageKey> = {
  running: 'guests.status.running', paused: 'guests.status.paused', stopped: 'guests.status.stopped', unknown: 'guests.status.unknown',
};

export const osLabel = (os: string): string => t(`guests.os.${os}` as MessageKey);
export const can = (me: Me, priv: Privilege): boolean => me.privileges.includes(priv);

/** A crashed guest is "paused" to the API, but says it crashed. */
export const statusLabel = (status: VmListState, fault?: VmFault): string => t(fault ? 'guests.status.crashed' : STATUS_KEY[status]);

export function GuestStatus({ status, fault }: { status: VmListState; fault?: VmFault | undefined }) {
  return html`<${StatusBadge} tone=${fault ? 'failed' : STATUS_TONE[status]} label=${statusLabel(status, fault)} />`;
}

/** A <select> of [value, label, disabled?] options; Field's id and aria attributes pass through to it. */
export function Select({ value, options, onChange, ...rest }: { value: string; options: [string, string, boolean?][]; onChange: (v: string) => void; [attr: string]: unknown }) {
  return html`<select ...${rest} value=${value} onChange=${(e: Event) => onChange((e.currentTarget as HTMLSelectElement).value)}>
    ${options.map(([v, label, off]) => html`<option value=${v} selected=${v === value} disabled=${off}>${label}</option>`)}
  </select>`;
}

/** The unit of a size field ("MiB" or "GiB"), to sit beside its number (Field's suffix). */
export function UnitSelect({ value, onChange }: { value: SizeUnit; onChange: (u: SizeUnit) => void }) {
  return html`<select class="unit-select" aria-label=${t('guests.field.unit')} value=${value}
    onChange=${(e: Event) => onChange((e.currentTarget as HTMLSelectElement).value as SizeUnit)}>
    ${SIZE_UNITS.map((u) => html`<option value=${u} selected=${u === value}>${t(`guests.unit.${u}`)}</option>`)}
  </select>`;
}

/** The names of the ISO library (none while loading or when it cannot be read). */
export function useIsoNames(): string[] {
  const { data } = useLoad(client.isos.list);
  return data?.map((i) => i.name) ?? [];
}

/**
 * A new disk's "Replicated (DRBD, on both nodes)" checkbox; the forms show it
 * in a 2-node cluster only (replicaOffered), disabled with `blocked` under it
 * when a node of the pair cannot hold one (replicaBlocked).
 */
export function ReplicatedCheck({ checked, blocked, onChange }: { checked: boolean; blocked: string | null; onChange: (on: boolean) => void }) {
  return html`<div class="field field-check">
    <label><input type="checkbox" name="replicated" checked=${checked && !blocked} disabled=${!!blocked} aria-describedby=${blocked ? 'replicated-blocked' : undefined}
      onChange=${(e: Event) => onChange((e.currentTarget as HTMLInputElement).checked)} /> ${t('guests.field.replicated')}</label>
    ${blocked && html`<div class="field-hint" id="replicated-blocked">${blocked}</div>`}
  </div>`;
}

/**
 * The guest agent checkbox's label and hint: this chunk's texts, not the
 * catalogues' (those load before the first page).
 */
const AGENT: Record<Lang, [string, string]> = {
  en: ['QEMU guest agent', 'Backups freeze the guest’s filesystems when the agent inside answers; applies at the next start.'],
  de: ['QEMU-Gast-Agent', 'Sicherungen frieren die Dateisysteme des Gastes ein, wenn der Agent darin antwortet; gilt ab dem nächsten Start.'],
};
export const agentLabel = (): string => AGENT[lang()][0];

/** The guest's `agent` setting: a virtio-serial channel for the QEMU guest agent inside. */
export function AgentCheck({ checked, onChange }: { checked: boolean; onChange: (on: boolean) => void }) {
  return html`<div class="field field-check">
    <label><input type="checkbox" name="agent" checked=${checked} aria-describedby="agent-hint"
      onChange=${(e: Event) => onChange((e.currentTarget as HTMLInputElement).checked)} /> ${agentLabel()}</label>
    <div class="field-hint" id="agent-hint">${AGENT[lang()][1]}</div>
  </div>`;
}
