/**
 * The ISO view's pure parts (names, checksums, figures, error words), the
 * upload request over a fake XMLHttpRequest, and the view in happy-dom
 * with a fake fetch: the edges a unit replaces. test/browser/iso.test.ts
 * uploads through the real browser to a real node.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { ApiError } from '../../../web/api';
import { checkedIsoName } from '../../../node-cgi/iso/names';
import {
  currentUpload,
  dismissUpload,
  isoNameProblem,
  nameFromFile,
  progressText,
  rateOf,
  secondsLeft,
  sendUpload,
  sha256Problem,
  shortSha,
  startUpload,
  UploadCancelled,
  uploadErrorTitle,
  uploadUrl,
  type XhrLike,
} from '../../../web/views/iso/upload';
import IsoView from '../../../web/views/iso';
import { UploadForm } from '../../../web/views/iso/upload-form';
import { click, fakeFetch, mount, settle, text, typeInto, unmount, useDom, type FakeAnswer } from './dom';

// ---------------------------------------------------------------- names

const names = suite('isoNameProblem');

const NAMES: Array<[string, string | null, string]> = [
  ['debian-12.4.0-amd64-netinst.iso', null, 'a usual name'],
  ['Rescue_Disk+2.IMG', null, 'upper case extension, "_" and "+"'],
  ['', 'iso.name.empty', 'empty'],
  ['a'.repeat(125) + '.iso', 'iso.name.long', '129 characters'],
  ['.hidden.iso', 'iso.name.start', 'a leading dot would hide it'],
  ['-rf.iso', 'iso.name.start', 'a leading dash looks like an option'],
  ['my disk.iso', 'iso.name.chars', 'a space'],
  ['../etc/passwd.iso', 'iso.name.start', 'a path'],
  ['sub/dir.iso', 'iso.name.chars', 'a slash'],
  ['x..y.iso', 'iso.name.dots', 'two dots'],
  ['debian.iso.txt', 'iso.name.extension', 'not .iso or .img'],
  ['debian', 'iso.name.extension', 'no extension'],
  ['grüße.iso', 'iso.name.chars', 'a letter outside ASCII'],
];

for (const [name, want, why] of NAMES) {
  names(`should answer ${want} for ${JSON.stringify(name.length > 40 ? name.slice(0, 20) + '…' : name)} (${why})`, () => {
    assert.is(isoNameProblem(name), want);
  });
  names(`should agree with the node about ${JSON.stringify(name.slice(0, 40))}`, () => {
    let nodeOk = true;
    try {
      checkedIsoName(name);
    } catch {
      nodeOk = false;
    }
    assert.is(isoNameProblem(name) === null, nodeOk);
  });
}

names.run();

const suggest = suite('nameFromFile');

const FILES: Array<[string, string, string]> = [
  ['debian-12.iso', 'debian-12.iso', 'a valid name stays'],
  ['Debian 12 (netinst).iso', 'Debian-12-netinst.iso', 'spaces and brackets'],
  ['.hidden.ISO', 'hidden.ISO', 'a leading dot goes'],
  ['--x.img', 'x.img', 'leading dashes go'],
  ['a..b.iso', 'a.b.iso', 'two dots become one'],
  ['Grüße.iso', 'Gr-e.iso', 'letters outside ASCII'],
  ['setup.exe', 'setup.exe', 'a wrong extension is left for the user to see'],
  ['(1).iso', '1.iso', 'only punctuation around'],
  ['***.iso', 'image.iso', 'nothing usable'],
];

for (const [file, want, why] of FILES) {
  suggest(`should suggest ${want} for ${JSON.stringify(file)} (${why})`, () => {
    assert.is(nameFromFile(file), want);
  });
}

suggest('should suggest names the node accepts for files named .iso or .img', () => {
  for (const f of ['x y z.iso', 'a'.repeat(300) + '.img', '#!.iso', 'ä.iso', '-.-.iso']) {
    assert.is(isoNameProblem(nameFromFile(f)), null, f);
  }
});

suggest.run();

// ---------------------------------------------------------------- figures

const figs = suite('upload figures');

figs('should check an expected checksum: empty or 64 hex digits', () => {
  assert.is(sha256Problem(''), null);
  assert.is(sha256Problem('  '), null);
  assert.is(sha256Problem('AB'.repeat(32)), null);
  assert.is(sha256Problem(' ' + 'a'.repeat(64) + ' '), null, 'pasted with spaces');
  assert.is(sha256Problem('a'.repeat(63)), 'iso.sha.invalid');
  assert.is(sha256Problem('g'.repeat(64)), 'iso.sha.invalid');
});

figs('should put the checksum (lower case) and replace into the query', () => {
  assert.is(uploadUrl('debian.iso', { sha256: '', replace: false }), '/api/iso/debian.iso');
  assert.is(uploadUrl('debian.iso', { sha256: ' ' + 'AB'.repeat(32), replace: true }), `/api/iso/debian.iso?sha256=${'ab'.repeat(32)}&replace=1`);
  assert.is(uploadUrl('a+b.iso', { sha256: '', replace: false }), '/api/iso/a%2Bb.iso');
});

figs('should measure the rate over the last window and the time left at it', () => {
  assert.is(rateOf([]), null);
  assert.is(rateOf([{ at: 0, bytes: 0 }]), null, 'one sample has no rate');
  assert.is(rateOf([{ at: 0, bytes: 0 }, { at: 2000, bytes: 20_000_000 }]), 10_000_000);
  // A fast start then a slow stretch: only the last 5 s count.
  const s = [{ at: 0, bytes: 0 }, { at: 1000, bytes: 50_000_000 }, { at: 6000, bytes: 55_000_000 }, { at: 11_000, bytes: 60_000_000 }];
  assert.is(rateOf(s, 5000), 1_000_000);
  assert.is(secondsLeft(60, 100, 10), 4);
  assert.is(secondsLeft(60, 100, 7), 6, 'rounded up');
  assert.is(secondsLeft(60, 100, null), null);
  assert.is(secondsLeft(60, 100, 0), null);
});

figs('should say bytes, rate and time left in one line', () => {
  setLang('en');
  const line = progressText({ loaded: 120 * 1024 ** 2, size: 650 * 1024 ** 2, rate: 10 * 1024 ** 2 }, (s) => `${s} s`);
  assert.is(line, '120 MiB of 650 MiB · 10 MiB/s · 53 s left');
  assert.is(progressText({ loaded: 0, size: 1024, rate: null }, (s) => `${s} s`), '0 B of 1 KiB');
});

figs('should shorten a checksum to its first 12 digits', () => {
  assert.is(shortSha('013f5b44a1c2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbcc'), '013f5b44a1c2…');
});

const ERRORS: Array<[unknown, boolean, string, string]> = [
  [new ApiError(507, 'insufficient_storage', 'full'), false, 'iso.error.full', 'the disk is full'],
  [new ApiError(409, 'conflict', 'x.iso exists already; add ?replace=1 to replace it'), false, 'iso.error.exists', 'a name in use'],
  [new ApiError(409, 'conflict', 'x.iso is the CD-ROM of guest 101'), true, 'iso.error.inUse', 'replacing an image in use'],
  [new ApiError(400, 'invalid', "sha256: the upload's SHA-256 is ab…, not the expected cd…; nothing was stored"), false, 'iso.error.checksum', 'a checksum mismatch'],
  [new ApiError(400, 'invalid', 'sha256: must be 64 hexadecimal digits'), false, 'iso.sha.invalid', 'a malformed checksum'],
  [new ApiError(400, 'invalid', 'name: must end in .iso or .img'), false, 'iso.error.name', 'a bad name'],
  [new ApiError(400, 'bad_request', 'the upload ended after 10 of 20 bytes; nothing was stored'), false, 'iso.error.incomplete', 'a short body'],
  [new ApiError(0, 'network', 'the upload broke off'), false, 'iso.error.network', 'the connection broke'],
  [new ApiError(413, 'too_large', 'too large'), false, 'iso.error.tooLarge', 'over the web server limit'],
  [new ApiError(403, 'forbidden', 'no Datastore.Upload'), false, 'iso.error.forbidden', 'no permission'],
  [new Error('odd'), false, 'iso.error.other', 'anything else'],
];

for (const [err, replace, want, why] of ERRORS) {
  figs(`should title ${why} as ${want}`, () => assert.is(uploadErrorTitle(err, replace), want));
}

figs.run();

// ---------------------------------------------------------------- the request

/** XMLHttpRequest as far as an upload uses it; the test plays the network. */
class FakeXhr implements XhrLike {
  static last: FakeXhr | null = null;
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: Blob | null = null;
  aborted = false;
  status = 0;
  responseText = '';
  upload: XhrLike['upload'] = { onprogress: null, onload: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k.toLowerCase()] = v;
  }
  send(body: Blob) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true });
  }
  sent() {
    this.upload.onload?.();
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = typeof body === 'string' ? body : JSON.stringify(body);
    this.onload?.();
  }
}

