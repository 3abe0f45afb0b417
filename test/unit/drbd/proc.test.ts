/**
 * node-cgi/drbd/proc.ts. proc-drbd-8.4.11-loaded.node1.txt was captured on
 * a lab node (Debian's 6.1 kernel, its drbd.ko 8.4.11, no resource yet) by
 * test/lab/drbd.test.ts with RAMVM_DRBD_CAPTURE set; the device
 * lines below are written after drbd_proc.c's format (8.4), not captured.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceOf, parseProcDrbd, replicationOf, splitBrainInLog } from '../../../node-cgi/drbd/proc';

const LOADED = readFileSync(join(__dirname, 'fixtures', 'proc-drbd-8.4.11-loaded.node1.txt'), 'utf8');
/** The loaded module's header and one device line set, in drbd_proc.c's 8.4 format. */
const withDevice = (lines: string) => LOADED.trimEnd() + '\n' + lines;

const P = suite('parseProcDrbd');
P('should read the version of the module a lab node loads', () => {
  assert.is(parseProcDrbd(LOADED).version, '8.4.11');
});
P('should list no device while none is configured', () => {
  assert.equal(parseProcDrbd(LOADED).devices, []);
});
P('should read roles, connection, disk states, protocol and out-of-sync KiB', () => {
  const p = parseProcDrbd(withDevice(' 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n    ns:4 nr:0 dw:4 dr:912 al:1 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n'));
  assert.equal(deviceOf(p, 0), { minor: 0, connection: 'Connected', role: 'Primary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'UpToDate', protocol: 'C', outOfSyncKiB: 0 });
});
P('should read a StandAlone device, which has no protocol', () => {
  const p = parseProcDrbd(withDevice(' 1: cs:StandAlone ro:Secondary/Unknown ds:UpToDate/DUnknown   r-----\n    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:48\n'));
  assert.equal(deviceOf(p, 1), { minor: 1, connection: 'StandAlone', role: 'Secondary', peerRole: 'Unknown', disk: 'UpToDate', peerDisk: 'DUnknown', outOfSyncKiB: 48 });
});
P('should read a resync in KiB and in MiB, and an online verify', () => {
  const sync = parseProcDrbd(withDevice(' 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n    ns:3072 nr:0 dw:0 dr:4040 al:8 bm:0 lo:0 pe:2 ua:0 ap:0 ep:1 wo:f oos:62460\n\t[>...................] sync\'ed:  5.2% (62460/65532)K\n\tfinish: 0:00:20 speed: 3,072 (3,072) K/sec\n'));
  assert.equal(deviceOf(sync, 0)!.sync, { kind: 'sync', percent: 5.2, leftKiB: 62460, totalKiB: 65532 });
  const big = parseProcDrbd(withDevice(' 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----\n\t[=>..................] sync\'ed: 10.0% (448976/498862)M\n'));
  assert.equal(deviceOf(big, 0)!.sync, { kind: 'sync', percent: 10, leftKiB: 448976 * 1024, totalKiB: 498862 * 1024 });
  const verify = parseProcDrbd(withDevice(' 0: cs:VerifyS ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n\t[====>...............] verified: 22.1% (51000/65532)K\n'));
  assert.is(deviceOf(verify, 0)!.sync!.kind, 'verify');
});
P('should list an unconfigured minor with its connection only', () => {
  assert.equal(deviceOf(parseProcDrbd(withDevice(' 3: cs:Unconfigured\n')), 3), { minor: 3, connection: 'Unconfigured' });
});
const BAD: [string, RegExp, string][] = [
  ['', /\/proc\/drbd: cannot read the version: ""/, 'an empty file'],
  ['version: 9.2.4 (api:2/proto:86-122)\n', /DRBD 9\.2\.4 is not the 8\.4 module this parser reads/, 'DRBD 9, which lists no devices here'],
  [withDevice(' 0: cs:Connected ro:Leader/Secondary ds:UpToDate/UpToDate C r-----\n'), /cannot read a role: " 0: cs:Connected ro:Leader/, 'an unknown role'],
  [withDevice(' 0: cs:Connected st:Primary/Secondary ds:UpToDate/UpToDate C r---\n'), /cannot read minor 0: " 0: cs:Connected st:/, 'the 8.0 format'],
];
for (const [text, re, why] of BAD) P(`should refuse ${why}`, () => assert.throws(() => parseProcDrbd(text), re));
P.run();

const R = suite('replicationOf');
R('should say 100 percent synced when both sides are UpToDate and connected', () => {
  const d = deviceOf(parseProcDrbd(withDevice(' 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n')), 0);
  assert.equal(replicationOf(d, 'node2'), { peer: 'node2', state: 'UpToDate', synced: 100, connection: 'Connected', role: 'Primary', peerState: 'UpToDate' });
});
R('should give the resync progress while one runs', () => {
  const d = deviceOf(parseProcDrbd(withDevice(' 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----\n\t[>...................] sync\'ed:  5.2% (62460/65532)K\n')), 0);
  assert.is(replicationOf(d, 'node1').synced, 5.2);
  assert.is(replicationOf(d, 'node1').state, 'Inconsistent');
});
R('should not claim a percentage while disconnected or down', () => {
  const d = deviceOf(parseProcDrbd(withDevice(' 1: cs:StandAlone ro:Secondary/Unknown ds:UpToDate/DUnknown   r-----\n')), 1);
  assert.is(replicationOf(d, 'node2').synced, null);
  assert.equal(replicationOf(undefined, 'node2'), { peer: 'node2', state: 'Unconfigured', synced: null, connection: 'Unconfigured', role: null, peerState: null });
});
R.run();

const S = suite('splitBrainInLog');
/** A lab node's kernel log: a split brain made on purpose, then solved by the peer's discard (test/lab/drbd.test.ts). */
const SPLIT_LOG = readFileSync(join(__dirname, 'fixtures/dmesg-split-brain-resolved.node1.txt'), 'utf8');
const cut = (upTo: RegExp) => {
  const lines = SPLIT_LOG.split('\n');
  return lines.slice(0, lines.findIndex((l) => upTo.test(l)) + 1).join('\n');
};
S('should say split brain once the kernel dropped the connection over one', () => {
  assert.is(splitBrainInLog(cut(/Split-Brain detected but unresolved/), 0, 'vm-101-disk-0'), true);
  assert.is(splitBrainInLog(cut(/conn\( Disconnecting -> StandAlone \)/), 0, 'vm-101-disk-0'), true);
});
S('should say no split brain once it was solved and the disks connected again', () => {
  assert.is(splitBrainInLog(cut(/manually solved/), 0, 'vm-101-disk-0'), false);
  assert.is(splitBrainInLog(SPLIT_LOG, 0, 'vm-101-disk-0'), false);
});
S('should not take another minor\'s split brain for this one', () => {
  assert.is(splitBrainInLog(cut(/Split-Brain detected but unresolved/), 1, 'vm-102-disk-0'), false);
});
S('should say none for a plain disconnect', () => {
  assert.is(splitBrainInLog(cut(/conn\( Unconnected -> WFConnection \)/), 0, 'vm-101-disk-0'), false);
});
S.run();

const C = suite('parseProcDrbd on lab captures');
/** /proc/drbd read on lab nodes by test/lab/drbd.test.ts (RAMVM_DRBD_CAPTURE), each with what the API shows of it. */
const CAPTURES: [string, Partial<ReturnType<typeof replicationOf>>][] = [
  ['connected-inconsistent.node1', { state: 'Inconsistent', synced: null, connection: 'Connected', role: 'Secondary', peerState: 'Inconsistent' }],
  ['connected-uptodate.node1', { state: 'UpToDate', synced: 100, connection: 'Connected', role: 'Secondary', peerState: 'UpToDate' }],
  ['primary.node1', { state: 'UpToDate', synced: 100, connection: 'Connected', role: 'Primary', peerState: 'UpToDate' }],
  ['secondary.node2', { state: 'UpToDate', synced: 100, connection: 'Connected', role: 'Secondary', peerState: 'UpToDate' }],
  ['peer-gone.node2', { state: 'UpToDate', synced: null, connection: 'WFConnection', role: 'Secondary', peerState: 'DUnknown' }],
];
C('should read each captured state as the API shows it', () => {
  for (const [name, want] of CAPTURES) {
    const text = readFileSync(join(__dirname, 'fixtures', `proc-drbd-8.4.11-${name}.txt`), 'utf8');
    const r = replicationOf(deviceOf(parseProcDrbd(text), 0), 'peer');
    assert.equal(r, { peer: 'peer', ...want } as ReturnType<typeof replicationOf>, name);
  }
});
C.run();
