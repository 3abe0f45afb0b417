/**
 * Guest networking: a NIC on an existing bridge gets a tap in that bridge;
 * on a bridge that does not exist it falls back to user-mode NAT, and the
 * API says which. The test makes its own bridge (no address, no uplink)
 * and removes it again.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { withQmp } from '../../node-cgi/qemu/qmp';
import { GUEST_MARKER, installBootSector, waitFor, waitForSerial } from '../helpers/guest';

const test = suite('guest networking');
const BRIDGE = `gstbr${process.pid % 100000}`;

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

// The bridge first: the node's guests find it at their start.
test.before(() => ip('link', 'add', 'name', BRIDGE, 'type', 'bridge'));
const fx = useNode(test);
fx.cleanups.push(() => ip('link', 'del', BRIDGE));

test('should put a tap into an existing bridge and use NAT where the bridge is missing', async () => {
  const r = await fx.admin.post('/api/vm', {
    name: 'net',
    memory: 32,
    disks: [{ size: '1M', format: 'raw' }],
    nics: [{ model: 'virtio', bridge: BRIDGE }, { model: 'e1000', bridge: 'nosuchbr0' }],
  });
  assert.is(r.status, 201, r.text);
  const { vmid, nics } = r.json.data;
  installBootSector(join(fx.root, `var/lib/vz/images/${vmid}/vm-${vmid}-disk-0.raw`), 'raw');
  const planned = (await fx.admin.get(`/api/vm/${vmid}`)).json.data.runtime.net;
  assert.equal(planned, [
    { id: 'net0', mode: 'tap', bridge: BRIDGE, ifname: `tap${vmid}i0` },
    { id: 'net1', mode: 'user', bridge: 'nosuchbr0' },
  ]);
  const s = await fx.admin.post(`/api/vm/${vmid}/start`);
  assert.is(s.status, 200, s.text);
  await waitForSerial(join(fx.root, `run/ramvm/qemu/${vmid}.serial.log`), GUEST_MARKER);
  const tap = `tap${vmid}i0`;
  assert.ok(existsSync(`/sys/class/net/${BRIDGE}/brif/${tap}`), 'the tap is a port of the bridge');
  assert.match(readFileSync(`/sys/class/net/${tap}/operstate`, 'utf8'), /up|unknown/);
  const running = (await fx.admin.get(`/api/vm/${vmid}`)).json.data;
  assert.equal(running.runtime.net, planned);
  // The virtio NIC carries the MAC generated at create.
  const filters = await withQmp(join(fx.root, `run/ramvm/qemu/${vmid}.qmp`), (q) => q.execute<any[]>('query-rx-filter', { name: 'net0' }));
  assert.is(filters[0]['main-mac'].toUpperCase(), nics[0].mac);
  assert.is((await fx.admin.post(`/api/vm/${vmid}/stop`)).status, 200);
  await waitFor('tap removed', () => !existsSync(`/sys/class/net/${tap}`));
  assert.is((await fx.admin.del(`/api/vm/${vmid}`)).status, 204);
});

test.run();
