import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import {
  actionsFor, bootItems, bootOrder, canReplicate, diskRequest, listActionsFor, replicaBlocked, replicaOffered, shownFormat, fieldOfIssue, FORM_DEFAULTS, formIssues, formRequest, LIMITS, moveItem, RECOMMENDED,
  replicaMessage, sizeFields, sizeIssue, sizeText, withOsType, type CreateForm,
} from '../../../web/views/guests/model';
import { OS_TYPES as NODE_OS_TYPES, DEFAULT_MEMORY_MIB, DEFAULT_DISK_SIZE, DEFAULT_DISK_BUS, DEFAULT_NIC_MODEL, DEFAULT_BRIDGE, DEFAULT_CACHE, DEFAULT_DISK_FORMAT } from '../../../node-cgi/vm/defaults';
import { MEMORY_MAX_MIB, MEMORY_MIN_MIB, CORES_MAX, SOCKETS_MAX, VCPUS_MAX, DESCRIPTION_MAX_CHARS } from '../../../node-cgi/vm/validate';
import { parseSize } from '../../../node-cgi/lib/validate';
import { OS_TYPE_IDS } from '../../../node-cgi/vm/types';
import { parseDiskAdd } from '../../../node-cgi/vm/requests';

const form = (over: Partial<CreateForm> = {}): CreateForm => ({ ...FORM_DEFAULTS, name: 'web', ...over });

const D = suite('create form defaults');
D("should start from the node's defaults (the original form's)", () => {
  assert.is(FORM_DEFAULTS.memory, String(DEFAULT_MEMORY_MIB));
  assert.is(`${FORM_DEFAULTS.diskSize}G`, DEFAULT_DISK_SIZE);
  assert.is(FORM_DEFAULTS.bus, DEFAULT_DISK_BUS);
  assert.is(FORM_DEFAULTS.format, DEFAULT_DISK_FORMAT);
  assert.is(FORM_DEFAULTS.cache, DEFAULT_CACHE);
  assert.is(FORM_DEFAULTS.nic, DEFAULT_NIC_MODEL);
  assert.is(FORM_DEFAULTS.bridge, DEFAULT_BRIDGE);
});
D("should propose per OS type what the node's table recommends", () => {
  assert.equal(Object.keys(RECOMMENDED).sort(), [...OS_TYPE_IDS].sort());
  for (const id of OS_TYPE_IDS) assert.equal(RECOMMENDED[id], NODE_OS_TYPES[id].recommended, id);
});
D("should use the node's limits", () => {
  assert.equal([LIMITS.memory.min, LIMITS.memory.max, LIMITS.sockets.max, LIMITS.cores.max, LIMITS.vcpus, LIMITS.description],
    [MEMORY_MIN_MIB, MEMORY_MAX_MIB, SOCKETS_MAX, CORES_MAX, VCPUS_MAX, DESCRIPTION_MAX_CHARS]);
});
D.run();

const O = suite('withOsType');
O('should apply the recommendation to fields the user left alone', () => {
  const f = withOsType(form(), 'win10', new Set());
  assert.equal([f.ostype, f.bus, f.nic, f.memory], ['win10', 'sata', 'e1000', '2048']);
});
O('should keep what the user chose', () => {
  const f = withOsType(form({ bus: 'virtio', memory: '768' }), 'win10', new Set(['bus', 'memory']));
  assert.equal([f.bus, f.nic, f.memory], ['virtio', 'e1000', '768']);
});
O.run();

