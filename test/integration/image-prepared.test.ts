/**
 * The prepared files of a cluster, made for real (openssl, the cpio writer)
 * from stand-in boot files, no lab: each node's cpio holds its node.json,
 * the shared secret and its own key alone, all 0600 under a 0700 folder,
 * and every node.json pins the certificates the others really hold.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPreparedImages } from '../../build/image/image';
import { parseImageArgs, parsePreparedNode } from '../../build/image/prepared';

/** newc members: name → { mode, data }. */
function readCpio(buf: Buffer): Map<string, { mode: number; data: Buffer }> {
  const out = new Map<string, { mode: number; data: Buffer }>();
  let at = 0;
  const pad = (n: number) => (n + 3) & ~3;
  for (;;) {
    const head = buf.subarray(at, at + 110).toString('ascii');
    assert.is(head.slice(0, 6), '070701');
    const field = (i: number) => parseInt(head.slice(6 + i * 8, 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = buf.subarray(at + 110, at + 110 + nameSize - 1).toString('utf8');
    const dataAt = pad(at + 110 + nameSize);
    if (name === 'TRAILER!!!') return out;
    out.set(name, { mode, data: buf.subarray(dataAt, dataAt + size) });
    at = pad(dataAt + size);
  }
}

const P = suite('buildPreparedImages');
P('should give each node its own key, the shared secret and every peer\'s real fingerprint, all 0600', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-prepared-'));
  try {
    writeFileSync(join(dir, 'vmlinuz'), 'k');
    writeFileSync(join(dir, 'initrd.img'), 'i');
    const c = parseImageArgs(['--cluster', 'office', '--node', '1:10.0.0.11/24', '--node', '2:10.0.0.12/24']).cluster!;
    const files = buildPreparedImages(c, { kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), vmlinux: '', release: 'test', rows: [], report: '' }, join(dir, 'out'), { iso: false });
    assert.equal(files.map((f) => [f.name, f.address, f.iso]), [['node1', '10.0.0.11/24', undefined], ['node2', '10.0.0.12/24', undefined]]);
    const members = files.map((f) => {
      assert.is(statSync(f.cpio).mode & 0o777, 0o600, `${f.cpio} is the cluster's credential`);
      return readCpio(readFileSync(f.cpio));
    });
    const certs = members.map((m) => new X509Certificate(m.get('prepared/node.pem')!.data));
    members.forEach((m, i) => {
      assert.equal([...m.keys()], ['prepared', 'prepared/node.json', 'prepared/secret', 'prepared/node.pem']);
      assert.is(m.get('prepared')!.mode, 0o040700);
      for (const f of ['node.json', 'secret', 'node.pem']) assert.is(m.get(`prepared/${f}`)!.mode, 0o100600, f);
      const pem = m.get('prepared/node.pem')!.data.toString();
      assert.is((pem.match(/PRIVATE KEY-----/g) ?? []).length, 2, 'one key: its own');
      assert.ok(createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' }).equals(certs[i]!.publicKey.export({ type: 'spki', format: 'der' })), 'the key is the certificate\'s');
      const node = parsePreparedNode(m.get('prepared/node.json')!.data.toString());
      assert.is(node.name, `node${i + 1}`);
      assert.is(node.master, 'node1');
      assert.equal(node.nodes.map((n) => n.fingerprint), certs.map((x) => x.fingerprint256), 'pins the certificates the nodes hold');
      assert.match(certs[i]!.subject, new RegExp(`CN=node${i + 1}`));
    });
    assert.match(members[0]!.get('prepared/secret')!.data.toString(), /^[0-9a-f]{64}\n$/);
    assert.ok(members[0]!.get('prepared/secret')!.data.equals(members[1]!.get('prepared/secret')!.data), 'one secret for the cluster');
    assert.is.not(certs[0]!.fingerprint256, certs[1]!.fingerprint256);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
P.run();
