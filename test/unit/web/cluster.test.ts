/**
 * The cluster in the web app: the pure parts of web/cluster.ts and
 * web/views/cluster/model.ts as tables, the guests' node choice, and the
 * Nodes view in happy-dom with a fake fetch (the real nodes are in
 * test/browser/cluster.test.ts).
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import type { ClusterNodeView, ClusterView, VmListEntry } from '../../../node-cgi/api-types';
import { compareVersions, heldBy, lagging, masterGeneration, replicaTroubles, roleOf, uiUrl } from '../../../web/cluster';
import { html } from '../../../web/html';
import { setLang } from '../../../web/i18n';
import { clusterNameIssue, joinBody, joinIssues, joinLine, parseJoinLine, removal } from '../../../web/views/cluster/model';
import { actionsFor, defaultNode, nodeIssue } from '../../../web/views/guests/model';
import { filterNodes } from '../../../web/views/guests/list';
import { NodeList } from '../../../web/views/nodes/list';
import { fakeFetch, mount, settle, text, unmount, until, useDom } from './dom';

const node = (name: string, over: Partial<ClusterNodeView> = {}): ClusterNodeView => ({
  name, address: `10.0.0.${name.slice(-1)}`, url: `https://10.0.0.${name.slice(-1)}:8007`, fingerprint: 'AA:BB', online: true, master: false, version: '0.1.0', ...over,
});
const cluster = (over: Partial<ClusterView> = {}): ClusterView => ({
  name: 'office', self: 'n1', master: 'n1', epoch: 1, generation: 7, masterOnline: true,
  nodes: [node('n1', { master: true, generation: 7 }), node('n2', { generation: 7 })], ...over,
});
const SINGLE: ClusterView = { name: null, self: 'n1', master: null, epoch: 0, generation: 0, masterOnline: true, nodes: [node('n1')] };

// ---- web/cluster.ts ----

/** Figures of a node with replicated disks (only what the node table reads, and the replicas). */
const withReplicas = (replicas: { vmid: number; resource: string; warning: string | null }[]) => ({
  cpu: { count: 2, usage: 0.1, loadavg: [0, 0, 0] }, memory: { total: 2 ** 30, available: 2 ** 29, used: 2 ** 29 }, disk: { path: '/', total: 2 ** 34, free: 2 ** 33 },
  guests: { total: 1, running: 1, memoryClaimed: 0, memoryOvercommit: 1 },
  replicas: replicas.map((r) => ({ ...r, disk: 0, replication: { peer: 'n2', state: 'UpToDate', synced: null, connection: 'WFConnection', role: 'Primary', peerState: 'DUnknown' } })),
}) as unknown as ClusterNodeView['resources'];

const troubles = suite('replicaTroubles');
troubles('should list the replicated disks with a warning, node by node, and leave out the healthy ones', () => {
  const c = cluster({
    nodes: [
      node('n1', { resources: withReplicas([{ vmid: 101, resource: 'vm-101-disk-0', warning: 'disconnected from n2 (WFConnection): writes are not replicated' }, { vmid: 102, resource: 'vm-102-disk-0', warning: null }]) }),
      node('n2'),
    ],
  });
  assert.equal(replicaTroubles(c), [{ node: 'n1', vmid: 101, resource: 'vm-101-disk-0', warning: 'disconnected from n2 (WFConnection): writes are not replicated' }]);
  assert.equal(replicaTroubles(cluster()), []);
});
troubles.run();

const role = suite('roleOf');
role('should tell a single node, the master and a member apart', () => {
  assert.is(roleOf(SINGLE), 'single');
  assert.is(roleOf(cluster()), 'master');
  assert.is(roleOf(cluster({ self: 'n2' })), 'member');
});
role.run();

const held = suite('heldBy');
held('should name the master only on a member whose master does not answer', () => {
  assert.is(heldBy(cluster({ self: 'n2', masterOnline: false })), 'n1');
  assert.is(heldBy(cluster({ self: 'n2' })), null, 'the master answers');
  assert.is(heldBy(cluster({ masterOnline: false })), null, 'on the master itself');
  assert.is(heldBy(SINGLE), null);
  assert.is(heldBy(null), null, 'not loaded yet');
});
held.run();