const IMAGE = {
  name: 'debian.iso',
  size: 2048,
  sha256: '013f5b44a1c2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbcc',
  date: '2026-11-25T10:15:00.123Z',
  user: 'admin',
  usedBy: [],
};

const req = suite('sendUpload');

req('should PUT the file as the raw body with the CSRF header and report progress', async () => {
  const xhr = new FakeXhr();
  const file = new Blob([new Uint8Array(2048)]);
  const seen: string[] = [];
  const { done } = sendUpload(xhr, file, 'debian.iso', { sha256: '', replace: true }, { 'X-Ramvm-CSRF': 'C:1' }, {
    onProgress: (l, t) => seen.push(`${l}/${t}`),
    onSent: () => seen.push('sent'),
  });
  assert.is(xhr.method, 'PUT');
  assert.is(xhr.url, '/api/iso/debian.iso?replace=1');
  assert.is(xhr.headers['x-ramvm-csrf'], 'C:1');
  assert.is(xhr.headers['content-type'], 'application/octet-stream');
  assert.is(xhr.body, file, 'the file itself, not a form');
  xhr.progress(1024, 2048);
  xhr.sent();
  xhr.answer(201, { data: IMAGE });
  assert.equal(await done, IMAGE);
  assert.equal(seen, ['1024/2048', 'sent']);
});

