/**
 * lib/paths.ts: every path below RAMVM_ROOT, and paths() following a change
 * of RAMVM_ROOT (the unit suites each set their own, one after another).
 */
import * as assert from 'uvu/assert';
import { paths, pathsFor } from '../../../node-cgi/lib/paths';
import { suite } from '../../helpers/suite';

const For = suite('pathsFor');

For('should put config, images, runtime and logs below the root', () => {
  const p = pathsFor('/tmp/r', '/opt/ramvm/dist');
  assert.equal(
    [p.root, p.etc, p.priv, p.vms, p.iso, p.images, p.dump, p.run, p.qemuRun, p.locks, p.log, p.tasks, p.dist],
    ['/tmp/r', '/tmp/r/etc/ramvm', '/tmp/r/etc/ramvm/priv', '/tmp/r/etc/ramvm/vms', '/tmp/r/var/lib/vz/template/iso', '/tmp/r/var/lib/vz/images',
      '/tmp/r/var/lib/vz/dump', '/tmp/r/run/ramvm', '/tmp/r/run/ramvm/qemu', '/tmp/r/run/ramvm/lock', '/tmp/r/var/log/ramvm', '/tmp/r/var/log/ramvm/tasks', '/opt/ramvm/dist'],
  );
});

For.run();

const P = suite('paths');
let saved: [string | undefined, string | undefined];
P.before(() => {
  saved = [process.env.RAMVM_ROOT, process.env.RAMVM_DIST];
});
P.after(() => {
  const [root, dist] = saved;
  if (root === undefined) delete process.env.RAMVM_ROOT;
  else process.env.RAMVM_ROOT = root;
  if (dist === undefined) delete process.env.RAMVM_DIST;
  else process.env.RAMVM_DIST = dist;
});

P('should follow RAMVM_ROOT when it changes, and keep the same object while it does not', () => {
  process.env.RAMVM_ROOT = '/tmp/first';
  const a = paths();
  assert.is(a.etc, '/tmp/first/etc/ramvm');
  assert.is(paths(), a);
  process.env.RAMVM_ROOT = '/tmp/second';
  assert.is(paths().etc, '/tmp/second/etc/ramvm');
});

P('should follow RAMVM_DIST', () => {
  process.env.RAMVM_DIST = '/opt/one';
  assert.is(paths().dist, '/opt/one');
  process.env.RAMVM_DIST = '/opt/two';
  assert.is(paths().dist, '/opt/two');
});

P.run();
