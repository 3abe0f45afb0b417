import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { certFiles, certificateArgs, certificateOf, checkedFingerprint, ensureNodeCertificate, fingerprintOf } from '../../../node-cgi/cluster/identity';

const FP = '90:FB:EF:95:D3:4D:3F:47:DF:A7:BE:88:ED:8D:06:9C:81:DB:BB:2D:32:DE:4F:BB:7F:58:EF:37:E1:64:5B:70';

const C = suite('checkedFingerprint');
C('should keep the form openssl prints', () => assert.is(checkedFingerprint(FP), FP));
C('should take lower case and no colons, and give the canonical form', () => {
  assert.is(checkedFingerprint(FP.toLowerCase()), FP);
  assert.is(checkedFingerprint(FP.replace(/:/g, '')), FP);
});
const BAD: [unknown, string][] = [
  [FP.slice(3), '31 pairs'],
  [FP.replace('90', 'ZZ'), 'not hex'],
  [FP.replace('90:FB', '90FB'), 'colons in some places only'],
  ['sha256 Fingerprint=' + FP, 'the openssl prefix'],
  [12, 'a number'],
];
for (const [v, why] of BAD) C(`should refuse ${why}`, () => assert.throws(() => checkedFingerprint(v), /fingerprint: must be a SHA-256 fingerprint/));
C.run();

const A = suite('certificateArgs');
A('should make a P-256 self-signed certificate of the node as its own CA', () => {
  const a = certificateArgs('n1', { key: '/k', crt: '/c', pem: '/p' }, '/conf');
  assert.equal(a.slice(0, 5), ['openssl', 'req', '-config', '/conf', '-x509']);
  assert.ok(a.includes('ec_paramgen_curve:prime256v1'));
  assert.ok(a.includes('/CN=n1'));
  assert.ok(a.includes('basicConstraints=critical,CA:TRUE'));
});
A('should refuse a name that is not a DNS name', () => {
  assert.throws(() => certificateArgs('-n1', { key: '/k', crt: '/c', pem: '/p' }, '/conf'), /bad node name/);
  assert.throws(() => certificateArgs('a/b', { key: '/k', crt: '/c', pem: '/p' }, '/conf'), /bad node name/);
});
A.run();

const E = suite('ensureNodeCertificate');
E('should make key, certificate and pem once (0600), and keep them after', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-cert-'));
  try {
    const f = certFiles(dir);
    assert.is(ensureNodeCertificate('n1', dir), true);
    assert.is(statSync(f.pem).mode & 0o777, 0o600);
    assert.is(statSync(f.key).mode & 0o777, 0o600);
    const before = readFileSync(f.pem, 'utf8');
    assert.is(ensureNodeCertificate('n1', dir), false);
    assert.is(readFileSync(f.pem, 'utf8'), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
/** A node's certificate made in a fresh folder, then `damage` done to its files: ensureNodeCertificate's answer and the files after it. */
function afterDamage(damage: (f: ReturnType<typeof certFiles>, pem: string) => void): { made: boolean; pem: string; crt: string; before: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-cert-'));
  try {
    const f = certFiles(dir);
    ensureNodeCertificate('n1', dir);
    const before = readFileSync(f.pem, 'utf8');
    damage(f, before);
    const made = ensureNodeCertificate('n1', dir);
    return { made, pem: readFileSync(f.pem, 'utf8'), crt: readFileSync(f.crt, 'utf8'), before };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
E('should keep an older node.pem (an HTTPS node) and write its certificate beside it', () => {
  const r = afterDamage((f) => rmSync(f.crt));
  assert.is(r.made, false);
  assert.is(r.crt, certificateOf(r.before));
});
E('should write the certificate again from node.pem when node.crt holds none (zeros after a power cut)', () => {
  const r = afterDamage((f) => writeFileSync(f.crt, Buffer.alloc(600)));
  assert.is(r.made, false, 'the node keeps its identity');
  assert.is(r.crt, certificateOf(r.before));
  assert.is(r.pem, r.before);
});
E.run();

const F = suite('fingerprintOf');
F('should print what openssl x509 -fingerprint -sha256 prints, from the pem with its key too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-cert-'));
  try {
    ensureNodeCertificate('n1', dir);
    const f = certFiles(dir);
    const r = spawnSync('openssl', ['x509', '-in', f.crt, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
    const expected = /Fingerprint=(\S+)/.exec(r.stdout)![1]!;
    assert.is(fingerprintOf(readFileSync(f.pem, 'utf8')), expected);
    assert.match(expected, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
F.run();
