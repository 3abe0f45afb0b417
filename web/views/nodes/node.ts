/**
 * One node's page, reached from the Nodes list: where it stands in the
 * cluster (online or since when not, master, version, address,
 * certificate), its figures, the accelerator its guests get and why (its
 * boot's KVM probe), and its settings for guests (accelerator, memory
 * overcommit) for holders of Sys.Modify, and (for this node) when its
 * backup scheduler last ran. On the master any node's page works: the
 * requests go to that node.
 *
 * The set-up log of a node booted from the node image (/ram.log, with how
 * far its set-up got) is shown folded, for holders of Sys.Audit.
 *
 *   #/nodes/<name>     GET /api/node/<name>/resources and /settings; PUT /settings; GET /setup-log
 */
import { useState } from 'preact/hooks';
import type { AccelSetting, NodeSettings } from '../../../node-cgi/api-types';
import type { Me } from '../../api';
import { client } from '../../client';
import { offlineText, useCluster, type ClusterNodeView } from '../../cluster';
import { html } from '../../html';
import { t } from '../../i18n';
import { formatBytes as bytes, formatPercent, formatTime } from '../../format';
import { ErrorBanner } from '../../components/error-banner';
import { Field, fieldError, formError } from '../../components/field';
import { useAction, useLoad } from '../../hooks';
import { href } from '../../router';
import { NodeStatus } from './list';
import { SchedulerStatus } from '../backups/scheduler';

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

/** Where the node stands in the cluster (from GET /api/cluster). */
function Membership({ n }: { n: ClusterNodeView }) {
  return html`<section class="card" aria-labelledby="n-cluster">
    <h2 id="n-cluster">${t('nodes.membership')}</h2>
    ${!n.online && html`<div class="banner banner-error" role="alert"><div class="banner-body">
      <strong>${t('nodes.down', { node: n.name, since: offlineText(n) })}</strong>
      ${n.error && html`<span class="banner-detail">${n.error}</span>`}
    </div></div>`}
    <dl class="props">
      <dt>${t('nodes.col.status')}</dt><dd><${NodeStatus} n=${n} /></dd>
      <dt>${t('nodes.col.role')}</dt><dd>${t(n.master ? 'nodes.master' : 'nodes.member')}</dd>
      <dt>${t('nodes.col.version')}</dt><dd>${n.version}</dd>
      <dt>${t('nodes.col.address')}</dt><dd><code>${n.url}</code></dd>
      <dt>${t('nodes.fingerprint')}</dt><dd><code>${n.fingerprint}</code></dd>
      ${n.joined !== undefined && html`<dt>${t('nodes.joined')}</dt><dd>${formatTime(n.joined * 1000)}</dd>`}
    </dl>
  </section>`;
}

/** The node's set-up log (GET /api/node/<name>/setup-log); a node started without the image has none (404), and the section says so. */
function SetupLogSection({ name }: { name: string }) {
  const { data, error } = useLoad(() => client.nodes.setupLog(name), [name]);
  const none = (error as { status?: number } | undefined)?.status === 404;
  return html`<section class="card" aria-labelledby="n-setup">
    <h2 id="n-setup">${t('node.setupLog')}</h2>
    ${none ? html`<p>${t('node.setupLog.none')}</p>` : error ? html`<${ErrorBanner} error=${error} />` : !data ? html`<p>${t('app.loading')}</p>`
      : html`<p class="setup-percent">${t('node.setupLog.percent', { percent: data.percent ?? '?' })}</p>
        <details><summary>${t('node.setupLog.show', { n: data.lines.length })}</summary>
          <pre class="log" tabindex="0" role="log" aria-label=${t('node.setupLog')}>${data.lines.map((l) => `${l}\n`)}</pre>
        </details>`}
  </section>`;
}

export function NodeDetail({ name, me }: { name: string; me: Me }) {
  const { data, error, reload } = useLoad(() => Promise.all([client.nodes.resources(name), client.nodes.settings(name)]), [name]);
  const c = useCluster().data;
  const member = c?.name ? c.nodes.find((n) => n.name === name) : undefined;
  const [res, settings] = data ?? [null, null];
  const head = html`<p class="crumbs"><a href=${href('nodes')}>${t('nodes.back')}</a></p>
    <h1>${t('node.title', { node: name })}</h1>
    ${member && html`<${Membership} n=${member} />`}`;
  if (!res || !settings) return html`${head}${error ? html`<${ErrorBanner} error=${error} />` : html`<p>${t('app.loading')}</p>`}`;
  const p = res.kvmProbe;
  return html`${head}
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
    ${name === me.node && me.privileges.includes('Datastore.Audit') && html`<${SchedulerStatus} />`}
    <section class="card" aria-labelledby="n-resources">
      <h2 id="n-resources">${t('node.resources')}</h2>
      <dl class="props">
        <dt>${t('node.cpu')}</dt><dd>${t('node.cpuValue', { count: res.cpu.count, usage: formatPercent(res.cpu.usage) })}</dd>
        <dt>${t('node.memory')}</dt><dd>${t('guests.ofTotal', { used: bytes(res.memory.used), total: bytes(res.memory.total) })}</dd>
        <dt>${t('node.disk')}</dt><dd>${t('node.diskValue', { free: bytes(res.disk.free), total: bytes(res.disk.total) })}</dd>
        <dt>${t('node.guests')}</dt><dd>${t('node.guestsValue', { running: res.guests.running, total: res.guests.total, claimed: bytes(res.guests.memoryClaimed) })}</dd>
      </dl>
    </section>
    <${SetupLogSection} name=${name} />`;
}
