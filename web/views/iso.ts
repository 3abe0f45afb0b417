/**
 * The ISO images view ("#/iso"): the node's library of install media with
 * name, size, upload date and user, SHA-256 (shortened, copyable) and the
 * guests whose CD-ROM each one is; uploads (see iso/upload-form.ts) and
 * deletes for users with Datastore.Upload. A delete asks first; the node
 * refuses it (409) while a guest uses the image, and the dialog says so.
 */
import { useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import { ApiError } from '../api';
import { client } from '../client';
import { useLoad } from '../hooks';
import { href } from '../router';
import { formatBytes, formatTime } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DataTable, type Column } from '../components/data-table';
import { ErrorBanner } from '../components/error-banner';
import { useCopy } from '../console/clipboard';
import { UploadForm } from './iso/upload-form';
import { shortSha, type IsoImage } from './iso/upload';
import type { ViewProps } from './props';

export const UPLOAD_PRIV = 'Datastore.Upload';

function ShaCell({ image }: { image: IsoImage }) {
  const { copied, copy } = useCopy();
  if (!image.sha256) return html`<span class="muted">${t('iso.sha.unknown')}</span>`;
  const sha = image.sha256;
  return html`<span class="sha">
    <code title=${sha}>${shortSha(sha)}</code>
    <button type="button" class="btn btn-small btn-quiet" aria-label=${t('iso.sha.copyOf', { name: image.name })} onClick=${() => copy(sha)}>${t('iso.sha.copy')}</button>
    <span class="sha-copied" role="status">${copied ? t('iso.sha.copied') : ''}</span>
  </span>`;
}

function UsedBy({ image }: { image: IsoImage }) {
  if (image.usedBy.length === 0) return html`<span class="muted">${t('iso.usedBy.none')}</span>`;
  return html`<ul class="inline-list">
    ${image.usedBy.map(
      (g) => html`<li key=${g.vmid}><a href=${href('guests', g.vmid)}>${g.name ? t('iso.usedBy.guestNamed', { vmid: g.vmid, name: g.name }) : t('iso.usedBy.guest', { vmid: g.vmid })}</a></li>`,
    )}
  </ul>`;
}

export default function IsoView({ me }: ViewProps) {
  const { data: images, error, reload: load } = useLoad(client.isos.list);
  const [deleting, setDeleting] = useState<IsoImage | null>(null);
  const [deleted, setDeleted] = useState<string | null>(null);
  const canUpload = me.privileges.includes(UPLOAD_PRIV);

  const remove = async () => {
    const image = deleting!;
    try {
      await client.isos.remove(image.name);
    } catch (e) {
      // The list may be out of date (a guest took the image meanwhile): show what the node says and refresh.
      if (e instanceof ApiError && (e.status === 409 || e.status === 404)) void load();
      throw e;
    }
    setDeleting(null);
    setDeleted(image.name);
    void load();
  };

  const columns: Column<IsoImage>[] = [
    { key: 'name', label: t('iso.col.name'), value: (x) => x.name, render: (x) => html`<span class="iso-name">${x.name}</span>` },
    { key: 'size', label: t('iso.col.size'), value: (x) => formatBytes(x.size), sortValue: (x) => x.size, class: 'num nowrap' },
    {
      key: 'date',
      label: t('iso.col.date'),
      value: (x) => formatTime(x.date),
      sortValue: (x) => Date.parse(x.date),
      render: (x) => html`${formatTime(x.date)}${x.user && html`<span class="task-message">${t('iso.by', { user: x.user })}</span>`}`,
    },
    { key: 'sha', label: t('iso.col.sha'), value: (x) => x.sha256 ?? '', render: (x) => html`<${ShaCell} image=${x} />`, sortable: false },
    {
      key: 'used',
      label: t('iso.col.usedBy'),
      value: (x) => x.usedBy.map((g) => `${g.vmid} ${g.name ?? ''}`).join(' '),
      render: (x) => html`<${UsedBy} image=${x} />`,
      sortable: false,
    },
  ];
  if (canUpload) {
    columns.push({
      key: 'actions',
      label: t('table.actions'),
      value: () => '',
      sortable: false,
      render: (x) => html`<button type="button" class="btn btn-small" aria-label=${t('iso.delete.of', { name: x.name })} onClick=${() => setDeleting(x)}>${t('iso.delete.button')}</button>`,
    });
  }

  const inUse = deleting?.usedBy.length ?? 0;
  return html`<h1>${t('iso.title')}</h1>
    <p class="view-intro">${t('iso.intro')}</p>
    ${canUpload && html`<${UploadForm} images=${images} onUploaded=${load} />`}
    <section class="card" aria-labelledby="iso-list-title">
      <h2 id="iso-list-title">${t('iso.list.title')}</h2>
      ${deleted &&
      html`<div class="banner banner-ok" role="status">
        <div class="banner-body"><strong>${t('iso.delete.done', { name: deleted })}</strong></div>
        <button type="button" class="btn btn-quiet" onClick=${() => setDeleted(null)}>${t('error.dismiss')}</button>
      </div>`}
      ${error && html`<${ErrorBanner} error=${error} onRetry=${load} />`}
      ${images === null
        ? !error && html`<p>${t('app.loading')}</p>`
        : html`<${DataTable}
            label=${t('iso.list.title')}
            filter=${t('iso.filter')}
            empty=${t('iso.empty')}
            columns=${columns}
            rows=${images}
            rowKey=${(x: IsoImage) => x.name}
            initialSort=${{ key: 'name', dir: 'asc' }}
          />`}
    </section>
    <${ConfirmDialog}
      open=${deleting !== null}
      title=${t('iso.delete.title', { name: deleting?.name ?? '' })}
      message=${inUse > 0
        ? t('iso.delete.inUse', { guests: deleting!.usedBy.map((g) => g.vmid).join(', ') })
        : t('iso.delete.text')}
      confirmLabel=${t('iso.delete.confirm')}
      onConfirm=${remove}
      onCancel=${() => setDeleting(null)}
    />`;
}
