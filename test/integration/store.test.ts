/**
 * The config store under real concurrency: separate processes (as CGIs are)
 * doing locked read-modify-writes of one file lose no update and leave no
 * temp file. The same promise through lighttpd is in access.test.ts.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const S = suite('updateJson across processes');
const root = mkdtempSync(join(tmpdir(), 'ramvm-store-'));
S.after(() => rmSync(root, { recursive: true, force: true }));

const PROCESSES = 8;
const UPDATES_EACH = 25;

S(`should apply all ${PROCESSES * UPDATES_EACH} increments of ${PROCESSES} racing processes`, async () => {
  const file = join(root, 'etc/ramvm/counter.json');
  const script = `
    const { updateJson } = require(${JSON.stringify(join(__dirname, '../../node-cgi/lib/store.ts'))});
    for (let i = 0; i < ${UPDATES_EACH}; i++) updateJson(process.argv[1], { n: 0, by: {} }, (c) => {
      c.n += 1;
      c.by[process.pid] = (c.by[process.pid] ?? 0) + 1;
      return c;
    });`;
  const codes = await Promise.all(
    Array.from({ length: PROCESSES }, () =>
      new Promise<number>((res) => {
        const p = spawn(process.execPath, ['-r', 'esbuild-register', '-e', script, file], { env: { ...process.env, RAMVM_ROOT: root }, stdio: 'inherit' });
        p.on('exit', (code) => res(code ?? 1));
      }),
    ),
  );
  assert.equal(codes, Array(PROCESSES).fill(0));
  const got = JSON.parse(readFileSync(file, 'utf8')) as { n: number; by: Record<string, number> };
  assert.is(got.n, PROCESSES * UPDATES_EACH);
  assert.equal(Object.values(got.by), Array(PROCESSES).fill(UPDATES_EACH));
  assert.equal(readdirSync(join(root, 'etc/ramvm')), ['counter.json']);
  assert.equal(readdirSync(join(root, 'run/ramvm/lock')), [], 'every lock released');
});

S.run();
