/**
 * The Hardware card of a guest's page. Users with VM.Config change it
 * right there; the others see it as a list.
 *
 *   processors and memory  sockets, cores, memory, OS type and the boot order
 *                          (devices moved up and down, each in or out of it):
 *                          PUT /api/vm/<vmid>, applied at the next start
 *   CD-ROM                 PUT /api/vm/<vmid>/cdrom, live
 *   disks                  add (POST …/disks; replicated in a 2-node cluster),
 *                          grow (PUT …/disks/<id> {size}, live while it runs;
 *                          not a replicated one), make replicated (POST
 *                          …/disks/<id>/replicate: a raw disk, guest stopped,
 *                          2-node cluster), remove (DELETE …/disks/<id>,
 *                          stopped only, the disk id typed to confirm)
 *   network cards          model, bridge, MAC, and how each is connected
 */
import { useState } from 'preact/hooks';
import type { DiskBus, VmDetail } from '../../../node-cgi/api-types';
import { client } from '../../client';
import { useCluster } from '../../cluster';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable, type Column } from '../../components/data-table';
import { Dialog } from '../../components/dialog';
import { ErrorBanner } from '../../components/error-banner';
import { Field, fieldError, formError } from '../../components/field';
import { formatBytes as bytes } from '../../format';
import { useAction } from '../../hooks';
import { html } from '../../html';
import { t, type MessageKey } from '../../i18n';
import { osLabel, ReplicatedCheck, Select, UnitSelect } from './common';
import {
  BUSES, CACHES, FORMATS, OS_TYPES, bootItems, bootOrder, canReplicate, diskRequest, moveItem, replicaBlocked, replicaMessage, replicaOffered, shownFormat, sizeFields, sizeIssue, sizeText,
  type BootItem, type SizeUnit,
} from './model';

type Disk = VmDetail['disks'][number];

/** "node2: UpToDate, 100 % in sync" for a replicated disk; "—" for another. */
function replicaText(d: Disk): string {
  const m = replicaMessage(d);
  return m ? t(m.key, m.params) : '—';
}
type Nic = VmDetail['nics'][number];

const val = (e: Event) => (e.currentTarget as HTMLInputElement).value;
const opts = <T extends string>(values: readonly T[], label: (v: T) => string): [string, string][] => values.map((v) => [v, label(v)]);

/** A device of the boot order by name: "Disk disk0 (IDE)", "CD-ROM", "Network net0". */
function deviceLabel(g: VmDetail, id: string): string {
  if (id === 'cdrom') return t('guests.hw.cdrom');
  const d = g.disks.find((x) => x.id === id);
  if (d) return t('guests.boot.disk', { id, bus: t(`guests.bus.${d.bus}` as MessageKey) });
  return t('guests.boot.nic', { id });
}

function BootOrder({ g, items, onChange }: { g: VmDetail; items: BootItem[]; onChange: (items: BootItem[]) => void }) {
  return html`<fieldset class="boot-order">
    <legend>${t('guests.hw.boot')}</legend>
    <ol class="plain-list">
      ${items.map((b, i) => html`<li key=${b.id} class="boot-item">
        <label class="check"><input type="checkbox" checked=${b.enabled}
          onChange=${(e: Event) => onChange(items.map((x, k) => (k === i ? { ...x, enabled: (e.currentTarget as HTMLInputElement).checked } : x)))} />
          ${deviceLabel(g, b.id)}</label>
        <button type="button" class="btn btn-small" disabled=${i === 0} aria-label=${t('guests.boot.up', { device: deviceLabel(g, b.id) })}
          onClick=${() => onChange(moveItem(items, i, -1))}>↑</button>
        <button type="button" class="btn btn-small" disabled=${i === items.length - 1} aria-label=${t('guests.boot.down', { device: deviceLabel(g, b.id) })}
          onClick=${() => onChange(moveItem(items, i, 1))}>↓</button>
      </li>`)}
    </ol>
    <p class="field-hint">${t('guests.boot.hint')}</p>
  </fieldset>`;
}

