/**
 * The Node view: the figures of the node this browser talks to, the
 * accelerator its guests get and why (this boot's KVM probe), its
 * settings for guests (accelerator, memory overcommit) for holders of
 * Sys.Modify, and when its backup scheduler last ran.
 *
 *   #/node     GET /api/node/<node>/resources and /settings; PUT /settings
 */
import { useState } from 'preact/hooks';
import type { AccelSetting, NodeSettings } from '../../node-cgi/api-types';
import { client } from '../client';
import { html } from '../html';
import { t } from '../i18n';
import { formatBytes as bytes, formatPercent, formatTime } from '../format';
import { ErrorBanner } from '../components/error-banner';
import { Field, fieldError, formError } from '../components/field';
import { useAction, useLoad } from '../hooks';
import type { ViewProps } from './props';
import { SchedulerStatus } from './backups/scheduler';

function SettingsForm({ node, settings, onDone }: { node: string; settings: NodeSettings; onDone: () => void }) {
  const [accel, setAccel] = useState<AccelSetting>(settings.accel);
  const [overcommit, setOvercommit] = useState(String(settings.memoryOvercommit));
  const save = useAction(async () => {
    await client.nodes.setSettings(node, { accel, memoryOvercommit: Number(overcommit) });
    onDone();
  });
  const fieldErr = (f: string) => fieldError(save.error, f);
  const options: [AccelSetting, string][] = [['auto', t('guests.accel.opt.auto')], ['kvm', t('guests.accel.opt.kvm')], ['tcg', t('guests.accel.opt.tcg')]];
  return html`<form onSubmit=${(e: Event) => (e.preventDefault(), void save.run())} noValidate>
    <${Field} label=${t('node.field.accel')} error=${fieldErr('accel')} hint=${t('node.field.accelHint')}>
      <select value=${accel} onChange=${(e: Event) => setAccel((e.currentTarget as HTMLSelectElement).value as AccelSetting)}>
        ${options.map(([v, label]) => html`<option value=${v} selected=${v === accel}>${label}</option>`)}
      </select>
    </${Field}>
    <${Field} label=${t('node.field.overcommit')} value=${overcommit} inputmode="decimal" error=${fieldErr('memoryOvercommit')}
      onInput=${(e: Event) => setOvercommit((e.currentTarget as HTMLInputElement).value)} />
    <${ErrorBanner} error=${formError(save.error, ['accel', 'memoryOvercommit'])} />
    <div class="form-buttons">
      <button type="submit" class="btn btn-primary">${t('node.save')}</button>
      ${save.done && html`<span role="status">${t('node.saved')}</span>`}
    </div>
  </form>`;
}

export default function NodeView({ me }: ViewProps) {
  const { data, error, reload } = useLoad(() => Promise.all([client.nodes.resources(me.node), client.nodes.settings(me.node)]), [me.node]);
  const [res, settings] = data ?? [null, null];
  if (!res || !settings) {
    return html`<h1>${t('node.title', { node: me.node })}</h1>${error ? html`<${ErrorBanner} error=${error} />` : html`<p>${t('app.loading')}</p>`}`;
  }
  const p = res.kvmProbe;
  return html`<h1>${t('node.title', { node: res.node })}</h1>
    <section class="card" aria-labelledby="n-accel">
      <h2 id="n-accel">${t('node.accel')}</h2>
      <dl class="props">
        <dt>${t('node.accel.inUse')}</dt><dd class="node-accel">${t(res.accel === 'kvm' ? 'guests.accel.kvm' : 'guests.accel.tcg')}</dd>
        <dt>${t('node.accel.why')}</dt><dd>${res.accelReason}</dd>
        <dt>${t('node.accel.device')}</dt><dd>${t(res.kvm ? 'node.accel.deviceOk' : 'node.accel.deviceMissing', { device: p.device })}</dd>
        <dt>${t('node.accel.probe')}</dt><dd>${t('node.accel.probeValue', { ms: p.ms, time: formatTime(p.at), reason: p.reason })}</dd>
      </dl>
    </section>
    ${me.privileges.includes('Sys.Modify') &&
    html`<section class="card" aria-labelledby="n-settings">
      <h2 id="n-settings">${t('node.settings')}</h2>
      <${SettingsForm} node=${res.node} settings=${settings} onDone=${reload} />
    </section>`}
    ${me.privileges.includes('Datastore.Audit') && html`<${SchedulerStatus} />`}
    <section class="card" aria-labelledby="n-resources">
      <h2 id="n-resources">${t('node.resources')}</h2>
      <dl class="props">
        <dt>${t('node.cpu')}</dt><dd>${t('node.cpuValue', { count: res.cpu.count, usage: formatPercent(res.cpu.usage) })}</dd>
        <dt>${t('node.memory')}</dt><dd>${t('guests.ofTotal', { used: bytes(res.memory.used), total: bytes(res.memory.total) })}</dd>
        <dt>${t('node.disk')}</dt><dd>${t('node.diskValue', { free: bytes(res.disk.free), total: bytes(res.disk.total) })}</dd>
        <dt>${t('node.guests')}</dt><dd>${t('node.guestsValue', { running: res.guests.running, total: res.guests.total, claimed: bytes(res.guests.memoryClaimed) })}</dd>
      </dl>
    </section>`;
}