const I = suite('formIssues');
I('should accept the defaults with a name', () => {
  assert.equal(formIssues(form()), {});
});
// [change, field, message key, reason]
const BAD: [Partial<CreateForm>, string, string, string][] = [
  [{ name: '' }, 'name', 'field.required', 'no name'],
  [{ name: 'my server' }, 'name', 'guests.err.name', 'a blank'],
  [{ name: 'web-' }, 'name', 'guests.err.name', 'ends with a dash'],
  [{ vmid: '99' }, 'vmid', 'guests.err.range', 'below 100'],
  [{ vmid: '1e3' }, 'vmid', 'guests.err.range', 'not digits'],
  [{ memory: '8' }, 'memory', 'guests.err.range', 'below 16 MiB'],
  [{ memory: '' }, 'memory', 'field.required', 'empty'],
  [{ memory: '512.5' }, 'memory', 'guests.err.range', 'a fraction'],
  [{ sockets: '0' }, 'sockets', 'guests.err.range', 'no socket'],
  [{ cores: '129' }, 'cores', 'guests.err.range', 'too many cores'],
  [{ sockets: '16', cores: '16' }, 'cores', 'guests.err.vcpus', '256 vCPUs'],
  [{ diskSize: '0' }, 'diskSize', 'guests.err.range', 'no size'],
  [{ diskSize: '65537' }, 'diskSize', 'guests.err.range', 'over 64 TiB in GiB'],
  [{ diskSize: '67108865', diskUnit: 'M' }, 'diskSize', 'guests.err.range', 'over 64 TiB in MiB'],
  [{ diskSize: '1.5' }, 'diskSize', 'guests.err.range', 'a fraction'],
  [{ bridge: 'vmbr0 ' }, 'bridge', 'guests.err.bridge', 'a blank'],
  [{ bridge: 'averyverylongbridge' }, 'bridge', 'guests.err.bridge', 'over 15 characters'],
  [{ description: 'x'.repeat(8193) }, 'description', 'guests.err.long', 'too long'],
];
for (const [change, field, key, reason] of BAD) {
  I(`should flag ${field} (${reason})`, () => {
    const issues = formIssues(form(change)) as Record<string, [string]>;
    assert.is(issues[field]?.[0], key, JSON.stringify(issues));
  });
}
I('should not check the disk or network fields that are switched off', () => {
  assert.equal(formIssues(form({ noDisk: true, diskSize: '' })), {});
  assert.equal(formIssues(form({ noNic: true, bridge: 'not a bridge' })), {});
});
I('should take 64 MiB, which the node takes', () => {
  assert.equal(formIssues(form({ diskSize: '64', diskUnit: 'M' })), {});
});
I.run();

const Z = suite('sizeIssue, sizeText, sizeFields');
Z("should accept in each unit exactly what the node's parseSize accepts", () => {
  for (const [v, unit] of [['1', 'M'], ['67108864', 'M'], ['1', 'G'], ['65536', 'G']] as const) {
    assert.is(sizeIssue(v, unit), undefined, `${v}${unit}`);
    assert.ok(parseSize(sizeText(v, unit)) > 0);
  }
  for (const [v, unit] of [['67108865', 'M'], ['65537', 'G']] as const) {
    assert.ok(sizeIssue(v, unit));
    assert.throws(() => parseSize(sizeText(v, unit)), /at most 64T/);
  }
});
Z('should write the size the API takes', () => {
  assert.is(sizeText(' 64', 'M'), '64M');
  assert.is(sizeText('32', 'G'), '32G');
});
Z("should show the node's sizes in MiB or GiB", () => {
  assert.equal(sizeFields('32G'), { value: '32', unit: 'G' });
  assert.equal(sizeFields('1T'), { value: '1024', unit: 'G' });
  assert.equal(sizeFields('1536M'), { value: '1536', unit: 'M' });
  assert.equal(sizeFields('2049K'), { value: '3', unit: 'M' });
});
Z.run();

const B = suite('bootItems, moveItem, bootOrder');
B('should list the boot order first and the devices it leaves out after it', () => {
  assert.equal(bootItems(['disk0', 'cdrom'], ['cdrom', 'disk0', 'net0']), [
    { id: 'disk0', enabled: true }, { id: 'cdrom', enabled: true }, { id: 'net0', enabled: false },
  ]);
});
B('should drop devices the guest no longer has', () => {
  assert.equal(bootItems(['disk1', 'cdrom'], ['cdrom']), [{ id: 'cdrom', enabled: true }]);
});
B('should move a device up or down, and not past the ends', () => {
  assert.equal(moveItem(['a', 'b', 'c'], 1, -1), ['b', 'a', 'c']);
  assert.equal(moveItem(['a', 'b', 'c'], 1, 1), ['a', 'c', 'b']);
  assert.equal(moveItem(['a', 'b', 'c'], 0, -1), ['a', 'b', 'c']);
  assert.equal(moveItem(['a', 'b', 'c'], 2, 1), ['a', 'b', 'c']);
});
B('should send the ticked devices in their order', () => {
  assert.equal(bootOrder([{ id: 'net0', enabled: true }, { id: 'cdrom', enabled: false }, { id: 'disk0', enabled: true }]), ['net0', 'disk0']);
});
B.run();

