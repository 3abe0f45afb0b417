/**
 * drbd/edge.ts on a node's data tree of its own: a disk's record written
 * and read back, and its replication from a /proc/drbd given by the runner
 * (the real one is read on lab nodes: test/lab/drbd.test.ts); whether the
 * module is loaded, from a /proc/drbd of a temporary tree (this host has
 * none: test/integration/drbd-edge.test.ts sees that through lighttpd).
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskReplication, drbdLoaded, readDrbdRecord, writeDrbdRecord, localRunner } from '../../../node-cgi/drbd/edge';
import { drbdBackingFile } from '../../../node-cgi/lib/paths';
import type { DrbdRecord } from '../../../node-cgi/drbd/record';

const REC: DrbdRecord = {
  resource: 'vm-101-disk-0', minor: 0, bytes: 64 * 2 ** 20,
  hosts: [{ name: 'node1', address: '10.99.0.1' }, { name: 'node2', address: '10.99.0.2' }],
};
const PROC = 'version: 8.4.11 (api:1/proto:86-101)\n 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n\t[>...................] sync\'ed:  5.2% (62460/65532)K\n';

let root: string;
const saved = { root: process.env.RAMVM_ROOT, node: process.env.RAMVM_NODE };
const E = suite('replicated disk records');
E.before(() => {
  root = mkdtempSync(join(tmpdir(), 'ramvm-drbd-edge-'));
  process.env.RAMVM_ROOT = root;
  process.env.RAMVM_NODE = 'node1';
});
E.after(() => {
  process.env.RAMVM_ROOT = saved.root;
  if (saved.node === undefined) delete process.env.RAMVM_NODE;
  else process.env.RAMVM_NODE = saved.node;
  rmSync(root, { recursive: true, force: true });
});

E('should read back the record it wrote beside the backing file, and null for a disk without one', () => {
  writeDrbdRecord(101, 0, REC);
  assert.equal(readDrbdRecord(101, 0), REC);
  assert.is(readDrbdRecord(101, 1), null);
});
E('should refuse a record changed into something ramvm does not write', () => {
  writeFileSync(`${drbdBackingFile(101, 'vm-101-disk-0')}.json`, JSON.stringify({ ...REC, resource: 'vm-102-disk-0' }));
  assert.throws(() => readDrbdRecord(101, 0), /resource must be vm-101-disk-0, not "vm-102-disk-0"/);
  writeDrbdRecord(101, 0, REC);
});
E('should write a new disk\'s record exclusively: a second one for the same disk is 409 and changes nothing', () => {
  const other: DrbdRecord = { ...REC, resource: 'vm-101-disk-3', minor: 7 };
  writeDrbdRecord(101, 3, other, true);
  assert.equal(readDrbdRecord(101, 3), other);
  assert.throws(() => writeDrbdRecord(101, 3, { ...other, minor: 8 }, true), /disk 3 of guest 101 has a replicated disk record already/);
  assert.equal(readDrbdRecord(101, 3), other, 'the first record stays');
  assert.equal(readdirSync(join(root, 'var/lib/vz/images/101')).filter((f) => f.includes('disk-3')), ['vm-101-disk-3.drbd.json'], 'no temporary file left');
});
E('should show the disk\'s replication with the other node as the peer', async () => {
  const r = await diskReplication(101, 0, { ...localRunner, read: async () => PROC });
  assert.equal(r, { peer: 'node2', state: 'UpToDate', synced: 5.2, connection: 'SyncSource', role: 'Primary', peerState: 'Inconsistent' });
  assert.is(await diskReplication(101, 1, { ...localRunner, read: async () => PROC }), null);
});
E.run();

const L = suite('drbdLoaded');
L('should say the module is loaded where /proc/drbd exists, and not where it does not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-drbd-proc-'));
  try {
    writeFileSync(join(dir, 'drbd'), PROC);
    assert.is(drbdLoaded(join(dir, 'drbd')), true);
    assert.is(drbdLoaded(join(dir, 'none')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
L.run();
