/**
 * `ramvm init`: lay out the data tree and, on first start, create user
 * `admin` with Administrator on "/". The password is RAMVM_ADMIN_PASSWORD,
 * else a random one printed once. Safe to run again: it creates only what
 * is missing. It also makes the node's TLS certificate (its identity in a
 * cluster, cluster/identity.ts) once.
 */
import { mkdirSync } from 'node:fs';
import { paths } from '../lib/paths';
import { updateAccess } from '../access/store';
import { hashPassword, randomPassword } from '../auth/password';
import { authKey } from '../auth/ticket';
import { migrateMailSettings } from '../backup/config';
import { ensureNodeCertificate } from '../cluster/identity';
import { nodeName } from '../lib/paths';

export interface InitResult {
  /** Set when admin was created now with a random password (print it once). */
  generatedPassword?: string;
  createdAdmin: boolean;
  /** What changed in settings of an older version (print them). */
  migrated: string[];
  /** Set when the node's certificate was made now (its first start on this data). */
  madeCertificate: boolean;
}

export function initNode(env: NodeJS.ProcessEnv = process.env): InitResult {
  const p = paths();
  for (const d of [p.etc, p.vms, p.iso, p.images, p.dump, p.qemuRun, p.locks, p.tasks]) mkdirSync(d, { recursive: true });
  mkdirSync(p.priv, { recursive: true, mode: 0o700 });
  authKey();
  const madeCertificate = ensureNodeCertificate(certificateName(nodeName()));
  const result: InitResult = { createdAdmin: false, migrated: [], madeCertificate };
  const mail = migrateMailSettings();
  if (mail) result.migrated.push(mail);
  updateAccess((d) => {
    if (Object.keys(d.users.users).length > 0) return;
    const password = env.RAMVM_ADMIN_PASSWORD || randomPassword();
    if (!env.RAMVM_ADMIN_PASSWORD) result.generatedPassword = password;
    const now = Math.floor(Date.now() / 1000);
    d.users.users.admin = { enabled: true, expire: 0, groups: [], password: hashPassword(password), fullname: 'Administrator', ticketsSince: now };
    if (!d.acl.acl.some((e) => e.user === 'admin' && e.path === '/')) {
      d.acl.acl.push({ path: '/', user: 'admin', role: 'Administrator', propagate: true });
    }
    result.createdAdmin = true;
  });
  return result;
}

/** The certificate's CN: the node name when it is a DNS name (it should be), else a neutral one. */
function certificateName(node: string): string {
  return /^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$/.test(node) ? node : 'ramvm-node';
}
