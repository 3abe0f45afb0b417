/**
 * Two prepared nodes of a cluster, booted for real (build/lab/cluster.ts):
 * the image, two nodes' prepared cpios (certificates made at build time, a
 * shared secret), each node booted from kernel + initrd ++ its cpio on a
 * blank sparse disk with no name, address or data disk on its command line.
 * Once: they format their disks, node1 creates cluster "lab", node2 joins it
 * pinned to node1's build-time fingerprint with its derived token; both list
 * each other, and a guest is created on node2 through node1.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type ImageBuild } from '../../build/image/image';
import { FORM_PERCENT } from '../../build/image/prepared';
import { startHub, type Hub } from '../../build/lab/hub';
import { acquireLabLock, type LabLock } from '../../build/lab/lock';
import { LAB_CLUSTER } from '../../build/lab/cluster';
import { labAccel, type NodeVm, type Accel } from '../../build/lab/node-vm';
import { bootPreparedPair } from '../helpers/prepared-cluster';

/** Generous: the two TCG nodes share the machine's two cores with other suites. */
const SERVE_TIMEOUT_MS = 360_000;
const FORM_TIMEOUT_MS = 300_000;
const PASSWORD = 'cluster-image-test-pw';

const T = suite('prepared cluster images');
let image: ImageBuild;
let dir: string;
let hub: Hub | undefined;
let lock: LabLock | undefined;
let accel: Accel;
const vms: NodeVm[] = [];

T.before(async () => {
  lock = await acquireLabLock({ what: 'the cluster image test', wait: true, onWait: (h) => process.stderr.write(`cluster image test: waiting for the lab lock (${h})\n`) });
  accel = (await labAccel()).accel;
  image = await buildImage({ iso: false });
  dir = mkdtempSync(join(tmpdir(), 'ramvm-cluster-image-test-'));
  hub = await startHub();
});

T.after(async () => {
  await Promise.all(vms.map((v) => v.stop()));
  await hub?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  lock?.release();
});

T('should form the cluster by themselves: both list each other, and a guest is made on node2 through node1', async () => {
  const pair = await bootPreparedPair({
    image, dir, hubPort: hub!.port, accel, password: PASSWORD, memoryMiB: 1536, onStart: (vm) => vms.push(vm),
    serveTimeoutMs: SERVE_TIMEOUT_MS, formTimeoutMs: FORM_TIMEOUT_MS,
  });
  const { api1, api2, cluster: c1, vmid } = pair;
  const [n1, n2] = pair.vms;
  process.stdout.write(`\n  power-on to both nodes listing each other and a guest made on node2 through node1: ${(pair.readyMs / 1000).toFixed(1)} s (${accel})\n`);
  const names = (c: { nodes: { name: string }[] }) => c.nodes.map((n) => n.name).sort();
  assert.is(c1.name, LAB_CLUSTER);
  assert.is(c1.master, 'node1');
  assert.equal(names(c1), ['node1', 'node2']);
  const c2 = (await api2.get('/api/cluster')).json.data;
  assert.equal(names(c2), ['node1', 'node2']);
  assert.is(c2.master, 'node1');
  assert.is(c2.self, 'node2');

  const seen = (await api2.get(`/api/vm/${vmid}`)).json.data;
  assert.is(seen.name, 'on-two');
  assert.is((await n2.exec(`test -f /etc/ramvm/vms/${vmid}.json`)).code, 0, 'the guest config lies on node2');

  // The set-up log: steps with percentages, waiting at 92 % while the cluster forms, 100 % once formed.
  const log2 = (await n2.exec('cat /ram.log')).out;
  assert.match(log2, /datadisk=auto: the first blank disk/);
  assert.match(log2, new RegExp(` ${FORM_PERCENT}% cluster lab: joining the master node1 at https://10\\.99\\.0\\.1:8007`));
  assert.match(log2, /100% cluster lab: formed: the cluster lists node1, node2/);
  assert.not.match(log2, /FAILED/);
  // The same log through the API, node2's asked at node1.
  const viaApi = await api1.get('/api/node/node2/setup-log');
  assert.is(viaApi.status, 200, viaApi.text);
  assert.is(viaApi.json.data.percent, 100);
  assert.ok(viaApi.json.data.lines.some((l: string) => /cluster lab: formed/.test(l)), viaApi.text.slice(-400));
  const log1 = (await n1.exec('cat /ram.log')).out;
  assert.match(log1, /cluster lab: created with this node \(node1\) as master/);

  // The secret stays root's: the folder 0700, the files 0600, nothing of it in the node's settings or the log.
  const perms = (await n2.exec('stat -c "%a %U %n" /etc/ramvm-prepared /etc/ramvm-prepared/*')).out.trim().split('\n');
  assert.equal(perms, ['700 root /etc/ramvm-prepared', '600 root /etc/ramvm-prepared/node.json', '600 root /etc/ramvm-prepared/node.pem', '600 root /etc/ramvm-prepared/secret']);
  const secret = (await n2.exec('cat /etc/ramvm-prepared/secret')).out.trim();
  assert.match(secret, /^[0-9a-f]{64}$/);
  assert.is((await n2.exec(`grep -rq ${secret} /etc/ramvm /ram.log /var/log`)).code, 1, 'the secret is nowhere else');
  assert.is((await n2.exec('setpriv --reuid=ramvm-qemu --regid=ramvm --clear-groups cat /etc/ramvm-prepared/secret')).code, 1, 'a guest\'s QEMU cannot read it');
});

T.run();
