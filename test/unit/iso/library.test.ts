import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import {
  FREE_RESERVE_BYTES,
  STALE_PARTIAL_MS,
  checkFreeSpace,
  cleanupPlan,
  guestsUsing,
  imageEntry,
  sidecarMatches,
} from '../../../node-cgi/iso/library';

const SHA = 'a'.repeat(64);
const ST = { ino: 1835011, size: 658505728, mtimeMs: 1795601700123.4 };
const META = { name: 'd.iso', size: ST.size, sha256: SHA, uploaded: '2026-11-25T10:15:00.123Z', user: 'anna', ino: ST.ino, mtimeMs: ST.mtimeMs };

const G = suite('guestsUsing');
G('should find the guests whose cdrom is the image, by the vmid of their file', () => {
  const configs = [
    { file: '102.json', config: { vmid: 102, name: 'web', cdrom: 'd.iso' } },
    { file: '101.json', config: { vmid: 101, name: 'db', cdrom: 'd.iso' } },
    { file: '103.json', config: { vmid: 103, name: 'mail', cdrom: 'other.iso' } },
  ];
  assert.equal(guestsUsing(configs, 'd.iso'), [{ vmid: 101, name: 'db' }, { vmid: 102, name: 'web' }]);
});
G('should survive configs of any shape', () => {
  const configs = [
    { file: '101.json', config: null },
    { file: '102.json', config: 'd.iso' },
    { file: '103.json', config: [] },
    { file: '104.json', config: { cdrom: null } },
    { file: '105.json', config: { cdrom: { file: 'd.iso' } } },
    { file: '106.json', config: { cdrom: 'D.ISO' } },
    { file: 'x.json', config: { vmid: 'abc', cdrom: 'd.iso' } },
  ];
  assert.equal(guestsUsing(configs, 'd.iso'), []);
});
G('should take the vmid from the config when the file name has none, and omit a name that is no string', () => {
  assert.equal(guestsUsing([{ file: 'new.json', config: { vmid: 107, name: 7, cdrom: 'd.iso' } }], 'd.iso'), [{ vmid: 107 }]);
});
G.run();

const S = suite('sidecarMatches');
S('should accept the sidecar of this very file', () => {
  assert.ok(sidecarMatches(META, ST));
});
S('should refuse a sidecar of another file or a damaged one', () => {
  const cases: [string, unknown][] = [
    ['another inode (replaced by hand)', { ...META, ino: 2 }],
    ['another size', { ...META, size: 1 }],
    ['another mtime (rewritten in place)', { ...META, mtimeMs: 1 }],
    ['no checksum', { ...META, sha256: undefined }],
    ['a checksum that is no hex SHA-256', { ...META, sha256: 'xyz' }],
    ['no sidecar', undefined],
  ];
  for (const [why, meta] of cases) assert.not.ok(sidecarMatches(meta as never, ST), why);
});
S.run();

const E = suite('imageEntry');
E('should show checksum, upload time and user from a matching sidecar', () => {
  assert.equal(imageEntry('d.iso', ST, META, [{ vmid: 101 }]), {
    name: 'd.iso', size: ST.size, sha256: SHA, date: '2026-11-25T10:15:00.123Z', user: 'anna', usedBy: [{ vmid: 101 }],
  });
});
E('should show no checksum and the file time without one', () => {
  assert.equal(imageEntry('d.iso', ST, { ...META, ino: 9 }, []), {
    name: 'd.iso', size: ST.size, sha256: null, date: new Date(ST.mtimeMs).toISOString(), user: null, usedBy: [],
  });
});
E.run();

const P = suite('cleanupPlan');
const NOW = 1_800_000_000_000;
P('should remove partials nobody holds open', () => {
  const plan = cleanupPlan(
    [
      { file: '.a.iso.partial-11-ab', mtimeMs: NOW, held: false },
      { file: '.b.iso.partial-12-ab', mtimeMs: NOW, held: true },
    ],
    new Set(),
    NOW,
  );
  assert.equal(plan, ['.a.iso.partial-11-ab']);
});
P('should remove a held partial untouched for more than a day', () => {
  const files = [
    { file: '.a.iso.partial-11-ab', mtimeMs: NOW - STALE_PARTIAL_MS - 1, held: true },
    { file: '.b.iso.partial-12-ab', mtimeMs: NOW - STALE_PARTIAL_MS + 1000, held: true },
  ];
  assert.equal(cleanupPlan(files, new Set(), NOW), ['.a.iso.partial-11-ab']);
});
P('should remove sidecars whose image is gone and keep the others', () => {
  const files = [
    { file: '.a.iso.meta.json', mtimeMs: NOW },
    { file: '.b.iso.meta.json', mtimeMs: NOW },
  ];
  assert.equal(cleanupPlan(files, new Set(['b.iso']), NOW), ['.a.iso.meta.json']);
});
P('should never touch files that are not ours', () => {
  const files = [{ file: '.bashrc', mtimeMs: 0 }, { file: 'notes.txt', mtimeMs: 0 }, { file: '.x.iso.partial', mtimeMs: 0 }];
  assert.equal(cleanupPlan(files, new Set(), NOW), []);
});
P.run();

const F = suite('checkFreeSpace');
F('should pass when the upload and the reserve fit, to the byte', () => {
  assert.not.throws(() => checkFreeSpace(100, 100 + FREE_RESERVE_BYTES));
  assert.throws(() => checkFreeSpace(101, 100 + FREE_RESERVE_BYTES), /needs 101 bytes, 100 bytes are free/);
});
F('should answer 507 naming both sizes when they do not', () => {
  try {
    checkFreeSpace(100 * 1024 * 1024, 50 * 1024 * 1024 + FREE_RESERVE_BYTES);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 507);
    assert.is((e as HttpError).code, 'insufficient_storage');
    assert.match((e as HttpError).message, 'needs 100.0 MiB, 50.0 MiB are free');
  }
});
F('should not report negative free space', () => {
  assert.throws(() => checkFreeSpace(1, 0), /needs 1 bytes, 0 bytes are free/);
});
F.run();

