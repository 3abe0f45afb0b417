import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import type { IsoImage } from '../../../node-cgi/iso/library';
import { copyTarget, nodeImages, parseCopyRequest, parseNodeImages, removeTarget, syncPlan, type NodeImage } from '../../../node-cgi/iso/sync';

const A = 'aa'.repeat(32);
const B = 'bb'.repeat(32);
const C = 'cc'.repeat(32);
const DATE = '2026-11-25T10:15:00.123Z';

const master = (name: string, sha256: string | null, size = 10): IsoImage => ({ name, size, sha256, date: DATE, user: 'anna', usedBy: [] });
const node = (name: string, sha256: string | null, from: string | null, usedBy: number[] = [], size = 10): NodeImage => ({ name, size, sha256, from, usedBy });
const copy = (name: string, sha256: string, size = 10) => ({ op: 'copy', name, size, sha256, user: 'anna', uploaded: DATE });

const P = suite('syncPlan');
P('should copy what the node lacks and leave what it has with the same checksum', () => {
  const plan = syncPlan('n2', [master('a.iso', A), master('b.iso', B)], [node('b.iso', B, 'n1')]);
  assert.equal(plan, { steps: [copy('a.iso', A)], kept: [] });
});
P('should replace a different image of the same name, the node\'s own too', () => {
  assert.equal(syncPlan('n2', [master('a.iso', A)], [node('a.iso', C, 'n1')]).steps, [copy('a.iso', A)]);
  assert.equal(syncPlan('n2', [master('a.iso', A)], [node('a.iso', null, null)]).steps, [copy('a.iso', A)]);
  assert.equal(syncPlan('n2', [master('a.iso', A, 10)], [node('a.iso', A, 'n1', [], 9)]).steps, [copy('a.iso', A)], 'same checksum, other size: a broken sidecar');
});
P('should not replace a different image that a guest of the node boots from, and say why', () => {
  const plan = syncPlan('n2', [master('a.iso', A)], [node('a.iso', C, null, [105, 107])]);
  assert.equal(plan.steps, []);
  assert.equal(plan.kept, ['a.iso on n2 is not the master\'s image and is the CD-ROM of guests 105, 107 there: not replaced']);
});
P('should remove copies the master no longer has, unless a guest uses them', () => {
  const plan = syncPlan('n3', [], [node('c.iso', C, 'n1'), node('d.iso', C, 'n1', [201])]);
  assert.equal(plan.steps, [{ op: 'remove', name: 'c.iso' }]);
  assert.equal(plan.kept, ['d.iso is gone from the master but is the CD-ROM of guest 201 on n3: not removed there']);
});
P('should leave the node\'s own images (no "from") alone', () => {
  assert.equal(syncPlan('n2', [], [node('own.iso', A, null), node('hand.iso', null, null)]), { steps: [], kept: [] });
});
P('should not copy an image without a checksum on the master, and say so', () => {
  const plan = syncPlan('n2', [master('hand.iso', null)], []);
  assert.equal(plan.steps, []);
  assert.match(plan.kept[0]!, 'hand.iso has no checksum on the master');
});
P('should limit the steps to the names given (after one upload or delete)', () => {
  const theirs = [node('gone.iso', C, 'n1'), node('old.iso', C, 'n1')];
  assert.equal(syncPlan('n2', [master('a.iso', A), master('b.iso', B)], theirs, ['b.iso']).steps, [copy('b.iso', B)]);
  assert.equal(syncPlan('n2', [master('a.iso', A)], theirs, ['gone.iso']).steps, [{ op: 'remove', name: 'gone.iso' }]);
  assert.equal(syncPlan('n2', [master('a.iso', A)], theirs, ['x.iso']).steps, []);
});
P('should take the uploader "root" for an image whose sidecar names none', () => {
  assert.equal(syncPlan('n2', [{ ...master('a.iso', A), user: null }], []).steps, [{ ...copy('a.iso', A), user: 'root' }]);
});
P.run();

const N = suite('nodeImages');
N('should give name, size, checksum, origin and the VMIDs using each image', () => {
  const images: IsoImage[] = [
    { ...master('a.iso', A), from: 'n1', usedBy: [{ vmid: 105, name: 'web' }] },
    { ...master('b.iso', null), user: null },
  ];
  assert.equal(nodeImages(images), [node('a.iso', A, 'n1', [105]), node('b.iso', null, null)]);
});
N.run();

