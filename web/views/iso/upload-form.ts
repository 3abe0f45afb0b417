/**
 * The upload card of the ISO view: a file from the picker or dropped on
 * the card, the image's name (suggested from the file's), an optional
 * expected SHA-256 and "replace", checked here by the node's own rules
 * before a byte is sent; then the running upload with its progress bar,
 * bytes, rate, time left and a cancel button, and at the end its result in
 * plain words.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../../html';
import { t } from '../../i18n';
import { formatBytes, formatDuration } from '../../format';
import { ErrorBanner } from '../../components/error-banner';
import { Field } from '../../components/field';
import { ProgressBar } from '../../components/progress-bar';
import {
  cancelUpload,
  dismissUpload,
  isoNameProblem,
  nameFromFile,
  progressText,
  sha256Problem,
  shortSha,
  startUpload,
  uploadErrorTitle,
  useUpload,
  type IsoImage,
  type UploadDeps,
  type UploadState,
} from './upload';

export interface UploadFormProps {
  /** The images there are (to warn before uploading over one). */
  images: readonly IsoImage[] | null;
  /** Called when an upload has stored an image. */
  onUploaded: () => void;
  deps?: Partial<UploadDeps>;
}

interface Errors {
  file?: string | undefined;
  name?: string | undefined;
  sha?: string | undefined;
}

export function UploadForm(p: UploadFormProps) {
  const up = useUpload();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [sha, setSha] = useState('');
  const [replace, setReplace] = useState(false);
  const [errors, setErrors] = useState<Errors>({});
  const [dragging, setDragging] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const resultRef = useRef<HTMLDivElement>(null);
  const busy = up?.phase === 'sending' || up?.phase === 'saving';
  const phase = up?.phase;

  useEffect(() => {
    if (phase === 'done') p.onUploaded();
    if (phase === 'sending') cancelRef.current?.focus();
    if (phase === 'done' || phase === 'failed' || phase === 'cancelled') resultRef.current?.focus();
  }, [phase]);

  const pick = (f: File | null | undefined) => {
    if (!f) return;
    setFile(f);
    setName(nameFromFile(f.name));
    setErrors({});
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (!busy) pick(e.dataTransfer?.files?.[0]);
  };
  const onDragOver = (e: DragEvent) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = busy ? 'none' : 'copy';
    setDragging(true);
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const nameKey = isoNameProblem(name);
    const shaKey = sha256Problem(sha);
    const exists = !replace && !!p.images?.some((i) => i.name === name);
    const next: Errors = {
      file: file ? undefined : t('iso.file.missing'),
      name: nameKey ? t(nameKey) : exists ? t('iso.name.exists', { name }) : undefined,
      sha: shaKey ? t(shaKey) : undefined,
    };
    setErrors(next);
    if (next.file || next.name || next.sha || !file) {
      const first = next.file ? inputRef.current : document.getElementById(next.name ? 'iso-name' : 'iso-sha');
      first?.focus();
      return;
    }
    dismissUpload();
    void startUpload(file, name, { sha256: sha, replace }, p.deps);
    setFile(null);
    setName('');
    setSha('');
    setReplace(false);
    if (inputRef.current) inputRef.current.value = '';
  };

  return html`<section class="card" aria-labelledby="iso-upload-title">
    <h2 id="iso-upload-title">${t('iso.upload.title')}</h2>
    ${up && html`<${UploadStatus} up=${up} cancelRef=${cancelRef} resultRef=${resultRef} />`}
    <form onSubmit=${submit} noValidate>
      <fieldset class="iso-fieldset" disabled=${busy}>
        <legend class="sr-only">${t('iso.upload.title')}</legend>
        <div
          class=${`dropzone${dragging ? ' dropzone-over' : ''}${errors.file ? ' dropzone-invalid' : ''}`}
          onDragOver=${onDragOver}
          onDragEnter=${onDragOver}
          onDragLeave=${() => setDragging(false)}
          onDrop=${onDrop}
        >
          <label for="iso-file" class="dropzone-label">${t('iso.file.label')}</label>
          <input
            id="iso-file"
            ref=${inputRef}
            type="file"
            accept=".iso,.img"
            aria-describedby=${`iso-file-hint${errors.file ? ' iso-file-error' : ''}`}
            aria-invalid=${errors.file ? 'true' : undefined}
            onChange=${(e: Event) => pick((e.currentTarget as HTMLInputElement).files?.[0])}
          />
          <p class="field-hint" id="iso-file-hint">
            ${file ? t('iso.file.chosen', { name: file.name, size: formatBytes(file.size) }) : t('iso.file.drop')}
          </p>
          ${errors.file && html`<p class="field-error" id="iso-file-error">${errors.file}</p>`}
        </div>
        ${file &&
        html`<div class="iso-fields">
            <${Field} id="iso-name" label=${t('iso.name.label')} value=${name} error=${errors.name} hint=${t('iso.name.hint')}
              required autocomplete="off" spellcheck=${false}
              onInput=${(e: Event) => setName((e.currentTarget as HTMLInputElement).value)} />
            <${Field} id="iso-sha" label=${t('iso.sha.label')} value=${sha} error=${errors.sha} hint=${t('iso.sha.hint')}
              autocomplete="off" spellcheck=${false} class="mono"
              onInput=${(e: Event) => setSha((e.currentTarget as HTMLInputElement).value)} />
          </div>
          <div class="check">
            <input id="iso-replace" type="checkbox" checked=${replace} aria-describedby="iso-replace-hint"
              onChange=${(e: Event) => setReplace((e.currentTarget as HTMLInputElement).checked)} />
            <label for="iso-replace">${t('iso.replace.label')}</label>
            <p class="field-hint" id="iso-replace-hint">${t('iso.replace.hint')}</p>
          </div>`}
        <button type="submit" class="btn btn-primary">${t('iso.upload.submit')}</button>
      </fieldset>
    </form>
  </section>`;
}

