/**
 * `ramvm init`: lay out the data tree and, on first start, create user
 * `admin` with Administrator on "/". The password is RAMVM_ADMIN_PASSWORD,
 * else a random one printed once. Safe to run again: it creates only what
 * is missing.
 */
import { mkdirSync } from 'node:fs';
import { paths } from '../lib/paths';
import { updateJson } from '../lib/store';
import { aclFile, usersFile, type AclFile, type UsersFile } from '../access/store';
import { hashPassword, randomPassword } from '../auth/password';
import { authKey } from '../auth/ticket';

export interface InitResult {
  /** Set when admin was created now with a random password (print it once). */
  generatedPassword?: string;
  createdAdmin: boolean;
}

export function initNode(env: NodeJS.ProcessEnv = process.env): InitResult {
  const p = paths();
  for (const d of [p.etc, p.vms, p.iso, p.images, p.dump, p.qemuRun, p.locks, p.tasks]) mkdirSync(d, { recursive: true });
  mkdirSync(p.priv, { recursive: true, mode: 0o700 });
  authKey();
  const result: InitResult = { createdAdmin: false };
  updateJson<UsersFile>(usersFile(), { users: {} }, (f) => {
    if (Object.keys(f.users).length > 0) return f;
    const password = env.RAMVM_ADMIN_PASSWORD || randomPassword();
    if (!env.RAMVM_ADMIN_PASSWORD) result.generatedPassword = password;
    f.users.admin = { enabled: true, expire: 0, groups: [], password: hashPassword(password), fullname: 'Administrator' };
    result.createdAdmin = true;
    return f;
  });
  if (result.createdAdmin) {
    updateJson<AclFile>(aclFile(), { acl: [] }, (f) => {
      if (!f.acl.some((e) => e.user === 'admin' && e.path === '/')) {
        f.acl.push({ path: '/', user: 'admin', role: 'Administrator', propagate: true });
      }
      return f;
    });
  }
  return result;
}