const L = suite('parseNodeImages');
L('should take a well-formed list as it is', () => {
  const list = [node('a.iso', A, 'n1', [105]), node('b.img', null, null)];
  assert.equal(parseNodeImages(JSON.parse(JSON.stringify(list))), list);
});
/** [value, why it is refused, part of the message] */
const BAD_LISTS: [unknown, string, string][] = [
  [{}, 'no array', 'not an array'],
  [[null], 'an entry that is no object', 'entry 0 of the library list: not an object'],
  [[{ ...node('../etc/passwd.iso', A, null) }], 'a name with a path in it', 'not an image name'],
  [[{ ...node('.a.iso.meta.json', A, null) }], 'a hidden file', 'not an image name'],
  [[{ ...node('a.iso', A, null), size: -1 }], 'a negative size', 'size is not a byte count'],
  [[{ ...node('a.iso', 'x'.repeat(64), null) }], 'a checksum that is no hex', 'sha256 is not 64 hex digits'],
  [[{ ...node('a.iso', A, 'n1/../x') }], 'an origin that is no node name', 'from is not a node name'],
  [[{ ...node('a.iso', A, null), usedBy: ['105'] }], 'VMIDs as strings', 'usedBy is not a list of VMIDs'],
];
for (const [value, why, msg] of BAD_LISTS) {
  L(`should refuse ${why}`, () => {
    assert.throws(() => parseNodeImages(value), (e: Error) => e.message.includes(msg));
  });
}
L.run();

const T = suite('copyTarget');
T('should name the image, its checksum, uploader and upload time, escaped', () => {
  assert.is(
    copyTarget(copy('debian+12.iso', A) as Parameters<typeof copyTarget>[0]),
    `/api/iso/cluster/debian%2B12.iso?sha256=${A}&user=anna&uploaded=2026-11-25T10%3A15%3A00.123Z`,
  );
  assert.is(removeTarget('debian+12.iso'), '/api/iso/cluster/debian%2B12.iso');
});
T('should give what parseCopyRequest reads back', () => {
  const target = new URL(copyTarget(copy('a.iso', A) as Parameters<typeof copyTarget>[0]), 'https://x');
  const r = parseCopyRequest(decodeURIComponent(target.pathname.split('/').pop()!), target.searchParams, 10, 'n1');
  assert.equal(r, { name: 'a.iso', size: 10, expectedSha256: A, replace: true, user: 'anna', copy: { from: 'n1', uploaded: DATE } });
});
T.run();

const R = suite('parseCopyRequest');
const q = (s: string) => new URLSearchParams(s);
const GOOD = `sha256=${A}&user=anna&uploaded=${DATE}`;
/** [name, query, Content-Length, why it is refused, part of the message] */
const BAD_COPIES: [string, string, number | null, string, string][] = [
  ['a.iso', `user=anna&uploaded=${DATE}`, 10, 'no checksum', 'sha256: must be 64 lower-case hexadecimal digits'],
  ['a.iso', `sha256=${A.toUpperCase()}&user=anna&uploaded=${DATE}`, 10, 'an upper-case checksum', 'sha256: must be 64 lower-case'],
  ['a.iso', `sha256=${A}&user=anna`, 10, 'no upload time', 'uploaded: must be a UTC time'],
  ['a.iso', `sha256=${A}&user=anna&uploaded=yesterday`, 10, 'an upload time that is no time', 'uploaded: must be a UTC time'],
  ['a.iso', `sha256=${A}&user=anna&uploaded=2026-11-25`, 10, 'a date without time', 'uploaded: must be a UTC time'],
  ['a.iso', `sha256=${A}&user=../x&uploaded=${DATE}`, 10, 'a user name with a path', 'user: must be 1–64 letters'],
  ['a.iso', `${GOOD}&replace=0`, 10, 'an unknown parameter', 'replace: unknown parameter'],
  ['a.iso', GOOD, null, 'no Content-Length', 'needs its Content-Length'],
  ['a.iso', GOOD, 0, 'an empty body', 'needs its Content-Length'],
  ['../a.iso', GOOD, 10, 'a name with a path', 'name: must be a file name'],
  ['.a.iso', GOOD, 10, 'a hidden name', 'name: must not start with "."'],
  ['a.exe', GOOD, 10, 'a name that is no image', 'name: must end in .iso or .img'],
];
for (const [name, query, cl, why, msg] of BAD_COPIES) {
  R(`should refuse ${why} with 400`, () => {
    try {
      parseCopyRequest(name, q(query), cl, 'n1');
      assert.unreachable();
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).status, 400);
      assert.match((e as HttpError).message, msg);
    }
  });
}
R.run();