/** Sockets, cores, memory, OS type, boot order: one save. */
function ProcessorsForm({ g, onDone }: { g: VmDetail; onDone: () => void }) {
  const devices = ['cdrom', ...g.disks.map((d) => d.id), ...g.nics.map((n) => n.id)];
  const [sockets, setSockets] = useState(String(g.sockets));
  const [cores, setCores] = useState(String(g.cores));
  const [memory, setMemory] = useState(String(g.memory));
  const [ostype, setOstype] = useState<string>(g.ostype);
  const [boot, setBoot] = useState(bootItems(g.boot, devices));
  const save = useAction(async () => {
    await client.vms.update(g.vmid, {
      sockets: Number(sockets), cores: Number(cores), memory: Number(memory), ostype: ostype as VmDetail['ostype'], boot: bootOrder(boot),
    });
    onDone();
  });
  const fe = (f: string) => fieldError(save.error, f);
  return html`<form class="hw-form" aria-label=${t('guests.hw.cpu')} onSubmit=${(e: Event) => (e.preventDefault(), void save.run())} noValidate>
    <div class="form-row">
      <${Field} label=${t('guests.field.sockets')} name="sockets" value=${sockets} inputmode="numeric" error=${fe('sockets')} onInput=${(e: Event) => setSockets(val(e))} />
      <${Field} label=${t('guests.field.cores')} name="cores" value=${cores} inputmode="numeric" error=${fe('cores')} onInput=${(e: Event) => setCores(val(e))} />
      <${Field} label=${t('guests.field.memory')} name="memory" value=${memory} inputmode="numeric" error=${fe('memory')} onInput=${(e: Event) => setMemory(val(e))} />
      <${Field} label=${t('guests.field.ostype')} error=${fe('ostype')}>
        <${Select} name="ostype" value=${ostype} options=${opts(OS_TYPES, osLabel)} onChange=${setOstype} />
      </${Field}>
    </div>
    <${BootOrder} g=${g} items=${boot} onChange=${setBoot} />
    ${fe('boot') && html`<p class="field-error">${fe('boot')}</p>`}
    <${ErrorBanner} error=${formError(save.error, ['sockets', 'cores', 'memory', 'ostype', 'boot'])} />
    <div class="form-buttons">
      <button type="submit" class="btn btn-primary" disabled=${save.busy}>${t('guests.hw.save')}</button>
      ${save.done && html`<span role="status">${t(g.status === 'stopped' ? 'guests.saved' : 'guests.savedNextStart')}</span>`}
    </div>
  </form>`;
}

function CdromChanger({ g, isos, onDone }: { g: VmDetail; isos: string[]; onDone: () => void }) {
  const [value, setValue] = useState(g.cdrom ?? '');
  const change = useAction(async () => {
    await client.vms.setCdrom(g.vmid, value || null);
    onDone();
  });
  const names = g.cdrom && !isos.includes(g.cdrom) ? [g.cdrom, ...isos] : isos;
  return html`<div class="inline-form">
    <${Field} label=${t('guests.hw.cdrom')}>
      <${Select} value=${value} options=${[['', t('guests.cdrom.none')], ...names.map((n) => [n, n] as [string, string])]} onChange=${setValue} />
    </${Field}>
    <button type="button" class="btn" disabled=${value === (g.cdrom ?? '')} onClick=${() => change.run()}>${t('guests.cdrom.change')}</button>
    <${ErrorBanner} error=${change.error} />
  </div>`;
}

/** A size typed as a number and a unit (MiB, GiB), checked as the user types. */
function useSize(initial: string) {
  const start = sizeFields(initial);
  const [value, setValue] = useState(start.value);
  const [unit, setUnit] = useState<SizeUnit>(start.unit);
  const issue = sizeIssue(value, unit);
  return {
    value, unit, issue: issue ? t(issue[0], issue[1]) : null, text: sizeText(value, unit),
    field: (label: string, serverError: string | null) => html`<${Field} label=${label} name="size" value=${value} inputmode="numeric"
      error=${issue ? t(issue[0], issue[1]) : serverError} onInput=${(e: Event) => setValue(val(e))}
      suffix=${html`<${UnitSelect} value=${unit} onChange=${setUnit} />`} />`,
  };
}

function GrowDialog({ g, disk, onClose, onDone }: { g: VmDetail; disk: Disk; onClose: () => void; onDone: () => void }) {
  const size = useSize(disk.size);
  const grow = useAction(async () => {
    await client.vms.updateDisk(g.vmid, disk.id, { size: size.text });
    onDone();
    onClose();
  });
  return html`<${Dialog} open=${true} title=${t('guests.disk.growTitle', { id: disk.id, size: disk.size })} onClose=${onClose}>
    <form onSubmit=${(e: Event) => (e.preventDefault(), !size.issue && void grow.run())} noValidate>
      <p>${t(g.status === 'stopped' ? 'guests.disk.growText' : 'guests.disk.growLive')}</p>
      ${size.field(t('guests.disk.newSize'), fieldError(grow.error, 'size'))}
      <${ErrorBanner} error=${formError(grow.error, ['size'])} />
      <div class="dialog-buttons">
        <button type="button" class="btn dialog-cancel" disabled=${grow.busy} onClick=${onClose}>${t('dialog.cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled=${grow.busy || !!size.issue}>${t('guests.disk.grow')}</button>
      </div>
    </form>
  </${Dialog}>`;
}

