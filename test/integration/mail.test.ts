/**
 * Mail through the fixed sendmail program, run for real: in a mount
 * namespace of its own the test puts a recording program at
 * /usr/sbin/sendmail (this host has no MTA, and the host's own /usr/sbin is
 * never touched), and sendMail() of backup/mailer.ts spawns it. Also the
 * migration of an older settings file that held a command line. The SMTP
 * transport is tested against a real relay in test/unit/backup/smtp.test.ts
 * and by the backup suites.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DIST } from '../../build/build';

const REPO = resolve(__dirname, '../..');

/** Run `code` (TypeScript of the repo) with RAMVM_ROOT=root in a mount namespace whose /usr/sbin is `sbin`. */
function inNamespace(root: string, sbin: string, code: string) {
  const script = join(root, 'run.ts');
  writeFileSync(script, code);
  const inner = `mount --bind "$1" /usr/sbin && exec "$2" -r esbuild-register "$3"`;
  return spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', inner, 'sh', sbin, process.execPath, script], {
    cwd: REPO, encoding: 'utf8', env: { ...process.env, RAMVM_ROOT: root, RAMVM_NODE: 'pve1' }, timeout: 60_000,
  });
}

const S = suite('sendMail through /usr/sbin/sendmail');
let root: string;
S.before(() => {
  root = mkdtempSync(join(tmpdir(), 'ramvm-mail-'));
  mkdirSync(join(root, 'etc/ramvm/backup'), { recursive: true });
  writeFileSync(join(root, 'etc/ramvm/backup/mail.json'), JSON.stringify({ from: 'ramvm@pve1', transport: 'sendmail' }));
});
S.after(() => rmSync(root, { recursive: true, force: true }));

const SEND = `
import { sendMail } from '${REPO}/node-cgi/backup/mailer';
import { explain } from '${REPO}/node-cgi/lib/errors';
sendMail(['it@example.com'], 'From: ramvm@pve1\\nTo: it@example.com\\nSubject: test\\n\\nbody\\n')
  .then(() => console.log('sent'), (e) => { console.log('FAILED: ' + explain(e)); process.exitCode = 1; });
`;

S('should pipe the message into /usr/sbin/sendmail -t -oi, the one program mail may go through', () => {
  const sbin = join(root, 'sbin');
  mkdirSync(sbin);
  const got = join(root, 'got.eml');
  writeFileSync(join(sbin, 'sendmail'), `#!/bin/sh\necho "argv: $0 $*" > ${got}.tmp\ncat >> ${got}.tmp\nmv ${got}.tmp ${got}\n`);
  chmodSync(join(sbin, 'sendmail'), 0o755);
  const r = inNamespace(root, sbin, SEND);
  assert.is(r.status, 0, r.stderr + r.stdout);
  assert.is(r.stdout.trim(), 'sent');
  assert.is(readFileSync(got, 'utf8'), 'argv: /usr/sbin/sendmail -t -oi\nFrom: ramvm@pve1\nTo: it@example.com\nSubject: test\n\nbody\n');
});

S('should say that no MTA is installed when there is no /usr/sbin/sendmail', () => {
  const empty = join(root, 'empty');
  mkdirSync(empty);
  const r = inNamespace(root, empty, SEND);
  assert.is(r.status, 1, r.stderr);
  assert.is(r.stdout.trim(), 'FAILED: this node has no /usr/sbin/sendmail (no mail server installed; the node image has none): set an SMTP relay for the node\'s mail ("transport": "smtp", Backups → Mail)');
});
S.run();

const M = suite('settings of an older version');
M('should drop a configured mail command at ramvm init, say so, and never run it', () => {
  const old = mkdtempSync(join(tmpdir(), 'ramvm-mail-old-'));
  try {
    const marker = join(old, 'command-ran');
    mkdirSync(join(old, 'etc/ramvm/backup'), { recursive: true });
    const file = join(old, 'etc/ramvm/backup/mail.json');
    writeFileSync(file, JSON.stringify({ sendmail: ['/bin/sh', '-c', `touch ${marker}`], from: 'backup@example.com' }));
    const env = { ...process.env, RAMVM_ROOT: old, RAMVM_DIST: DIST, RAMVM_NODE: 'pve1', RAMVM_ADMIN_PASSWORD: 'admin-pw-1' };
    const init = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'init'], { env, encoding: 'utf8' });
    assert.is(init.status, 0, init.stderr);
    assert.match(init.stdout, `mail: the configured command ["/bin/sh","-c","touch ${marker}"] is no longer used: mail goes through /usr/sbin/sendmail`);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')), { from: 'backup@example.com' }, 'the sender stays, the command goes');
    const again = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'init'], { env, encoding: 'utf8' });
    assert.not.match(again.stdout, 'mail:', 'said once');
    assert.not.ok(existsSync(marker));
  } finally {
    rmSync(old, { recursive: true, force: true });
  }
});
M.run();
