import { suite } from '../../helpers/suite';
import { useTempRoot } from '../../helpers/temp-root';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accelChoice, bootId, currentVerdict, hostAccel, kvmDeviceError } from '../../../node-cgi/vm/accel';
import type { HostAccel } from '../../../node-cgi/vm/types';

const probeSaysTcg = { accel: 'tcg' as const, reason: 'KVM failed the probe: KVM internal error. Suberror: 1 (in long mode, at lock cmpxchg16b on a page table)' };
const probeSaysKvm = { accel: 'kvm' as const, reason: 'KVM ran the probe, page-table work 15.0× faster than TCG' };
const opens = { deviceError: null, device: '/dev/kvm' };
const missing = { deviceError: 'ENOENT', device: '/dev/kvm' };

const C = suite('accelChoice');
C("should follow the node's setting when the guest has none", () => {
  assert.equal(accelChoice(undefined, 'tcg', opens), { accel: 'tcg', setting: 'tcg', source: 'node', reason: "TCG: the node's setting" });
  assert.equal(accelChoice(undefined, 'auto', { ...opens, probe: probeSaysTcg }), {
    accel: 'tcg', setting: 'auto', source: 'node', reason: `auto (the node's setting): ${probeSaysTcg.reason}`,
  });
});
C("should let the guest's own setting win over the node's", () => {
  assert.equal(accelChoice('tcg', 'kvm', opens).accel, 'tcg');
  const c = accelChoice('kvm', 'tcg', opens);
  assert.equal([c.accel, c.source, c.reason, c.refusal], ['kvm', 'guest', 'KVM: set on the guest', undefined]);
  assert.equal(accelChoice('auto', 'tcg', { ...opens, probe: probeSaysKvm }).accel, 'kvm', 'auto on the guest: the probe decides');
});
C('should give KVM where it is wanted even when the probe found it unfit (the admin decides)', () => {
  assert.equal(accelChoice('kvm', 'auto', { ...opens, probe: probeSaysTcg }).accel, 'kvm');
});
C('should refuse KVM on a node without a KVM device, saying what to do', () => {
  assert.is(accelChoice('kvm', 'auto', missing).refusal, 'KVM is set on the guest, but this node has no usable KVM device (/dev/kvm: ENOENT); set accel to "auto" or "tcg"');
  assert.match(accelChoice(undefined, 'kvm', missing).refusal!, /^KVM is the node's setting, but/);
});
C('should insist on the probe for "auto"', () => {
  assert.throws(() => accelChoice('auto', 'tcg', opens), /accel "auto" needs the probe/);
});
C.run();

const kept: HostAccel = {
  bootId: 'b1', device: '/dev/kvm', kvmDevice: true, cpu: 'kvm64', accel: 'tcg', reason: 'r', kvmCycles: 2, tcgCycles: 1, ms: 400, at: 1,
};
const K = suite('currentVerdict');
K('should keep a verdict of this boot, device and CPU model', () => {
  assert.is(currentVerdict(kept, { bootId: 'b1', device: '/dev/kvm', cpu: 'kvm64' }), kept);
});
K('should drop one of another boot, device or CPU model, and anything malformed', () => {
  assert.is(currentVerdict(kept, { bootId: 'b2', device: '/dev/kvm', cpu: 'kvm64' }), undefined, 'rebooted');
  assert.is(currentVerdict(kept, { bootId: 'b1', device: '/x/kvm', cpu: 'kvm64' }), undefined, 'another device');
  assert.is(currentVerdict(kept, { bootId: 'b1', device: '/dev/kvm', cpu: 'max' }), undefined, "the lab's CPU");
  assert.is(currentVerdict({ ...kept, accel: 'hvf' as never }, { bootId: 'b1', device: '/dev/kvm', cpu: 'kvm64' }), undefined);
  assert.is(currentVerdict(undefined, { bootId: 'b1', device: '/dev/kvm', cpu: 'kvm64' }), undefined);
});
K.run();

const D = suite('kvmDeviceError');
const droot = useTempRoot(D);
D('should say why a device does not open, and nothing when it does', () => {
  assert.is(kvmDeviceError(join(droot.path, 'no-such-kvm')), 'ENOENT');
  const f = join(droot.path, 'stand-in');
  writeFileSync(f, '');
  assert.is(kvmDeviceError(f), null);
});
D.run();

const H = suite('hostAccel');
const hroot = useTempRoot(H);
const noKvm = () => join(hroot.path, 'absent-kvm');
H('should pick TCG without starting QEMU when the KVM device does not open, and keep it for this boot', async () => {
  const dir = mkdtempSync(join(hroot.path, 'h-'));
  const file = join(dir, 'accel.json');
  const v = await hostAccel({ file, device: noKvm() });
  assert.equal([v.accel, v.kvmDevice, v.reason, v.bootId], ['tcg', false, `no usable KVM device (${noKvm()}: ENOENT)`, bootId()]);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')), v);
  const again = await hostAccel({ file, device: noKvm() });
  assert.is(again.at, v.at, 'read back, not probed again');
  await new Promise((r) => setTimeout(r, 5));
  assert.ok((await hostAccel({ file, device: noKvm(), force: true })).at > v.at, '--probe probes again');
});
H('should probe again after a reboot (another boot id in the file)', async () => {
  const dir = mkdtempSync(join(hroot.path, 'h-'));
  const file = join(dir, 'accel.json');
  writeFileSync(file, JSON.stringify({ ...kept, bootId: 'an-earlier-boot', device: noKvm(), cpu: 'kvm64,+lahf_lm,+sep,+cx16,+popcnt,+ssse3,+sse4.1,+sse4.2', accel: 'kvm' }));
  const v = await hostAccel({ file, device: noKvm() });
  assert.equal([v.accel, v.bootId], ['tcg', bootId()]);
});
H("should wait for another prober's verdict instead of probing twice", async () => {
  const dir = mkdtempSync(join(hroot.path, 'h-'));
  const file = join(dir, 'accel.json');
  mkdirSync(`${file}.probing`);
  writeFileSync(join(`${file}.probing`, 'pid'), String(process.pid)); // a live prober
  const theirs = { ...kept, bootId: bootId(), device: noKvm(), cpu: 'kvm64,+lahf_lm,+sep,+cx16,+popcnt,+ssse3,+sse4.1,+sse4.2', reason: 'their verdict' };
  setTimeout(() => writeFileSync(file, JSON.stringify(theirs)), 300);
  const v = await hostAccel({ file, device: noKvm() });
  assert.is(v.reason, 'their verdict');
});
H('should break the claim of a prober that died', async () => {
  const dir = mkdtempSync(join(hroot.path, 'h-'));
  const file = join(dir, 'accel.json');
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  mkdirSync(`${file}.probing`);
  writeFileSync(join(`${file}.probing`, 'pid'), gone);
  const v = await hostAccel({ file, device: noKvm() });
  assert.match(v.reason, /^no usable KVM device/);
});
H.run();