const R = suite('formRequest');
R('should make the POST /api/vm body', () => {
  assert.equal(formRequest(form({ node: 'pve1', diskSize: '8', cdrom: 'debian.iso', onboot: true, agent: true })), {
    name: 'web',
    node: 'pve1',
    memory: 512,
    sockets: 1,
    cores: 1,
    ostype: 'l26',
    onboot: true,
    agent: true,
    cdrom: 'debian.iso',
    disks: [{ size: '8G', bus: 'ide', format: 'qcow2', cache: 'writeback' }],
    nics: [{ model: 'rtl8139', bridge: 'vmbr0' }],
    description: '',
  });
});
R('should send a VMID only when one is typed, and null for no CD', () => {
  assert.is(formRequest(form({ vmid: '150' })).vmid, 150);
  assert.not.ok('vmid' in formRequest(form()));
  assert.is(formRequest(form()).cdrom, null);
});
R('should send agent: false unless the guest agent is ticked (the node\'s default)', () => {
  assert.is(formRequest(form()).agent, false);
});
R('should send a size in MiB as the API writes it', () => {
  assert.equal(formRequest(form({ diskSize: '64', diskUnit: 'M' })).disks, [{ size: '64M', bus: 'ide', format: 'qcow2', cache: 'writeback' }]);
});
R('should send a replicated disk as raw with replicated: true, whatever format was picked', () => {
  assert.equal(formRequest(form({ diskSize: '64', diskUnit: 'M', format: 'qcow2', replicated: true })).disks, [
    { size: '64M', bus: 'ide', format: 'raw', cache: 'writeback', replicated: true },
  ]);
});
R('should send no disk and no network card when asked', () => {
  const r = formRequest(form({ noDisk: true, noNic: true }));
  assert.equal([r.disks, r.nics], [[], []]);
});
R.run();

const DR = suite('diskRequest');
DR('should leave replicated out of a plain disk', () => {
  assert.equal(diskRequest({ size: '8G', bus: 'virtio', format: 'qcow2', cache: 'none', replicated: false }), { size: '8G', bus: 'virtio', format: 'qcow2', cache: 'none' });
});
DR('should make a replicated disk raw, as the node requires', () => {
  const body = diskRequest({ size: '8G', bus: 'virtio', format: 'qcow2', cache: 'none', replicated: true });
  assert.equal(body, { size: '8G', bus: 'virtio', format: 'raw', cache: 'none', replicated: true });
  assert.equal(parseDiskAdd({ ...body }), body, 'the node takes it as sent');
});
DR.run();

const SF = suite('shownFormat');
SF('should show raw while replicated is checked, and the choice otherwise', () => {
  assert.is(shownFormat('qcow2', true), 'raw');
  assert.is(shownFormat('qcow2', false), 'qcow2');
});
SF.run();

const RO = suite('replicaOffered');
const node = { name: 'n', online: true };
RO('should offer replicated disks in a cluster of exactly two nodes', () => {
  assert.ok(replicaOffered({ name: 'office', nodes: [node, node] }));
});
RO('should not offer them on a single node, in a cluster of three, or while the cluster loads', () => {
  assert.not.ok(replicaOffered({ name: null, nodes: [node] }));
  assert.not.ok(replicaOffered({ name: 'office', nodes: [node, node, node] }));
  assert.not.ok(replicaOffered({ name: 'office', nodes: [node] }));
  assert.not.ok(replicaOffered(null));
  assert.not.ok(replicaOffered(undefined));
});
RO.run();

