import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { backupDiskName, backupEntry, backupStamp, compareSums, parseBackupId, parseManifest, parseStamp } from '../../../node-cgi/backup/manifest';
import { HttpError } from '../../../node-cgi/lib/errors';
import type { BackupManifest } from '../../../node-cgi/backup/types';

const S = suite('backupStamp / parseStamp');
S('should write UTC seconds without separators', () => {
  assert.is(backupStamp(Date.parse('2026-11-25T22:00:07.123Z')), '20261125T220007Z');
});
S('should read a stamp back', () => {
  assert.is(parseStamp('20261125T220007Z'), Date.parse('2026-11-25T22:00:07Z'));
});
S('should refuse what is not a stamp', () => {
  for (const s of ['20261325T220007Z', '20261125T220007', '.partial-20261125T220007Z', '2026-11-25', '20260230T000000Z']) assert.is(parseStamp(s), null, s);
});
S.run();

const I = suite('parseBackupId');
I('should split storage, vmid and stamp', () => {
  assert.equal(parseBackupId('local:101:20261125T220000Z'), { storage: 'local', vmid: 101, stamp: '20261125T220000Z' });
});
const badIds: [string, string][] = [
  ['too few parts', 'local:101'],
  ['a storage with a dot-dot', '..:101:20261125T220000Z'],
  ['a VMID below 100', 'local:99:20261125T220000Z'],
  ['a partial folder', 'local:101:.partial-20261125T220000Z'],
  ['a path in the stamp', 'local:101:../../etc'],
  ['an extra part', 'local:101:20261125T220000Z:x'],
];
for (const [why, id] of badIds) {
  I(`should answer 404 for ${why}`, () => {
    try {
      parseBackupId(id);
      assert.unreachable();
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).status, 404);
    }
  });
}
I.run();

const D = suite('backupDiskName');
D('should store every disk as qcow2', () => {
  assert.is(backupDiskName('/var/lib/vz/images/101/vm-101-disk-0.raw'), 'vm-101-disk-0.qcow2');
  assert.is(backupDiskName('vm-101-disk-1.qcow2'), 'vm-101-disk-1.qcow2');
});
D.run();

const manifest = (over: Partial<BackupManifest> = {}): BackupManifest => ({
  format: 1, vmid: 101, name: 'web', node: 'pve1', storage: 'local', stamp: '20261125T220000Z',
  start: Date.parse('2026-11-25T22:00:00Z'), end: Date.parse('2026-11-25T22:01:30Z'), mode: 'snapshot', method: 'live', compress: 'zstd',
  task: 't1', job: 'nightly', disks: [], files: [{ name: 'config.json', size: 100, sha256: 'a' }, { name: 'vm-101-disk-0.qcow2', size: 1000, sha256: 'b' }],
  timings: { copy: 80_000, sums: 10_000 }, tools: {}, verification: null, ...over,
});

const E = suite('backupEntry');
E('should not call a never-verified backup verified', () => {
  const e = backupEntry(manifest(), 'local');
  assert.equal([e.id, e.verified, e.size, e.durationMs, e.time, e.problems], ['local:101:20261125T220000Z', false, 1100, 90_000, '2026-11-25T22:00:00.000Z', ['never verified']]);
});
E('should call it verified only when the last read-back passed', () => {
  assert.is(backupEntry(manifest({ verification: { ok: true, time: 1, durationMs: 5, problems: [] } }), 'local').verified, true);
  assert.is(backupEntry(manifest({ verification: { ok: false, time: 2, durationMs: 5, problems: ['x'] } }), 'local').verified, false);
});
E.run();

const P = suite('parseManifest');
P('should refuse JSON that is not a manifest', () => {
  assert.throws(() => parseManifest('{"format":2}'), /not a ramvm backup manifest/);
  assert.throws(() => parseManifest('nope'), (e: Error) => e instanceof SyntaxError && /not valid JSON/.test(e.message));
});
P.run();

const C = suite('compareSums');
C('should name each differing, resized or missing file', () => {
  const want = [{ name: 'a', size: 1, sha256: 'aaaaaaaaaaaaaaaa' }, { name: 'b', size: 2, sha256: 'bb' }, { name: 'c', size: 3, sha256: 'cc' }];
  const got = [{ name: 'a', size: 1, sha256: 'abbbbbbbbbbbbbbb' }, { name: 'b', size: 5, sha256: 'bb' }];
  assert.equal(compareSums(want, got), [
    'a: SHA-256 differs (stored aaaaaaaaaaaa…, read abbbbbbbbbbb…)',
    'b: size differs (stored 2, read 5)',
    'c: missing',
  ]);
});
C('should find nothing when all match', () => {
  const f = [{ name: 'a', size: 1, sha256: 'x' }];
  assert.equal(compareSums(f, f), []);
});
C.run();
