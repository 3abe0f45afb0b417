/**
 * The QEMU guest agent through the real API with real parts: a Linux guest
 * (Debian's kernel under TCG, an initramfs with Debian's qemu-ga, made at
 * test time by test/helpers/agent-guest.ts) created with `agent: true`;
 * a snapshot backup freezes its filesystem for the instant the copy is
 * taken and thaws it, the backup verifies, and the agent says "thawed"
 * afterwards. A guest with `agent: true` but no agent inside (a boot
 * sector) is backed up all the same, its log saying the agent did not
 * answer. One boot of the Linux guest serves the suite.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { sharedTempDir } from '../helpers/node';
import { createSectorGuest, GUEST_MARKER, waitFor, waitForSerial } from '../helpers/guest';
import { AGENT_GUEST_FILE, AGENT_GUEST_MARK, buildAgentGuestIso } from '../helpers/agent-guest';
import { agentAnswers, freezeStatus } from '../../node-cgi/qemu/qga';
import { sh, taskLog, waitTask } from './backup-fixture';

const ISO = 'ramvm-agent-guest.iso';
const VMID = 201;
/** A Linux boot under TCG on a loaded machine: GRUB, the kernel, the modules, the agent. */
const AGENT_BOOT_TIMEOUT_MS = 300_000;

const A = suite('backups of a guest with a QEMU guest agent');
const fx = useNode(A);
let work: string;

A.before(async () => {
  work = sharedTempDir('ramvm-agent-');
  fx.cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const iso = join(work, ISO);
  buildAgentGuestIso(work, iso);
  const target = join(fx.root, 'var/lib/vz/template/iso', ISO);
  copyFileSync(iso, target);
  chmodSync(target, 0o644);
  const cfg = await fx.createGuest({
    vmid: VMID, name: 'agent', memory: 256, accel: 'tcg', agent: true, nics: [], cdrom: ISO,
    disks: [{ size: '16M', format: 'raw', bus: 'virtio' }], boot: ['cdrom'],
  });
  sh(['mke2fs', '-q', '-F', '-t', 'ext2', fx.imageFile(VMID, cfg.disks[0]!.file)]);
  await fx.startGuest(VMID);
  const serial = await waitForSerial(fx.runFile(VMID, 'serial.log'), `${AGENT_GUEST_MARK} port`, AGENT_BOOT_TIMEOUT_MS);
  assert.not.match(serial, `${AGENT_GUEST_MARK} no disk`);
  await waitFor('the guest agent to answer', async () => (await agentAnswers(fx.runFile(VMID, 'qga'))).ok || null, AGENT_BOOT_TIMEOUT_MS, 1000);
});

A('should show the agent setting of a guest, and false for one without', async () => {
  assert.is((await fx.admin.get(`/api/vm/${VMID}`)).json.data.agent, true);
  const other = await fx.createGuest({ vmid: 202, memory: 32, nics: [], disks: [] });
  assert.is((await fx.admin.get(`/api/vm/${other.vmid}`)).json.data.agent, false);
  const r = await fx.admin.put(`/api/vm/${other.vmid}`, { agent: 'yes' });
  assert.is(r.status, 400, r.text);
  assert.match(r.json.error.message, /^agent: must be true or false/);
  await fx.admin.del(`/api/vm/${other.vmid}`);
});

A('should freeze the filesystems for the instant of a snapshot backup, thaw them, and verify the backup', async () => {
  const r = await fx.admin.post('/api/backup/run', { vmid: VMID, storage: 'local', mode: 'snapshot', compress: 'none' });
  assert.is(r.status, 202, r.text);
  const task = r.json.data.task as string;
  const t = await waitTask(fx.admin, task);
  const log = await taskLog(fx.admin, task);
  assert.is(t.status, 'ok', log);
  assert.match(log, /the guest agent answers: its filesystems are frozen/);
  assert.match(log, /filesystems frozen \(1\) by the guest agent in [0-9.]+ ms/);
  assert.match(log, /filesystems thawed \(1\) in [0-9.]+ ms: frozen for [0-9.]+ ms/);
  // Frozen before the copy started, thawed right after it.
  const lines = log.split('\n');
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  assert.ok(at(/filesystems frozen/) < at(/filesystems thawed/) && at(/filesystems thawed/) < at(/copy started/), log);
  assert.is(await freezeStatus(fx.runFile(VMID, 'qga')), 'thawed');

  const b = (await fx.admin.get(`/api/backup?vmid=${VMID}`)).json.data[0];
  assert.is(b.verified, true);
  // What the guest wrote before the freeze is in the copy: the freeze synced it.
  const [, vmid, stamp] = (b.id as string).split(':');
  const raw = join(work, 'backup.raw');
  sh(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', join(fx.root, 'var/lib/vz/dump/ramvm', vmid!, stamp!, `vm-${VMID}-disk-0.qcow2`), raw]);
  assert.is(sh(['debugfs', '-R', `cat /${AGENT_GUEST_FILE}`, raw]).out.trim(), AGENT_GUEST_MARK);
});

A('should back up a guest whose agent does not answer without freezing, and say so', async () => {
  const vmid = await createSectorGuest(fx.admin, fx.root, { vmid: 203, agent: true });
  await fx.startGuest(vmid, { marker: GUEST_MARKER });
  const r = await fx.admin.post('/api/backup/run', { vmid, storage: 'local', mode: 'snapshot', compress: 'none' });
  assert.is(r.status, 202, r.text);
  const t = await waitTask(fx.admin, r.json.data.task);
  const log = await taskLog(fx.admin, r.json.data.task);
  assert.is(t.status, 'ok', log);
  assert.match(log, /the guest agent did not answer \(the guest agent did not answer guest-sync-delimited within 2000 ms\): backing up without freezing its filesystems/);
  assert.not.match(log, /filesystems frozen/);
  assert.is((await fx.admin.get(`/api/backup?vmid=${vmid}`)).json.data[0].verified, true);
  await fx.stopGuest(vmid);
});

A.run();