function AddDiskForm({ g, offered, blocked, onDone }: { g: VmDetail; offered: boolean; blocked: string | null; onDone: () => void }) {
  const size = useSize('32G');
  const [bus, setBus] = useState<string>(g.disks[0]?.bus ?? 'virtio');
  const [format, setFormat] = useState<string>('qcow2');
  const [cache, setCache] = useState<string>('writeback');
  const [replicatedChecked, setReplicated] = useState(false);
  const replicated = offered && !blocked && replicatedChecked;
  const add = useAction(async () => {
    await client.vms.addDisk(g.vmid, diskRequest({ size: size.text, bus: bus as DiskBus, format: format as Disk['format'], cache: cache as Disk['cache'], replicated }));
    onDone();
  });
  const fe = (f: string) => fieldError(add.error, f);
  return html`<form class="card-inset" aria-label=${t('guests.disk.add')} onSubmit=${(e: Event) => (e.preventDefault(), !size.issue && void add.run())} noValidate>
    <div class="form-row">
      ${size.field(t('guests.field.diskSize'), fe('size'))}
      <${Field} label=${t('guests.field.bus')} error=${fe('bus')}><${Select} name="bus" value=${bus} options=${opts(BUSES, (v) => t(`guests.bus.${v}`))} onChange=${setBus} /></${Field}>
      <${Field} label=${t('guests.field.format')} error=${fe('format')} hint=${replicated ? t('guests.field.replicatedHint') : undefined}>
        <${Select} name="format" value=${shownFormat(format as Disk['format'], replicated)} disabled=${replicated} options=${opts(FORMATS, (v) => t(`guests.format.${v}`))} onChange=${setFormat} />
      </${Field}>
      <${Field} label=${t('guests.field.cache')} error=${fe('cache')}><${Select} name="cache" value=${cache} options=${opts(CACHES, (v) => t(`guests.cache.${v}`))} onChange=${setCache} /></${Field}>
    </div>
    ${offered && html`<${ReplicatedCheck} checked=${replicated} blocked=${blocked} onChange=${setReplicated} />`}
    <${ErrorBanner} error=${formError(add.error, ['size', 'bus', 'format', 'cache'])} />
    <div class="form-buttons">
      <button type="submit" class="btn btn-primary" disabled=${add.busy || !!size.issue}>${t('guests.disk.add')}</button>
      ${add.done && html`<span role="status">${t(g.status === 'stopped' ? 'guests.disk.added' : 'guests.disk.addedNextStart')}</span>`}
    </div>
  </form>`;
}

export interface HardwareProps {
  g: VmDetail;
  /** The user may change it (VM.Config). */
  config: boolean;
  isos: string[];
  onDone: () => void;
}

