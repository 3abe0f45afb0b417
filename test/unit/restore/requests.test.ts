import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { parseBoot, parseBootCheckRun, parseKeep, parseLinks, parseMedium, parseRestore } from '../../../node-cgi/restore/requests';
import { checkRestoreTarget } from '../../../node-cgi/restore/plan';

// [body, message, reason]
type Bad = [Record<string, unknown>, RegExp, string];

function refuses(s: ReturnType<typeof suite>, parse: (b: Record<string, unknown>) => unknown, table: Bad[]): void {
  for (const [body, message, why] of table) s(`should refuse ${JSON.stringify(body)}: ${why}`, () => assert.throws(() => parse(body), message));
}

const R = suite('parseRestore');
R('should restore as the backup\'s own guest unless told another VMID', () => {
  assert.equal(parseRestore({}, 101), { vmid: 101, force: false });
  assert.equal(parseRestore({ vmid: 205, storage: 'local' }, 101), { vmid: 205, force: false });
  assert.equal(parseRestore({ force: true }, 101), { vmid: 101, force: true });
});
refuses(R, (b) => parseRestore(b, 101), [
  [{ storage: 'usb' }, /^storage: guests' disks on this node live in storage "local"/, 'other storages hold backups, not disks'],
  [{ force: 'yes' }, /^force: must be true or false$/, 'not a boolean'],
  [{ vmid: 99 }, /^vmid: /, 'below 100'],
  [{ vmdi: 1 }, /^vmdi: unknown field$/, 'a misspelt field'],
]);
R.run();

const B = suite('parseBoot');
B('should boot without a live restore by default', () => {
  assert.equal(parseBoot({}), { live: false, speed: 0, force: false });
  assert.equal(parseBoot({ vmid: 106, live: true, bwlimit: 1, force: true }), { vmid: 106, live: true, speed: 1048576, force: true });
});
refuses(B, parseBoot, [
  [{ live: 'yes' }, /^live: must be true or false$/, 'live not a boolean'],
  [{ bwlimit: -1 }, /^bwlimit: must be MiB\/s/, 'negative speed'],
  [{ network: true }, /^network: unknown field$/, 'the network is connected later, with /link'],
]);
B.run();

const C = suite('parseBootCheckRun');
C('should run 60 s unless told', () => {
  assert.equal(parseBootCheckRun({}), { seconds: 60 });
  assert.equal(parseBootCheckRun({ seconds: 5 }), { seconds: 5 });
});
refuses(C, parseBootCheckRun, [
  [{ time: 5 }, /^time: unknown field$/, 'the field is seconds'],
  [{ seconds: 0 }, /^seconds: /, 'no time to boot'],
]);
C.run();

const L = suite('parseLinks');
L('should take up or down', () => {
  assert.equal(parseLinks({ up: true }), { up: true });
  assert.equal(parseLinks({ up: false }), { up: false });
});
refuses(L, parseLinks, [
  [{}, /^up: is required/, 'an empty body says nothing'],
  [{ up: 'true' }, /^up: is required/, 'the JSON text of true'],
  [{ up: true, nic: 'net0' }, /^nic: unknown field$/, 'links go up and down together'],
]);
L.run();

const K = suite('parseKeep');
K('should read the speed of the live restore', () => {
  assert.equal(parseKeep({}), { speed: 0 });
  assert.equal(parseKeep({ bwlimit: 50 }), { speed: 50 * 1048576 });
});
refuses(K, parseKeep, [[{ speed: 5 }, /^speed: unknown field$/, 'the API field is bwlimit, in MiB/s']]);
K.run();

const M = suite('parseMedium');
M('should take an image name or null', () => {
  assert.equal(parseMedium({ image: 'ramvm-rescue.iso' }), { image: 'ramvm-rescue.iso' });
  assert.equal(parseMedium({ image: null }), { image: null });
});
refuses(M, parseMedium, [
  [{}, /^image: is required/, 'an empty body would clear it silently'],
  [{ image: '../etc/passwd' }, /^image: /, 'a name must not reach a path'],
]);
M.run();

const T = suite('checkRestoreTarget');
T('should let a free VMID be written', () => {
  checkRestoreTarget({ vmid: 205, force: false }, 101, undefined);
});
T('should let force replace the stopped original', () => {
  checkRestoreTarget({ vmid: 101, force: true }, 101, { running: false });
});
// [vmid, force, existing, message, reason]
const REFUSED: [number, boolean, { running: boolean; temporary?: boolean }, RegExp, string][] = [
  [205, true, { running: false }, /^guest 205 exists; a restore replaces only the guest a backup was taken of \(101\)/, 'another guest is never overwritten'],
  [101, false, { running: false }, /send "force": true/, 'overwriting needs force'],
  [101, true, { running: false, temporary: true }, /runs from a backup/, 'a guest running from a backup is not a target'],
  [101, true, { running: true }, /is running; stop it/, 'a running guest\'s disks are in use'],
];
for (const [vmid, force, existing, message, why] of REFUSED) {
  T(`should refuse: ${why}`, () => assert.throws(() => checkRestoreTarget({ vmid, force }, 101, existing), message));
}
T.run();