req('should reject with the node error as ApiError', async () => {
  const xhr = new FakeXhr();
  const { done } = sendUpload(xhr, new Blob(['x']), 'a.iso', { sha256: '', replace: false }, {}, { onProgress() {}, onSent() {} });
  xhr.answer(507, { error: { code: 'insufficient_storage', message: 'the ISO library has 3 MiB free' } });
  const e = await done.catch((x) => x);
  assert.instance(e, ApiError);
  assert.is(e.status, 507);
  assert.is(e.code, 'insufficient_storage');
  assert.is(e.message, 'the ISO library has 3 MiB free');
});

req('should reject a non-JSON answer and a broken connection, and report a cancel as such', async () => {
  const x1 = new FakeXhr();
  const a = sendUpload(x1, new Blob(['x']), 'a.iso', { sha256: '', replace: false }, {}, { onProgress() {}, onSent() {} });
  x1.answer(502, '<html>bad gateway</html>');
  const e1 = await a.done.catch((x) => x);
  assert.ok(e1 instanceof ApiError && e1.status === 502 && e1.code === 'bad_response');

  const x2 = new FakeXhr();
  const b = sendUpload(x2, new Blob(['x']), 'a.iso', { sha256: '', replace: false }, {}, { onProgress() {}, onSent() {} });
  x2.onerror!();
  const e2 = await b.done.catch((x) => x);
  assert.ok(e2 instanceof ApiError && e2.status === 0);

  const x3 = new FakeXhr();
  const c = sendUpload(x3, new Blob(['x']), 'a.iso', { sha256: '', replace: false }, {}, { onProgress() {}, onSent() {} });
  c.abort();
  assert.ok(x3.aborted);
  assert.instance(await c.done.catch((x) => x), UploadCancelled);
});

req.run();

// ---------------------------------------------------------------- the view

const view = suite('IsoView');
const dom = useDom(view);
view.before.each(() => {
  setLang('en');
  dismissUpload();
});

function withFetch(r: Record<string, FakeAnswer>) {
  const fake = fakeFetch(r);
  (globalThis as { fetch: unknown }).fetch = fake.fetch;
  dom.current!.win.fetch = fake.fetch as never;
  return fake;
}

const ADMIN = { username: 'admin', node: 'pve1', tokenid: null, privileges: ['Datastore.Audit', 'Datastore.Upload', 'VM.Audit'] };
const AUDITOR = { ...ADMIN, privileges: ['Datastore.Audit'] };
const LIST = [
  { ...IMAGE, name: 'debian.iso', size: 681574400, usedBy: [{ vmid: 101, name: 'web' }, { vmid: 102 }] },
  { ...IMAGE, name: 'rescue.img', size: 1048576, sha256: null, user: null, usedBy: [] },
];