export function Hardware({ g, config, isos, onDone }: HardwareProps) {
  const [growing, setGrowing] = useState<Disk | null>(null);
  const [removing, setRemoving] = useState<Disk | null>(null);
  const [adding, setAdding] = useState(false);
  const [replicating, setReplicating] = useState<Disk | null>(null);
  const cluster = useCluster().data;
  const offered = replicaOffered(cluster);
  const blocked = replicaBlocked(cluster);
  const running = g.status !== 'stopped';
  const disks: Column<Disk>[] = [
    { key: 'id', label: t('guests.disk.id'), value: (d) => d.id },
    { key: 'bus', label: t('guests.field.bus'), value: (d) => t(`guests.bus.${d.bus}` as MessageKey) },
    { key: 'format', label: t('guests.field.format'), value: (d) => d.format },
    { key: 'cache', label: t('guests.field.cache'), value: (d) => d.cache },
    { key: 'size', label: t('guests.disk.size'), value: (d) => d.size, class: 'num' },
    { key: 'alloc', label: t('guests.disk.allocated'), value: (d) => bytes(g.runtime.disks.find((u) => u.id === d.id)?.allocated ?? 0), class: 'num' },
    ...(g.disks.some((d) => d.replication) ? [{ key: 'replica', label: t('guests.disk.replica'), value: replicaText }] : []),
    ...(config
      ? [{
        key: 'actions', label: t('table.actions'), value: () => '', sortable: false,
        render: (d: Disk) => html`<span class="panel-actions">
          <button type="button" class="btn btn-small" disabled=${d.replicated} title=${d.replicated ? t('guests.disk.growReplicated') : undefined}
            aria-label=${t('guests.disk.growOf', { id: d.id })} onClick=${() => setGrowing(d)}>${t('guests.disk.grow')}…</button>
          ${canReplicate(d, g.status, offered) && html`<button type="button" class="btn btn-small" aria-label=${t('guests.disk.replicateOf', { id: d.id })}
            disabled=${!!blocked} title=${blocked ?? undefined} onClick=${() => setReplicating(d)}>${t('guests.disk.replicate')}…</button>`}
          <button type="button" class="btn btn-small" disabled=${running} title=${running ? t('guests.disk.removeRunning') : undefined}
            aria-label=${t('guests.disk.removeOf', { id: d.id })} onClick=${() => setRemoving(d)}>${t('guests.disk.remove')}</button>
        </span>`,
      } satisfies Column<Disk>]
      : []),
  ];
  const nics: Column<Nic>[] = [
    { key: 'id', label: t('guests.nic.id'), value: (n) => n.id },
    { key: 'model', label: t('guests.field.nic'), value: (n) => t(`guests.nic.${n.model}` as MessageKey) },
    { key: 'bridge', label: t('guests.field.bridge'), value: (n) => n.bridge },
    { key: 'mac', label: t('guests.nic.mac'), value: (n) => n.mac },
    {
      key: 'net', label: t('guests.nic.connection'),
      value: (n) => {
        const r = g.runtime.net.find((x) => x.id === n.id);
        const how = !r ? '' : r.mode === 'tap' ? t('guests.net.tap', { bridge: r.bridge, ifname: r.ifname ?? '' }) : t('guests.net.user', { bridge: r.bridge });
        return n.linkDown ? `${t('temp.unplugged')} · ${how}` : how;
      },
    },
  ];
  return html`<section class="card" aria-labelledby="g-hardware">
    <h2 id="g-hardware">${t('guests.hardware')}</h2>
    ${config
      ? html`<${ProcessorsForm} key=${[g.vmid, ...g.disks.map((d) => d.id), ...g.nics.map((n) => n.id)].join()} g=${g} onDone=${onDone} />
        <${CdromChanger} key=${g.cdrom ?? ''} g=${g} isos=${isos} onDone=${onDone} />`
      : html`<dl class="props">
          <dt>${t('guests.hw.memory')}</dt><dd>${bytes(g.memory * 1024 * 1024)}</dd>
          <dt>${t('guests.hw.cpu')}</dt><dd>${t('guests.hw.cpuValue', { sockets: g.sockets, cores: g.cores })}</dd>
          <dt>${t('guests.field.ostype')}</dt><dd>${osLabel(g.ostype)}</dd>
          <dt>${t('guests.hw.boot')}</dt><dd>${g.boot.map((b) => deviceLabel(g, b)).join(', ') || '–'}</dd>
          <dt>${t('guests.hw.cdrom')}</dt><dd>${g.cdrom ?? t('guests.cdrom.none')}</dd>
        </dl>`}
    <div class="section-head">
      <h3>${t('guests.hw.disks')}</h3>
      ${config && html`<button type="button" class="btn btn-small" aria-expanded=${adding} onClick=${() => setAdding(!adding)}>${t('guests.disk.add')}</button>`}
    </div>
    ${adding && html`<${AddDiskForm} g=${g} offered=${offered} blocked=${blocked} onDone=${onDone} />`}
    <${DataTable} label=${t('guests.hw.disks')} filter=${false} empty=${t('guests.none')} rows=${g.disks} rowKey=${(d: Disk) => d.id} columns=${disks} />
    <h3>${t('guests.hw.nics')}</h3>
    <${DataTable} label=${t('guests.hw.nics')} filter=${false} empty=${t('guests.none')} rows=${g.nics} rowKey=${(n: Nic) => n.id} columns=${nics} />
    ${growing && html`<${GrowDialog} g=${g} disk=${growing} onClose=${() => setGrowing(null)} onDone=${onDone} />`}
    <${ConfirmDialog} open=${removing !== null} title=${t('guests.disk.removeTitle', { id: removing?.id ?? '', vmid: g.vmid })}
      message=${t('guests.disk.removeText')} confirmLabel=${t('guests.disk.removeConfirm', { id: removing?.id ?? '' })} requireText=${removing?.id ?? ''}
      onConfirm=${async () => {
        await client.vms.removeDisk(g.vmid, removing!.id);
        setRemoving(null);
        onDone();
      }}
      onCancel=${() => setRemoving(null)} />
    <${ConfirmDialog} open=${replicating !== null} title=${t('guests.disk.replicateTitle', { id: replicating?.id ?? '', vmid: g.vmid })}
      message=${t('guests.disk.replicateText')} confirmLabel=${t('guests.disk.replicateConfirm', { id: replicating?.id ?? '' })} danger=${false}
      onConfirm=${async () => {
        await client.vms.replicateDisk(g.vmid, replicating!.id);
        setReplicating(null);
        onDone();
      }}
      onCancel=${() => setReplicating(null)} />
  </section>`;
}
