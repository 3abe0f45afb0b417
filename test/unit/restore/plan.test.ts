import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpError } from '../../../node-cgi/lib/errors';
import {
  backupImages, liveRestoreSteps, mirrorArgs, mirrorTargetArgs, overlayPlan, parseBackupConfig, parseQueryBlock,
  restorePlan, runWarnings, streamArgs, type BackupSource, type DriveState, type NodeFacts,
} from '../../../node-cgi/restore/plan';
import type { BackupManifest } from '../../../node-cgi/backup/types';
import type { VmConfig } from '../../../node-cgi/vm/types';

const DIR = '/s/ramvm/101/20261125T220000Z';
const MAC = '02:52:4D:00:01:01';

function config(over: Partial<VmConfig> = {}): VmConfig {
  return {
    vmid: 101, name: 'web', node: 'pve1', type: 'kvm', memory: 512, sockets: 1, cores: 1, ostype: 'l26', onboot: true, cdrom: 'debian.iso',
    disks: [
      { id: 'disk0', file: 'vm-101-disk-0.raw', size: '64M', bus: 'ide', format: 'raw', cache: 'writeback' },
      { id: 'disk2', file: 'vm-101-disk-2.qcow2', size: '1G', bus: 'virtio', format: 'qcow2', cache: 'none' },
    ],
    nics: [{ id: 'net0', model: 'rtl8139', bridge: 'vmbr0', mac: MAC }],
    boot: ['disk0', 'cdrom', 'net0'], description: 'the web server', created: 1,
    ...over,
  };
}

function manifest(over: Partial<BackupManifest> = {}): BackupManifest {
  return {
    format: 1, vmid: 101, name: 'web', node: 'pve1', storage: 'local', stamp: '20261125T220000Z', start: 1, end: 2, mode: 'snapshot', method: 'live',
    compress: 'zstd', task: 't', job: null,
    disks: [
      { file: 'vm-101-disk-0.qcow2', source: 'vm-101-disk-0.raw', sourceFormat: 'raw', virtualSize: 67108864 },
      { file: 'vm-101-disk-2.qcow2', source: 'vm-101-disk-2.qcow2', sourceFormat: 'qcow2', virtualSize: 1073741824 },
    ],
    files: [], timings: { copy: 1, sums: 1 }, tools: {}, verification: { ok: true, time: 3, durationMs: 1, problems: [] },
    ...over,
  };
}

function backup(c: Partial<VmConfig> = {}, m: Partial<BackupManifest> = {}): BackupSource {
  return { id: 'local:101:20261125T220000Z', dir: DIR, manifest: manifest(m), config: config(c) };
}

type Guest = { name: string; macs: string[]; running: boolean; disks: string[] };

function facts(guests: [number, Guest][] = [], over: Partial<NodeFacts> = {}): NodeFacts {
  let n = 0;
  return {
    node: 'pve2', guests: new Map(guests), isos: new Set(['debian.iso']), directIo: true,
    newMac: () => `02:52:4D:00:0F:${(n++).toString(16).padStart(2, '0').toUpperCase()}`, now: 99, ...over,
  };
}

const ORIGINAL: [number, Guest] = [101, { name: 'web', macs: [MAC], running: false, disks: ['vm-101-disk-0.raw', 'vm-101-disk-2.qcow2'] }];

