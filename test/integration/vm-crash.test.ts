/**
 * Crashed guests, produced for real by boot sectors under real QEMU and read
 * through lighttpd: the status says "paused" with a `fault`, resume, pause
 * and shutdown answer 409 saying what works, and reset and stop work.
 *
 *   guest-panicked   a sector that reports a panic on the pvpanic port (TCG)
 *   internal-error   a sector that jumps into the VGA window under KVM (where
 *                    the KVM device opens; else forced KVM is refused)
 *   shutdown         the ACPI-aware test sector, powered off in a QEMU that
 *                    runs the guest's own command line plus -no-shutdown
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, type Client, type TestNode } from '../helpers/node';
import { crashSector, createSectorGuest, GUEST_MARKER, killGuests, launchAsNode, waitFor, waitForSerial } from '../helpers/guest';
import { kvmDeviceError } from '../../node-cgi/vm/accel';

const test = suite('crashed guests');
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

const serialLog = (vmid: number) => join(node.root, 'run/ramvm/qemu', `${vmid}.serial.log`);
const markers = (vmid: number) => readFileSync(serialLog(vmid), 'latin1').split(GUEST_MARKER).length - 1;
/** Under this kind of host's KVM the BIOS takes seconds; TCG boots a sector in about one. */
const BOOT_TIMEOUT_MS = 60_000;

const createWith = (sector: Buffer | undefined, body: Record<string, unknown>) => createSectorGuest(api, node.root, body, sector);

async function faultOf(vmid: number, state: string): Promise<any> {
  return waitFor(`fault ${state} of guest ${vmid}`, async () => {
    const g = (await api.get(`/api/vm/${vmid}`)).json.data;
    return g.fault?.state === state ? g : null;
  }, BOOT_TIMEOUT_MS, 200);
}

/** The actions a crash does not allow answer 409 with what to do. */
async function refusesAllButResetAndStop(vmid: number, state: string): Promise<void> {
  const posts: [string, unknown, string][] = [
    ['resume', undefined, 'resume'],
    ['pause', undefined, 'pause'],
    ['shutdown', undefined, 'an ACPI shutdown'],
    ['shutdown', { timeout: 5 }, 'an ACPI shutdown'],
  ];
  for (const [action, body, what] of posts) {
    const r = await api.post(`/api/vm/${vmid}/${action}`, body);
    assert.is(r.status, 409, `${action}: ${r.text}`);
    assert.is(r.json.error.code, 'conflict');
    assert.is(r.json.error.message, `guest ${vmid} has crashed (${state}): ${what} cannot help; reset it (POST /api/vm/${vmid}/reset) or stop it (POST /api/vm/${vmid}/stop)`);
  }
}

async function resetBootsAgainThenStop(vmid: number): Promise<void> {
  const before = markers(vmid);
  const r = await api.post(`/api/vm/${vmid}/reset`);
  assert.is(r.status, 200, r.text);
  await waitFor('the guest booting again after the reset', () => markers(vmid) > before, BOOT_TIMEOUT_MS, 100);
  const s = await api.post(`/api/vm/${vmid}/stop`);
  assert.is(s.status, 200, s.text);
  assert.equal([s.json.data.status, s.json.data.fault], ['stopped', undefined]);
}

test('should show a guest whose OS panicked as crashed (guest-panicked), refuse resume, and reset and stop it', async () => {
  const vmid = await createWith(crashSector('panic'), { name: 'panics', accel: 'tcg' });
  assert.is((await api.post(`/api/vm/${vmid}/start`)).status, 200);
  await waitForSerial(serialLog(vmid), GUEST_MARKER, BOOT_TIMEOUT_MS);
  const g = await faultOf(vmid, 'guest-panicked');
  assert.equal([g.status, g.qmpStatus, g.fault.actions, g.fault.kvmSuspect], ['paused', 'guest-panicked', ['reset', 'stop'], false]);
  assert.match(g.fault.message, /crashed \(it reported a panic\)/);
  const row = (await api.get('/api/vm')).json.data.find((e: any) => e.vmid === vmid);
  assert.is(row.fault.state, 'guest-panicked', 'the list says so too');
  const st = (await api.get(`/api/vm/${vmid}/status`)).json.data;
  assert.is(st.fault.state, 'guest-panicked');
  await refusesAllButResetAndStop(vmid, 'guest-panicked');
  await resetBootsAgainThenStop(vmid);
});

