/**
 * A replicated disk's record as the root helper reads it: only a record of
 * the guest and disk it was asked about, with a minor, a size and two nodes
 * by name and IP address, gets through, and what gets through makes a valid
 * resource file.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import { drbdRecordText, parseDrbdRecord, recordReplication, type DrbdRecord } from '../../../node-cgi/drbd/record';
import { parseProcDrbd } from '../../../node-cgi/drbd/proc';
import { drbdadm84 } from '../../helpers/drbd';

const GOOD: DrbdRecord = {
  resource: 'vm-101-disk-0', minor: 3, bytes: 64 * 2 ** 20,
  hosts: [{ name: 'node1', address: '10.99.0.1' }, { name: 'node2', address: '10.99.0.2' }],
};

const P = suite('parseDrbdRecord');

P('should read back what drbdRecordText wrote, with a resource file drbdadm-84 accepts', () => {
  const { record, resource, config } = parseDrbdRecord(drbdRecordText(GOOD), 101, 0);
  assert.equal(record, GOOD);
  assert.is(resource.port, 7791);
  assert.match(config, /device \/dev\/drbd3 minor 3;/);
  const r = drbdadm84(config, 'node1', ['dump', 'vm-101-disk-0']);
  assert.is(r.code, 0, r.err);
});

const with_ = (patch: Record<string, unknown>) => JSON.stringify({ ...GOOD, ...patch });

// [why, text, vmid, disk, the error]
const BAD: [string, string, number, number, RegExp][] = [
  ['not JSON', '{', 101, 0, /not JSON/],
  ['an array', '[]', 101, 0, /not an object/],
  ['the record of another guest', drbdRecordText(GOOD), 102, 0, /resource must be vm-102-disk-0, not "vm-101-disk-0"/],
  ['the record of another disk', drbdRecordText(GOOD), 101, 1, /resource must be vm-101-disk-1/],
  ['a field the helper does not know (a handler)', with_({ handlers: { 'split-brain': '/bin/sh' } }), 101, 0, /unknown field handlers/],
  ['a minor past the last', with_({ minor: 256 }), 101, 0, /minor must be 0–255/],
  ['a minor as text', with_({ minor: '0' }), 101, 0, /minor must be 0–255/],
  ['a size not in 4 KiB steps', with_({ bytes: 2 ** 20 + 512 }), 101, 0, /bytes must be a multiple of 4096/],
  ['a size of nothing', with_({ bytes: 0 }), 101, 0, /bytes must be a multiple of 4096/],
  ['one host', with_({ hosts: [GOOD.hosts[0]] }), 101, 0, /hosts must be two nodes/],
  ['a host with more fields', with_({ hosts: [{ ...GOOD.hosts[0], port: 1 }, GOOD.hosts[1]] }), 101, 0, /hosts\[0\] must be \{name, address\}/],
  ['a host name that would end the section', with_({ hosts: [{ name: 'node1 { }', address: '10.99.0.1' }, GOOD.hosts[1]] }), 101, 0, /must be a host name/],
  ['an address that is a name', with_({ hosts: [GOOD.hosts[0], { name: 'node2', address: 'node2.lan' }] }), 101, 0, /not an IP address/],
  ['an address with a statement after it', with_({ hosts: [GOOD.hosts[0], { name: 'node2', address: '10.99.0.2; handlers' }] }), 101, 0, /not an IP address/],
];

P('should refuse a record that is not one ramvm writes, naming what is wrong', () => {
  for (const [why, text, vmid, disk, re] of BAD) {
    try {
      parseDrbdRecord(text, vmid, disk);
      assert.unreachable(why);
    } catch (e) {
      assert.instance(e, HttpError, why);
      assert.is((e as HttpError).status, 400, why);
      assert.match((e as Error).message, re, why);
    }
  }
});

P.run();

const RR = suite('recordReplication');
RR('should name the other node as the peer and read this node\'s minor', () => {
  const proc = parseProcDrbd('version: 8.4.11 (api:1/proto:86-101)\n 2: cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate C r-----\n 3: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----\n');
  assert.equal(recordReplication(GOOD, proc, 'node1'), { peer: 'node2', state: 'UpToDate', synced: null, connection: 'WFConnection', role: 'Primary', peerState: 'DUnknown' });
  assert.is(recordReplication(GOOD, proc, 'node2').peer, 'node1');
  assert.is(recordReplication({ ...GOOD, minor: 2 }, proc, 'node2').synced, 100);
});
RR.run();