const lag = suite('lagging');
lag('should flag a node whose config generation is older than the master\'s, and only that', () => {
  const c = cluster({ nodes: [node('n1', { master: true, generation: 8 }), node('n2', { generation: 7 }), node('n3', { online: false })] });
  assert.is(masterGeneration(c), 8);
  assert.is(lagging(c.nodes[1]!, c), true);
  assert.is(lagging(c.nodes[0]!, c), false, 'the master');
  assert.is(lagging(c.nodes[2]!, c), false, 'a node that did not say is not called behind');
  assert.is(lagging(node('n2', { generation: 9 }), c), false, 'newer than the master (it pushed meanwhile)');
});
lag('should compare with this node\'s generation when the master\'s is not known', () => {
  const c = cluster({ self: 'n2', generation: 7, masterOnline: false, nodes: [node('n1', { master: true, online: false }), node('n2', { generation: 7 })] });
  assert.is(masterGeneration(c), 7);
  assert.is(lagging(node('n3', { generation: 6 }), c), true);
});
lag.run();

const ui = suite('uiUrl');
ui('should point at the node\'s UI with this page\'s scheme and the UI port as far from the cluster port as here', () => {
  const self = { url: 'https://10.0.0.2:8007' };
  assert.is(uiUrl({ url: 'https://10.0.0.1:8007' }, self, { protocol: 'http:', port: '8006' }), 'http://10.0.0.1:8006/');
  assert.is(uiUrl({ url: 'https://10.0.0.1:8006' }, { url: 'https://10.0.0.2:8006' }, { protocol: 'https:', port: '8006' }), 'https://10.0.0.1:8006/', 'HTTPS: one socket');
  assert.is(uiUrl({ url: 'https://[fd00::1]:8007' }, self, { protocol: 'http:', port: '8006' }), 'http://[fd00::1]:8006/');
});
ui('should fall back to the node\'s cluster URL when the port cannot be told', () => {
  assert.is(uiUrl({ url: 'https://10.0.0.1:8007' }, undefined, { protocol: 'http:', port: '8006' }), 'https://10.0.0.1:8007');
  assert.is(uiUrl({ url: 'https://10.0.0.1:1' }, { url: 'https://10.0.0.2:8007' }, { protocol: 'http:', port: '80' }), 'https://10.0.0.1:1', 'port out of range');
});
ui.run();

const versions = suite('compareVersions');
const VERSIONS: Array<[string, string, number]> = [
  ['0.1.0', '0.1.0', 0],
  ['0.9.1', '0.10.0', -1],
  ['1.0', '1.0.0', 0],
  ['0.2.0', '0.1.9', 1],
];
for (const [a, b, want] of VERSIONS) versions(`${a} vs ${b} → ${want}`, () => assert.is(compareVersions(a, b), want));
versions.run();

// ---- web/views/cluster/model.ts ----

const TOKEN = `rjt_${'A'.repeat(43)}`;
const FP = Array.from({ length: 32 }, () => 'AB').join(':');

const join = suite('joinIssues');
join('should accept what the master\'s Add node shows, spaces around included', () => {
  assert.equal(joinIssues({ master: ' https://10.0.0.1:8007 ', token: TOKEN, fingerprint: FP }), {});
  assert.equal(joinIssues({ master: 'https://pve1.example.com', token: TOKEN, fingerprint: FP.replace(/:/g, '').toLowerCase() }), {});
  assert.equal(joinBody({ master: ' https://10.0.0.1:8007 ', token: ` ${TOKEN}`, fingerprint: `${FP} ` }), { master: 'https://10.0.0.1:8007', token: TOKEN, fingerprint: FP });
});
join('should name each wrong field', () => {
  assert.equal(joinIssues({ master: '', token: '', fingerprint: '' }), { master: ['field.required'], token: ['field.required'], fingerprint: ['field.required'] });
  assert.equal(joinIssues({ master: 'http://10.0.0.1:8007', token: 'abc', fingerprint: 'AB:CD' }), {
    master: ['cluster.err.url'], token: ['cluster.err.token'], fingerprint: ['cluster.err.fingerprint'],
  });
  assert.equal(joinIssues({ master: 'https://10.0.0.1:70000', token: TOKEN, fingerprint: FP }), { master: ['cluster.err.url'] }, 'port');
  assert.equal(joinIssues({ master: 'https://10.0.0.1:8007/api', token: TOKEN, fingerprint: FP }), { master: ['cluster.err.url'] }, 'a path');
  assert.equal(joinIssues({ master: 'https://user@10.0.0.1', token: TOKEN, fingerprint: FP }), { master: ['cluster.err.url'] }, 'credentials');
});
join.run();

