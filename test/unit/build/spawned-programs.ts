/**
 * The programs the code base spawns, read from its sources: argv[0] of every
 * argv literal in a place that reaches a process. Used by packages.test.ts to
 * check each one against build/packages.json. Where an argv is found:
 *
 *   spawnSync('openssl', [...])                   a program literal given to spawn/spawnSync/execFile*
 *   run(['qemu-img', 'info', …])                  an argv literal given to a spawning function: the
 *   sh(['mount', …])                              node's run/runAllowFail and every local helper that
 *                                                 passes its argv to one (found by SPAWNING_CALL)
 *   { argv: ['ip', 'link', …] }                   an argv property (plans of steps)
 *   function mountArgs(…) { return ['mount', …] } what an argv builder (*Args/*Argv) returns
 *   const DEFAULT_SENDMAIL = ['sendmail', …]      constants named *ARGV or *SENDMAIL
 *   executablePath: '/usr/bin/chromium'           a browser playwright starts
 *
 * A first element that is an identifier (`[QEMU_BINARY, …]`) is resolved
 * through `const QEMU_BINARY = '…'` in the scanned files. Elements starting
 * with "-" are options, never programs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Spawned {
  program: string;
  file: string;
  line: number;
}

/** Functions whose first argument is a program or an argv. */
const SPAWN_FUNCTIONS = ['spawn', 'spawnSync', 'execFile', 'execFileSync'];

/**
 * The code with comments replaced by spaces (offsets kept), and a second copy
 * with the contents of strings blanked too, for brace matching.
 */
export function stripComments(src: string): { code: string; blank: string } {
  let code = '';
  let blank = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      code += ' '.repeat(stop - i);
      blank += ' '.repeat(stop - i);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      const filler = src.slice(i, stop).replace(/[^\n]/g, ' ');
      code += filler;
      blank += filler;
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') j++;
        else if (c !== '`' && src[j] === '\n') break;
        j++;
      }
      const lit = src.slice(i, j + 1);
      code += lit;
      blank += c + lit.slice(1, -1).replace(/[^\n]/g, ' ') + (lit.length > 1 ? c : '');
      i = j + 1;
    } else if (c === '/' && /[=(,:;!&|?{}[\n]\s*$/.test(code.slice(-20))) {
      // A regular expression literal: skip it whole (it may hold quotes).
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n' && (inClass || src[j] !== '/')) {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        j++;
      }
      const lit = src.slice(i, j + 1);
      code += lit;
      blank += '/' + ' '.repeat(Math.max(lit.length - 2, 0)) + (lit.length > 1 ? '/' : '');
      i = j + 1;
    } else {
      code += c;
      blank += c;
      i++;
    }
  }
  return { code, blank };
}

/** Index of the bracket matching the one at `open` (same kind), or the end. */
function matching(blank: string, open: number): number {
  const [o, c] = blank[open] === '(' ? ['(', ')'] : ['{', '}'];
  let depth = 0;
  for (let i = open; i < blank.length; i++) {
    if (blank[i] === o) depth++;
    else if (blank[i] === c && --depth === 0) return i;
  }
  return blank.length;
}

/** The body of the function whose parameter list opens at `paren`: [start, end) of the text between its braces. */
function functionBody(blank: string, paren: number): [number, number] | null {
  const open = blank.indexOf('{', matching(blank, paren));
  return open < 0 ? null : [open + 1, matching(blank, open)];
}

const FIRST = String.raw`(?:'([^']*)'|"([^"]*)"|([A-Za-z_$][\w$]*))`;

/**
 * Local helpers that hand their first parameter to a spawning function
 * (`function sh(argv) { spawnSync(argv[0]!, …) }`, `const tick = () => …`
 * does not count): their calls with an argv literal are spawns too.
 */
