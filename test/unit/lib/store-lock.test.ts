import { suite } from '../../helpers/suite';
import { useTempRoot } from '../../helpers/temp-root';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.RAMVM_ROOT ??= mkdtempSync(join(tmpdir(), 'ramvm-lock-'));
import { HttpError } from '../../../node-cgi/lib/errors';
import { paths } from '../../../node-cgi/lib/paths';
import { LOCK_STALE_MS, withLock } from '../../../node-cgi/lib/store';

const L = suite('withLock and an owner file being written');
useTempRoot(L);
const name = `lock-test-${process.pid}`;
const dir = () => join(paths().locks, `${name}.lock`);
L.after.each(() => rmSync(dir(), { recursive: true, force: true }));

L('should not break a fresh lock whose owner file is still empty', () => {
  mkdirSync(dir(), { recursive: true });
  writeFileSync(join(dir(), 'owner'), '');
  let ran = false;
  try {
    withLock(name, () => (ran = true), 50);
    assert.unreachable('the lock was taken');
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 503);
  }
  assert.not.ok(ran);
  assert.ok(existsSync(dir()), 'the lock is still there');
});

L('should break an old lock whose owner file stayed empty', () => {
  mkdirSync(dir(), { recursive: true });
  writeFileSync(join(dir(), 'owner'), '');
  const old = (Date.now() - LOCK_STALE_MS - 1000) / 1000;
  utimesSync(dir(), old, old);
  assert.is(withLock(name, () => 'ran', 50), 'ran');
});
L.run();