const line = suite('joinLine and parseJoinLine');
line('should carry the three values in one line and read them back, with or without the command', () => {
  const l = joinLine({ url: 'https://10.0.0.1:8007', token: TOKEN, fingerprint: FP });
  assert.is(l, `ramvm cluster join https://10.0.0.1:8007 ${TOKEN} ${FP}`);
  assert.equal(parseJoinLine(`  ${l}\n`), { master: 'https://10.0.0.1:8007', token: TOKEN, fingerprint: FP });
  assert.equal(parseJoinLine(`https://10.0.0.1:8007 ${TOKEN} ${FP}`), { master: 'https://10.0.0.1:8007', token: TOKEN, fingerprint: FP });
});
line('should take a single value typed into a field as no line', () => {
  assert.is(parseJoinLine('https://10.0.0.1:8007'), null);
  assert.is(parseJoinLine(TOKEN), null);
  assert.is(parseJoinLine(`${TOKEN} https://10.0.0.1:8007 ${FP}`), null, 'out of order');
});
line.run();

const rm = suite('removal');
rm('should refuse the master and a node with guests, and allow an empty member', () => {
  const c = cluster();
  assert.equal(removal(c.nodes[0]!, c, 0), ['cluster.remove.isMaster', { cluster: 'office' }]);
  assert.equal(removal(c.nodes[1]!, c, 2), ['cluster.remove.hasGuests', { count: 2 }]);
  assert.is(removal(c.nodes[1]!, c, 0), null);
});
rm.run();

const cname = suite('clusterNameIssue');
cname('should take lower-case names with inner dashes up to 32 characters', () => {
  assert.is(clusterNameIssue('office-2'), null);
  assert.is(clusterNameIssue('a'.repeat(32)), null);
  assert.equal(clusterNameIssue(''), ['field.required']);
  for (const bad of ['Office', '-office', 'office-', 'a'.repeat(33), 'off ice']) assert.equal(clusterNameIssue(bad), ['cluster.err.name'], bad);
});
cname.run();

// ---- the guests' node choice ----

const choice = suite('defaultNode and nodeIssue');
const N = [{ name: 'n1', online: true, master: true }, { name: 'n2', online: true, master: false }, { name: 'n3', online: false, master: false }];
choice('should put a new guest on the node serving the page, else the master, else any that answers', () => {
  assert.is(defaultNode(N, 'n2'), 'n2');
  assert.is(defaultNode(N, 'n3'), 'n1', 'this node does not answer?! the master');
  assert.is(defaultNode([{ ...N[0]!, online: false }, N[1]!], 'n9'), 'n2');
  assert.is(defaultNode([], 'n1'), 'n1', 'no cluster loaded: this node');
});
choice('should refuse a node that does not answer', () => {
  assert.equal(nodeIssue('n3', N), ['guests.err.nodeDown', { node: 'n3' }]);
  assert.is(nodeIssue('n2', N), undefined);
});
choice('should offer start and stop, both for show, for a guest whose node does not answer', () => {
  assert.equal(actionsFor('unknown'), ['start', 'stop']);
});
choice.run();

const filter = suite('filterNodes');
filter('should offer every node of the cluster and of the guests, sorted, and nothing with one node', () => {
  assert.equal(filterNodes(['n2', 'n1'], [{ node: 'n3' }, { node: 'n1' }]), ['n1', 'n2', 'n3']);
  assert.equal(filterNodes(['n1'], [{ node: 'n1' }]), []);
  assert.equal(filterNodes([], []), []);
});
filter.run();

// ---- the Nodes view ----

const view = suite('NodeList');
const ref = useDom(view);
view.before.each(() => setLang('en'));
const ME = { username: 'admin', node: 'n1', tokenid: null, privileges: ['Sys.Audit', 'Sys.Modify'] };
const GUEST = { vmid: 101, name: 'two', node: 'n2', status: 'stopped' } as VmListEntry;

async function show(c: ClusterView, vms: VmListEntry[] = [], privileges = ME.privileges): Promise<HTMLElement> {
  const fake = fakeFetch({ 'GET /api/cluster': [200, { data: c }], 'GET /api/vm': [200, { data: vms }] });
  (globalThis as { fetch: unknown }).fetch = fake.fetch;
  ref.current!.win.fetch = fake.fetch as never;
  const el = await mount(html`<${NodeList} me=${{ ...ME, privileges }} />`);
  await until('the node table', () => el.querySelector('tbody tr') !== null);
  await settle();
  return el;
}
const row = (el: HTMLElement, name: string) => [...el.querySelectorAll('tbody tr')].find((r) => r.querySelector('a')?.textContent === name)!;

