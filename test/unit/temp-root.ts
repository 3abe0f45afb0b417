/**
 * One temporary RAMVM_ROOT for a whole unit run. uvu loads every test file
 * of a suite into one process before running any test, and paths() keeps
 * the first root it sees, so per-file roots would silently share one. Each
 * file that touches the disk imports this first; the folder goes at exit.
 *
 *   import { UNIT_ROOT } from '../temp-root';   // RAMVM_ROOT now points there
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const UNIT_ROOT = mkdtempSync(join(tmpdir(), 'ramvm-unit-'));
process.env.RAMVM_ROOT = UNIT_ROOT;
process.on('exit', () => rmSync(UNIT_ROOT, { recursive: true, force: true }));
