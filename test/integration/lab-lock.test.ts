/**
 * The machine-wide lab lock with real flock(1) and real processes: a second
 * holder is refused with the first one's pid, or waits for it; the lock is
 * free again however the holder ends, SIGKILL included.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLabLock, labLockFile } from '../../build/lab/lock';

const LOCK_TS = join(__dirname, '../../build/lab/lock.ts');
const test = suite('lab lock');
let dir: string;
const children: ChildProcess[] = [];

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ramvm-lablock-'));
});
test.after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Another process that takes the lock, says "locked", and holds it until `release` on stdin or its end. */
async function holder(file: string): Promise<ChildProcess> {
  const script = `require(${JSON.stringify(LOCK_TS)}).acquireLabLock({ what: 'the test holder', wait: false, file: process.argv[1] }).then((l) => {
    process.stdout.write('locked\\n');
    process.stdin.on('data', () => { l.release(); process.stdout.write('released\\n'); });
    setInterval(() => {}, 1000);
  });`;
  const c = spawn(process.execPath, ['-r', 'esbuild-register', '-e', script, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(c);
  await said(c, 'locked');
  return c;
}

function said(c: ChildProcess, word: string): Promise<void> {
  return new Promise((res, rej) => {
    let out = '';
    const t = setTimeout(() => rej(new Error(`the holder did not say ${word}: ${out}`)), 20_000);
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(word)) {
        clearTimeout(t);
        res();
      }
    });
  });
}

async function refusal(file: string): Promise<string> {
  try {
    (await acquireLabLock({ what: 'a second lab', wait: false, file })).release();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('the second lab got the lock');
}

test('should refuse a second lab, naming the pid of the first', async () => {
  const file = join(dir, 'a.lock');
  const c = await holder(file);
  assert.match(await refusal(file), new RegExp(`^another lab runs on this machine: pid ${c.pid} the test holder since \\S+ in \\S+\\. Stop it first \\(lock ${file}\\)\\.$`));
  c.kill('SIGTERM');
});

test('should be free again once the holder is killed with SIGKILL', async () => {
  const file = join(dir, 'b.lock');
  const c = await holder(file);
  c.kill('SIGKILL');
  await new Promise((r) => c.once('exit', r));
  const l = await acquireLabLock({ what: 'the next lab', wait: false, file });
  l.release();
});

test('should wait for the holder when asked to, saying whom it waits for', async () => {
  const file = join(dir, 'c.lock');
  const c = await holder(file);
  let told = '';
  setTimeout(() => c.stdin!.write('release\n'), 500);
  const l = await acquireLabLock({ what: 'the image test', wait: true, file, onWait: (h) => (told = h) });
  assert.match(told, new RegExp(`^pid ${c.pid} the test holder since `));
  l.release();
  c.kill('SIGTERM');
});

test('should refuse a second holder in the same process until the first releases', async () => {
  const file = join(dir, 'd.lock');
  const l = await acquireLabLock({ what: 'this test', wait: false, file });
  assert.match(await refusal(file), new RegExp(`pid ${process.pid} this test since`));
  l.release();
  (await acquireLabLock({ what: 'this test again', wait: false, file })).release();
});

test('should lock one file for the whole machine unless RAMVM_LAB_LOCK moves it', () => {
  assert.is(labLockFile({}), '/run/lock/ramvm-lab.lock');
  assert.is(labLockFile({ RAMVM_LAB_LOCK: '/tmp/x.lock' }), '/tmp/x.lock');
});

test.run();
