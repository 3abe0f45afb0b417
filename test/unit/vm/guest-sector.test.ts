import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { bootSector, GUEST_MARKER, keyColourSector } from '../../helpers/guest';

const B = suite('bootSector');
B('should be one sector with the boot signature', () => {
  const s = bootSector();
  assert.is(s.length, 512);
  assert.is(s.readUInt16LE(510), 0xaa55);
});
B('should point "mov si" at the marker, printed with CR LF and a NUL', () => {
  const s = bootSector();
  assert.is(s[0x29], 0xbe, 'mov si, imm16');
  const at = s.readUInt16LE(0x2a) - 0x7c00;
  assert.is(s.toString('latin1', at, at + GUEST_MARKER.length + 3), `${GUEST_MARKER}\r\n\0`);
});
B('should read PMBASE from PCI 00:01.3 register 0x40, enable the power button before the marker, power off with SLP_EN', () => {
  const s = bootSector();
  assert.is(s.readUInt32LE(0x0c), 0x80000b40);
  assert.is(s.readUInt16LE(0x23), 0x0100, 'PWRBTN_EN written at 0x25, before the print loop at 0x2C');
  assert.is(s.readUInt16LE(0x52), 0x2000);
});
B('should carry another marker and refuse one that does not fit', () => {
  assert.match(bootSector('HELLO-42').toString('latin1'), 'HELLO-42\r\n');
  assert.throws(() => bootSector('x'.repeat(420)), /^marker must be printable ASCII of at most 418 characters$/);
  assert.throws(() => bootSector('tab\there'), /^marker must be printable ASCII of at most 418 characters$/);
});
B.run();

const K = suite('keyColourSector');
K('should be one sector with the boot signature that loops back to its key wait', () => {
  const s = keyColourSector();
  assert.is(s.length, 512);
  assert.is(s.readUInt16LE(510), 0xaa55);
  assert.equal([...s.subarray(4, 8)], [0xb4, 0x00, 0xcd, 0x16], 'int 0x16, ah 0: wait for a key');
  assert.is(0x1c + (s[0x1b]! << 24 >> 24), 0x04, 'the jump at 0x1A lands on the key wait');
});
K('should clear the whole 80x25 screen with the key\'s colour as background', () => {
  const s = keyColourSector();
  assert.is(s.readUInt16LE(0x11), 0x0600, 'int 0x10 ah 6, al 0: scroll up = clear');
  assert.is(s.readUInt16LE(0x16), 0x184f, 'to row 24, column 79');
  assert.equal([...s.subarray(0x08, 0x0a)], [0x24, 0x07], 'colour = ASCII mod 8');
});
K.run();