const R = suite('restorePlan');
R('should restore as a new guest beside its original: files renamed, formats kept, new MAC, no start at boot', () => {
  const p = restorePlan(backup(), { vmid: 105, force: false }, facts([ORIGINAL]));
  assert.equal(p.disks, [
    { id: 'disk0', from: `${DIR}/vm-101-disk-0.qcow2`, file: 'vm-105-disk-0.raw', format: 'raw', virtualSize: 67108864 },
    { id: 'disk2', from: `${DIR}/vm-101-disk-2.qcow2`, file: 'vm-105-disk-2.qcow2', format: 'qcow2', virtualSize: 1073741824 },
  ]);
  assert.equal(p.config.disks.map((d) => [d.id, d.file, d.format, d.bus, d.cache]), [['disk0', 'vm-105-disk-0.raw', 'raw', 'ide', 'writeback'], ['disk2', 'vm-105-disk-2.qcow2', 'qcow2', 'virtio', 'none']]);
  assert.equal([p.config.vmid, p.config.node, p.config.name, p.config.onboot, p.config.cdrom, p.config.created, p.config.description], [105, 'pve2', 'web', false, 'debian.iso', 99, 'the web server']);
  assert.equal(p.config.nics, [{ id: 'net0', model: 'rtl8139', bridge: 'vmbr0', mac: '02:52:4D:00:0F:00' }]);
  assert.equal(p.warnings, [
    `net0: new MAC address 02:52:4D:00:0F:00: guest 101 uses the backup's ${MAC}`,
    'start at boot is off: guest 101 still exists and starts at boot itself',
  ]);
  assert.equal(p.replaced, []);
  assert.is(p.config.temporary, undefined);
});
R("should keep the guest agent setting of the backup's guest, and add none to one without", () => {
  assert.is(restorePlan(backup({ agent: true }), { vmid: 105, force: false }, facts()).config.agent, true);
  assert.not.ok('agent' in restorePlan(backup(), { vmid: 105, force: false }, facts()).config);
});
R('should keep MAC and start at boot when the original is gone', () => {
  const p = restorePlan(backup(), { vmid: 105, force: false }, facts());
  assert.equal([p.config.nics[0]!.mac, p.config.onboot, p.warnings], [MAC, true, []]);
});
R('should restore over the guest itself with force, keeping its MAC and naming the disks it loses', () => {
  const self: [number, Guest] = [101, { ...ORIGINAL[1], disks: ['vm-101-disk-0.raw', 'vm-101-disk-1.raw', 'vm-101-disk-2.qcow2'] }];
  const p = restorePlan(backup(), { vmid: 101, force: true }, facts([self]));
  assert.equal(p.config.nics[0]!.mac, MAC);
  assert.equal(p.config.disks.map((d) => d.file), ['vm-101-disk-0.raw', 'vm-101-disk-2.qcow2']);
  assert.equal(p.replaced, ['vm-101-disk-1.raw'], 'a disk added after the backup goes');
  assert.is(p.config.onboot, true);
});
R('should take out an ISO the node lacks and cache=none where O_DIRECT fails', () => {
  const p = restorePlan(backup(), { vmid: 105, force: false }, facts([], { isos: new Set(), directIo: false }));
  assert.is(p.config.cdrom, null);
  assert.is(p.config.disks[1]!.cache, 'writeback');
  assert.equal(p.warnings, [
    'disk2: cache "none" needs O_DIRECT, which this node\'s disk folder lacks; it uses writeback',
    'the CD-ROM\'s ISO image "debian.iso" is not in this node\'s library; the drive is left empty',
  ]);
});
R('should drop the mark of a backup taken of a temporary guest', () => {
  const temporary = { backup: 'x', source: 100, purpose: 'run' as const, since: 1, formats: {} };
  assert.is(restorePlan(backup({ temporary }), { vmid: 105, force: false }, facts()).config.temporary, undefined);
});
// [target, guests, status, message, reason]
const REFUSE: [{ vmid: number; force: boolean }, [number, Guest][], number, RegExp, string][] = [
  [{ vmid: 101, force: false }, [ORIGINAL], 409, /send "force": true/, 'the original exists and no force'],
  [{ vmid: 101, force: true }, [[101, { ...ORIGINAL[1], running: true }]], 409, /is running; stop it/, 'the original runs'],
  [{ vmid: 102, force: true }, [[102, { name: 'db', macs: [], running: false, disks: [] }]], 409, /replaces only the guest a backup was taken of \(101\)/, 'another guest'],
];
for (const [target, guests, status, msg, reason] of REFUSE) {
  R(`should refuse: ${reason}`, () => {
    try {
      restorePlan(backup(), target, facts(guests));
      assert.unreachable(reason);
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).status, status);
      assert.match((e as HttpError).message, msg);
    }
  });
}
R('should fail for a disk the backup holds no image of, and for a config that does not fit', () => {
  assert.throws(() => restorePlan(backup({}, { disks: [manifest().disks[0]!] }), { vmid: 105, force: false }, facts()), /holds no image of disk2 \(vm-101-disk-2.qcow2\)/);
  assert.throws(() => restorePlan(backup({ memory: 1 }), { vmid: 105, force: false }, facts()), /does not fit this node \(as guest 105\): memory: must be at least 16 MiB/);
});
R.run();

