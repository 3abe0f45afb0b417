/**
 * node-cgi/backup/run.ts with a replica source (cluster mode, on the peer):
 * a DRBD backing file's first bytes (the guest's disk) copied onto a real
 * directory storage with the real qemu-img, summed, read back and verified,
 * DRBD's meta-data after them left out. The rest of cluster mode needs a
 * DRBD module and lives in the lab.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backupGuest } from '../../../node-cgi/backup/run';
import { lifecycle } from '../../../node-cgi/backup/guest';
import { convertArgs } from '../../../node-cgi/tools/qemu-img';
import { run } from '../../../node-cgi/lib/exec';
import { useTempRoot } from '../../helpers/temp-root';

const S = suite('backupGuest from replicas');
const root = useTempRoot(S);
const MIB = 2 ** 20;

function backingFile(dir: string, name: string, data: Buffer): string {
  const file = join(dir, name);
  // The guest's bytes, then what DRBD keeps at the end of its backing device (internal meta-data).
  writeFileSync(file, Buffer.concat([data, Buffer.alloc(72 * 512, 0x6d)]));
  return file;
}

S('should back up the first bytes of each backing file, verified, with the config the guest\'s node sent', async () => {
  const storageDir = join(root.path, 'dump');
  mkdirSync(storageDir, { recursive: true });
  const data0 = Buffer.alloc(2 * MIB, 0);
  data0.write('ramvm-replica-pattern', MIB);
  const data1 = Buffer.alloc(MIB, 0x42);
  const src = join(root.path, 'replicas');
  mkdirSync(src);
  const config = JSON.stringify({ vmid: 101, name: 'web', disks: [{ id: 'disk0' }, { id: 'disk1' }] });
  const lines: string[] = [];
  const r = await backupGuest({
    vmid: 101, storage: { name: 'local', dir: storageDir, release: async () => undefined }, mode: 'cluster', compress: 'zstd', job: null,
    task: 'UPID:n2:replica', node: 'n2', speed: 0, copyRange: false, shutdownTimeoutMs: 0, lifecycle,
    replica: {
      name: 'web', configText: config,
      disks: [
        { file: 'vm-101-disk-0.qcow2', path: backingFile(src, 'vm-101-disk-0.drbd', data0), bytes: data0.length },
        { file: 'vm-101-disk-1.qcow2', path: backingFile(src, 'vm-101-disk-1.drbd', data1), bytes: data1.length },
      ],
    },
    log: (l) => lines.push(l), progress: () => undefined,
  });
  assert.is(r.manifest.mode, 'cluster');
  assert.is(r.manifest.node, 'n2');
  assert.ok(r.manifest.verification?.ok, JSON.stringify(r.manifest.verification));
  assert.is(r.entry.verified, true);
  assert.equal(r.manifest.disks.map((d) => [d.file, d.sourceFormat, d.virtualSize]), [['vm-101-disk-0.qcow2', 'raw', 2 * MIB], ['vm-101-disk-1.qcow2', 'raw', MIB]]);
  assert.is(readFileSync(join(r.dir, 'config.json'), 'utf8'), config);
  for (const [file, want] of [['vm-101-disk-0.qcow2', data0], ['vm-101-disk-1.qcow2', data1]] as const) {
    const back = join(root.path, `${file}.raw`);
    await run(convertArgs({ file: join(r.dir, file), format: 'qcow2' }, { file: back, format: 'raw' }));
    assert.ok(readFileSync(back).equals(want), `${file} holds the guest's bytes and nothing of the meta-data`);
  }
  assert.ok(lines.some((l) => /from its replicas on node n2/.test(l)), lines.join('\n'));
});

S('should keep nothing when a replica cannot be read', async () => {
  const storageDir = join(root.path, 'dump2');
  mkdirSync(storageDir, { recursive: true });
  const lines: string[] = [];
  let err: Error | null = null;
  try {
    await backupGuest({
      vmid: 102, storage: { name: 'local', dir: storageDir, release: async () => undefined }, mode: 'cluster', compress: 'none', job: null,
      task: 'UPID:n2:replica2', node: 'n2', speed: 0, copyRange: false, shutdownTimeoutMs: 0, lifecycle,
      replica: { name: null, configText: '{"vmid":102}', disks: [{ file: 'vm-102-disk-0.qcow2', path: join(root.path, 'missing.drbd'), bytes: MIB }] },
      log: (l) => lines.push(l), progress: () => undefined,
    });
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err, 'the backup failed');
  assert.match(err!.message, /^qemu-img failed \(exit 1\)$/);
  assert.equal(readdirSync(join(storageDir, 'ramvm', '102')), [], 'no partial backup is left');
  assert.ok(lines.some((l) => /backup of guest 102 failed: .*removing \.partial-/.test(l)), lines.join('\n'));
});
S('should keep nothing when the replica was reconnected while it was copied', async () => {
  const storageDir = join(root.path, 'dump3');
  mkdirSync(storageDir, { recursive: true });
  const src = join(root.path, 'replicas3');
  mkdirSync(src);
  const data = Buffer.alloc(MIB, 0x33);
  let err: Error | null = null;
  try {
    await backupGuest({
      vmid: 103, storage: { name: 'local', dir: storageDir, release: async () => undefined }, mode: 'cluster', compress: 'none', job: null,
      task: 'UPID:n2:replica3', node: 'n2', speed: 0, copyRange: false, shutdownTimeoutMs: 0, lifecycle,
      replica: { name: null, configText: '{"vmid":103}', disks: [{ file: 'vm-103-disk-0.qcow2', path: backingFile(src, 'vm-103-disk-0.drbd', data), bytes: MIB }] },
      afterCopy: async () => {
        throw new Error('vm-103-disk-0 is SyncTarget on node n2: the guest\'s node disconnects it before the backup');
      },
      log: () => undefined, progress: () => undefined,
    });
  } catch (e) {
    err = e as Error;
  }
  assert.match(err?.message ?? '', /vm-103-disk-0 is SyncTarget on node n2/);
  assert.equal(readdirSync(join(storageDir, 'ramvm', '103')), [], 'the copy is not kept');
});
S.run();
