/**
 * The Options card of a guest's page: the accelerator it runs under and
 * why; name, start at boot, the guest agent channel, its accelerator
 * setting (or the node's) and notes, a form for users with VM.Config and a
 * list for the others. Memory and processors are hardware (hardware.ts).
 */
import { useState } from 'preact/hooks';
import type { AccelSetting, VmDetail } from '../../../node-cgi/api-types';
import { client } from '../../client';
import { ErrorBanner } from '../../components/error-banner';
import { Field, fieldError, formError } from '../../components/field';
import { useAction } from '../../hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { AgentCheck, agentLabel, Select } from './common';

/** The fields the form shows the node's refusals on. */
const FIELDS = ['name', 'description', 'accel'];

function OptionsForm({ g, onDone }: { g: VmDetail; onDone: () => void }) {
  const [name, setName] = useState(g.name);
  const [onboot, setOnboot] = useState(g.onboot);
  const [agent, setAgent] = useState(g.agent);
  const [description, setDescription] = useState(g.description);
  const [accel, setAccel] = useState<AccelSetting | ''>(g.accel ?? '');
  const save = useAction(async () => {
    await client.vms.update(g.vmid, { name, onboot, agent, description, accel: accel || null });
    onDone();
  });
  const fe = (f: string) => fieldError(save.error, f);
  return html`<form onSubmit=${(e: Event) => (e.preventDefault(), void save.run())} noValidate>
    <${Field} label=${t('guests.field.name')} value=${name} error=${fe('name')} onInput=${(e: Event) => setName((e.currentTarget as HTMLInputElement).value)} />
    <div class="field field-check"><label><input type="checkbox" checked=${onboot} onChange=${(e: Event) => setOnboot((e.currentTarget as HTMLInputElement).checked)} /> ${t('guests.field.onboot')}</label></div>
    <${AgentCheck} checked=${agent} onChange=${setAgent} />
    <${Field} label=${t('guests.field.accel')} error=${fe('accel')} hint=${t('guests.field.accelHint')}>
      <${Select} value=${accel} onChange=${(v: string) => setAccel(v as AccelSetting | '')} options=${[
        ['', t('guests.accel.opt.node')], ['auto', t('guests.accel.opt.auto')], ['kvm', t('guests.accel.opt.kvm')], ['tcg', t('guests.accel.opt.tcg')],
      ]} />
    </${Field}>
    <${Field} label=${t('guests.field.description')} error=${fe('description')}>
      <textarea rows="3" value=${description} onInput=${(e: Event) => setDescription((e.currentTarget as HTMLTextAreaElement).value)}></textarea>
    </${Field}>
    <${ErrorBanner} error=${formError(save.error, FIELDS)} />
    <div class="form-buttons">
      <button type="submit" class="btn btn-primary">${t('guests.save')}</button>
      ${save.done && html`<span role="status">${t('guests.saved')}</span>`}
    </div>
  </form>`;
}

/** The accelerator the guest runs (or would start) under, and why. */
function AccelInUse({ g }: { g: VmDetail }) {
  return html`<dl class="props">
    <dt>${t('guests.accel')}</dt>
    <dd class="guest-accel">${t(g.runtime.accel === 'kvm' ? 'guests.accel.kvm' : 'guests.accel.tcg')}<div class="muted">${g.runtime.accelReason}</div></dd>
  </dl>`;
}

export function Options({ g, config, onDone }: { g: VmDetail; config: boolean; onDone: () => void }) {
  return html`<section class="card" aria-labelledby="g-options">
    <h2 id="g-options">${t('guests.options')}</h2>
    <${AccelInUse} g=${g} />
    ${config
      ? html`<${OptionsForm} key=${g.vmid} g=${g} onDone=${onDone} />`
      : html`<dl class="props">
          <dt>${t('guests.field.onboot')}</dt><dd>${t(g.onboot ? 'guests.yes' : 'guests.no')}</dd>
          <dt>${agentLabel()}</dt><dd>${t(g.agent ? 'guests.yes' : 'guests.no')}</dd>
          <dt>${t('guests.field.description')}</dt><dd>${g.description || '–'}</dd>
        </dl>`}
  </section>`;
}
