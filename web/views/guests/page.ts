/**
 * #/guests/<vmid>: one guest, polled every POLL_MS: what went wrong if it
 * crashed (and, when KVM is to blame, a switch to TCG), its power buttons and
 * delete (asked first, the VMID typed), console and monitor, who may use
 * it (Permissions), its summary, hardware and options. Right after create
 * (#/guests/<vmid>/start) a prompt to start it comes first.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { VmDetail } from '../../../node-cgi/api-types';
import { Permissions } from '../../access/permissions';
import type { Me } from '../../api';
import { client } from '../../client';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { ErrorBanner } from '../../components/error-banner';
import { Console } from '../../console/console';
import { Monitor } from '../../console/monitor';
import { formatBytes as bytes, formatDuration, formatPercent } from '../../format';
import { useAction, usePoll } from '../../hooks';
import { html } from '../../html';
import { t, type MessageKey } from '../../i18n';
import { href, navigate } from '../../router';
import { can, GuestStatus, POLL_MS, useIsoNames } from './common';
import { Hardware } from './hardware';
import { Options } from './options';
import { PowerButtons } from './power';

function StartPrompt({ g, onDone }: { g: VmDetail; onDone: () => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const start = useAction(async () => {
    await client.vms.start(g.vmid);
    navigate(href('guests', g.vmid), { replace: true });
    onDone();
  });
  return html`<section class="card card-accent" aria-labelledby="start-now">
    <h2 id="start-now">${t('guests.created', { vmid: g.vmid })}</h2>
    <p>${t('guests.startNow')}</p>
    <${ErrorBanner} error=${start.error} />
    <div class="form-buttons">
      <button type="button" class="btn btn-primary" ref=${ref} disabled=${start.busy} aria-busy=${start.busy || undefined} onClick=${() => start.run()}>${t('guests.startGuest', { vmid: g.vmid })}</button>
      <a class="btn" href=${href('guests', g.vmid)}>${t('guests.startLater')}</a>
    </div>
  </section>`;
}

/** What happened to a crashed guest and what helps; under KVM trouble, a button that switches it to TCG. */
function FaultBanner({ g, canConfig, onDone }: { g: VmDetail; canConfig: boolean; onDone: () => void }) {
  const f = g.fault!;
  const useTcg = useAction(async () => {
    await client.vms.update(g.vmid, { accel: 'tcg' });
    onDone();
  });
  return html`<div class="banner banner-error" role="alert">
    <div class="banner-body">
      <strong>${t(`guests.fault.${f.state}` as MessageKey)}</strong>
      <p>${t('guests.fault.actions')}</p>
      ${f.kvmSuspect && html`<p>${t('guests.fault.kvm')}</p>`}
      ${f.kvmSuspect && canConfig && g.accel !== 'tcg' && html`<button type="button" class="btn" onClick=${() => useTcg.run()}>${t('guests.fault.useTcg')}</button>`}
      ${f.kvmSuspect && g.accel === 'tcg' && html`<p>${t('guests.fault.tcgSet')}</p>`}
      <${ErrorBanner} error=${useTcg.error} />
    </div>
  </div>`;
}

