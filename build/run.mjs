#!/usr/bin/env node
// Entry of every npm script on a fresh machine: installs what is missing (npm
// packages; as root the Debian packages of the command's purposes, from
// build/packages.json), then runs build/main.ts through esbuild-register.
// Plain JS because nothing else can run before the npm packages are there.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installArgv, missingPackages, readPackages } from './packages.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [cmd = 'build', ...args] = process.argv.slice(2);

function sh(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    process.stderr.write(`ramvm: ${argv.join(' ')} failed\n`);
    process.exit(r.status ?? 1);
  }
}

if (!existsSync(join(root, 'node_modules/esbuild-register')) || !existsSync(join(root, 'node_modules/preact'))) {
  process.stdout.write('ramvm: installing npm packages (npm ci)\n');
  sh(['npm', existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund']);
}

const missing = missingPackages(readPackages(root), cmd);
if (missing.length > 0) {
  if (process.getuid?.() === 0) {
    process.stdout.write(`ramvm: installing Debian packages: ${missing.join(' ')}\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const argv = installArgv(missing);
    // A machine whose package lists are missing or stale: update them once and try again.
    if (spawnSync(argv[0], argv.slice(1), { stdio: 'inherit', env }).status !== 0) {
      sh(['apt-get', 'update', '-q'], { env });
      sh(argv, { env });
    }
  } else {
    process.stderr.write(`ramvm: missing Debian packages: ${missing.join(' ')}\n  install them as root: ${installArgv(missing).join(' ')}\n`);
    process.exit(1);
  }
}

// Signals go to the child, which stops cleanly; we exit with its status.
const child = spawn(process.execPath, ['-r', 'esbuild-register', join(root, 'build/main.ts'), cmd, ...args], {
  stdio: 'inherit',
  cwd: root,
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
