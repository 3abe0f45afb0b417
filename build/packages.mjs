// build/packages.json applied: which Debian packages a command needs, which
// of them are missing, and the apt-get argv that installs them. Plain JS:
// build/run.mjs uses it before the npm packages exist.
//
//   missingPackages(readPackages(root), 'start')   → ['lighttpd-mod-deflate']
//   installArgv(['lighttpd-mod-deflate'])          → ['apt-get', 'install', '-y', '--no-install-recommends', 'lighttpd-mod-deflate']
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** @typedef {{ name: string, for: string[], files: string[], applets?: string[], why: string }} Package */
/** @typedef {{ purposes: Record<string, string>, commands: Record<string, string[]>, packages: Package[], notPackaged: Record<string, string> }} PackageList */

/** @param {string} root the repository @returns {PackageList} */
export function readPackages(root) {
  return JSON.parse(readFileSync(join(root, 'build/packages.json'), 'utf8'));
}

/** The packages of a command's purposes (none for a command without any). @param {PackageList} list @param {string} command @returns {Package[]} */
export function packagesOf(list, command) {
  const purposes = list.commands[command] ?? [];
  return list.packages.filter((p) => p.for.some((f) => purposes.includes(f)));
}

/**
 * Names of the command's packages with a file missing.
 * @param {PackageList} list @param {string} command @param {(path: string) => boolean} [exists]
 * @returns {string[]}
 */
export function missingPackages(list, command, exists = existsSync) {
  return packagesOf(list, command).filter((p) => !p.files.every((f) => exists(f))).map((p) => p.name);
}

/** @param {string[]} names @returns {string[]} */
export function installArgv(names) {
  return ['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...names];
}