const O = suite('overlayPlan');
O('should run off qcow2 overlays on the backup\'s images, NICs unplugged, marked with the original formats', () => {
  const p = overlayPlan(backup(), 106, 'run', facts());
  assert.equal(p.overlays, [
    { id: 'disk0', backing: `${DIR}/vm-101-disk-0.qcow2`, file: 'vm-106-disk-0.qcow2' },
    { id: 'disk2', backing: `${DIR}/vm-101-disk-2.qcow2`, file: 'vm-106-disk-2.qcow2' },
  ]);
  assert.equal(p.config.disks.map((d) => [d.file, d.format]), [['vm-106-disk-0.qcow2', 'qcow2'], ['vm-106-disk-2.qcow2', 'qcow2']]);
  assert.equal(p.config.nics, [{ id: 'net0', model: 'rtl8139', bridge: 'vmbr0', mac: MAC, linkDown: true }]);
  assert.is(p.config.onboot, false);
  assert.equal(p.config.temporary, { backup: 'local:101:20261125T220000Z', source: 101, purpose: 'run', since: 99, formats: { disk0: 'raw', disk2: 'qcow2' } });
  assert.is(p.warnings.length, 2);
  assert.match(p.warnings[0]!, /^network disconnected: net0 starts with the link down/);
});
O('should give a boot check sandbox no network card at all and no network in its boot order', () => {
  const p = overlayPlan(backup(), 107, 'bootcheck', facts());
  assert.equal([p.config.nics, p.config.boot, p.config.temporary?.purpose], [[], ['disk0', 'cdrom'], 'bootcheck']);
  assert.equal(p.warnings, []);
});
O.run();

const W = suite('runWarnings');
const cfgOf = (b: BackupSource, f: NodeFacts) => overlayPlan(b, 106, 'run', f).config;
W('should warn of IP and MAC conflicts when the copy keeps the MACs', () => {
  const b = backup();
  const w = runWarnings(b, cfgOf(b, facts()), facts());
  assert.equal(w, [
    'network disconnected: net0 starts with the link down. This copy has the IP addresses and MAC addresses of guest 101: if that guest runs anywhere at the same time, connecting the copy gives IP and MAC conflicts. Connect it with POST /api/restore/106/link {"up": true}.',
    'changes are discarded when guest 106 stops; keep it as a normal guest with a live restore (POST /api/restore/106/keep). Settings changed now are not written back to the backup.',
  ]);
});
W('should say that the original runs here, and only IP conflicts once its MACs were replaced', () => {
  const b = backup();
  const f = facts([[101, { ...ORIGINAL[1], running: true }]]);
  const w = runWarnings(b, cfgOf(b, f), f);
  assert.match(w[0]!, 'This copy has the IP addresses of guest 101: if that guest runs anywhere at the same time, connecting the copy gives IP conflicts.');
  assert.is(w[1], 'guest 101 (web), the original of this backup, is running on this node now');
});
W('should name a failed or missing verification', () => {
  const failed = backup({ nics: [], boot: ['disk0'] }, { verification: { ok: false, time: 1, durationMs: 1, problems: ['a: missing', 'b: SHA-256 differs'] } });
  assert.equal(runWarnings(failed, cfgOf(failed, facts()), facts()).slice(1), ['backup local:101:20261125T220000Z failed its last verification: a: missing; b: SHA-256 differs']);
  const never = backup({ nics: [], boot: ['disk0'] }, { verification: null });
  assert.match(runWarnings(never, cfgOf(never, facts()), facts())[1]!, 'was never verified');
});
W.run();

const C = suite('parseBackupConfig');
C('should read a guest config', () => {
  assert.equal(parseBackupConfig(JSON.stringify(config())), config());
});
// [text, reason]
const BAD_CONFIGS: [string, string][] = [
  ['{', 'not JSON'],
  ['null', 'null'],
  ['{"disks": [], "nics": []}', 'no vmid'],
  ['{"vmid": 101, "nics": []}', 'no disks'],
  ['{"vmid": 101, "disks": [], "nics": {}}', 'nics not a list'],
  ['{"vmid": 101, "disks": [{"id": "hd0", "file": "a", "format": "raw"}], "nics": []}', 'a disk id not disk<n>'],
  ['{"vmid": 101, "disks": [{"id": "disk0", "format": "raw"}], "nics": []}', 'a disk without file'],
];
for (const [text, reason] of BAD_CONFIGS) {
  C(`should refuse a config.json with ${reason}`, () => {
    assert.throws(() => parseBackupConfig(text), /config\.json of the backup is not/);
  });
}
C('should map each disk to the backup image of its file', () => {
  assert.equal([...backupImages(backup())], [['disk0', { path: `${DIR}/vm-101-disk-0.qcow2`, virtualSize: 67108864 }], ['disk2', { path: `${DIR}/vm-101-disk-2.qcow2`, virtualSize: 1073741824 }]]);
});
C.run();

