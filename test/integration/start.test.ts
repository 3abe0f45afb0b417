/**
 * The `npm start` contract (CONTRACT.md "Running a node"): a line with
 * "listening on http://HOST:PORT" once requests are served, the admin
 * password from RAMVM_ADMIN_PASSWORD, a clean stop on SIGINT and SIGTERM.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, loginClient } from '../helpers/node';
import { exited, lighttpdOf, startNpm } from '../helpers/npm-start';

const S = suite('npm start');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  S(`should serve, log admin in with RAMVM_ADMIN_PASSWORD, and stop cleanly on ${signal}`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'ramvm-start-'));
    const port = await freePort();
    const n = startNpm({ RAMVM_ROOT: root, RAMVM_PORT: String(port), RAMVM_CLUSTER_PORT: String(await freePort()), RAMVM_ADMIN_PASSWORD: 'start-test-pw', RAMVM_NODE: 'alpha' });
    try {
      const url = await n.listening;
      assert.is(url, `http://127.0.0.1:${port}`);
      const c = await loginClient(url, 'admin', 'start-test-pw');
      const me = await c.get('/api/access/me');
      assert.is(me.json.data.node, 'alpha');
      assert.ok(existsSync(join(root, 'etc/ramvm/users.json')));
      n.proc.kill(signal);
      assert.is(await exited(n.proc), 0, n.out());
      assert.equal(lighttpdOf(root), [], 'lighttpd stopped with npm start');
      const gone = await fetch(url).then(() => false, () => true);
      assert.ok(gone, 'the server is gone');
    } finally {
      if (n.proc.exitCode === null) n.proc.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  });
}

S('should print a generated admin password once when none is given', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ramvm-start-'));
  const port = await freePort();
  const env = { RAMVM_ROOT: root, RAMVM_PORT: String(port), RAMVM_CLUSTER_PORT: String(await freePort()), RAMVM_ADMIN_PASSWORD: '' };
  let n = startNpm(env);
  try {
    const url = await n.listening;
    const pw = /created user admin with password: (\S+)/.exec(n.out())?.[1];
    assert.ok(pw, n.out());
    await loginClient(url, 'admin', pw!);
    n.proc.kill('SIGINT');
    await exited(n.proc);
    n = startNpm(env);
    await n.listening;
    assert.not.match(n.out(), 'created user admin');
    assert.match(readFileSync(join(root, 'etc/ramvm/users.json'), 'utf8'), '"admin"');
    // At once after the line: the signal must not find the process without its handlers.
    n.proc.kill('SIGINT');
    assert.is(await exited(n.proc), 0, n.out());
    assert.equal(lighttpdOf(root), [], 'lighttpd stopped with npm start');
  } finally {
    n.proc.kill('SIGINT');
    await exited(n.proc);
    for (const pid of lighttpdOf(root)) process.kill(pid, 'SIGTERM');
    rmSync(root, { recursive: true, force: true });
  }
});
S.run();
