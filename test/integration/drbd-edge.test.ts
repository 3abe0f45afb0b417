/**
 * node-cgi/drbd/edge.ts on this machine, for real: applySteps with the
 * local runner makes a sparse backing file with qemu-img, attaches it as the
 * loop device of its minor with losetup, writes a resource file that
 * drbdadm-84 reads, and frees the loop device again. (DRBD's own steps
 * need the module, which only the lab's nodes have: test/lab/drbd.test.ts.)
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSteps, loopBackingArgs, loopDetachArgs, type NodeDisk } from '../../node-cgi/drbd/commands';
import { applySteps, localRunner } from '../../node-cgi/drbd/edge';
import { ExecError } from '../../node-cgi/lib/exec';
import { backingFileBytes, drbdResource, drbdResourceConfig, loopDevice } from '../../node-cgi/drbd/resource';
import { drbdadm84 } from '../helpers/drbd';

/** The last minor: its loop device (/dev/loop1255) is far from those other tests take with losetup -f. */
const MINOR = 255;

const E = suite('applySteps with the local runner');
let dir: string;
let attached = false;
E.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ramvm-drbd-edge-'));
});
E.after(async () => {
  if (attached) await localRunner.run(loopDetachArgs(loopDevice(MINOR))).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

E('should make the sparse file, attach its loop device by number and write the resource file', async () => {
  const resource = drbdResource(101, 0, MINOR, [{ name: 'node1', address: '10.99.0.1' }, { name: 'node2', address: '10.99.0.2' }]);
  const disk: NodeDisk = { resource, configFile: join(dir, 'drbd', 'vm-101-disk-0.res'), config: drbdResourceConfig(resource), file: join(dir, 'vm-101-disk-0.drbd'), bytes: 2 ** 30 };
  // Everything up to create-md: drbdadm needs the module from there on.
  const steps = createSteps(disk).slice(0, 3);
  try {
    await applySteps(steps);
  } finally {
    attached = (await localRunner.run(loopBackingArgs(loopDevice(MINOR))).catch(() => '')).trim() !== '';
  }
  const st = statSync(disk.file);
  assert.is(st.size, backingFileBytes(2 ** 30));
  assert.ok(st.blocks * 512 < 2 ** 20, `sparse: ${st.blocks * 512} bytes allocated`);
  assert.is((await localRunner.run(loopBackingArgs(loopDevice(MINOR)))).trim(), disk.file);
  assert.is(readFileSync(disk.configFile, 'utf8'), disk.config);
  const dump = drbdadm84(readFileSync(disk.configFile, 'utf8'), 'node2', ['dump', 'vm-101-disk-0']);
  assert.is(dump.code, 0, dump.err);
  await localRunner.run(loopDetachArgs(loopDevice(MINOR)));
  attached = false;
  assert.is((await localRunner.run(loopBackingArgs(loopDevice(MINOR)))).trim(), '', 'free again');
});
E('should stop at the first step that fails, naming the program and its error', async () => {
  const missing = join(dir, 'missing', 'x.drbd');
  const err = await applySteps([{ run: ['losetup', loopDevice(MINOR), missing] }, { write: join(dir, 'never.res'), text: 'x' }]).then(() => null, (e: ExecError) => e);
  assert.ok(err instanceof ExecError, String(err));
  assert.is(err.message, 'losetup failed (exit 1)');
  assert.match(err.stderrTail, /losetup: .*x\.drbd: failed to set up loop device: No such file or directory/);
  assert.throws(() => statSync(join(dir, 'never.res')), /ENOENT/);
});
E.run();
