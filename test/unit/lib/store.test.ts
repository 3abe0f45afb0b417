import { suite } from '../../helpers/suite';
import { useTempRoot } from '../../helpers/temp-root';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from '../../../node-cgi/lib/paths';
import { HttpError } from '../../../node-cgi/lib/errors';
import { LOCK_STALE_MS, readJson, updateJson, withLock, writeFileAtomic, writeJsonAtomic } from '../../../node-cgi/lib/store';

const dir = () => join(paths().root, 'store-test');
const lockDir = (name: string) => join(paths().locks, `${name}.lock`);
/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  assert.ok(r.pid > 0);
  return r.pid;
}
function plantLock(name: string, owner: string | null, ageMs = 0): void {
  mkdirSync(lockDir(name), { recursive: true });
  if (owner !== null) writeFileSync(join(lockDir(name), 'owner'), owner);
  if (ageMs > 0) {
    const t = (Date.now() - ageMs) / 1000;
    utimesSync(lockDir(name), t, t);
  }
}

const W = suite('writeFileAtomic');
useTempRoot(W);
W.before.each(() => rmSync(dir(), { recursive: true, force: true }));
W('should replace the file whole and leave no temp file', () => {
  const f = join(dir(), 'a.json');
  for (let i = 0; i < 20; i++) writeJsonAtomic(f, { i });
  assert.equal(readJson(f), { i: 19 });
  assert.equal(readdirSync(dir()), ['a.json']);
});
W('should remove its temp file when the rename fails', () => {
  const target = join(dir(), 'taken');
  mkdirSync(join(target, 'inside'), { recursive: true });
  assert.throws(() => writeFileAtomic(target, 'x'), (e: NodeJS.ErrnoException) => e.code === 'EISDIR');
  assert.equal(readdirSync(dir()), ['taken']);
});
W.run();

const R = suite('readJson');
useTempRoot(R);
R('should give the fallback for a missing file and 500 for a corrupt one', () => {
  mkdirSync(dir(), { recursive: true });
  assert.equal(readJson(join(dir(), 'none.json'), { x: 1 }), { x: 1 });
  writeFileSync(join(dir(), 'bad.json'), '{"half": ');
  try {
    readJson(join(dir(), 'bad.json'), {});
    assert.unreachable();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 500);
    assert.not.match((e as HttpError).message, 'bad.json', 'the path stays in the log');
  }
});
R.run();

const L = suite('withLock');
useTempRoot(L);
L('should run the function and release the lock', () => {
  assert.is(withLock('t-plain', () => 42), 42);
  assert.not.ok(existsSync(lockDir('t-plain')));
});
L('should release the lock when the function throws', () => {
  assert.throws(() => withLock('t-throw', () => { throw new Error('boom'); }), /boom/);
  assert.not.ok(existsSync(lockDir('t-throw')));
});
L('should break a lock whose owner process died', () => {
  plantLock('t-dead', `${deadPid()} ${Date.now()}\n`);
  assert.is(withLock('t-dead', () => 'got it', 2_000), 'got it');
  assert.not.ok(existsSync(lockDir('t-dead')));
});
L('should break a lock held longer than LOCK_STALE_MS even by a live process', () => {
  plantLock('t-old', `${process.pid} ${Date.now() - LOCK_STALE_MS - 1000}\n`);
  assert.is(withLock('t-old', () => 'got it', 2_000), 'got it');
});
L('should break an old lock whose taker died before writing the owner', () => {
  plantLock('t-ownerless', null, LOCK_STALE_MS + 1000);
  assert.is(withLock('t-ownerless', () => 'got it', 2_000), 'got it');
});
L('should answer 503 when a live owner holds the lock past the timeout', () => {
  plantLock('t-busy', `${process.pid} ${Date.now()}\n`);
  try {
    withLock('t-busy', () => assert.unreachable('ran without the lock'), 150);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 503);
    assert.is((e as HttpError).code, 'unavailable');
  }
  assert.ok(existsSync(join(lockDir('t-busy'), 'owner')), 'the live lock stays');
  rmSync(lockDir('t-busy'), { recursive: true });
});
L('should wait for a fresh ownerless lock rather than break it', () => {
  plantLock('t-young', null);
  try {
    withLock('t-young', () => assert.unreachable('broke a lock being taken'), 100);
  } catch (e) {
    assert.is((e as HttpError).status, 503);
  }
  rmSync(lockDir('t-young'), { recursive: true });
});
L('should leave a lock alone on release when another has taken it over', () => {
  withLock('t-taken', () => {
    // As after a break of this (overlong) hold and a new owner's take-over.
    writeFileSync(join(lockDir('t-taken'), 'owner'), `${process.pid} ${Date.now()} other\n`);
  });
  assert.ok(existsSync(lockDir('t-taken')), "the new owner's lock stays");
  rmSync(lockDir('t-taken'), { recursive: true });
});
L('should refuse a lock name with a path in it', () => {
  assert.throws(() => withLock('../x', () => 1), /bad lock name/);
});
L.run();

const U = suite('updateJson');
useTempRoot(U);
U('should write nothing when the change throws', () => {
  const f = join(dir(), 'c.json');
  writeJsonAtomic(f, { n: 1 });
  assert.throws(() => updateJson(f, { n: 0 }, () => { throw new Error('the change failed'); }), /^the change failed$/);
  assert.equal(JSON.parse(readFileSync(f, 'utf8')), { n: 1 });
  assert.equal(readdirSync(dir()).filter((x) => x.endsWith('.tmp')), []);
});
U.run();
