#!/usr/bin/env node
// Entry of `npm start|test|build|bench` on a fresh machine: installs what is
// missing (npm packages; as root the Debian packages a node needs), then runs
// build/main.ts through esbuild-register. Plain JS because nothing else can
// run before the npm packages are there.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [cmd = 'build', ...args] = process.argv.slice(2);

/** Debian packages a running node needs, by the binary that shows each is there. */
const NODE_PACKAGES = [
  ['lighttpd', '/usr/sbin/lighttpd'],
  ['lighttpd-mod-openssl', '/usr/lib/lighttpd/mod_openssl.so'],
  ['qemu-system-x86', '/usr/bin/qemu-system-x86_64'],
  ['qemu-utils', '/usr/bin/qemu-img'],
  ['zstd', '/usr/bin/zstd'],
  ['openssl', '/usr/bin/openssl'],
  // Guests' taps join their bridges with `ip link set … master`.
  ['iproute2', '/bin/ip'],
];

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

if (cmd === 'start' || cmd === 'test' || cmd === 'bench') {
  const missing = NODE_PACKAGES.filter(([, bin]) => !existsSync(bin)).map(([pkg]) => pkg);
  if (missing.length > 0) {
    if (process.getuid && process.getuid() === 0) {
      process.stdout.write(`ramvm: installing Debian packages: ${missing.join(' ')}\n`);
      sh(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } else {
      process.stderr.write(`ramvm: missing Debian packages: ${missing.join(' ')}\n  install them as root: apt-get install ${missing.join(' ')}\n`);
      process.exit(1);
    }
  }
}

// Signals go to the child, which stops cleanly; we exit with its status.
const child = spawn(process.execPath, ['-r', 'esbuild-register', join(root, 'build/main.ts'), cmd, ...args], {
  stdio: 'inherit',
  cwd: root,
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
