/**
 * node-cgi/lib/iso9660.ts on images xorriso writes here: with Rock Ridge
 * names (as a ramvm ISO has them) and without, and on what is no image or
 * a cut one.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bufferReader, fileReader, isoCopy, isoDirectory, isoLookup, isoRead, isoRoot } from '../../../node-cgi/lib/iso9660';

const dir = mkdtempSync(join(tmpdir(), 'ramvm-iso9660-'));
const KERNEL = Buffer.alloc(300_000, 0x5a);
KERNEL.write('kernel start');

/** An ISO of boot/{vmlinuz,initrd.img,ramvm-release}; `rr`: with Rock Ridge names. */
function makeIso(name: string, rr: boolean): string {
  const src = join(dir, `${name}-src`);
  mkdirSync(join(src, 'boot'), { recursive: true });
  writeFileSync(join(src, 'boot/vmlinuz'), KERNEL);
  writeFileSync(join(src, 'boot/initrd.img'), 'initrd');
  writeFileSync(join(src, 'boot/ramvm-release'), '0.1.0-abc\n');
  const iso = join(dir, `${name}.iso`);
  const r = spawnSync('xorriso', ['-as', 'mkisofs', ...(rr ? ['-R'] : []), '-quiet', '-o', iso, src], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return iso;
}

const withRr = makeIso('rr', true);
const plain = makeIso('plain', false);
const reader = (iso: string) => bufferReader(readFileSync(iso));

const T = suite('isoLookup');
T('should find a file by its Rock Ridge name, hyphen and dots kept, and read it', () => {
  const r = reader(withRr);
  assert.equal(isoDirectory(r, isoLookup(r, 'boot')!).map((e) => e.name).sort(), ['initrd.img', 'ramvm-release', 'vmlinuz']);
  assert.is(isoRead(r, isoLookup(r, 'boot/ramvm-release')!).toString(), '0.1.0-abc\n');
  assert.equal(isoRead(r, isoLookup(r, '/boot/vmlinuz')!), KERNEL);
});
T('should find a file of an image without Rock Ridge by its ISO name, lower case, without ";1"', () => {
  const r = reader(plain);
  const names = isoDirectory(r, isoLookup(r, 'boot')!).map((e) => e.name).sort();
  assert.ok(names.includes('vmlinuz') && names.includes('initrd.img'), names.join(' '));
  assert.is(isoRead(r, isoLookup(r, 'boot/initrd.img')!).toString(), 'initrd');
});
T('should answer null for a missing name and for a path through a file', () => {
  const r = reader(withRr);
  assert.is(isoLookup(r, 'boot/bzImage'), null);
  assert.is(isoLookup(r, 'boot/vmlinuz/x'), null);
  assert.ok(isoLookup(r, 'boot')!.dir);
});
T.run();

const R = suite('isoRoot');
R('should refuse what is no ISO 9660 image', () => {
  assert.throws(() => isoRoot(bufferReader(Buffer.alloc(64 * 1024))), /no ISO 9660 image \(no primary volume descriptor\)/);
  assert.throws(() => isoRoot(bufferReader(Buffer.from('short'))), /the image ends at 5 bytes/);
});
R.run();

const C = suite('isoCopy');
C('should copy a file of an open image to a new file, and refuse to overwrite one', () => {
  const fd = openSync(withRr, 'r');
  try {
    const r = fileReader(fd);
    const e = isoLookup(r, 'boot/vmlinuz')!;
    const dest = join(dir, 'vmlinuz');
    isoCopy(r, e, dest);
    assert.equal(readFileSync(dest), KERNEL);
    assert.throws(() => isoCopy(r, e, dest), /EEXIST/);
  } finally {
    closeSync(fd);
  }
});
C('should refuse a file whose extent runs past the end of a cut image, writing nothing of it', () => {
  const whole = readFileSync(withRr);
  const e = isoLookup(bufferReader(whole), 'boot/vmlinuz')!;
  const cut = bufferReader(whole.subarray(0, e.lba * 2048 + 1000));
  const again = isoLookup(cut, 'boot/vmlinuz')!;
  assert.is(again.size, KERNEL.length, 'its record still claims the whole size');
  const dest = join(dir, 'cut-vmlinuz');
  assert.throws(() => isoCopy(cut, again, dest), /vmlinuz runs past the image's end/);
  assert.throws(() => readFileSync(dest), /ENOENT/);
});
C.run();

const cleanup = suite('iso9660 clean-up');
cleanup('should remove its images', () => {
  rmSync(dir, { recursive: true, force: true });
});
cleanup.run();
