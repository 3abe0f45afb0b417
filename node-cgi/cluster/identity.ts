/**
 * A node's identity in a cluster: its TLS certificate (self-signed, made
 * once per data root by `ramvm init`) and that certificate's SHA-256
 * fingerprint, which other nodes pin. The same certificate serves the
 * cluster socket and, with RAMVM_HTTPS, the web UI.
 *
 *   etc/ramvm/priv/node.key   private key (P-256), 0600
 *   etc/ramvm/priv/node.crt   the certificate: CN and DNS name the node
 *   etc/ramvm/priv/node.pem   both, lighttpd's ssl.pemfile, 0600
 *
 * A fingerprint is written the way `openssl x509 -noout -fingerprint
 * -sha256` prints it: 32 upper-case hex pairs joined by ":",
 *
 *   90:FB:EF:95:D3:4D:3F:47:DF:A7:BE:88:ED:8D:06:9C:81:DB:BB:2D:32:DE:4F:BB:7F:58:EF:37:E1:64:5B:70
 *
 * and accepted from users in any case, with or without the colons.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { invalid } from '../lib/errors';
import { runSync } from '../lib/exec';
import { paths } from '../lib/paths';
import { writeFileAtomic } from '../lib/store';

/** Days a node certificate is valid. */
export const CERT_DAYS = 3650;

/**
 * openssl's config for `req`: an image node has no openssl.cnf, and
 * openssl 3 refuses `req` without one. Everything else is on the command line.
 */
export const OPENSSL_REQ_CONF = '[req]\ndistinguished_name = dn\n[dn]\n';

export interface CertFiles {
  key: string;
  crt: string;
  pem: string;
}

/** The certificate's files in `priv` (default this node's: paths().nodeKey, nodeCert, nodePem). */
export function certFiles(priv?: string): CertFiles {
  if (priv === undefined) return { key: paths().nodeKey, crt: paths().nodeCert, pem: paths().nodePem };
  return { key: join(priv, 'node.key'), crt: join(priv, 'node.crt'), pem: join(priv, 'node.pem') };
}

/** `openssl req` for a new self-signed certificate of node `name`. */
export function certificateArgs(name: string, f: CertFiles, config: string): string[] {
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(name)) throw new Error(`bad node name for a certificate: ${JSON.stringify(name)}`);
  return ['openssl', 'req', '-config', config, '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', String(CERT_DAYS), '-subj', `/CN=${name}`,
    '-addext', `subjectAltName=DNS:${name},DNS:localhost,IP:127.0.0.1`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-keyout', f.key, '-out', f.crt];
}

/**
 * Make the node's certificate unless it has one; true when made now. A
 * node.pem from before (an HTTPS node) is kept: it is the node's identity.
 */
export function ensureNodeCertificate(name: string, priv?: string): boolean {
  const f = certFiles(priv);
  const dir = priv ?? paths().priv;
  if (existsSync(f.pem)) {
    // node.crt comes from openssl unsynced: after a power cut soon after the first boot it may hold zeros.
    if (!existsSync(f.crt) || !readFileSync(f.crt, 'utf8').includes('-----BEGIN CERTIFICATE-----')) {
      writeFileAtomic(f.crt, certificateOf(readFileSync(f.pem, 'utf8')), 0o644);
    }
    return false;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const conf = join(dir, '.openssl-req.cnf');
  writeFileAtomic(conf, OPENSSL_REQ_CONF, 0o600);
  try {
    runSync(certificateArgs(name, f, conf), { timeoutMs: 30_000 });
  } finally {
    rmSync(conf, { force: true });
  }
  writeFileAtomic(f.pem, readFileSync(f.crt, 'utf8') + readFileSync(f.key, 'utf8'), 0o600);
  return true;
}

/** The first CERTIFICATE block of a PEM text (a pem may hold the key too). */
export function certificateOf(pem: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(pem);
  if (!m) throw new Error('no certificate in the PEM text');
  return m[0].endsWith('\n') ? m[0] : `${m[0]}\n`;
}

/** "AA:BB:…" of a certificate, PEM text or DER bytes. */
export function fingerprintOf(cert: string | Buffer): string {
  return new X509Certificate(typeof cert === 'string' ? certificateOf(cert) : cert).fingerprint256;
}

/** This node's fingerprint (from node.crt). */
export function nodeFingerprint(): string {
  return fingerprintOf(readFileSync(certFiles().crt, 'utf8'));
}

/**
 * A fingerprint as users type it ("90fbef…", "90:fb:ef:…") in the canonical
 * form; 400 naming `field` otherwise.
 */
export function checkedFingerprint(value: unknown, field = 'fingerprint'): string {
  const hex = typeof value === 'string' ? value.trim().replace(/:/g, '') : '';
  if (!/^[0-9A-Fa-f]{64}$/.test(hex) || (typeof value === 'string' && value.includes(':') && !/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(value.trim()))) {
    throw invalid(field, 'must be a SHA-256 fingerprint: 32 hex pairs like "90:FB:EF:…" (openssl x509 -noout -fingerprint -sha256)');
  }
  return hex.toUpperCase().match(/../g)!.join(':');
}