interface UploadStatusProps {
  up: UploadState;
  cancelRef: { current: HTMLButtonElement | null };
  resultRef: { current: HTMLDivElement | null };
}

function UploadStatus({ up, cancelRef, resultRef }: UploadStatusProps) {
  const label = t('iso.upload.of', { name: up.name });
  if (up.phase === 'sending' || up.phase === 'saving') {
    const pct = up.size > 0 ? (up.loaded / up.size) * 100 : 0;
    return html`<div class="upload-progress">
      <p class="upload-name"><strong>${up.name}</strong></p>
      <${ProgressBar} value=${up.phase === 'saving' ? null : pct} label=${label} />
      <p class="upload-figures">
        ${up.phase === 'saving' ? t('iso.upload.saving') : progressText(up, (s) => formatDuration(s * 1000))}
      </p>
      <p class="sr-only" role="status">${up.phase === 'saving' ? t('iso.upload.saving') : label}</p>
      <button type="button" class="btn" ref=${cancelRef} onClick=${cancelUpload}>${t('iso.upload.cancel')}</button>
    </div>`;
  }
  if (up.phase === 'done' && up.image) {
    return html`<div class="banner banner-ok" role="status" tabindex="-1" ref=${resultRef}>
      <div class="banner-body">
        <strong>${t('iso.upload.done', { name: up.image.name })}</strong>
        <span class="banner-detail">${t('iso.upload.doneDetail', { size: formatBytes(up.image.size), sha: up.image.sha256 ? shortSha(up.image.sha256) : '—' })}</span>
      </div>
      <button type="button" class="btn btn-quiet" onClick=${dismissUpload}>${t('error.dismiss')}</button>
    </div>`;
  }
  if (up.phase === 'cancelled') {
    return html`<div class="banner banner-info" role="status" tabindex="-1" ref=${resultRef}>
      <div class="banner-body"><strong>${t('iso.upload.cancelled', { name: up.name })}</strong></div>
      <button type="button" class="btn btn-quiet" onClick=${dismissUpload}>${t('error.dismiss')}</button>
    </div>`;
  }
  return html`<div tabindex="-1" ref=${resultRef} class="upload-result">
    <${ErrorBanner} error=${up.error} title=${t(uploadErrorTitle(up.error, up.replace))} onDismiss=${dismissUpload} />
  </div>`;
}
