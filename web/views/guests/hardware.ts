/**
 * The Hardware card of a guest's page: memory, CPUs, OS type, boot order,
 * the CD-ROM (changed right there with VM.Config), its disks with their
 * allocated bytes, and its NICs.
 */
import { useState } from 'preact/hooks';
import type { VmDetail } from '../../../node-cgi/api-types';
import { client } from '../../client';
import { DataTable, type Column } from '../../components/data-table';
import { ErrorBanner } from '../../components/error-banner';
import { Field } from '../../components/field';
import { formatBytes as bytes } from '../../format';
import { useAction } from '../../hooks';
import { html } from '../../html';
import { t, type MessageKey } from '../../i18n';
import { osLabel, Select } from './common';

type Disk = VmDetail['disks'][number];
type Nic = VmDetail['nics'][number];

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

export interface HardwareProps {
  g: VmDetail;
  /** The user may change the CD-ROM (VM.Config). */
  config: boolean;
  isos: string[];
  onDone: () => void;
}

export function Hardware({ g, config, isos, onDone }: HardwareProps) {
  const disks: Column<Disk>[] = [
    { key: 'id', label: t('guests.disk.id'), value: (d) => d.id },
    { key: 'bus', label: t('guests.field.bus'), value: (d) => t(`guests.bus.${d.bus}` as MessageKey) },
    { key: 'format', label: t('guests.field.format'), value: (d) => d.format },
    { key: 'cache', label: t('guests.field.cache'), value: (d) => d.cache },
    { key: 'size', label: t('guests.disk.size'), value: (d) => d.size, class: 'num' },
    { key: 'alloc', label: t('guests.disk.allocated'), value: (d) => bytes(g.runtime.disks.find((u) => u.id === d.id)?.allocated ?? 0), class: 'num' },
  ];
  const nics: Column<Nic>[] = [
    { key: 'id', label: t('guests.nic.id'), value: (n) => n.id },
    { key: 'model', label: t('guests.field.nic'), value: (n) => t(`guests.nic.${n.model}` as MessageKey) },
    { key: 'bridge', label: t('guests.field.bridge'), value: (n) => n.bridge },
    { key: 'mac', label: t('guests.nic.mac'), value: (n) => n.mac },
  ];
  return html`<section class="card" aria-labelledby="g-hardware">
    <h2 id="g-hardware">${t('guests.hardware')}</h2>
    <dl class="props">
      <dt>${t('guests.hw.memory')}</dt><dd>${bytes(g.memory * 1024 * 1024)}</dd>
      <dt>${t('guests.hw.cpu')}</dt><dd>${t('guests.hw.cpuValue', { sockets: g.sockets, cores: g.cores })}</dd>
      <dt>${t('guests.field.ostype')}</dt><dd>${osLabel(g.ostype)}</dd>
      <dt>${t('guests.hw.boot')}</dt><dd>${g.boot.join(', ')}</dd>
      ${!config && html`<dt>${t('guests.hw.cdrom')}</dt><dd>${g.cdrom ?? t('guests.cdrom.none')}</dd>`}
    </dl>
    ${config && html`<${CdromChanger} key=${g.cdrom ?? ''} g=${g} isos=${isos} onDone=${onDone} />`}
    <h3>${t('guests.hw.disks')}</h3>
    <${DataTable} label=${t('guests.hw.disks')} filter=${false} empty=${t('guests.none')} rows=${g.disks} rowKey=${(d: Disk) => d.id} columns=${disks} />
    <h3>${t('guests.hw.nics')}</h3>
    <${DataTable} label=${t('guests.hw.nics')} filter=${false} empty=${t('guests.none')} rows=${g.nics} rowKey=${(n: Nic) => n.id} columns=${nics} />
  </section>`;
}