test("should show a guest KVM could not run as crashed (internal-error), blame the host's KVM and suggest TCG", async () => {
  const vmid = await createWith(crashSector('mmio'), { name: 'mmio', accel: 'kvm' });
  const device = kvmDeviceError();
  if (device !== null) {
    // No KVM here: the forced KVM start is refused, saying what to do.
    const r = await api.post(`/api/vm/${vmid}/start`);
    assert.is(r.status, 409, r.text);
    assert.match(r.json.error.message, /KVM is set on the guest, but this node has no usable KVM device .*set accel to "auto" or "tcg"/);
    return;
  }
  const r = await api.post(`/api/vm/${vmid}/start`);
  assert.is(r.status, 200, r.text);
  await waitForSerial(serialLog(vmid), GUEST_MARKER, BOOT_TIMEOUT_MS);
  const g = await faultOf(vmid, 'internal-error');
  assert.equal([g.status, g.qmpStatus, g.runtime.accel, g.fault.kvmSuspect], ['paused', 'internal-error', 'kvm', true]);
  assert.match(g.fault.message, /points at the host's KVM.*PUT \/api\/vm\/\d+ \{"accel": "tcg"\}/);
  await refusesAllButResetAndStop(vmid, 'internal-error');
  await resetBootsAgainThenStop(vmid);
  // What the message says, done: under TCG the same guest runs on.
  assert.is((await api.put(`/api/vm/${vmid}`, { accel: 'tcg' })).status, 200);
  const again = await api.post(`/api/vm/${vmid}/start`);
  assert.is(again.status, 200, again.text);
  await waitForSerial(serialLog(vmid), GUEST_MARKER, BOOT_TIMEOUT_MS);
  await new Promise((res) => setTimeout(res, 1500));
  const t = (await api.get(`/api/vm/${vmid}`)).json.data;
  assert.equal([t.runtime.accel, t.fault], ['tcg', undefined]);
  assert.is((await api.post(`/api/vm/${vmid}/stop`)).status, 200);
});

test('should show a guest that powered off in a QEMU kept by -no-shutdown as crashed (shutdown), and reset and stop it', async () => {
  const vmid = await createWith(undefined, { name: 'offkept', accel: 'tcg' });
  const started = await api.post(`/api/vm/${vmid}/start`);
  assert.is(started.status, 200, started.text);
  const argv = readFileSync(`/proc/${started.json.data.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  assert.is((await api.post(`/api/vm/${vmid}/stop`)).status, 200);
  // The guest's own command line, as an older node or a hand-started QEMU would run it.
  await launchAsNode(node.server, vmid, [...argv, '-no-shutdown']);
  await waitForSerial(serialLog(vmid), GUEST_MARKER, BOOT_TIMEOUT_MS);
  assert.is((await api.get(`/api/vm/${vmid}`)).json.data.status, 'running');
  const down = await api.post(`/api/vm/${vmid}/shutdown`);
  assert.is(down.status, 200, down.text);
  const g = await faultOf(vmid, 'shutdown');
  assert.equal([g.status, g.qmpStatus, g.fault.actions], ['paused', 'shutdown', ['reset', 'stop']]);
  assert.match(g.fault.message, /powered off, but its QEMU process was kept/);
  await refusesAllButResetAndStop(vmid, 'shutdown');
  await resetBootsAgainThenStop(vmid);
});

test.run();
