/**
 * Back up now (web/views/backups/now.ts) in happy-dom with a fake fetch:
 * cluster mode is offered for a guest with a replicated disk only, and
 * sent as the node takes it; the storage column names the node that holds
 * a backup. test/unit/backup covers the node's side.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { BackupNow } from '../../../web/views/backups/now';
import { backupColumns } from '../../../web/views/backups/actions';
import { click, fakeFetch, mount, settle, unmount, until, useDom, type FakeAnswer } from './dom';

const S = suite('BackupNow');
const dom = useDom(S);
S.before.each(() => setLang('en'));

function withFetch(r: Record<string, FakeAnswer>) {
  const fake = fakeFetch(r);
  (globalThis as { fetch: unknown }).fetch = fake.fetch;
  dom.current!.win.fetch = fake.fetch as never;
  return fake;
}

const disk = { id: 'disk0', file: 'vm-101-disk-0.raw', size: '1G', bus: 'virtio', format: 'raw', cache: 'none' };
const guest = (vmid: number, replicated: boolean) => ({
  vmid, name: `g${vmid}`, node: 'n1', status: 'running', memory: 512, disks: [replicated ? { ...disk, replication: { peer: 'n2', state: 'UpToDate', synced: 100 } } : disk], nics: [],
});
const STORAGES = [{ name: 'local', type: 'dir', path: '/var/lib/vz/dump', builtin: true, online: true }];
const modes = (el: Element) => [...el.querySelectorAll('select[name="mode"] option')].map((o) => (o as HTMLOptionElement).value);

S('should offer cluster mode for a guest with a replicated disk, and send it', async () => {
  const fake = withFetch({
    'GET /api/vm/101': [200, { data: guest(101, true) }],
    'POST /api/backup/run': [202, { data: { task: 'UPID:n1:1' } }],
  });
  const el = await mount(html`<${BackupNow} storages=${STORAGES} vmid=${101} />`);
  await until('the cluster option', () => modes(el).includes('cluster'));
  assert.equal(modes(el), ['snapshot', 'stop', 'cluster']);
  const select = el.querySelector('select[name="mode"]') as HTMLSelectElement;
  select.value = 'cluster';
  select.dispatchEvent(new dom.current!.win.Event('change', { bubbles: true }) as unknown as Event);
  await settle();
  await click(el.querySelector('button[type="submit"]'));
  await until('the run request', () => fake.calls.some((c) => c.method === 'POST'));
  assert.equal(fake.calls.find((c) => c.method === 'POST')!.body, { vmid: 101, storage: 'local', mode: 'cluster', compress: 'zstd' });
  await unmount(el);
});

S('should not offer cluster mode for a guest without replicated disks', async () => {
  const fake = withFetch({ 'GET /api/vm/102': [200, { data: guest(102, false) }] });
  const el = await mount(html`<${BackupNow} storages=${STORAGES} vmid=${102} />`);
  await until('the guest\'s detail', () => fake.calls.some((c) => c.url === '/api/vm/102'));
  await settle();
  assert.equal(modes(el), ['snapshot', 'stop']);
  await unmount(el);
});
S.run();

const C = suite('backupColumns');
useDom(C);
C.before.each(() => setLang('en'));

const ME = { username: 'admin', node: 'n1', tokenid: null, groups: [], privileges: ['VM.Backup' as const] };
const entry = (node: string, offline = false) => ({
  id: 'local:101:20261207T050000Z', vmid: 101, storage: 'local', time: '2026-12-07T05:00:00.000Z', mode: 'cluster', method: 'live', compress: 'zstd',
  verified: true, verifiedAt: null, problems: [], size: 1, durationMs: 1, task: 't', job: null, name: 'g101', node, ...(offline ? { offline } : {}),
});
const storageCell = async (b: ReturnType<typeof entry>) => {
  const col = backupColumns({ me: ME, guest: true }).find((c) => c.key === 'storage')!;
  const el = await mount(html`<div>${col.render!(b as never)}</div>`);
  const text = el.textContent!.replace(/\s+/g, ' ').trim();
  await unmount(el);
  return { text, value: col.value(b as never) };
};

C('should name the node that holds a backup when it is not the page\'s node', async () => {
  assert.equal(await storageCell(entry('n2')), { text: 'local (n2)', value: 'local (n2)' });
});
C('should show the storage alone for a backup on the page\'s node, and an unplugged device as offline', async () => {
  assert.equal(await storageCell(entry('n1')), { text: 'local', value: 'local' });
  assert.is((await storageCell(entry('n1', true))).text, 'local (device not connected)');
});
C.run();