const rows = (el: Element) => [...el.querySelectorAll('tbody tr')];
const cell = (row: Element, label: string) => row.querySelector(`td[data-label="${label}"]`)!;
const button = (el: Element, label: string) =>
  [...el.querySelectorAll<HTMLButtonElement>('button')].find((b) => text(b) === label) ?? null;

view('should list name, size, date, short checksum and the guests using each image, with links', async () => {
  withFetch({ 'GET /api/iso': [200, { data: LIST }] });
  const el = await mount(html`<${IsoView} parts=${[]} me=${ADMIN} />`);
  await settle();
  const [deb, rescue] = rows(el);
  assert.is(text(cell(deb!, 'Name')), 'debian.iso');
  assert.is(text(cell(deb!, 'Size')), '650 MiB');
  assert.match(text(cell(deb!, 'Uploaded')), 'by admin');
  const code = cell(deb!, 'SHA-256').querySelector('code')!;
  assert.is(text(code), '013f5b44a1c2…');
  assert.is(code.getAttribute('title'), IMAGE.sha256, 'the whole checksum on hover');
  assert.is(cell(deb!, 'SHA-256').querySelector('button')!.getAttribute('aria-label'), 'Copy the SHA-256 of debian.iso');
  const links = [...cell(deb!, 'Used by').querySelectorAll('a')].map((a) => [a.getAttribute('href'), text(a)]);
  assert.equal(links, [['#/guests/101', '101 (web)'], ['#/guests/102', 'Guest 102']]);
  assert.is(text(cell(rescue!, 'SHA-256')), 'not known');
  assert.is(text(cell(rescue!, 'Used by')), 'no guest');
  await unmount(el);
});

view('should show neither upload nor delete to a user without Datastore.Upload', async () => {
  withFetch({ 'GET /api/iso': [200, { data: LIST }] });
  const el = await mount(html`<${IsoView} parts=${[]} me=${AUDITOR} />`);
  await settle();
  assert.is(rows(el).length, 2);
  assert.is(el.querySelector('input[type="file"]'), null);
  assert.is(button(el, 'Delete'), null);
  await unmount(el);
});

view('should delete after confirmation and list again', async () => {
  let list = LIST;
  const fake = withFetch({
    'GET /api/iso': () => [200, { data: list }],
    'DELETE /api/iso/rescue.img': () => {
      list = LIST.slice(0, 1);
      return [204, null];
    },
  });
  const el = await mount(html`<${IsoView} parts=${[]} me=${ADMIN} />`);
  await settle();
  const del = rows(el)[1]!.querySelector('button[aria-label="Delete rescue.img"]');
  await click(del);
  const dialog = el.querySelector('dialog')!;
  assert.is(text(dialog.querySelector('h2')), 'Delete rescue.img?');
  assert.match(text(dialog), 'This cannot be undone.');
  await click(button(dialog, 'Delete image'));
  await settle();
  assert.ok(fake.calls.some((c) => c.method === 'DELETE' && c.url === '/api/iso/rescue.img'));
  assert.is(el.querySelector('dialog'), null);
  assert.is(rows(el).length, 1);
  assert.match(text(el.querySelector('.banner-ok')), 'rescue.img was deleted.');
  await unmount(el);
});

view('should warn before deleting an image in use and show the node refusal (409) in the dialog', async () => {
  withFetch({
    'GET /api/iso': [200, { data: LIST }],
    'DELETE /api/iso/debian.iso': [409, { error: { code: 'conflict', message: 'debian.iso is the CD-ROM of guests 101, 102; remove it from the guests first' } }],
  });
  const el = await mount(html`<${IsoView} parts=${[]} me=${ADMIN} />`);
  await settle();
  await click(rows(el)[0]!.querySelector('button[aria-label="Delete debian.iso"]'));
  const dialog = el.querySelector('dialog')!;
  assert.match(text(dialog), 'This image is the CD-ROM of guest 101, 102.');
  await click(button(dialog, 'Delete image'));
  await settle();
  const alert = el.querySelector('dialog [role="alert"]')!;
  assert.ok(alert, 'the refusal is in the open dialog');
  assert.match(text(alert), 'Not possible in the current state.');
  assert.match(text(alert), 'debian.iso is the CD-ROM of guests 101, 102; remove it from the guests first');
  await unmount(el);
});

/** Choose a file in the picker as a user does. */
async function choose(input: HTMLInputElement, file: File): Promise<void> {
  Object.defineProperty(input, 'files', { configurable: true, value: [file] });
  input.dispatchEvent(new (globalThis as any).Event('change', { bubbles: true }));
  await settle(1);
}

