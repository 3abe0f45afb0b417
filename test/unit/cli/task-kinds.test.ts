import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KIND_TABLES, TASK_KINDS } from '../../../node-cgi/cli/task-kinds';

const SRC = join(__dirname, '../../../node-cgi');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/**
 * The kinds the code starts: the string results of each `kind:` of a
 * startTask({…}) call ("kind: job.kind === 'verify' ? 'backup-verify' : 'backup'"
 * → backup-verify, backup; the compared 'verify' is not one).
 */
function startedKinds(): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/startTask\(\{\s*kind:\s*([^,\n]+)/g)) {
      for (const lit of m[1]!.matchAll(/(===\s*)?'([a-z-]+)'/g)) if (!lit[1]) out.set(lit[2]!, file.slice(SRC.length + 1));
    }
  }
  return out;
}

const K = suite('TASK_KINDS');
K('should know every kind the code starts', () => {
  const started = startedKinds();
  assert.ok(started.size >= 8, `found ${[...started.keys()].join(', ')}`);
  for (const [kind, file] of started) assert.ok(TASK_KINDS[kind], `${file} starts "${kind}", which no feature lists`);
});
K('should take each kind from one feature only (a second would silently win)', () => {
  const names = KIND_TABLES.flatMap((t) => Object.keys(t));
  assert.equal(names.length, new Set(names).size, names.join(', '));
});
K.run();
