/**
 * The Guests view:
 *
 *   #/guests              the list: status, node, CPU, memory, disk, uptime, actions, filter
 *   #/guests/new          the create form (the original's fields and defaults, checked as you type)
 *   #/guests/101          a guest: summary, hardware, options, actions
 *   #/guests/101/start    the same, right after create: the start prompt first
 *
 * Lists and pages poll the node (POLL_MS) so a status changed elsewhere
 * shows up. Stop, reset and delete ask first; delete wants the VMID typed.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { IsoImage, Privilege, VmDetail, VmListEntry, VmState } from '../../node-cgi/api-types';
import { api, ApiError } from '../api';
import { html } from '../html';
import { lang, t, type MessageKey } from '../i18n';
import { formatDuration } from '../format';
import { href, navigate } from '../router';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DataTable, type Column } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { Field } from '../components/field';
import { StatusBadge, type Tone } from '../components/status-badge';
import {
  actionsFor, listActionsFor, BUSES, CACHES, CONFIRM_ACTIONS, fieldOfIssue, FORM_DEFAULTS, formatBytes, formatPercent, formIssues, formRequest,
  FORMATS, NICS, OS_TYPES, withOsType, type CreateForm, type FormField, type FormIssues, type PowerAction,
} from './guests-model';
import type { ViewProps } from './index';
import { Console } from '../console/console';
import { Monitor } from '../console/monitor';
import { Permissions } from '../access/permissions';

/** How often lists and pages ask the node again. */
const POLL_MS = 3000;

const STATUS_TONE: Record<VmState, Tone> = { running: 'running', paused: 'paused', stopped: 'neutral' };
const STATUS_KEY: Record<VmState, MessageKey> = { running: 'guests.status.running', paused: 'guests.status.paused', stopped: 'guests.status.stopped' };
const ACTION_KEY: Record<PowerAction, MessageKey> = {
  start: 'guests.action.start', shutdown: 'guests.action.shutdown', stop: 'guests.action.stop',
  reset: 'guests.action.reset', pause: 'guests.action.pause', resume: 'guests.action.resume',
};

const osLabel = (os: string) => t(`guests.os.${os}` as MessageKey);
const can = (me: ViewProps['me'], priv: Privilege) => me.privileges.includes(priv);
const bytes = (n: number) => formatBytes(n, lang());

function GuestStatus({ status }: { status: VmState }) {
  return html`<${StatusBadge} tone=${STATUS_TONE[status]} label=${t(STATUS_KEY[status])} />`;
}

