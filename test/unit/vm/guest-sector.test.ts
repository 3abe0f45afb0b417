import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { bootSector, GUEST_MARKER } from '../../helpers/guest';

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