const Q = suite('parseQueryBlock');
const QB = JSON.parse(readFileSync(join(__dirname, 'fixtures/qmp-7.2-query-block-overlay.json'), 'utf8'));
Q('should read each drive\'s file and backing file from QEMU 7.2, leaving out the empty CD drive', () => {
  assert.equal([...parseQueryBlock(QB)], [
    ['drive-disk0', { device: 'drive-disk0', file: '/r/ov.qcow2', backing: '/r/base.qcow2' }],
    ['drive-disk1', { device: 'drive-disk1', file: '/r/base.qcow2', backing: null }],
  ]);
});
Q('should throw on an answer that is not a list', () => {
  assert.throws(() => parseQueryBlock({ error: 1 }), /unexpected query-block answer: \{"error":1\}/);
});
Q.run();

const L = suite('liveRestoreSteps');
const temp = overlayPlan(backup(), 106, 'run', facts()).config;
const drives = (d0: Partial<DriveState>, d2: Partial<DriveState>) => new Map<string, DriveState>([
  ['drive-disk0', { device: 'drive-disk0', file: '/i/vm-106-disk-0.qcow2', backing: `${DIR}/vm-101-disk-0.qcow2`, ...d0 }],
  ['drive-disk2', { device: 'drive-disk2', file: '/i/vm-106-disk-2.qcow2', backing: `${DIR}/vm-101-disk-2.qcow2`, ...d2 }],
]);
L('should mirror a raw original to a new raw file and stream a qcow2 original into its overlay', () => {
  assert.equal(liveRestoreSteps(temp, drives({}, {})), [
    { id: 'disk0', action: 'mirror', device: 'drive-disk0', job: 'ramvm-restore-106-disk0', target: { file: 'vm-106-disk-0.raw', format: 'raw', node: 'ramvm-restore-106-disk0' } },
    { id: 'disk2', action: 'stream', device: 'drive-disk2', job: 'ramvm-restore-106-disk2' },
  ]);
});
L('should skip disks a failed earlier try already finished', () => {
  const half = { ...temp, disks: temp.disks.map((d) => (d.id === 'disk0' ? { ...d, file: 'vm-106-disk-0.raw', format: 'raw' as const } : d)) };
  assert.equal(liveRestoreSteps(half, drives({ file: '/i/vm-106-disk-0.raw', backing: null }, { backing: null })).map((s) => s.action), ['done', 'done']);
  assert.equal(liveRestoreSteps(half, drives({ file: '/i/vm-106-disk-0.raw', backing: null }, {})).map((s) => s.action), ['done', 'stream']);
});
L('should refuse a guest that does not run from a backup or lacks a drive', () => {
  assert.throws(() => liveRestoreSteps({ ...temp, temporary: undefined }, drives({}, {})), /does not run from a backup/);
  assert.throws(() => liveRestoreSteps(temp, new Map()), /has no drive drive-disk0/);
});
L.run();

const A = suite('QMP arguments');
A('should pass a speed only when limited, and never dismiss jobs on their own', () => {
  assert.equal(streamArgs('j', 'drive-disk0', 0), { 'job-id': 'j', device: 'drive-disk0', 'auto-dismiss': false });
  assert.equal(streamArgs('j', 'drive-disk0', 1048576), { 'job-id': 'j', device: 'drive-disk0', 'auto-dismiss': false, speed: 1048576 });
  assert.equal(mirrorArgs('j', 'drive-disk0', 't', 5), { 'job-id': 'j', device: 'drive-disk0', target: 't', sync: 'full', 'auto-dismiss': false, speed: 5 });
  assert.equal(mirrorTargetArgs('t', '/i/x.raw'), { driver: 'raw', 'node-name': 't', discard: 'unmap', file: { driver: 'file', filename: '/i/x.raw' } });
});
A.run();
