import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { parsePatternLine, patternBootSector, patternBytes } from '../../helpers/pattern-guest';

const S = suite('patternBootSector');
S('should end in the boot signature and carry the LBA and the pattern in its data area', () => {
  const b = patternBootSector('k3f9', 2400);
  assert.is(b.length, 512);
  assert.equal([b[510], b[511]], [0x55, 0xaa]);
  assert.equal([...b.subarray(0x100, 0x108)], [0x10, 0, 1, 0, 0x00, 0x7e, 0, 0], 'disk address packet: 1 sector into 0000:7E00');
  assert.is(b.readBigUInt64LE(0x108), 2400n);
  assert.ok(b.subarray(0x120, 0x140).equals(patternBytes('k3f9')));
  assert.is(b.toString('latin1', 0x140, 0x154), 'ramvm-pattern found ');
});
S('should refuse sector 0 (the program itself) and LBAs that are not whole numbers', () => {
  assert.throws(() => patternBootSector('k3f9', 0), /pattern LBA must be a whole number from 1 on \(sector 0 is the program\), not 0/);
  assert.throws(() => patternBootSector('k3f9', 2.5), /pattern LBA must be a whole number from 1 on/);
});
S.run();

const B = suite('patternBytes');
B('should be "ramvm-pattern <token>" NUL-padded to 32 bytes', () => {
  const b = patternBytes('0123456789abcdef');
  assert.is(b.length, 32);
  assert.is(b.toString('latin1'), 'ramvm-pattern 0123456789abcdef\0\0');
});
B('should refuse tokens the program cannot carry, each for its reason', () => {
  const bad: [string, string][] = [
    ['', 'empty'],
    ['0123456789abcdef0', '17 characters: no NUL left in 32 bytes'],
    ['ABC', 'upper case: the line parser reads lowercase'],
    ['a b', 'a space would split the line'],
  ];
  for (const [token, why] of bad) assert.throws(() => patternBytes(token), /token must be 1 to 16 lowercase letters or digits/, why);
});
B.run();

const L = suite('parsePatternLine');
L('should read found, written and error lines once they end in CR LF', () => {
  assert.equal(parsePatternLine('ramvm-pattern found k3f9\r\n'), { result: 'found', token: 'k3f9' });
  assert.equal(parsePatternLine('noise\r\nramvm-pattern written k3f9\r\n'), { result: 'written', token: 'k3f9' });
  assert.equal(parsePatternLine('ramvm-pattern error verify 80 k3f9\r\n'), { result: 'error', step: 'verify', status: 0x80, token: 'k3f9' });
  assert.equal(parsePatternLine('ramvm-pattern error compare 00 k3f9\r\n'), { result: 'error', step: 'compare', status: 0, token: 'k3f9' });
});
L('should see nothing in a log without the line, or with half of it', () => {
  assert.is(parsePatternLine(''), undefined);
  assert.is(parsePatternLine('ramvm-pattern writ'), undefined);
  assert.is(parsePatternLine('ramvm-pattern written k3f9'), undefined, 'no CR LF yet');
});
L('should refuse an error line without its step', () => {
  assert.throws(() => parsePatternLine('ramvm-pattern error k3f9\r\n'), /pattern guest error line without a step/);
});
L.run();
