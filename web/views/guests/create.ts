/**
 * #/guests/new: the create form, with the original's fields and defaults
 * (model.ts), checked as the user types and, on submit, by the node's dry
 * run, whose issues land on their fields; then the new guest's page with
 * the start prompt. In a cluster the node select lists every node
 * (default: the node serving the page), those that do not answer refused;
 * on a member whose master does not answer the form says that new guests
 * wait for it. In a cluster of two nodes the disk may be replicated
 * (DRBD on both): then it is raw, the format select shown so and locked.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Me } from '../../api';
import { client } from '../../client';
import { HeldNotice, useCluster, useHeld } from '../../cluster';
import { ErrorBanner } from '../../components/error-banner';
import { Field } from '../../components/field';
import { useAction, useLoad } from '../../hooks';
import { html } from '../../html';
import { t, type MessageKey } from '../../i18n';
import { href, navigate } from '../../router';
import { AgentCheck, osLabel, ReplicatedCheck, Select, UnitSelect, useIsoNames } from './common';
import {
  BUSES, CACHES, defaultNode, fieldOfIssue, FORM_DEFAULTS, formIssues, formRequest, FORMATS, NICS, nodeIssue, OS_TYPES, replicaBlocked, replicaOffered, shownFormat, withOsType,
  type CreateForm, type FormField, type FormIssues, type NodeChoice, type SizeUnit,
} from './model';

export function GuestCreate({ me }: { me: Me }) {
  const [form, setForm] = useState<CreateForm>({ ...FORM_DEFAULTS, node: me.node });
  const [touched, setTouched] = useState<Set<FormField>>(new Set());
  const [shown, setShown] = useState<Set<FormField>>(new Set());
  const [server, setServer] = useState<FormIssues>({});
  const isos = useIsoNames();
  // A dry run of any name answers with the config the node would write: its VMID is the next free one.
  const nextVmid = useLoad(() => client.vms.check({ name: 'x' })).data?.config?.vmid ?? null;
  const formRef = useRef<HTMLFormElement>(null);
  // Bumped by a refused submit: after that render, the first invalid field gets the focus.
  const [focusInvalid, setFocusInvalid] = useState(0);
  useEffect(() => {
    if (focusInvalid) (formRef.current?.querySelector('[aria-invalid="true"]') as HTMLElement | null)?.focus();
  }, [focusInvalid]);

  const cluster = useCluster().data;
  const nodes: NodeChoice[] = cluster?.nodes ?? [{ name: me.node, online: true, master: false }];
  const offered = replicaOffered(cluster);
  const blocked = replicaBlocked(cluster);
  const replicated = offered && !blocked && form.replicated;
  const held = useHeld();
  // Until the user picks one, the node follows the cluster as it loads.
  const node = touched.has('node') ? form.node : defaultNode(nodes, me.node);
  const local = { ...formIssues(form) };
  const downIssue = nodeIssue(node, nodes);
  if (downIssue) local.node = downIssue;
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

  const create = useAction(async () => {
    const body = formRequest({ ...form, node, replicated });
    const check = await client.vms.check(body);
    if (check.issues.length > 0) {
      const mapped: FormIssues = {};
      for (const i of check.issues) {
        const k = fieldOfIssue(i.field);
        if (k) mapped[k] ??= ['guests.err.node', { message: i.message }];
      }
      setServer(mapped);
      setFocusInvalid((n) => n + 1);
      // Issues no field can show go to the banner.
      if (Object.keys(mapped).length < check.issues.length) throw new ApiError(400, 'invalid', check.issues.map((i) => `${i.field}: ${i.message}`).join('; '));
      return;
    }
    const created = await client.vms.create(body);
    navigate(href('guests', created.vmid, 'start'));
  });
  const submit = (e: Event) => {
    e.preventDefault();
    setShown(new Set(Object.keys(form) as FormField[]));
    if (Object.keys(local).length > 0) setFocusInvalid((n) => n + 1);
    else void create.run();
  };

  const check = (k: 'noDisk' | 'noNic', label: MessageKey) => html`<div class="field field-check">
    <label><input type="checkbox" name=${k} checked=${form[k]} onChange=${(e: Event) => set(k, (e.currentTarget as HTMLInputElement).checked)} /> ${t(label)}</label>
  </div>`;
  const opts = <T extends string>(values: readonly T[], label: (v: T) => string) => values.map((v) => [v, label(v)] as [string, string]);
  return html`<p class="crumbs"><a href=${href('guests')}>${t('guests.back')}</a></p>
    <h1>${t('guests.new.title')}</h1>
    <form class="guest-form" ref=${formRef} onSubmit=${submit} noValidate>
      <${HeldNotice} held=${held} />
      <${ErrorBanner} error=${create.error} />
      <fieldset class="card">
        <legend>${t('guests.section.general')}</legend>
        <div class="field"><span class="field-label">${t('guests.field.type')}</span> <span>${t('guests.type.kvm')}</span></div>
        ${text('name', 'guests.field.name', { required: true, autocomplete: 'off', hint: t('guests.field.nameHint') })}
        ${text('vmid', 'guests.field.vmid', { inputmode: 'numeric', hint: nextVmid ? t('guests.field.vmidHint', { vmid: nextVmid }) : undefined })}
        <${Field} label=${t('guests.field.node')} error=${issueOf('node')}>
          <${Select} value=${node} onChange=${(v: string) => set('node', v)} options=${nodes.map((n) => [
            n.name, t(!n.online ? 'guests.node.down' : n.master ? 'guests.node.master' : 'guests.node.one', { node: n.name }), !n.online,
          ])} />
        </${Field}>
        ${choice('ostype', 'guests.field.ostype', opts(OS_TYPES, osLabel), (v) => {
          setForm((f) => withOsType(f, v as CreateForm['ostype'], touched));
          setTouched((s) => new Set(s).add('ostype'));
        })}
        ${choice('cdrom', 'guests.field.cdrom', [['', t('guests.cdrom.none')], ...isos.map((n) => [n, n] as [string, string])])}
        <div class="field field-check">
          <label><input type="checkbox" checked=${form.onboot} onChange=${(e: Event) => set('onboot', (e.currentTarget as HTMLInputElement).checked)} /> ${t('guests.field.onboot')}</label>
        </div>
        <${AgentCheck} checked=${form.agent} onChange=${(on: boolean) => set('agent', on)} />
      </fieldset>
      <fieldset class="card">
        <legend>${t('guests.section.cpu')}</legend>
        ${text('memory', 'guests.field.memory', { inputmode: 'numeric', required: true })}
        ${text('sockets', 'guests.field.sockets', { inputmode: 'numeric', required: true })}
        ${text('cores', 'guests.field.cores', { inputmode: 'numeric', required: true })}
      </fieldset>
      <fieldset class="card">
        <legend>${t('guests.section.disk')}</legend>
        ${check('noDisk', 'guests.field.noDisk')}
        ${!form.noDisk && html`
          ${text('diskSize', 'guests.field.diskSize', {
            inputmode: 'numeric', required: true,
            suffix: html`<${UnitSelect} value=${form.diskUnit} onChange=${(u: SizeUnit) => set('diskUnit', u)} />`,
          })}
          ${choice('bus', 'guests.field.bus', opts(BUSES, (v) => t(`guests.bus.${v}`)))}
          ${offered && html`<${ReplicatedCheck} checked=${replicated} blocked=${blocked} onChange=${(on: boolean) => set('replicated', on)} />`}
          <${Field} label=${t('guests.field.format')} error=${issueOf('format')} hint=${replicated ? t('guests.field.replicatedHint') : undefined}>
            <${Select} value=${shownFormat(form.format, replicated)} disabled=${replicated} options=${opts(FORMATS, (v) => t(`guests.format.${v}`))} onChange=${(v: string) => set('format', v)} />
          </${Field}>
          ${choice('cache', 'guests.field.cache', opts(CACHES, (v) => t(`guests.cache.${v}`)))}`}
      </fieldset>
      <fieldset class="card">
        <legend>${t('guests.section.network')}</legend>
        ${check('noNic', 'guests.field.noNic')}
        ${!form.noNic && html`
          ${text('bridge', 'guests.field.bridge', { required: true, hint: t('guests.field.bridgeHint') })}
          ${choice('nic', 'guests.field.nic', opts(NICS, (v) => t(`guests.nic.${v}`)))}`}
      </fieldset>
      <fieldset class="card">
        <legend>${t('guests.section.notes')}</legend>
        <${Field} label=${t('guests.field.description')} error=${issueOf('description')}>
          <textarea rows="3" value=${form.description} onInput=${(e: Event) => set('description', (e.currentTarget as HTMLTextAreaElement).value)}></textarea>
        </${Field}>
      </fieldset>
      <div class="form-buttons">
        <button type="submit" class="btn btn-primary" disabled=${create.busy || held !== null} aria-busy=${create.busy || undefined}>${t(create.busy ? 'guests.new.busy' : 'guests.new.submit')}</button>
        <a class="btn" href=${href('guests')}>${t('dialog.cancel')}</a>
      </div>
    </form>`;
}