const RB = suite('replicaBlocked');
const pair = (a?: boolean, b?: boolean) => ({ name: 'office', nodes: [{ name: 'n1', drbd: a }, { name: 'n2', drbd: b }] });
RB('should name the node of the pair without DRBD, in the language asked for', () => {
  assert.is(replicaBlocked(pair(true, false), 'en'), 'node n2 has no DRBD module: replicated disks need the node image');
  assert.is(replicaBlocked(pair(false, false), 'en'), 'node n1 has no DRBD module: replicated disks need the node image');
  assert.is(replicaBlocked(pair(false, true), 'de'), 'Knoten n1 hat kein DRBD-Modul: replizierte Festplatten brauchen das Knoten-Image');
});
RB('should block nothing where both nodes have DRBD, a node did not say, or replicas are not offered at all', () => {
  assert.is(replicaBlocked(pair(true, true), 'en'), null);
  assert.is(replicaBlocked(pair(true, undefined), 'en'), null, 'an older node, or one that does not answer: it refuses for itself');
  assert.is(replicaBlocked({ name: null, nodes: [{ name: 'n1', drbd: false }] }, 'en'), null, 'a single node: no checkbox to disable');
  assert.is(replicaBlocked(null, 'en'), null);
});
RB.run();

const CR = suite('canReplicate');
CR('should offer it for a raw disk of a stopped guest where replicas are offered', () => {
  assert.ok(canReplicate({ format: 'raw' }, 'stopped', true));
});
CR('should not offer it for qcow2, a replicated disk, a guest that runs, or without a 2-node cluster', () => {
  assert.not.ok(canReplicate({ format: 'qcow2' }, 'stopped', true));
  assert.not.ok(canReplicate({ format: 'raw', replicated: true }, 'stopped', true));
  assert.not.ok(canReplicate({ format: 'raw' }, 'running', true));
  assert.not.ok(canReplicate({ format: 'raw' }, 'paused', true));
  assert.not.ok(canReplicate({ format: 'raw' }, 'stopped', false));
});
CR.run();

const F = suite('fieldOfIssue');
F("should map the node's fields to the form's", () => {
  assert.is(fieldOfIssue('disks[0].size'), 'diskSize');
  assert.is(fieldOfIssue('nics[0].bridge'), 'bridge');
  assert.is(fieldOfIssue('memory'), 'memory');
  assert.is(fieldOfIssue('boot'), null);
});
F.run();

const A = suite('actionsFor');
A('should offer what each status allows', () => {
  assert.equal(actionsFor('stopped'), ['start']);
  assert.equal(actionsFor('running'), ['shutdown', 'stop', 'reset', 'pause']);
  assert.equal(actionsFor('paused'), ['resume', 'stop']);
});
A('should keep list rows short', () => {
  assert.equal(listActionsFor('running'), ['shutdown', 'stop']);
  assert.equal(listActionsFor('paused'), ['resume', 'stop']);
  assert.equal(listActionsFor('stopped'), ['start']);
});
A('should offer a crashed guest only reset and stop (and the list only stop)', () => {
  const fault = { state: 'internal-error' as const, message: 'm', actions: ['reset', 'stop'] as ('reset' | 'stop')[], kvmSuspect: true };
  assert.equal(actionsFor('paused', fault), ['reset', 'stop']);
  assert.equal(listActionsFor('paused', fault), ['stop']);
});
A.run();

const RM = suite('replicaMessage');
RM('should say peer, state and percent in sync of a replicated disk', () => {
  assert.equal(replicaMessage({ replication: { peer: 'node2', state: 'UpToDate', synced: 100, connection: 'Connected' } }), {
    key: 'guests.disk.replicaOf', params: { peer: 'node2', state: 'UpToDate', synced: '100' },
  });
});
RM('should say the connection when the sync cannot be known (a disconnected replica)', () => {
  assert.equal(replicaMessage({ replication: { peer: 'node2', state: 'UpToDate', synced: null, connection: 'StandAlone' } }), {
    key: 'guests.disk.replicaUnsynced', params: { peer: 'node2', state: 'UpToDate', connection: 'StandAlone' },
  });
});
RM('should say nothing of a disk that is not replicated', () => {
  assert.is(replicaMessage({}), null);
});
RM.run();
