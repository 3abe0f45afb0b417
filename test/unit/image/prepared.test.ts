import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { parseBootParams } from '../../../build/image/boot-params';
import {
  parseImageArgs, parsePreparedNode, preparedIsoName, preparedJoinToken, preparedNode, withPrepared, type ClusterImageArgs,
} from '../../../build/image/prepared';

const A = suite('parseImageArgs');
A('should build the standard image without arguments, no ISO with --no-iso, and the kiosk variant too with --kiosk', () => {
  assert.equal(parseImageArgs([]), { iso: true, kiosk: false });
  assert.equal(parseImageArgs(['--no-iso']), { iso: false, kiosk: false });
  assert.equal(parseImageArgs(['--kiosk']), { iso: true, kiosk: true });
});
A('should read a cluster of two nodes, sorted, names defaulting to node<INDEX>', () => {
  assert.equal(parseImageArgs(['--cluster', 'office', '--node', '2:10.0.0.12/24:beta', '--node', '1:10.0.0.11/24', '--gw', '10.0.0.1', '--dns', '10.0.0.1,10.0.0.2']), {
    iso: true,
    kiosk: false,
    cluster: {
      cluster: 'office',
      nodes: [{ index: 1, name: 'node1', address: '10.0.0.11', prefix: 24 }, { index: 2, name: 'beta', address: '10.0.0.12', prefix: 24 }],
      gw: '10.0.0.1', dns: ['10.0.0.1', '10.0.0.2'],
    },
  });
});
const BAD: [string[], RegExp][] = [
  [['--cluster', 'Office', '--node', '1:10.0.0.1/24', '--node', '2:10.0.0.2/24'], /--cluster Office: a cluster name is 1-32 lower-case/],
  [['--cluster', 'o', '--node', '1:10.0.0.1/24'], /give at least two nodes/],
  [['--cluster', 'o', '--node', '2:10.0.0.2/24', '--node', '3:10.0.0.3/24'], /node 1 \(the master\) is missing/],
  [['--cluster', 'o', '--node', '1:10.0.0.1/24', '--node', '2:10.0.0.1/24'], /two nodes have the address 10\.0\.0\.1/],
  [['--cluster', 'o', '--node', '1:10.0.0.1/24', '--node', '2:10.0.0.2/24:node1'], /two nodes have the name node1/],
  [['--cluster', 'o', '--node', '1:10.0.0.1'], /expected INDEX:ADDR\/PREFIX\[:NAME\]/],
  [['--cluster', 'o', '--node', '4:10.0.0.4/24'], /the index is 1-3/],
  [['--cluster', 'o', '--node', '1:10.0.0.256/24'], /10\.0\.0\.256 is no IPv4 address/],
  [['--cluster', 'o', '--node', '1:10.0.0.1/33'], /the prefix length must be 1-32/],
  [['--cluster', 'o', '--node', '1:10.0.0.1/24:a;b'], /a node name is 1-63/],
  [['--cluster', 'o', '--gw', 'gateway'], /--gw gateway: expected an IPv4 address/],
  [['--node', '1:10.0.0.1/24'], /--node, --gw and --dns need --cluster NAME/],
  [['--cluster'], /--cluster needs a value/],
  [['--bogus'], /unknown option --bogus/],
];
for (const [args, why] of BAD) A(`should refuse ${args.join(' ')}`, () => assert.throws(() => parseImageArgs(args), why));
A.run();

const c: ClusterImageArgs = {
  cluster: 'office', gw: '10.0.0.1',
  nodes: [{ index: 1, name: 'node1', address: '10.0.0.11', prefix: 24 }, { index: 2, name: 'node2', address: '10.0.0.12', prefix: 24 }],
};
const fp = (b: string) => Array(32).fill(b).join(':');
const fps = new Map([[1, fp('AA')], [2, fp('BB')]]);

const N = suite('preparedNode');
N('should give a node its address, the master and every peer\'s fingerprint', () => {
  assert.equal(preparedNode(c, 2, fps), {
    cluster: 'office', index: 2, name: 'node2', ip: { address: '10.0.0.12', prefix: 24 }, gw: '10.0.0.1', master: 'node1',
    nodes: [{ index: 1, name: 'node1', address: '10.0.0.11', fingerprint: fp('AA') }, { index: 2, name: 'node2', address: '10.0.0.12', fingerprint: fp('BB') }],
  });
});
N('should refuse a node without a certificate', () => {
  assert.throws(() => preparedNode(c, 2, new Map([[1, fp('AA')]])), /no certificate for node 2/);
});
N.run();

const P = suite('parsePreparedNode');
P('should read back what the build wrote', () => {
  const n = preparedNode(c, 1, fps);
  assert.equal(parsePreparedNode(JSON.stringify(n)), n);
});
P('should refuse a file whose master is not among the nodes, or with a bad fingerprint', () => {
  assert.throws(() => parsePreparedNode(JSON.stringify({ ...preparedNode(c, 1, fps), master: 'node9' })), /is not a prepared node/);
  const bad = preparedNode(c, 1, fps);
  bad.nodes[1]!.fingerprint = 'BB';
  assert.throws(() => parsePreparedNode(JSON.stringify(bad)), /is not a prepared node/);
});
P.run();

const J = suite('preparedJoinToken');
J('should derive a join token per node from the secret, shaped like the API\'s', () => {
  const secret = Buffer.alloc(32, 7);
  const t = preparedJoinToken(secret, 'node2');
  assert.match(t, /^rjt_[A-Za-z0-9_-]{43}$/);
  assert.is(preparedJoinToken(secret, 'node2'), t);
  assert.is.not(preparedJoinToken(secret, 'node3'), t);
  assert.is.not(preparedJoinToken(Buffer.alloc(32, 8), 'node2'), t);
});
J.run();

const W = suite('withPrepared');
W('should take name, address and gateway from the prepared node and find the data disk', () => {
  const p = withPrepared(parseBootParams('quiet').params, preparedNode(c, 2, fps));
  assert.equal(p, { ramonly: false, shell: false, node: 'node2', ip: { address: '10.0.0.12', prefix: 24 }, gw: '10.0.0.1', datadisk: 'auto', kiosk: true });
});
W('should let the command line win', () => {
  const p = withPrepared(parseBootParams('ramvm.ip=192.168.1.5/24 datadisk=/dev/sdb ramvm.node=x').params, preparedNode(c, 2, fps));
  assert.equal([p.node, p.ip, p.gw, p.datadisk], ['x', { address: '192.168.1.5', prefix: 24 }, undefined, '/dev/sdb']);
  assert.is(withPrepared(parseBootParams('ramonly').params, preparedNode(c, 2, fps)).datadisk, undefined);
});
W.run();

const I = suite('preparedIsoName');
I('should name an ISO by cluster and node', () => assert.is(preparedIsoName('office', 'node2'), 'office-node2.iso'));
I.run();
