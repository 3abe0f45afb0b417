/**
 * A data root of its own for a unit suite that touches the disk. uvu loads
 * every file of a run into one process before any suite runs, so a root set
 * when a file loads would be every file's root; this one is set in the
 * suite's `before` (paths() follows RAMVM_ROOT) and undone in its `after`.
 *
 *   const root = useTempRoot(S);   // RAMVM_ROOT is root.path while S runs
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'uvu';

export function useTempRoot(s: Test<any>): { readonly path: string } {
  let dir: string | undefined;
  let before: string | undefined;
  s.before(() => {
    before = process.env.RAMVM_ROOT;
    dir = mkdtempSync(join(tmpdir(), 'ramvm-unit-'));
    process.env.RAMVM_ROOT = dir;
  });
  s.after(() => {
    if (before === undefined) delete process.env.RAMVM_ROOT;
    else process.env.RAMVM_ROOT = before;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get path() {
      if (!dir) throw new Error('the temp root is used before the suite\'s before hook ran');
      return dir;
    },
  };
}
