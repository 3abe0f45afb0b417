/**
 * The accelerator choice through lighttpd, with the real probe and real
 * QEMU: this host's verdict (whatever its KVM is), the node's and the
 * guest's setting, KVM forced for a boot-sector guest, and a second node
 * whose KVM device does not open (RAMVM_KVM_DEVICE names a missing path),
 * which is what a host without KVM looks like.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sharedTempDir, startTestNode, type Client, type TestNode } from '../helpers/node';
import { createSectorGuest, GUEST_MARKER, killGuests, waitFor, waitForSerial } from '../helpers/guest';
import { bootId, kvmDeviceError } from '../../node-cgi/vm/accel';
import { DIST } from '../../build/build';

const test = suite('accelerator');
let node: TestNode;
let api: Client;

test.before(async () => {
  node = await startTestNode();
  api = await node.login('admin', node.adminPassword);
});
test.after(async () => {
  if (!node) return;
  await killGuests(node.root);
  await node.stop();
});

/** Under this kind of host's KVM the BIOS takes seconds. */
const BOOT_TIMEOUT_MS = 60_000;
const after = (argv: string[], flag: string) => argv.filter((_, i) => argv[i - 1] === flag);
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

const bootable = createSectorGuest;

async function startAndSeeMarker(c: Client, root: string, vmid: number): Promise<string[]> {
  const r = await c.post(`/api/vm/${vmid}/start`);
  assert.is(r.status, 200, r.text);
  await waitForSerial(join(root, 'run/ramvm/qemu', `${vmid}.serial.log`), GUEST_MARKER, BOOT_TIMEOUT_MS);
  return cmdline(r.json.data.pid);
}

