/**
 * #/guests/<vmid>: one guest, polled every POLL_MS, laid out as it is used
 * (at 1280×800 the console starts above the fold):
 *
 *   status and actions   in the title's row: status, power buttons, delete (asked first,
 *                        the VMID typed); below it the figures
 *   what needs a look    a crash (and, when KVM is to blame, a switch to TCG); a guest that
 *                        runs from a backup; right after create (#/guests/<vmid>/start)
 *                        the prompt to start it
 *   console              and below it the monitor
 *   hardware             editable (hardware.ts), then the options
 *   migrate              in a cluster: to another node, live or offline, with the task's progress (migrate.ts)
 *   failover             the page could not load the guest and a node is offline: start it here from its replicas (failover.ts)
 *   backups              its backups with restore and run, back up now
 *   permissions          who may use it
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
import { TemporaryBadge, TemporaryPanel, temporaryText } from '../backups/temporary';
import { GuestBackups } from './backups';
import { useAction, usePoll } from '../../hooks';
import { html } from '../../html';
import { t, type MessageKey } from '../../i18n';
import { href, navigate } from '../../router';
import { can, GuestStatus, POLL_MS, useIsoNames } from './common';
import { Hardware } from './hardware';
import { Migrate } from './migrate';
import { Failover } from './failover';
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

/** The guest's figures in one strip, with what needs saying about them. */
function Figures({ g }: { g: VmDetail }) {
  const r = g.runtime.resources;
  const running = g.status !== 'stopped';
  return html`<section class="card guest-status" aria-label=${t('guests.summary')}>
    <dl class="figures">
      <div><dt>${t('guests.col.node')}</dt><dd>${g.node}</dd></div>
      <div><dt>${t('guests.col.uptime')}</dt><dd>${running ? formatDuration(g.runtime.uptime * 1000) : '–'}</dd></div>
      <div><dt>${t('guests.col.cpu')}</dt><dd>${running ? formatPercent(r.cpu) : '–'} <span class="muted">${t('guests.vcpus', { n: r.cpus })}</span></dd></div>
      <div><dt>${t('guests.col.memory')}</dt><dd>${running ? t('guests.ofTotal', { used: bytes(r.mem), total: bytes(r.maxmem) }) : bytes(r.maxmem)}</dd></div>
      <div><dt>${t('guests.col.disk')}</dt><dd>${t('guests.ofTotal', { used: bytes(r.disk), total: bytes(r.maxdisk) })}</dd></div>
      <div><dt>${t('guests.accel')}</dt><dd title=${g.runtime.accelReason}>${t(g.runtime.accel === 'kvm' ? 'guests.accel.kvm' : 'guests.accel.tcg')}</dd></div>
    </dl>
    ${g.note && html`<div class="banner banner-info" role="status"><div class="banner-body">${g.note}</div></div>`}
    ${g.runtime.pending.length > 0 && html`<div class="banner banner-info" role="status"><div class="banner-body">${t('guests.pending', { fields: g.runtime.pending.join(', ') })}</div></div>`}
  </section>`;
}

export function GuestPage({ vmid, me, startPrompt }: { vmid: number; me: Me; startPrompt: boolean }) {
  const { data: g, error, reload } = usePoll(() => client.vms.get(vmid), { every: POLL_MS, keys: [vmid] });
  const isos = useIsoNames();
  const [asking, setAsking] = useState(false);
  if (!g) {
    return html`<p class="crumbs"><a href=${href('guests')}>${t('guests.back')}</a></p>
      <h1>${t('guests.page.title', { vmid, name: '' })}</h1>
      ${error ? html`<${ErrorBanner} error=${error} />` : html`<p>${t('app.loading')}</p>`}
      ${error && can(me, 'VM.Migrate') && html`<${Failover} vmid=${vmid} />`}`;
  }
  const running = g.status !== 'stopped';
  const config = can(me, 'VM.Config');
  const linkDown = g.nics.some((n) => n.linkDown === true);
  return html`<p class="crumbs"><a href=${href('guests')}>${t('guests.back')}</a></p>
    <div class="page-head guest-head">
      <h1>${t('guests.page.title', { vmid, name: g.name })}</h1>
      <${GuestStatus} status=${g.status} fault=${g.fault} />
      ${g.temporary && html`<${TemporaryBadge} mark=${g.temporary} />`}
      <div class="guest-toolbar" role="group" aria-label=${t('guests.statusActions')}>
        <${PowerButtons} vmid=${vmid} name=${g.name} status=${g.status} fault=${g.fault} temporary=${g.temporary} onDone=${reload} />
        ${can(me, 'VM.Allocate') && html`<button type="button" class="btn btn-danger" disabled=${running} title=${running ? t('guests.deleteRunning') : undefined}
          onClick=${() => setAsking(true)}>${t('guests.action.delete')}</button>`}
      </div>
    </div>
    ${error && html`<${ErrorBanner} error=${error} />`}
    <${Figures} g=${g} />
    ${g.fault && html`<${FaultBanner} g=${g} canConfig=${config} onDone=${reload} />`}
    ${g.temporary && html`<${TemporaryPanel} vmid=${vmid} mark=${g.temporary} linkDown=${linkDown} status=${g.status} onChange=${reload} linkBackup=${true} />`}
    ${startPrompt && g.status === 'stopped' && html`<${StartPrompt} g=${g} onDone=${reload} />`}
    ${can(me, 'VM.Console') &&
    html`<section class="card guest-console" aria-labelledby="g-console">
      <${Console} vmid=${vmid} heading=${html`<h2 id="g-console">${t('console.title', { vmid })}${g.temporary && html` <${TemporaryBadge} mark=${g.temporary} />`}</h2>`} />
      ${g.temporary && html`<p class="temp-line">${temporaryText(g.temporary, linkDown)}</p>`}
    </section>`}
    ${running && html`<${Monitor} vmid=${vmid} me=${me} />`}
    <${Hardware} g=${g} config=${config} isos=${isos} onDone=${reload} />
    <${Options} g=${g} config=${config} onDone=${reload} />
    ${can(me, 'VM.Migrate') && !g.temporary && html`<${Migrate} g=${g} onDone=${reload} />`}
    ${can(me, 'VM.Backup') && html`<${GuestBackups} vmid=${vmid} me=${me} />`}
    <${Permissions} path=${`/vms/${vmid}`} me=${me} />
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
