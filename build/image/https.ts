/**
 * HTTPS of a node: its self-signed certificate, made once and kept with the
 * node's settings (`<root>/etc/ramvm/priv/`, on the data disk of an image
 * node), and the openssl command that makes it. `npm start` with
 * RAMVM_HTTPS=1 and the image's set-up (when the image ships the TLS config
 * template, as the kiosk variant does) use the same code.
 *
 *   node.key  private key (P-256: made at once even on an emulated CPU)
 *   node.crt  the certificate: CN and DNS name the node, plus localhost and 127.0.0.1
 *   node.pem  both, lighttpd's ssl.pemfile (0600)
 *
 * The certificate is its own CA (basicConstraints CA:TRUE), so a client
 * can trust exactly this one certificate, as the kiosk does.
 */

/** Days a node certificate is valid. */
export const CERT_DAYS = 3650;

/**
 * openssl's config for `req`: an image node has no openssl.cnf, and
 * openssl 3 refuses `req` without one. Everything else is on the command line.
 */
export const OPENSSL_REQ_CONF = '[req]\ndistinguished_name = dn\n[dn]\n';

export interface CertPaths {
  dir: string;
  key: string;
  crt: string;
  pem: string;
}

/** The certificate's files under a data root: `/` on an image node, ./var for npm start. */
export function certPaths(root: string): CertPaths {
  const dir = `${root.replace(/\/+$/, '')}/etc/ramvm/priv`;
  return { dir, key: `${dir}/node.key`, crt: `${dir}/node.crt`, pem: `${dir}/node.pem` };
}

/** `openssl req` for a new self-signed certificate of node `name` (a DNS label, checked by the caller's parser). */
export function certificateArgs(name: string, p: CertPaths, config: string): string[] {
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(name)) throw new Error(`bad node name for a certificate: ${JSON.stringify(name)}`);
  return ['openssl', 'req', '-config', config, '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', String(CERT_DAYS), '-subj', `/CN=${name}`,
    '-addext', `subjectAltName=DNS:${name},DNS:localhost,IP:127.0.0.1`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-keyout', p.key, '-out', p.crt];
}
