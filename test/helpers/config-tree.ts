/**
 * Every file of a node's config tree (etc/ramvm) with its bytes, for
 * "nothing changed" checks: compare two snapshots with assert.equal, or
 * name what differs with treeChanges().
 *
 *   const before = configTree(root);
 *   …a refused request…
 *   assert.equal(configTree(root), before);
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Relative path under etc/ramvm → the file's bytes (base64). */
export function configTree(root: string): Record<string, string> {
  const base = join(root, 'etc/ramvm');
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out[p.slice(base.length + 1)] = readFileSync(p).toString('base64');
    }
  };
  walk(base);
  return out;
}

/** The relative paths added, removed or changed between two snapshots, sorted. */
export function treeChanges(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]).sort();
}