view('should check the form by the node rules before sending anything', async () => {
  withFetch({ 'GET /api/iso': [200, { data: LIST }] });
  const el = await mount(html`<${IsoView} parts=${[]} me=${ADMIN} />`);
  await settle();
  await click(button(el, 'Upload'));
  assert.is(text(el.querySelector('#iso-file-error')), 'Choose the image file to upload.');
  assert.is(el.querySelector('#iso-file')!.getAttribute('aria-invalid'), 'true');
  assert.is(document.activeElement, el.querySelector('#iso-file'));

  await choose(el.querySelector<HTMLInputElement>('#iso-file')!, new File(['abc'], 'Debian 12 (netinst).iso'));
  assert.is(el.querySelector<HTMLInputElement>('#iso-name')!.value, 'Debian-12-netinst.iso', 'a valid name is suggested');
  assert.is(text(el.querySelector('#iso-file-hint')), 'Debian 12 (netinst).iso, 3 B');

  await typeInto(el.querySelector('#iso-name'), 'debian.iso');
  await typeInto(el.querySelector('#iso-sha'), 'xyz');
  await click(button(el, 'Upload'));
  assert.is(text(el.querySelector('#iso-name-error')), 'An image named debian.iso exists already. Tick “Replace” to overwrite it.');
  assert.is(text(el.querySelector('#iso-sha-error')), 'A SHA-256 is 64 characters 0–9 and a–f.');
  assert.is(document.activeElement, el.querySelector('#iso-name'));

  await typeInto(el.querySelector('#iso-name'), 'my disk.iso');
  await click(button(el, 'Upload'));
  assert.is(text(el.querySelector('#iso-name-error')), 'The name may contain only letters, digits, “.”, “_”, “+” and “-”.');
  assert.is(currentUpload(), null, 'nothing was sent');
  await unmount(el);
});

view('should upload with progress, stop on cancel, and list the image after a good upload', async () => {
  let list = LIST;
  const fake = withFetch({ 'GET /api/iso': () => [200, { data: list }] });
  let clock = 0;
  const deps = { xhr: () => new FakeXhr(), now: () => clock, headers: () => ({ 'X-Ramvm-CSRF': 'C:1' }) };
  const el = await mount(html`<${UploadForm} images=${list} onUploaded=${() => void fake.calls.push({ method: 'RELOAD', url: '', headers: {}, body: null })} deps=${deps} />`);
  const file = new File([new Uint8Array(10 * 1024 * 1024)], 'new.iso');

  // A cancelled upload.
  await choose(el.querySelector<HTMLInputElement>('#iso-file')!, file);
  await click(button(el, 'Upload'));
  const x1 = FakeXhr.last!;
  assert.is(x1.url, '/api/iso/new.iso');
  assert.ok(el.querySelector<HTMLFieldSetElement>('fieldset')!.disabled, 'the form waits while uploading');
  assert.is(document.activeElement, button(el, 'Cancel upload'));
  await click(button(el, 'Cancel upload'));
  await settle();
  assert.ok(x1.aborted);
  assert.match(text(el.querySelector('.banner-info')), 'The upload of new.iso was cancelled. Nothing was stored.');

  // A good one, with an expected checksum.
  await choose(el.querySelector<HTMLInputElement>('#iso-file')!, file);
  await typeInto(el.querySelector('#iso-sha'), IMAGE.sha256.toUpperCase());
  await click(button(el, 'Upload'));
  const x2 = FakeXhr.last!;
  assert.is(x2.url, `/api/iso/new.iso?sha256=${IMAGE.sha256}`);
  x2.progress(0, file.size);
  clock = 2000;
  x2.progress(4 * 1024 * 1024, file.size);
  await settle(1);
  const bar = el.querySelector('[role="progressbar"]')!;
  assert.is(bar.getAttribute('aria-valuenow'), '40');
  assert.is(bar.getAttribute('aria-label'), 'Upload of new.iso');
  assert.is(text(el.querySelector('.upload-figures')), '4 MiB of 10 MiB · 2 MiB/s · 3 s left');
  x2.sent();
  await settle(1);
  assert.is(text(el.querySelector('.upload-figures')), 'All sent. The node checks and stores the image…');
  assert.is(el.querySelector('[role="progressbar"]')!.getAttribute('aria-valuenow'), null, 'busy, no number');
  list = [...LIST, { ...IMAGE, name: 'new.iso', size: file.size }];
  x2.answer(201, { data: list[2] });
  await settle();
  const done = el.querySelector('.banner-ok')!;
  assert.match(text(done), 'new.iso was uploaded.');
  assert.match(text(done), '10 MiB, SHA-256 013f5b44a1c2…');
  assert.is(document.activeElement, done, 'the result has the focus');
  assert.ok(fake.calls.some((c) => c.method === 'RELOAD'), 'the list is loaded again');
  await unmount(el);
});

