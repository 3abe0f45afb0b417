/**
 * The Node view: the figures of the node this browser talks to, the
 * accelerator its guests get and why (this boot's KVM probe), and its
 * settings for guests (accelerator, memory overcommit) for holders of
 * Sys.Modify.
 *
 *   #/node     GET /api/node/<node>/resources and /settings; PUT /settings
 */
import { useEffect, useState } from 'preact/hooks';
import type { AccelSetting, NodeResources, NodeSettings } from '../../node-cgi/vm/types';
import { api, ApiError } from '../api';
import { html } from '../html';
import { lang, t } from '../i18n';
import { formatTime } from '../format';
import { ErrorBanner } from '../components/error-banner';
import { Field } from '../components/field';
import { formatBytes, formatPercent } from './guests-model';
import type { ViewProps } from './index';

const bytes = (n: number) => formatBytes(n, lang());

function SettingsForm({ node, settings, onDone }: { node: string; settings: NodeSettings; onDone: () => void }) {
  const [accel, setAccel] = useState<AccelSetting>(settings.accel);
  const [overcommit, setOvercommit] = useState(String(settings.memoryOvercommit));
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await api.put(`/api/node/${node}/settings`, { accel, memoryOvercommit: Number(overcommit) });
      setSaved(true);
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  const fieldErr = (f: string) => (error instanceof ApiError && error.code === 'invalid' && error.message.startsWith(`${f}: `) ? error.message.slice(f.length + 2) : undefined);
  const options: [AccelSetting, string][] = [['auto', t('guests.accel.opt.auto')], ['kvm', t('guests.accel.opt.kvm')], ['tcg', t('guests.accel.opt.tcg')]];
  return html`<form onSubmit=${save} noValidate>
    <${Field} label=${t('node.field.accel')} error=${fieldErr('accel')} hint=${t('node.field.accelHint')}>
      <select value=${accel} onChange=${(e: Event) => setAccel((e.currentTarget as HTMLSelectElement).value as AccelSetting)}>
        ${options.map(([v, label]) => html`<option value=${v} selected=${v === accel}>${label}</option>`)}
      </select>
    </${Field}>
    <${Field} label=${t('node.field.overcommit')} value=${overcommit} inputmode="decimal" error=${fieldErr('memoryOvercommit')}
      onInput=${(e: Event) => setOvercommit((e.currentTarget as HTMLInputElement).value)} />
    ${error && !['accel', 'memoryOvercommit'].some((f) => fieldErr(f)) && html`<${ErrorBanner} error=${error} />`}
    <div class="form-buttons">
      <button type="submit" class="btn btn-primary">${t('node.save')}</button>
      ${saved && html`<span role="status">${t('node.saved')}</span>`}
    </div>
  </form>`;
}

export default function NodeView({ me }: ViewProps) {
  const [res, setRes] = useState<NodeResources | null>(null);
  const [settings, setSettings] = useState<NodeSettings | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    Promise.all([api.get<NodeResources>(`/api/node/${me.node}/resources`), api.get<NodeSettings>(`/api/node/${me.node}/settings`)]).then(
      ([r, s]) => {
        setRes(r);
        setSettings(s);
      },
      setError,
    );
  }, [me.node, tick]);
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
      <${SettingsForm} node=${res.node} settings=${settings} onDone=${() => setTick((n) => n + 1)} />
    </section>`}
    <section class="card" aria-labelledby="n-resources">
      <h2 id="n-resources">${t('node.resources')}</h2>
      <dl class="props">
        <dt>${t('node.cpu')}</dt><dd>${t('node.cpuValue', { count: res.cpu.count, usage: formatPercent(res.cpu.usage, lang()) })}</dd>
        <dt>${t('node.memory')}</dt><dd>${t('guests.ofTotal', { used: bytes(res.memory.used), total: bytes(res.memory.total) })}</dd>
        <dt>${t('node.disk')}</dt><dd>${t('node.diskValue', { free: bytes(res.disk.free), total: bytes(res.disk.total) })}</dd>
        <dt>${t('node.guests')}</dt><dd>${t('node.guestsValue', { running: res.guests.running, total: res.guests.total, claimed: bytes(res.guests.memoryClaimed) })}</dd>
      </dl>
    </section>`;
}