view('should list each node with role, status, version and config, flagging one behind the master and one that does not answer', async () => {
  const c = cluster({
    generation: 8,
    nodes: [node('n1', { master: true, generation: 8 }), node('n2', { generation: 7 }), node('n3', { online: false, lastSeen: 1_800_000_000, version: '0.0.9' })],
  });
  const el = await show(c);
  assert.match(text(el.querySelector('.view-intro')), 'Cluster office: 3 nodes, managed through the master n1.');
  assert.match(text(row(el, 'n1')), /^n1 \(this node\)\s*10\.0\.0\.1\s*Online\s*Master/);
  assert.match(text(row(el, 'n2')), /config 7\s*behind the master \(8\)/);
  assert.not.match(text(row(el, 'n1')), 'behind');
  assert.match(text(row(el, 'n3')), /Does not answer\s*does not answer since/);
  assert.match(text(row(el, 'n3')), '0.0.9 older version');
  assert.ok(row(el, 'n3').classList.contains('row-failed'));
  await unmount(el);
});

view('should say per node whether it has DRBD, and nothing for a node that did not say', async () => {
  const el = await show(cluster({ nodes: [node('n1', { master: true, drbd: true }), node('n2', { drbd: false }), node('n3', { online: false })] }));
  assert.match(text(row(el, 'n1')), 'DRBD: Yes');
  assert.match(text(row(el, 'n2')), 'DRBD: No');
  assert.not.match(text(row(el, 'n3')), 'DRBD');
  await unmount(el);
  setLang('de');
  const de = await show(cluster({ nodes: [node('n1', { master: true, drbd: true }), node('n2', { drbd: false })] }));
  assert.match(text(row(de, 'n2')), 'DRBD: Nein');
  await unmount(de);
});

view('should show a disconnected replica as an alert above the nodes, with a link to its guest', async () => {
  const warning = 'disconnected from n2 (WFConnection): writes are not replicated';
  const el = await show(cluster({ nodes: [node('n1', { master: true, generation: 7, resources: withReplicas([{ vmid: 101, resource: 'vm-101-disk-0', warning }]) }), node('n2', { generation: 7 })] }));
  const alert = el.querySelector('[role="alert"]');
  assert.ok(alert, 'an alert');
  assert.match(text(alert), 'Replicated disks need attention');
  assert.match(text(alert), /vm-101-disk-0 on n1\s*:\s*disconnected from n2 \(WFConnection\): writes are not replicated/);
  assert.is(alert!.querySelector('a')!.getAttribute('href'), '#/guests/101');
  await unmount(el);
  const fine = await show(cluster());
  assert.is(fine.querySelector('[role="alert"]'), null, 'no alert without a warning');
  await unmount(fine);
});

view('should let an admin of the master add a node and remove only an empty member', async () => {
  const el = await show(cluster(), [GUEST]);
  const buttons = (name: string) => row(el, name).querySelector('button')!;
  await until('the guest count', () => text(row(el, 'n2')).includes('It has 1 guests'));
  assert.ok(buttons('n1').disabled, 'the master');
  assert.ok(buttons('n2').disabled, 'a node with a guest');
  assert.ok([...el.querySelectorAll('h2')].some((h) => text(h) === 'Add node'));
  await unmount(el);
  const empty = await show(cluster(), []);
  await until('the removal allowed', () => !row(empty, 'n2').querySelector('button')!.disabled);
  await unmount(empty);
});

view('should offer create and join on a single node, and neither to an auditor', async () => {
  const el = await show(SINGLE);
  assert.match(text(el.querySelector('.view-intro')), 'Node n1 is a single node, in no cluster.');
  assert.equal([...el.querySelectorAll('h2')].map(text), ['Create a cluster', 'Join a cluster']);
  assert.is(el.querySelector('th:nth-child(2)')?.textContent, 'CPU', 'no role column outside a cluster');
  await unmount(el);
  const audit = await show(SINGLE, [], ['Sys.Audit']);
  assert.is(audit.querySelectorAll('h2').length, 0);
  await unmount(audit);
});

view.run();