view('should explain a failed upload in plain words', async () => {
  withFetch({ 'GET /api/iso': [200, { data: [] }] });
  const deps = { xhr: () => new FakeXhr(), now: () => 0, headers: () => ({}) };
  const el = await mount(html`<${UploadForm} images=${[]} onUploaded=${() => undefined} deps=${deps} />`);
  await choose(el.querySelector<HTMLInputElement>('#iso-file')!, new File(['x'], 'big.iso'));
  await click(button(el, 'Upload'));
  FakeXhr.last!.answer(507, { error: { code: 'insufficient_storage', message: 'big.iso (4.0 GiB) does not fit: the ISO library has 1.2 GiB free' } });
  await settle();
  const alert = el.querySelector('[role="alert"]')!;
  assert.match(text(alert), 'The node has not enough free space for this image. Nothing was stored.');
  assert.match(text(alert), 'the ISO library has 1.2 GiB free');
  await click(button(alert, 'Dismiss'));
  assert.is(el.querySelector('[role="alert"]'), null);
  assert.not.ok(el.querySelector<HTMLFieldSetElement>('fieldset')!.disabled, 'the form is ready again');
  await unmount(el);
});

view('should keep one upload running while the view is away and show it on return', async () => {
  withFetch({ 'GET /api/iso': [200, { data: [] }] });
  const deps = { xhr: () => new FakeXhr(), now: () => 0, headers: () => ({}) };
  const el = await mount(html`<${UploadForm} images=${[]} onUploaded=${() => undefined} deps=${deps} />`);
  await choose(el.querySelector<HTMLInputElement>('#iso-file')!, new File(['x'], 'away.iso'));
  await click(button(el, 'Upload'));
  await unmount(el);
  assert.is(currentUpload()?.phase, 'sending', 'leaving the view does not stop it');
  assert.throws(() => startUpload(new Blob(['y']), 'second.iso', { sha256: '', replace: false }, deps), /an upload is running/);
  const back = await mount(html`<${UploadForm} images=${[]} onUploaded=${() => undefined} deps=${deps} />`);
  assert.match(text(back.querySelector('.upload-progress')), 'away.iso');
  await click(button(back, 'Cancel upload'));
  await settle();
  await unmount(back);
});

view('should renew a due ticket before the upload goes out, and cancel cleanly while it does', async () => {
  withFetch({ 'GET /api/iso': [200, { data: [] }] });
  const order: string[] = [];
  let renewed: () => void = () => undefined;
  const deps = {
    xhr: () => {
      order.push('xhr');
      return new FakeXhr();
    },
    now: () => 0,
    headers: () => ({}),
    renew: () => {
      order.push('renew');
      return new Promise<void>((r) => (renewed = r));
    },
  };
  const el = await mount(html`<${UploadForm} images=${[]} onUploaded=${() => undefined} deps=${deps} />`);
  await choose(el.querySelector<HTMLInputElement>('#iso-file')!, new File(['x'], 'a.iso'));
  await click(button(el, 'Upload'));
  assert.equal(order, ['renew'], 'no request before the renewal');
  await click(button(el, 'Cancel upload'));
  renewed();
  await settle();
  assert.equal(order, ['renew'], 'cancelled: no request at all');
  assert.match(text(el.querySelector('.banner-info')), 'was cancelled');

  order.length = 0;
  await choose(el.querySelector<HTMLInputElement>('#iso-file')!, new File(['x'], 'b.iso'));
  await click(button(el, 'Upload'));
  renewed();
  await settle();
  assert.equal(order, ['renew', 'xhr']);
  FakeXhr.last!.answer(201, { data: { ...IMAGE, name: 'b.iso' } });
  await settle();
  assert.match(text(el.querySelector('.banner-ok')), 'b.iso was uploaded.');
  await unmount(el);
});

view.run();