/** Fetch `path` now and every POLL_MS; `reload()` fetches at once. */
function usePoll<T>(path: string): { data: T | null; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const d = await api.get<T>(path);
        if (!live) return;
        setData(d);
        setError(null);
      } catch (e) {
        if (live) setError(e);
      }
      if (live) timer = setTimeout(load, POLL_MS);
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [path, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

interface Ask {
  action: PowerAction | 'delete';
  vmid: number;
}

/** Power buttons for one guest, with the confirmation of stop and reset. */
function PowerButtons({ vmid, name, status, onDone, small }: { vmid: number; name: string; status: VmState; onDone: () => void; small?: boolean }) {
  const [busy, setBusy] = useState<PowerAction | null>(null);
  const [ask, setAsk] = useState<Ask | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (action: PowerAction) => {
    setBusy(action);
    setError(null);
    try {
      await api.post(`/api/vm/${vmid}/${action}`);
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const press = (action: PowerAction) => (CONFIRM_ACTIONS.has(action) ? setAsk({ action, vmid }) : void run(action));
  const cls = `btn${small ? ' btn-small' : ''}`;
  return html`<div class="guest-actions" role="group" aria-label=${t('guests.actionsFor', { name })}>
      ${(small ? listActionsFor(status) : actionsFor(status)).map(
        (a) => html`<button type="button" class=${a === 'start' ? `${cls} btn-primary` : cls} disabled=${busy !== null} aria-busy=${busy === a || undefined}
          onClick=${() => press(a)}>${t(ACTION_KEY[a])}</button>`,
      )}
    </div>
    ${error && html`<${ErrorBanner} error=${error} onDismiss=${() => setError(null)} />`}
    ${ask &&
    html`<${ConfirmDialog}
      open=${true}
      title=${t(ask.action === 'stop' ? 'guests.confirm.stopTitle' : 'guests.confirm.resetTitle', { vmid, name })}
      message=${t(ask.action === 'stop' ? 'guests.confirm.stopText' : 'guests.confirm.resetText')}
      confirmLabel=${t(ask.action === 'stop' ? 'guests.confirm.stop' : 'guests.confirm.reset', { vmid })}
      onConfirm=${async () => {
        await api.post(`/api/vm/${vmid}/${ask.action}`);
        setAsk(null);
        onDone();
      }}
      onCancel=${() => setAsk(null)}
    />`}`;
}

function GuestList({ me }: ViewProps) {
  const { data, error, reload } = usePoll<VmListEntry[]>('/api/vm');
  const columns: Column<VmListEntry>[] = [
    { key: 'status', label: t('guests.col.status'), value: (g) => t(STATUS_KEY[g.status]), render: (g) => html`<${GuestStatus} status=${g.status} />` },
    {
      key: 'vmid',
      label: t('guests.col.guest'),
      value: (g) => `${g.vmid} ${g.name}`,
      sortValue: (g) => g.vmid,
      render: (g) => html`<span class="guest-id">${g.vmid}</span> <a href=${href('guests', g.vmid)}>${g.name}</a>`,
    },
    { key: 'node', label: t('guests.col.node'), value: (g) => g.node },
    { key: 'cpu', label: t('guests.col.cpu'), value: (g) => (g.status === 'stopped' ? '' : formatPercent(g.cpu, lang())), sortValue: (g) => g.cpu, class: 'num' },
    {
      key: 'mem',
      label: t('guests.col.memory'),
      value: (g) => (g.status === 'stopped' ? bytes(g.maxmem) : t('guests.ofTotal', { used: bytes(g.mem), total: bytes(g.maxmem) })),
      sortValue: (g) => g.mem,
      class: 'num',
    },
    { key: 'disk', label: t('guests.col.disk'), value: (g) => t('guests.ofTotal', { used: bytes(g.disk), total: bytes(g.maxdisk) }), sortValue: (g) => g.disk, class: 'num' },
    { key: 'uptime', label: t('guests.col.uptime'), value: (g) => (g.status === 'stopped' ? '' : formatDuration(g.uptime * 1000)), sortValue: (g) => g.uptime, class: 'num' },
    {
      key: 'actions',
      label: t('table.actions'),
      value: () => '',
      sortable: false,
      render: (g) => html`<${PowerButtons} vmid=${g.vmid} name=${g.name} status=${g.status} onDone=${reload} small=${true} />`,
    },
  ];
  return html`<div class="page-head">
      <h1>${t('guests.title')}</h1>
      ${can(me, 'VM.Allocate') && html`<a class="btn btn-primary" href=${href('guests', 'new')}>${t('guests.create')}</a>`}
    </div>
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${data === null
      ? !error && html`<p>${t('app.loading')}</p>`
      : html`<div class="guest-list"><${DataTable}
          label=${t('guests.title')}
          filter=${t('guests.filter')}
          empty=${t('guests.empty')}
          columns=${columns}
          rows=${data}
          rowKey=${(g: VmListEntry) => g.vmid}
          initialSort=${{ key: 'vmid', dir: 'asc' }}
        /></div>`}`;
}

/** A <select>; Field's id and aria attributes pass through to it. */
function Select({ value, options, onChange, ...rest }: { value: string; options: [string, string][]; onChange: (v: string) => void; [attr: string]: unknown }) {
  return html`<select ...${rest} value=${value} onChange=${(e: Event) => onChange((e.currentTarget as HTMLSelectElement).value)}>
    ${options.map(([v, label]) => html`<option value=${v} selected=${v === value}>${label}</option>`)}
  </select>`;
}

function GuestCreate({ me }: ViewProps) {
  const [form, setForm] = useState<CreateForm>({ ...FORM_DEFAULTS, node: me.node });
  const [touched, setTouched] = useState<Set<FormField>>(new Set());
  const [shown, setShown] = useState<Set<FormField>>(new Set());
  const [server, setServer] = useState<FormIssues>({});
  const [isos, setIsos] = useState<string[]>([]);
  const [nextVmid, setNextVmid] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const formRef = useRef<HTMLFormElement>(null);
  // Bumped by a refused submit: after that render, the first invalid field gets the focus.
  const [focusInvalid, setFocusInvalid] = useState(0);
  useEffect(() => {
    if (focusInvalid) (formRef.current?.querySelector('[aria-invalid="true"]') as HTMLElement | null)?.focus();
  }, [focusInvalid]);

  useEffect(() => {
    api.get<IsoImage[]>('/api/iso').then((l) => setIsos(l.map((i) => i.name)), () => setIsos([]));
    api.post<{ config?: { vmid: number } }>('/api/vm?dryrun=1', { name: 'x' }).then((r) => setNextVmid(r.config?.vmid ?? null), () => undefined);
  }, []);

  const local = formIssues(form);
  const issueOf = (k: FormField): string | undefined => {
    const i = (shown.has(k) ? local[k] : undefined) ?? server[k];
    return i ? t(i[0], i[1]) : undefined;
  };
  const set = (k: FormField, v: string | boolean) => {
    setForm((f) => ({ ...f, [k]: v }));
    setTouched((s) => new Set(s).add(k));
    setShown((s) => new Set(s).add(k));
    setServer((s) => ({ ...s, [k]: undefined }));
  };
  const text = (k: FormField, label: MessageKey, extra: Record<string, unknown> = {}) => html`<${Field}
    label=${t(label)} name=${k} value=${form[k] as string} error=${issueOf(k)}
    onInput=${(e: Event) => set(k, (e.currentTarget as HTMLInputElement).value)}
    onBlur=${() => setShown((s) => new Set(s).add(k))} ...${extra} />`;
  const choice = (k: FormField, label: MessageKey, options: [string, string][], onChange = (v: string) => set(k, v)) =>
    html`<${Field} label=${t(label)} error=${issueOf(k)}><${Select} value=${form[k] as string} options=${options} onChange=${onChange} /></${Field}>`;

  const submit = async (e: Event) => {
    e.preventDefault();
    const all = new Set(Object.keys(form) as FormField[]);
    setShown(all);
    if (Object.keys(local).length > 0) {
      setFocusInvalid((n) => n + 1);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = formRequest(form);
      const check = await api.post<{ issues: { field: string; message: string }[] }>('/api/vm?dryrun=1', body);
      const mapped: FormIssues = {};
      for (const i of check.issues) {
        const k = fieldOfIssue(i.field);
        if (k) mapped[k] ??= ['guests.err.node', { message: i.message }];
      }
      if (check.issues.length > 0) {
        setServer(mapped);
        setFocusInvalid((n) => n + 1);
        if (Object.keys(mapped).length < check.issues.length) setError(new ApiError(400, 'invalid', check.issues.map((i) => `${i.field}: ${i.message}`).join('; ')));
        return;
      }
      const created = await api.post<{ vmid: number }>('/api/vm', body);
      navigate(href('guests', created.vmid, 'start'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const opts = <T extends string>(values: readonly T[], label: (v: T) => string) => values.map((v) => [v, label(v)] as [string, string]);
  return html`<p class="crumbs"><a href=${href('guests')}>${t('guests.back')}</a></p>
    <h1>${t('guests.new.title')}</h1>
    <form class="guest-form" ref=${formRef} onSubmit=${submit} noValidate>
      <${ErrorBanner} error=${error} />
      <fieldset class="card">
        <legend>${t('guests.section.general')}</legend>
        <div class="field"><span class="field-label">${t('guests.field.type')}</span> <span>${t('guests.type.kvm')}</span></div>
        ${text('name', 'guests.field.name', { required: true, autocomplete: 'off', hint: t('guests.field.nameHint') })}
        ${text('vmid', 'guests.field.vmid', { inputmode: 'numeric', hint: nextVmid ? t('guests.field.vmidHint', { vmid: nextVmid }) : undefined })}
        ${choice('node', 'guests.field.node', [[me.node, me.node]])}
        ${choice('ostype', 'guests.field.ostype', opts(OS_TYPES, osLabel), (v) => {
          setForm((f) => withOsType(f, v as CreateForm['ostype'], touched));
          setTouched((s) => new Set(s).add('ostype'));
        })}
        ${choice('cdrom', 'guests.field.cdrom', [['', t('guests.cdrom.none')], ...isos.map((n) => [n, n] as [string, string])])}
        <div class="field field-check">
          <label><input type="checkbox" checked=${form.onboot} onChange=${(e: Event) => set('onboot', (e.currentTarget as HTMLInputElement).checked)} /> ${t('guests.field.onboot')}</label>
        </div>
      </fieldset>
      <fieldset class="card">
        <legend>${t('guests.section.cpu')}</legend>
        ${text('memory', 'guests.field.memory', { inputmode: 'numeric', required: true })}
        ${text('sockets', 'guests.field.sockets', { inputmode: 'numeric', required: true })}
        ${text('cores', 'guests.field.cores', { inputmode: 'numeric', required: true })}
      </fieldset>
      <fieldset class="card">
        <legend>${t('guests.section.disk')}</legend>
        ${text('diskSize', 'guests.field.diskSize', { inputmode: 'numeric', required: true })}
        ${choice('bus', 'guests.field.bus', opts(BUSES, (v) => t(`guests.bus.${v}`)))}
        ${choice('format', 'guests.field.format', opts(FORMATS, (v) => t(`guests.format.${v}`)))}
        ${choice('cache', 'guests.field.cache', opts(CACHES, (v) => t(`guests.cache.${v}`)))}
      </fieldset>
      <fieldset class="card">
        <legend>${t('guests.section.network')}</legend>
        ${text('bridge', 'guests.field.bridge', { required: true, hint: t('guests.field.bridgeHint') })}
        ${choice('nic', 'guests.field.nic', opts(NICS, (v) => t(`guests.nic.${v}`)))}
      </fieldset>
      <fieldset class="card">
        <legend>${t('guests.section.notes')}</legend>
        <${Field} label=${t('guests.field.description')} error=${issueOf('description')}>
          <textarea rows="3" value=${form.description} onInput=${(e: Event) => set('description', (e.currentTarget as HTMLTextAreaElement).value)}></textarea>
        </${Field}>
      </fieldset>
      <div class="form-buttons">
        <button type="submit" class="btn btn-primary" disabled=${busy} aria-busy=${busy || undefined}>${t(busy ? 'guests.new.busy' : 'guests.new.submit')}</button>
        <a class="btn" href=${href('guests')}>${t('dialog.cancel')}</a>
      </div>
    </form>`;
}

function StartPrompt({ g, onDone }: { g: VmDetail; onDone: () => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => ref.current?.focus(), []);
  const start = async () => {
    setBusy(true);
    try {
      await api.post(`/api/vm/${g.vmid}/start`);
      navigate(href('guests', g.vmid), { replace: true });
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card card-accent" aria-labelledby="start-now">
    <h2 id="start-now">${t('guests.created', { vmid: g.vmid })}</h2>
    <p>${t('guests.startNow')}</p>
    <${ErrorBanner} error=${error} />
    <div class="form-buttons">
      <button type="button" class="btn btn-primary" ref=${ref} disabled=${busy} aria-busy=${busy || undefined} onClick=${start}>${t('guests.startGuest', { vmid: g.vmid })}</button>
      <a class="btn" href=${href('guests', g.vmid)}>${t('guests.startLater')}</a>
    </div>
  </section>`;
}

function CdromChanger({ g, isos, onDone }: { g: VmDetail; isos: string[]; onDone: () => void }) {
  const [value, setValue] = useState(g.cdrom ?? '');
  const [error, setError] = useState<unknown>(null);
  const change = async () => {
    setError(null);
    try {
      await api.put(`/api/vm/${g.vmid}/cdrom`, { cdrom: value || null });
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  const names = g.cdrom && !isos.includes(g.cdrom) ? [g.cdrom, ...isos] : isos;
  return html`<div class="inline-form">
    <${Field} label=${t('guests.hw.cdrom')}>
      <${Select} value=${value} options=${[['', t('guests.cdrom.none')], ...names.map((n) => [n, n] as [string, string])]} onChange=${setValue} />
    </${Field}>
    <button type="button" class="btn" disabled=${value === (g.cdrom ?? '')} onClick=${change}>${t('guests.cdrom.change')}</button>
    <${ErrorBanner} error=${error} />
  </div>`;
}

function OptionsForm({ g, onDone }: { g: VmDetail; onDone: () => void }) {
  const [name, setName] = useState(g.name);
  const [memory, setMemory] = useState(String(g.memory));
  const [onboot, setOnboot] = useState(g.onboot);
  const [description, setDescription] = useState(g.description);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await api.put(`/api/vm/${g.vmid}`, { name, memory: Number(memory), onboot, description });
      setSaved(true);
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  const fieldErr = (f: string) => (error instanceof ApiError && error.code === 'invalid' && error.message.startsWith(`${f}: `) ? error.message.slice(f.length + 2) : undefined);
  return html`<form onSubmit=${save} noValidate>
    <${Field} label=${t('guests.field.name')} value=${name} error=${fieldErr('name')} onInput=${(e: Event) => setName((e.currentTarget as HTMLInputElement).value)} />
    <${Field} label=${t('guests.field.memory')} value=${memory} inputmode="numeric" error=${fieldErr('memory')} onInput=${(e: Event) => setMemory((e.currentTarget as HTMLInputElement).value)} />
    <div class="field field-check"><label><input type="checkbox" checked=${onboot} onChange=${(e: Event) => setOnboot((e.currentTarget as HTMLInputElement).checked)} /> ${t('guests.field.onboot')}</label></div>
    <${Field} label=${t('guests.field.description')} error=${fieldErr('description')}>
      <textarea rows="3" value=${description} onInput=${(e: Event) => setDescription((e.currentTarget as HTMLTextAreaElement).value)}></textarea>
    </${Field}>
    ${error && !['name', 'memory', 'description'].some((f) => fieldErr(f)) && html`<${ErrorBanner} error=${error} />`}
    <div class="form-buttons">
      <button type="submit" class="btn btn-primary">${t('guests.save')}</button>
      ${saved && html`<span role="status">${t('guests.saved')}</span>`}
    </div>
  </form>`;
}

function GuestPage({ vmid, me, startPrompt }: { vmid: number; me: ViewProps['me']; startPrompt: boolean }) {
  const { data: g, error, reload } = usePoll<VmDetail>(`/api/vm/${vmid}`);
  const [isos, setIsos] = useState<string[]>([]);
  const [asking, setAsking] = useState(false);
  useEffect(() => {
    api.get<IsoImage[]>('/api/iso').then((l) => setIsos(l.map((i) => i.name)), () => setIsos([]));
  }, []);
  if (!g) {
    return html`<p class="crumbs"><a href=${href('guests')}>${t('guests.back')}</a></p>
      <h1>${t('guests.page.title', { vmid, name: '' })}</h1>
      ${error ? html`<${ErrorBanner} error=${error} />` : html`<p>${t('app.loading')}</p>`}`;
  }
  const r = g.runtime.resources;
  const running = g.status !== 'stopped';
  const config = can(me, 'VM.Config');
  return html`<p class="crumbs"><a href=${href('guests')}>${t('guests.back')}</a></p>
    <div class="page-head">
      <h1>${t('guests.page.title', { vmid, name: g.name })}</h1>
      <${GuestStatus} status=${g.status} />
    </div>
    ${error && html`<${ErrorBanner} error=${error} />`}
    ${startPrompt && g.status === 'stopped' && html`<${StartPrompt} g=${g} onDone=${reload} />`}
    <section class="card" aria-labelledby="g-actions">
      <h2 id="g-actions">${t('guests.actions')}</h2>
      <div class="guest-toolbar">
        <${PowerButtons} vmid=${vmid} name=${g.name} status=${g.status} onDone=${reload} />
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
    <section class="card" aria-labelledby="g-summary">
      <h2 id="g-summary">${t('guests.summary')}</h2>
      ${g.note && html`<div class="banner banner-info" role="status"><div class="banner-body">${g.note}</div></div>`}
      ${g.runtime.pending.length > 0 && html`<div class="banner banner-info" role="status"><div class="banner-body">${t('guests.pending', { fields: g.runtime.pending.join(', ') })}</div></div>`}
      <dl class="props">
        <dt>${t('guests.col.status')}</dt><dd><${GuestStatus} status=${g.status} /></dd>
        <dt>${t('guests.col.node')}</dt><dd>${g.node}</dd>
        <dt>${t('guests.col.uptime')}</dt><dd>${running ? formatDuration(g.runtime.uptime * 1000) : '–'}</dd>
        <dt>${t('guests.col.cpu')}</dt><dd>${running ? formatPercent(r.cpu, lang()) : '–'}</dd>
        <dt>${t('guests.col.memory')}</dt><dd>${t('guests.ofTotal', { used: bytes(r.mem), total: bytes(r.maxmem) })}</dd>
        <dt>${t('guests.col.disk')}</dt><dd>${t('guests.ofTotal', { used: bytes(r.disk), total: bytes(r.maxdisk) })}</dd>
        <dt>${t('guests.accel')}</dt><dd>${t(g.runtime.accel === 'kvm' ? 'guests.accel.kvm' : 'guests.accel.tcg')}</dd>
        <dt>${t('guests.hw.nics')}</dt>
        <dd>${g.runtime.net.length === 0
          ? t('guests.none')
          : g.runtime.net.map((n) => html`<div>${n.id}: ${n.mode === 'tap' ? t('guests.net.tap', { bridge: n.bridge, ifname: n.ifname ?? '' }) : t('guests.net.user', { bridge: n.bridge })}</div>`)}</dd>
      </dl>
    </section>
    <section class="card" aria-labelledby="g-hardware">
      <h2 id="g-hardware">${t('guests.hardware')}</h2>
      <dl class="props">
        <dt>${t('guests.hw.memory')}</dt><dd>${bytes(g.memory * 1024 * 1024)}</dd>
        <dt>${t('guests.hw.cpu')}</dt><dd>${t('guests.hw.cpuValue', { sockets: g.sockets, cores: g.cores })}</dd>
        <dt>${t('guests.field.ostype')}</dt><dd>${osLabel(g.ostype)}</dd>
        <dt>${t('guests.hw.boot')}</dt><dd>${g.boot.join(', ')}</dd>
        ${!config && html`<dt>${t('guests.hw.cdrom')}</dt><dd>${g.cdrom ?? t('guests.cdrom.none')}</dd>`}
      </dl>
      ${config && html`<${CdromChanger} key=${g.cdrom ?? ''} g=${g} isos=${isos} onDone=${reload} />`}
      <h3>${t('guests.hw.disks')}</h3>
      <${DataTable}
        label=${t('guests.hw.disks')}
        filter=${false}
        empty=${t('guests.none')}
        rows=${g.disks}
        rowKey=${(d: VmDetail['disks'][number]) => d.id}
        columns=${[
          { key: 'id', label: t('guests.disk.id'), value: (d: VmDetail['disks'][number]) => d.id },
          { key: 'bus', label: t('guests.field.bus'), value: (d: VmDetail['disks'][number]) => t(`guests.bus.${d.bus}` as MessageKey) },
          { key: 'format', label: t('guests.field.format'), value: (d: VmDetail['disks'][number]) => d.format },
          { key: 'cache', label: t('guests.field.cache'), value: (d: VmDetail['disks'][number]) => d.cache },
          { key: 'size', label: t('guests.disk.size'), value: (d: VmDetail['disks'][number]) => d.size, class: 'num' },
          {
            key: 'alloc',
            label: t('guests.disk.allocated'),
            value: (d: VmDetail['disks'][number]) => bytes(g.runtime.disks.find((u) => u.id === d.id)?.allocated ?? 0),
            class: 'num',
          },
        ] as Column<VmDetail['disks'][number]>[]}
      />
      <h3>${t('guests.hw.nics')}</h3>
      <${DataTable}
        label=${t('guests.hw.nics')}
        filter=${false}
        empty=${t('guests.none')}
        rows=${g.nics}
        rowKey=${(n: VmDetail['nics'][number]) => n.id}
        columns=${[
          { key: 'id', label: t('guests.nic.id'), value: (n: VmDetail['nics'][number]) => n.id },
          { key: 'model', label: t('guests.field.nic'), value: (n: VmDetail['nics'][number]) => t(`guests.nic.${n.model}` as MessageKey) },
          { key: 'bridge', label: t('guests.field.bridge'), value: (n: VmDetail['nics'][number]) => n.bridge },
          { key: 'mac', label: t('guests.nic.mac'), value: (n: VmDetail['nics'][number]) => n.mac },
        ] as Column<VmDetail['nics'][number]>[]}
      />
    </section>
    <section class="card" aria-labelledby="g-options">
      <h2 id="g-options">${t('guests.options')}</h2>
      ${config
        ? html`<${OptionsForm} key=${g.vmid} g=${g} onDone=${reload} />`
        : html`<dl class="props">
            <dt>${t('guests.field.onboot')}</dt><dd>${t(g.onboot ? 'guests.yes' : 'guests.no')}</dd>
            <dt>${t('guests.field.description')}</dt><dd>${g.description || '–'}</dd>
          </dl>`}
    </section>
    <${ConfirmDialog}
      open=${asking}
      title=${t('guests.confirm.deleteTitle', { vmid, name: g.name })}
      message=${t('guests.confirm.deleteText')}
      confirmLabel=${t('guests.confirm.delete', { vmid })}
      requireText=${String(vmid)}
      onConfirm=${async () => {
        await api.del(`/api/vm/${vmid}`);
        setAsking(false);
        navigate(href('guests'), { replace: true });
      }}
      onCancel=${() => setAsking(false)}
    />`;
}

export default function GuestsView({ parts, me }: ViewProps) {
  if (parts[0] === 'new') return html`<${GuestCreate} parts=${parts} me=${me} />`;
  if (parts[0] && /^[0-9]+$/.test(parts[0])) {
    return html`<${GuestPage} key=${parts[0]} vmid=${Number(parts[0])} me=${me} startPrompt=${parts[1] === 'start'} />`;
  }
  if (parts[0]) return html`<h1>${t('app.notFound')}</h1>`;
  return html`<${GuestList} parts=${parts} me=${me} />`;
}
