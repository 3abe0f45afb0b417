/**
 * The import graph of a source folder, for tests that keep its layers
 * clean: every module's relative imports (static, type-only, re-exports
 * and import() alike, since a cycle of types is as tangled to read as one
 * of values), and the cycles in that graph.
 *
 *   importSpecifiers("import type { A } from './a';\nconst v = () => import('./v');")
 *     → ['./a', './v']
 *   importCycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']]]))
 *     → [['a.ts', 'b.ts', 'a.ts']]
 *
 * Declarations are read at the start of a line, as this code base writes
 * them; comments are dropped first, so the usage examples in module heads
 * do not count.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const BLOCK_COMMENT_RE = /^[ \t]*\/\*[\s\S]*?\*\//gm;
const LINE_COMMENT_RE = /^[ \t]*\/\/.*$/gm;
const FROM_RE = /^(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const BARE_RE = /^import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC_RE = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The specifiers a module imports, in order of appearance per kind, without repeats. */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(BLOCK_COMMENT_RE, '').replace(LINE_COMMENT_RE, '');
  const out = new Set<string>();
  for (const re of [FROM_RE, BARE_RE, DYNAMIC_RE]) for (const m of code.matchAll(re)) out.add(m[1]!);
  return [...out];
}

/** A relative specifier as a file of the tree (x.ts or x/index.ts), or null for packages and other files. */
function resolveTs(fromFile: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = resolve(dirname(fromFile), spec);
  for (const f of [`${base}.ts`, join(base, 'index.ts'), base]) if (f.endsWith('.ts') && existsSync(f) && statSync(f).isFile()) return f;
  return null;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Module → the modules of the same folder tree it imports, both relative to `root`. */
export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(root)) {
    const deps = importSpecifiers(readFileSync(file, 'utf8'))
      .map((s) => resolveTs(file, s))
      .filter((f): f is string => f !== null && !relative(root, f).startsWith('..'));
    graph.set(relative(root, file), deps.map((f) => relative(root, f)));
  }
  return graph;
}

/**
 * The cycles of a graph, each once, as a path that starts and ends at its
 * smallest module: [a, b, a]. A module importing itself is [a, a].
 */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's strongly connected components; each component of more than one
  // module (or one importing itself) holds at least one cycle, reported as
  // the shortest way round from its smallest member.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(c.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return components.map((c) => shortestCycle(graph, c[0]!, new Set(c))).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** Breadth-first from `start` back to itself inside one component. */
function shortestCycle(graph: ReadonlyMap<string, readonly string[]>, start: string, within: ReadonlySet<string>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (within.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