function Summary({ g }: { g: VmDetail }) {
  const r = g.runtime.resources;
  const running = g.status !== 'stopped';
  return html`<section class="card" aria-labelledby="g-summary">
    <h2 id="g-summary">${t('guests.summary')}</h2>
    ${g.note && html`<div class="banner banner-info" role="status"><div class="banner-body">${g.note}</div></div>`}
    ${g.runtime.pending.length > 0 && html`<div class="banner banner-info" role="status"><div class="banner-body">${t('guests.pending', { fields: g.runtime.pending.join(', ') })}</div></div>`}
    <dl class="props">
      <dt>${t('guests.col.status')}</dt><dd><${GuestStatus} status=${g.status} fault=${g.fault} /></dd>
      <dt>${t('guests.col.node')}</dt><dd>${g.node}</dd>
      <dt>${t('guests.col.uptime')}</dt><dd>${running ? formatDuration(g.runtime.uptime * 1000) : '–'}</dd>
      <dt>${t('guests.col.cpu')}</dt><dd>${running ? formatPercent(r.cpu) : '–'}</dd>
      <dt>${t('guests.col.memory')}</dt><dd>${t('guests.ofTotal', { used: bytes(r.mem), total: bytes(r.maxmem) })}</dd>
      <dt>${t('guests.col.disk')}</dt><dd>${t('guests.ofTotal', { used: bytes(r.disk), total: bytes(r.maxdisk) })}</dd>
      <dt>${t('guests.accel')}</dt>
      <dd class="guest-accel">${t(g.runtime.accel === 'kvm' ? 'guests.accel.kvm' : 'guests.accel.tcg')}<div class="muted">${g.runtime.accelReason}</div></dd>
      <dt>${t('guests.hw.nics')}</dt>
      <dd>${g.runtime.net.length === 0
        ? t('guests.none')
        : g.runtime.net.map((n) => html`<div>${n.id}: ${n.mode === 'tap' ? t('guests.net.tap', { bridge: n.bridge, ifname: n.ifname ?? '' }) : t('guests.net.user', { bridge: n.bridge })}</div>`)}</dd>
    </dl>
  </section>`;
}

export function GuestPage({ vmid, me, startPrompt }: { vmid: number; me: Me; startPrompt: boolean }) {
  const { data: g, error, reload } = usePoll(() => client.vms.get(vmid), { every: POLL_MS, keys: [vmid] });
  const isos = useIsoNames();
  const [asking, setAsking] = useState(false);
  if (!g) {
    return html`<p class="crumbs"><a href=${href('guests')}>${t('guests.back')}</a></p>
      <h1>${t('guests.page.title', { vmid, name: '' })}</h1>
      ${error ? html`<${ErrorBanner} error=${error} />` : html`<p>${t('app.loading')}</p>`}`;
  }
  const running = g.status !== 'stopped';
  const config = can(me, 'VM.Config');
  return html`<p class="crumbs"><a href=${href('guests')}>${t('guests.back')}</a></p>
    <div class="page-head">
      <h1>${t('guests.page.title', { vmid, name: g.name })}</h1>
      <${GuestStatus} status=${g.status} fault=${g.fault} />
    </div>
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${g.fault && html`<${FaultBanner} g=${g} canConfig=${config} onDone=${reload} />`}
    ${startPrompt && g.status === 'stopped' && html`<${StartPrompt} g=${g} onDone=${reload} />`}
    <section class="card" aria-labelledby="g-actions">
      <h2 id="g-actions">${t('guests.actions')}</h2>
      <div class="guest-toolbar">
        <${PowerButtons} vmid=${vmid} name=${g.name} status=${g.status} fault=${g.fault} onDone=${reload} />
        ${can(me, 'VM.Allocate') &&
        html`<button type="button" class="btn btn-danger" disabled=${running} onClick=${() => setAsking(true)}>${t('guests.action.delete')}</button>`}
      </div>
      ${running && can(me, 'VM.Allocate') && html`<p class="muted">${t('guests.deleteRunning')}</p>`}
    </section>
    ${can(me, 'VM.Console') &&
    html`<section class="card" aria-labelledby="g-console">
      <h2 id="g-console">${t('console.title', { vmid })}</h2>
      <${Console} vmid=${vmid} />
    </section>`}
    ${running && html`<${Monitor} vmid=${vmid} me=${me} />`}
    <${Permissions} path=${`/vms/${vmid}`} me=${me} />
    <${Summary} g=${g} />
    <${Hardware} g=${g} config=${config} isos=${isos} onDone=${reload} />
    <${Options} g=${g} config=${config} onDone=${reload} />
    <${ConfirmDialog}
      open=${asking}
      title=${t('guests.confirm.deleteTitle', { vmid, name: g.name })}
      message=${t('guests.confirm.deleteText')}
      confirmLabel=${t('guests.confirm.delete', { vmid })}
      requireText=${String(vmid)}
      onConfirm=${async () => {
        await client.vms.remove(vmid);
        setAsking(false);
        navigate(href('guests'), { replace: true });
      }}
      onCancel=${() => setAsking(false)}
    />`;
}
