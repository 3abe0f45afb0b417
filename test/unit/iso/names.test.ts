import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { checkedIsoName, metaFileName, parseHiddenFile, partialFileName } from '../../../node-cgi/iso/names';

const C = suite('checkedIsoName');

const GOOD = ['debian-12.4.0-amd64-netinst.iso', 'WIN10.ISO', 'rescue.img', 'a.iso', 'x_y+z.Img', `${'a'.repeat(124)}.iso`];
for (const name of GOOD) {
  C(`should accept ${name.length > 40 ? `a ${name.length}-character name` : name}`, () => {
    assert.is(checkedIsoName(name), name);
  });
}

/** [name, why it is refused, part of the message] */
const BAD: [unknown, string, string][] = [
  ['', 'empty', 'non-empty'],
  [42, 'not a string', 'non-empty string'],
  [null, 'missing', 'non-empty string'],
  ['debian', 'no extension', '.iso or .img'],
  ['debian.txt', 'wrong extension', '.iso or .img'],
  ['debian.iso.partial', 'extension not at the end', '.iso or .img'],
  ['debian.isox', 'extension with a suffix', '.iso or .img'],
  ['a/b.iso', 'a path part', '"/"'],
  ['../etc.iso', 'a parent path', '"/"'],
  ['/abs.iso', 'an absolute path', '"/"'],
  ['a\\b.iso', 'a Windows path part', '"\\"'],
  ['.hidden.iso', 'leading dot: hidden files are ours', 'start with "."'],
  ['.iso', 'only the extension', 'start with "."'],
  ['-rf.iso', 'leading dash: would read as an option', 'start with "-"'],
  ['a..b.iso', 'two dots', '".."'],
  ['a b.iso', 'a space', 'only letters'],
  ['tab\t.iso', 'a control character', 'only letters'],
  ['nul\0.iso', 'a NUL byte', 'only letters'],
  ['débian.iso', 'a non-ASCII letter', 'only letters'],
  ['x.iso ', 'a trailing space', 'only letters'],
  ['a;rm.iso', 'a shell metacharacter', 'only letters'],
  ['$(x).iso', 'a command substitution', 'only letters'],
  [`${'a'.repeat(125)}.iso`, '129 characters, one too many', 'at most 128'],
];
for (const [name, why, msg] of BAD) {
  C(`should reject ${JSON.stringify(name)?.slice(0, 30)}: ${why}`, () => {
    try {
      checkedIsoName(name);
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).status, 400);
      assert.is((e as HttpError).code, 'invalid');
      assert.ok((e as HttpError).message.includes(msg), (e as HttpError).message);
    }
  });
}
C.run();

const H = suite('parseHiddenFile');
H('should read a sidecar name', () => {
  assert.equal(parseHiddenFile(metaFileName('debian.iso')), { kind: 'meta', name: 'debian.iso' });
});
H('should read a partial name with its owner pid', () => {
  assert.equal(parseHiddenFile(partialFileName('debian.iso', 4711, '9f3a61c0b2')), { kind: 'partial', name: 'debian.iso', pid: 4711 });
});
H('should keep dots inside the image name', () => {
  assert.equal(parseHiddenFile('.v1.2.iso.partial-12-ab'), { kind: 'partial', name: 'v1.2.iso', pid: 12 });
});
H('should leave other hidden files alone', () => {
  for (const f of ['.bashrc', '..x.iso.meta.json.12.ab.tmp', '.x.txt.meta.json', '.x.iso.partial-0-ab', '.x.iso.partial-12-XYZ', 'x.iso', '.x.iso.partial-12']) {
    assert.is(parseHiddenFile(f), null, f);
  }
});
H.run();

const P = suite('partialFileName');
P('should refuse an owner that is no pid', () => {
  assert.throws(() => partialFileName('a.iso', 0, 'ab'), /^bad partial owner 0\/ab$/);
  assert.throws(() => partialFileName('a.iso', 12, 'a/b'), /^bad partial owner 12\/a\/b$/);
});
P.run();
