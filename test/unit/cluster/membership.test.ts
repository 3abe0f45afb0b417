import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { useTempRoot } from '../../helpers/temp-root';
import { checkedAdmitRequest } from '../../../node-cgi/cluster/membership';
import { checkedReservation } from '../../../node-cgi/cluster/placement';

const FP = '90:FB:EF:95:D3:4D:3F:47:DF:A7:BE:88:ED:8D:06:9C:81:DB:BB:2D:32:DE:4F:BB:7F:58:EF:37:E1:64:5B:70';
const GOOD = { token: 'rjt_x', name: 'n2', url: 'https://10.0.0.2:8007', fingerprint: FP.toLowerCase(), version: '0.1.0' };

const A = suite('checkedAdmitRequest');
useTempRoot(A);
A('should take a joining node and canonicalise its fingerprint', () => {
  const r = checkedAdmitRequest(GOOD);
  assert.is(r.node.name, 'n2');
  assert.is(r.node.fingerprint, FP);
  assert.is(r.node.url, 'https://10.0.0.2:8007');
});
const BAD: [Record<string, unknown>, RegExp, string][] = [
  [{ ...GOOD, name: '../n2' }, /^name: must be a host name/, 'a name with a path in it'],
  [{ ...GOOD, url: 'http://10.0.0.2:8007' }, /^url: must be a cluster URL/, 'a plain-HTTP URL'],
  [{ ...GOOD, url: 'https://10.0.0.2:8007/api/x' }, /^url: must be a cluster URL/, 'a URL with a path'],
  [{ ...GOOD, fingerprint: 'abc' }, /^fingerprint: must be a SHA-256 fingerprint/, 'a short fingerprint'],
  [{ ...GOOD, version: '0.1.0; rm -rf /' }, /^version: must be a version/, 'a version with a command in it'],
  [{ ...GOOD, role: 'master' }, /^role: unknown field/, 'an unknown field'],
  [{ ...GOOD, token: 7 }, /^token: is required/, 'a token that is no string'],
];
for (const [body, re, why] of BAD) A(`should refuse ${why}`, () => assert.throws(() => checkedAdmitRequest(body), re));
A.run();

const R = suite('checkedReservation');
useTempRoot(R);
R('should take a wanted VMID or none, a name, and the VMIDs taken on the node', () => {
  assert.equal(checkedReservation({ vmid: null, name: 'web', used: [101, '102'] }), { vmid: null, name: 'web', used: [101, 102] });
  assert.equal(checkedReservation({ vmid: 150, name: 'db' }), { vmid: 150, name: 'db', used: [] });
});
R('should refuse a VMID out of range, in the request or among the used ones', () => {
  assert.throws(() => checkedReservation({ vmid: 5, name: 'x' }), /vmid: must be between 100/);
  assert.throws(() => checkedReservation({ vmid: null, name: 'x', used: ['0101'] }), /used: must be an integer/);
});
R.run();
