/**
 * Back up now (web/views/backups/now.ts) in happy-dom with a fake fetch:
 * cluster mode is offered for a guest with a replicated disk only, and
 * sent as the node takes it. test/unit/backup covers the node's side.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { BackupNow } from '../../../web/views/backups/now';
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
