import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { certPaths, certificateArgs } from '../../../build/image/https';

const P = suite('certPaths');
P('should keep the certificate with the node\'s settings', () => {
  assert.equal(certPaths('/'), { dir: '/etc/ramvm/priv', key: '/etc/ramvm/priv/node.key', crt: '/etc/ramvm/priv/node.crt', pem: '/etc/ramvm/priv/node.pem' });
  assert.is(certPaths('/srv/var/').pem, '/srv/var/etc/ramvm/priv/node.pem');
});
P.run();

const C = suite('certificateArgs');
C('should name the node, localhost and 127.0.0.1, and be its own CA', () => {
  const a = certificateArgs('alpha', certPaths('/'), '/run/req.cnf');
  assert.equal(a.slice(0, 4), ['openssl', 'req', '-config', '/run/req.cnf']);
  assert.ok(a.includes('subjectAltName=DNS:alpha,DNS:localhost,IP:127.0.0.1'));
  assert.ok(a.includes('basicConstraints=critical,CA:TRUE'));
  assert.ok(a.includes('/CN=alpha'));
  assert.equal(a.slice(-4), ['-keyout', '/etc/ramvm/priv/node.key', '-out', '/etc/ramvm/priv/node.crt']);
});
C('should refuse a name that could change the subject or the extension', () => {
  assert.throws(() => certificateArgs('a/CN=b', certPaths('/'), '/c'), /bad node name/);
  assert.throws(() => certificateArgs('a,DNS:evil', certPaths('/'), '/c'), /bad node name/);
});
C.run();