test("should probe this host's KVM once per boot and say what auto picks and why", async () => {
  const r = await api.get('/api/node/testnode/resources');
  assert.is(r.status, 200, r.text);
  const n = r.json.data;
  const p = n.kvmProbe;
  assert.is(p.bootId, bootId());
  assert.is(p.kvmDevice, kvmDeviceError() === null);
  assert.equal([n.accelSetting, n.accel, n.accelReason], ['auto', p.accel, `auto (the node's setting): ${p.reason}`]);
  if (!p.kvmDevice) assert.match(p.reason, /^no usable KVM device \(\/dev\/kvm: /);
  else {
    assert.ok(p.tcgCycles > 0, 'the firmware ran under TCG');
    if (p.accel === 'kvm') assert.ok(p.kvmCycles <= p.tcgCycles, 'KVM beat TCG');
    else assert.match(p.reason, /^KVM failed the probe: |slower than TCG$/);
  }
  process.stdout.write(`\n  probe on this host: ${p.accel} in ${p.ms} ms: ${p.reason}\n`);
  const again = (await api.get('/api/node/testnode/resources')).json.data.kvmProbe;
  assert.is(again.at, p.at, 'kept for this boot, not probed again');
  const kept = JSON.parse(readFileSync(join(node.root, 'run/ramvm/accel.json'), 'utf8'));
  assert.is(kept.at, p.at);
});

test("should set the node's accelerator, refusing what it does not know by name", async () => {
  assert.equal((await api.get('/api/node/testnode/settings')).json.data, { memoryOvercommit: 1, accel: 'auto' });
  const bad = await api.put('/api/node/testnode/settings', { accel: 'fast' });
  assert.is(bad.status, 400);
  assert.equal(bad.json.error, { code: 'invalid', message: 'accel: must be one of auto, kvm, tcg' });
  const put = await api.put('/api/node/testnode/settings', { accel: 'tcg' });
  assert.is(put.status, 200, put.text);
  assert.equal(put.json.data, { memoryOvercommit: 1, accel: 'tcg' });
  const n = (await api.get('/api/node/testnode/resources')).json.data;
  assert.equal([n.accel, n.accelSetting, n.accelReason], ['tcg', 'tcg', "TCG: the node's setting"]);
  assert.is((await api.put('/api/node/testnode/settings', { accel: 'auto' })).status, 200);
});

test("should take a guest's own accelerator, refuse unknown ones, and fall back to the node's with null", async () => {
  const bad = await api.post('/api/vm', { name: 'badaccel', accel: 'hvf' });
  assert.is(bad.status, 400);
  assert.equal(bad.json.error, { code: 'invalid', message: "accel: must be one of auto, kvm, tcg, or null for the node's setting" });
  const r = await api.post('/api/vm', { name: 'own', memory: 32, nics: [], disks: [], accel: 'tcg' });
  assert.is(r.status, 201, r.text);
  const vmid = r.json.data.vmid;
  assert.is(r.json.data.accel, 'tcg');
  let g = (await api.get(`/api/vm/${vmid}`)).json.data;
  assert.equal([g.accel, g.runtime.accel, g.runtime.accelSetting, g.runtime.accelSource, g.runtime.accelReason], ['tcg', 'tcg', 'tcg', 'guest', 'TCG: set on the guest']);
  const badPut = await api.put(`/api/vm/${vmid}`, { accel: 'KVM' });
  assert.is(badPut.status, 400);
  assert.match(badPut.json.error.message, /^accel: must be one of auto, kvm, tcg/);
  const cleared = await api.put(`/api/vm/${vmid}`, { accel: null });
  assert.is(cleared.status, 200, cleared.text);
  g = cleared.json.data;
  const n = (await api.get('/api/node/testnode/resources')).json.data;
  assert.equal([g.accel, g.runtime.accelSource, g.runtime.accelSetting, g.runtime.accel], [undefined, 'node', 'auto', n.accel]);
  assert.is((await api.del(`/api/vm/${vmid}`)).status, 204);
});

test("should start a guest that follows the node under the probe's pick, and list a changed accelerator as pending", async () => {
  const vmid = await bootable(api, node.root, { name: 'follows' });
  const pick = (await api.get('/api/node/testnode/resources')).json.data.accel;
  const argv = await startAndSeeMarker(api, node.root, vmid);
  assert.equal(after(argv, '-accel'), [pick]);
  const other = pick === 'kvm' ? 'tcg' : 'kvm';
  const put = await api.put(`/api/vm/${vmid}`, { accel: other });
  assert.is(put.status, 200, put.text);
  assert.equal([put.json.data.runtime.accel, put.json.data.runtime.pending], [pick, ['accel']], 'the running QEMU keeps its accelerator until the next start');
  assert.is((await api.post(`/api/vm/${vmid}/stop`)).status, 200);
});

test('should run a boot-sector guest under KVM when KVM is forced, where the KVM device opens', async () => {
  const vmid = await bootable(api, node.root, { name: 'forced', accel: 'kvm' });
  if (kvmDeviceError() !== null) {
    const r = await api.post(`/api/vm/${vmid}/start`);
    assert.is(r.status, 409, r.text);
    return;
  }
  const argv = await startAndSeeMarker(api, node.root, vmid);
  assert.equal(after(argv, '-accel'), ['kvm']);
  const g = (await api.get(`/api/vm/${vmid}`)).json.data;
  assert.equal([g.status, g.runtime.accel, g.fault], ['running', 'kvm', undefined]);
  // A QEMU that dies under KVM: the guest reads stopped, and the note names KVM as a suspect.
  process.kill(g.runtime.pid, 'SIGKILL');
  await waitFor('the killed QEMU gone', async () => (await api.get(`/api/vm/${vmid}/status`)).json.data.status === 'stopped');
  assert.match((await api.get(`/api/vm/${vmid}`)).json.data.note, /ended without a shutdown.*It ran under KVM: .*set its accelerator to TCG/);
});

test('should pick TCG on a host whose KVM device does not open, and refuse forced KVM there', async () => {
  // Open to the node's user: the device is missing, not out of reach.
  const dir = sharedTempDir('ramvm-nokvm-');
  const device = join(dir, 'kvm');
  const nokvm = await startTestNode({ node: 'nokvm', env: { RAMVM_KVM_DEVICE: device } });
  try {
    const c = await nokvm.login('admin', nokvm.adminPassword);
    const n = (await c.get('/api/node/nokvm/resources')).json.data;
    assert.equal([n.kvm, n.kvmProbe.kvmDevice, n.accel], [false, false, 'tcg']);
    assert.is(n.accelReason, `auto (the node's setting): no usable KVM device (${device}: ENOENT)`);
    const cli = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'accel'], { env: { ...nokvm.env, RAMVM_KVM_DEVICE: device }, encoding: 'utf8' });
    assert.is(cli.stdout, `tcg: no usable KVM device (${device}: ENOENT) (probe ${n.kvmProbe.ms} ms)\n`, cli.stderr);

    const forced = await bootable(c, nokvm.root, { name: 'wantskvm', accel: 'kvm' });
    const refused = await c.post(`/api/vm/${forced}/start`);
    assert.is(refused.status, 409, refused.text);
    assert.is(refused.json.error.message, `KVM is set on the guest, but this node has no usable KVM device (${device}: ENOENT); set accel to "auto" or "tcg"`);
    assert.match((await c.get(`/api/vm/${forced}`)).json.data.runtime.accelReason, /^KVM is set on the guest, but this node has no usable KVM device/);

    const auto = await bootable(c, nokvm.root, { name: 'autotcg' });
    const argv = await startAndSeeMarker(c, nokvm.root, auto);
    assert.equal(after(argv, '-accel'), ['tcg']);
    assert.is((await c.post(`/api/vm/${auto}/stop`)).status, 200);
  } finally {
    await killGuests(nokvm.root);
    await nokvm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
