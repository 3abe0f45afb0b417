import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { parseCdrom, parseDiskAdd, parseDiskChange, parseShutdown } from '../../../node-cgi/vm/requests';

// [body, message, reason]
type Bad = [Record<string, unknown>, RegExp, string];

function refuses(parse: (b: Record<string, unknown>) => unknown, table: Bad[], s: ReturnType<typeof suite>): void {
  for (const [body, message, why] of table) s(`should refuse ${JSON.stringify(body)}: ${why}`, () => assert.throws(() => parse(body), message));
}

const S = suite('parseShutdown');
S('should press the button and not wait without a timeout', () => {
  assert.equal(parseShutdown({}), { timeout: null, forceStop: false });
});
S('should wait, and stop when asked', () => {
  assert.equal(parseShutdown({ timeout: 60 }), { timeout: 60, forceStop: false });
  assert.equal(parseShutdown({ timeout: 3600, forceStop: true }), { timeout: 3600, forceStop: true });
});
refuses(parseShutdown, [
  [{ forceStop: true }, /^forceStop: needs a timeout/, 'a hard stop needs a time to wait first'],
  [{ forceStop: 'yes' }, /^forceStop: must be true or false$/, 'not a boolean'],
  [{ timeout: 0 }, /^timeout: must be a whole number of seconds from 1 to 3600$/, 'no time at all'],
  [{ timeout: 3601 }, /^timeout: must be a whole number/, 'over an hour'],
  [{ timeout: 1.5 }, /^timeout: must be a whole number/, 'a fraction'],
  [{ timeout: '60' }, /^timeout: must be a whole number/, 'a string'],
  [{ timout: 60 }, /^timout: unknown field$/, 'a typo'],
], S);
S.run();

const C = suite('parseCdrom');
C('should take a name or null, left to the config\'s validation', () => {
  assert.equal(parseCdrom({ cdrom: 'debian-12.iso' }), { cdrom: 'debian-12.iso' });
  assert.equal(parseCdrom({ cdrom: null }), { cdrom: null });
});
refuses(parseCdrom, [[{}, /^cdrom: is required: an ISO image name or null$/, 'an empty body would change nothing silently']], C);
C.run();

const A = suite('parseDiskAdd');
A('should default the format to qcow2 and keep the other fields for validation', () => {
  assert.equal(parseDiskAdd({ size: '8G', bus: 'virtio' }), { size: '8G', bus: 'virtio', format: 'qcow2' });
  assert.equal(parseDiskAdd({ format: 'raw' }), { format: 'raw' });
});
A('should make a replicated disk raw unless a format is given (which validation then refuses if not raw)', () => {
  assert.equal(parseDiskAdd({ size: '64M', replicated: true }), { size: '64M', replicated: true, format: 'raw' });
  assert.equal(parseDiskAdd({ replicated: true, format: 'qcow2' }), { replicated: true, format: 'qcow2' });
  assert.equal(parseDiskAdd({ replicated: false }), { replicated: false, format: 'qcow2' });
});
refuses(parseDiskAdd, [
  [{ replicated: 'yes' }, /^replicated: must be true or false$/, 'replication is a yes or no'],
  [{ file: '/etc/passwd' }, /^file: unknown field$/, 'the file is the node\'s to choose'],
  [{ format: '../x' }, /^format: must be one of qcow2, raw$/, 'the format becomes part of a file name'],
  [{ format: 'vmdk' }, /^format: must be one of qcow2, raw$/, 'an unsupported format'],
], A);
A.run();

const D = suite('parseDiskChange');
D('should take size, bus and cache', () => {
  assert.equal(parseDiskChange({ size: '64G' }), { size: '64G' });
  assert.equal(parseDiskChange({ bus: 'sata', cache: 'none' }), { bus: 'sata', cache: 'none' });
});
refuses(parseDiskChange, [
  [{ format: 'raw' }, /^format: cannot be changed$/, 'converting a disk is not a change of its config'],
  [{ size: '64G', file: 'x.raw' }, /^file: unknown field$/, 'the file name is the node\'s'],
  [{ id: 'disk1' }, /^id: unknown field$/, 'the id comes from the path'],
], D);
D.run();
