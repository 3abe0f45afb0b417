import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkArgs, convertArgs, createArgs, infoArgs, parseCheck, parseConvertProgress, parseVirtualSize, resizeArgs,
} from '../../../node-cgi/tools/qemu-img';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

const C = suite('createArgs');
C('should create a guest\'s qcow2 without preallocation and its raw sparse', () => {
  assert.equal(createArgs('/i/vm-101-disk-0.qcow2', 'qcow2', 1024), ['qemu-img', 'create', '-q', '-f', 'qcow2', '-o', 'preallocation=off', '/i/vm-101-disk-0.qcow2', '1024']);
  assert.equal(createArgs('/i/vm-101-disk-1.raw', 'raw', 2048), ['qemu-img', 'create', '-q', '-f', 'raw', '/i/vm-101-disk-1.raw', '2048']);
});
C('should create a backup target with zstd clusters when compressing', () => {
  assert.equal(createArgs('/s/x.qcow2', 'qcow2', 1073741824, { zstd: true }), ['qemu-img', 'create', '-q', '-f', 'qcow2', '-o', 'compression_type=zstd', '/s/x.qcow2', '1073741824']);
});
C('should create an overlay naming the backing format, with the backing file\'s size', () => {
  assert.equal(createArgs('/i/o.qcow2', 'qcow2', null, { backing: '/b/x.qcow2' }), ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', '/b/x.qcow2', '/i/o.qcow2']);
});
C.run();

const R = suite('resizeArgs');
R('should grow an image of the given format', () => {
  assert.equal(resizeArgs('/i/d.raw', 'raw', 4096), ['qemu-img', 'resize', '-q', '-f', 'raw', '/i/d.raw', '4096']);
});
R.run();

const V = suite('convertArgs');
V('should convert a stopped guest\'s raw disk to compressed qcow2', () => {
  assert.equal(convertArgs({ file: '/i/vm-101-disk-0.raw', format: 'raw' }, { file: '/s/vm-101-disk-0.qcow2', format: 'qcow2' }, 'zstd'),
    ['qemu-img', 'convert', '-p', '-f', 'raw', '-O', 'qcow2', '-c', '-o', 'compression_type=zstd', '/i/vm-101-disk-0.raw', '/s/vm-101-disk-0.qcow2']);
});
V('should restore into the original format, qcow2 without preallocation', () => {
  assert.equal(convertArgs({ file: '/b/x.qcow2', format: 'qcow2' }, { file: '/i/.restore-vm-105-disk-0.raw', format: 'raw' }),
    ['qemu-img', 'convert', '-p', '-f', 'qcow2', '-O', 'raw', '/b/x.qcow2', '/i/.restore-vm-105-disk-0.raw']);
  assert.equal(convertArgs({ file: '/b/x.qcow2', format: 'qcow2' }, { file: '/i/y.qcow2', format: 'qcow2' }),
    ['qemu-img', 'convert', '-p', '-f', 'qcow2', '-O', 'qcow2', '-o', 'preallocation=off', '/b/x.qcow2', '/i/y.qcow2']);
});
V.run();

const I = suite('infoArgs and checkArgs');
I('should read a running guest\'s image only with -U', () => {
  assert.equal(infoArgs({ file: '/i/d.qcow2', format: 'qcow2' }, true), ['qemu-img', 'info', '-U', '--output=json', '-f', 'qcow2', '/i/d.qcow2']);
  assert.equal(infoArgs({ file: '/i/d.raw', format: 'raw' }, false), ['qemu-img', 'info', '--output=json', '-f', 'raw', '/i/d.raw']);
});
I('should check qcow2 as JSON', () => {
  assert.equal(checkArgs('/i/d.qcow2'), ['qemu-img', 'check', '--output=json', '-f', 'qcow2', '/i/d.qcow2']);
});
I.run();

const P = suite('parseCheck');
P('should read the report of qemu-img 7.2 on a clean image', () => {
  const c = parseCheck(fixture('qemu-img-7.2-check.json'));
  assert.is(c['check-errors'], 0);
  assert.is(c.corruptions, undefined);
  assert.is(c.format, 'qcow2');
});
// [output, reason]
const GARBAGE: [string, string][] = [
  ['qemu-img: Could not open', 'an error instead of JSON'],
  ['{"filename": "x"}', 'no check-errors'],
  ['null', 'JSON null'],
];
for (const [text, why] of GARBAGE) {
  P(`should refuse ${why}, quoting the output`, () => {
    assert.throws(() => parseCheck(text), (e: Error) => e.message.includes(text.slice(0, 20)));
  });
}
P.run();

const S = suite('parseVirtualSize');
S('should read the virtual size of qemu-img 7.2 info', () => {
  assert.is(parseVirtualSize(fixture('qemu-img-7.2-info.json')), 16 * 1024 * 1024);
});
S('should refuse info without a virtual size', () => {
  assert.throws(() => parseVirtualSize('{"format": "raw"}'), /unexpected qemu-img info output/);
});
S.run();

const G = suite('parseConvertProgress');
G('should take the last percentage of a chunk of qemu-img 7.2 output', () => {
  assert.is(parseConvertProgress(fixture('qemu-img-7.2-convert-p.txt')), 100);
  assert.is(parseConvertProgress('    (0.00/100%)\r    (12.50/100%)\r    (37.01/100%)\r'), 37.01);
});
G('should find nothing in other output', () => {
  assert.is(parseConvertProgress('nothing'), null);
});
G.run();