export function spawningHelpers(code: string, blank: string, known: readonly string[]): string[] {
  const found: string[] = [];
  const calls = new RegExp(String.raw`\b(?:${known.join('|')})\(`);
  for (const m of code.matchAll(/\bfunction\s+([\w$]+)\s*(?:<[^>]*>)?\(\s*([\w$]+)/g)) {
    const range = functionBody(blank, code.indexOf('(', m.index!));
    if (!range) continue;
    const [a, b] = range;
    const body = code.slice(a, b);
    const param = m[2]!;
    const uses = new RegExp(String.raw`\b(?:${known.join('|')})\(\s*(?:${param}\b|\[?\s*${param}\[0\]|cmd\b)`);
    if (calls.test(body) && uses.test(body)) found.push(m[1]!);
  }
  return found;
}

/** Every spawned program of one file's source (see the top of this file). */
export function spawnedPrograms(src: string, file: string, constants: ReadonlyMap<string, string>, spawning: readonly string[]): Spawned[] {
  const { code, blank } = stripComments(src);
  const out: Spawned[] = [];
  const lineOf = (i: number) => code.slice(0, i).split('\n').length;
  const add = (m: RegExpMatchArray, at: number) => {
    // A match that starts inside a string literal is text, not code.
    if (blank[at] !== code[at]) return;
    const value = m[1] ?? m[2] ?? (m[3] ? constants.get(m[3]) : undefined);
    if (m[3] && value === undefined) {
      // An identifier we cannot resolve (a parameter, `cmd`): the argv comes from elsewhere.
      return;
    }
    if (value === undefined || value.startsWith('-') || value === '') return;
    out.push({ program: value, file, line: lineOf(at) });
  };
  const callers = [...new Set([...SPAWN_FUNCTIONS, 'run', 'runAllowFail', ...spawning])];
  for (const m of code.matchAll(new RegExp(String.raw`\b(?:${SPAWN_FUNCTIONS.join('|')})\(\s*(?:'([^']+)'|"([^"]+)")`, 'g'))) add(m, m.index!);
  for (const m of code.matchAll(new RegExp(String.raw`(?<![.\w$])(?:${callers.join('|')})\(\s*\[\s*${FIRST}`, 'g'))) add(m, m.index!);
  for (const m of code.matchAll(new RegExp(String.raw`\bargv\s*:\s*\[\s*${FIRST}`, 'g'))) add(m, m.index!);
  for (const m of code.matchAll(new RegExp(String.raw`\b[A-Z_]*(?:ARGV|SENDMAIL)\s*(?::[^=]+)?=\s*\[\s*${FIRST}`, 'g'))) add(m, m.index!);
  for (const m of code.matchAll(new RegExp(String.raw`\bexecutablePath\s*:\s*${FIRST}`, 'g'))) add(m, m.index!);
  for (const m of code.matchAll(/\bfunction\s+[\w$]+(?:Args|Argv)\s*\(/g)) {
    const range = functionBody(blank, m.index! + m[0].length - 1);
    if (!range) continue;
    const [a, b] = range;
    const body = code.slice(a, b);
    for (const r of body.matchAll(new RegExp(String.raw`(?:\breturn|\?|:|=)\s*\[\s*${FIRST}`, 'g'))) add(r, a + r.index!);
  }
  return out;
}

/** `const NAME = 'value'` of every file, for argv literals that start with a constant. */
export function stringConstants(sources: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const src of sources.values()) {
    for (const m of stripComments(src).code.matchAll(/\bconst\s+([A-Za-z_$][\w$]*)\s*(?::\s*string\s*)?=\s*'([^']*)'\s*;/g)) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** TypeScript and JavaScript sources under these folders of root. */
export function sourceFiles(root: string, dirs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of dirs) {
    for (const f of readdirSync(join(root, d), { recursive: true, encoding: 'utf8' })) {
      if (!/\.(ts|mjs|js)$/.test(f) || f.includes('node_modules')) continue;
      const path = join(root, d, f);
      out.set(relative(root, path), readFileSync(path, 'utf8'));
    }
  }
  return out;
}

/** Every spawned program of these sources, helpers found across all files. */
export function scanSpawns(sources: ReadonlyMap<string, string>): Spawned[] {
  const constants = stringConstants(sources);
  const helpers = new Set<string>();
  // Helpers of helpers: repeat until no new one turns up.
  for (let grew = true; grew;) {
    grew = false;
    for (const src of sources.values()) {
      const { code, blank } = stripComments(src);
      for (const h of spawningHelpers(code, blank, [...SPAWN_FUNCTIONS, 'run', 'runAllowFail', ...helpers])) {
        if (!helpers.has(h)) {
          helpers.add(h);
          grew = true;
        }
      }
    }
  }
  return [...sources].flatMap(([file, src]) => spawnedPrograms(src, file, constants, [...helpers]));
}
